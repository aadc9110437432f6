"""Face-image quality and its EDC (#26 items 3-5): brute force on hand-made pairs, the demo end to end.

The demo runs use the real FaceNet (the session's shared model) on the real demo faces; the
command runs in-process once per module, and its ``faces.csv`` / ``pairs.csv`` are read back
with the csv module alone to recompute the curves.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from facedash.quality import edc
from facedash.quality.measures import fill_unscored, serfiq_quality

ROOT = Path(__file__).resolve().parents[1]

# A hand-made set: 23 pairs (not a multiple of 20), ties in quality and in score.
QUALITY = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6]
SCORE = [
    0.9, 0.2, 0.5, 0.4, 0.8, 0.7, 0.3, 0.6, 0.5, 0.1, 0.9, 0.6,
    0.3, 0.7, 0.4, 0.2, 0.6, 0.8, 0.5, 0.35, 0.45, 0.55, 0.65,
]  # fmt: skip
GENUINE = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1]


def brute_fixed(quality, score, genuine, t):
    """The fixed form by the issue's words, with Python lists only."""
    pairs = [(q, s) for q, s, g in zip(quality, score, genuine, strict=True) if g]
    order = sorted(range(len(pairs)), key=lambda k: (pairs[k][0], k))
    n = len(order)
    out = []
    for k in range(20):
        kept = order[k * n // 20 :]
        out.append(sum(1 for p in kept if pairs[p][1] < t) / len(kept))
    return out


def brute_rethreshold(quality, score, genuine, t0):
    """The re-thresholded form: all pairs discarded by quality; the loosest threshold keeping FMR."""
    imp0 = [s for s, g in zip(score, genuine, strict=True) if not g]
    fmr0 = sum(1 for s in imp0 if s >= t0) / len(imp0)
    order = sorted(range(len(score)), key=lambda k: (quality[k], k))
    out = []
    for k in range(20):
        kept = order[k * len(score) // 20 :]
        imp = [score[p] for p in kept if not genuine[p]]
        gen = [score[p] for p in kept if genuine[p]]
        allowed = math.floor(fmr0 * len(imp) + 1e-9)
        candidates = sorted({-math.inf, *(math.nextafter(s, math.inf) for s in imp)})
        t = next(c for c in candidates if sum(1 for s in imp if s >= c) <= allowed)
        out.append(sum(1 for s in gen if s < t) / len(gen) if gen else 0.0)
    return out


def trapezoid(fnmr):
    return sum(0.05 * (fnmr[k] + fnmr[k + 1]) / 2 for k in range(4))


@pytest.mark.parametrize("t", [0.3, 0.5, 0.55, 0.9])
def test_the_fixed_edc_is_the_brute_force_count(t):
    got = edc.curve(QUALITY, SCORE, np.array(GENUINE, bool), t, form="fixed")
    want = brute_fixed(QUALITY, SCORE, GENUINE, t)
    assert np.allclose(got.fnmr, want, atol=1e-12, rtol=0)
    assert got.pauc == pytest.approx(trapezoid(want), abs=1e-12)
    assert list(got.discard) == [k / 20 for k in range(20)]


@pytest.mark.parametrize("t", [0.4, 0.5, 0.7])
def test_the_rethresholded_edc_is_the_brute_force_count(t):
    got = edc.curve(QUALITY, SCORE, np.array(GENUINE, bool), t, form="rethreshold")
    want = brute_rethreshold(QUALITY, SCORE, GENUINE, t)
    assert np.allclose(got.fnmr, want, atol=1e-12, rtol=0)
    assert got.pauc == pytest.approx(trapezoid(want), abs=1e-12)


def test_oracle_random_and_the_unscored_rule():
    g = np.array(GENUINE, bool)
    oracle = edc.oracle(SCORE, g, 0.5)
    rand = edc.random_curve(SCORE, g, 0.5)
    assert oracle.fnmr[0] == rand.fnmr[0] == brute_fixed(QUALITY, SCORE, GENUINE, 0.5)[0]
    assert oracle.pauc < rand.pauc
    assert oracle.fnmr[-1] == 0.0
    filled, n = fill_unscored(np.array([2.0, np.nan, 5.0, np.inf]))
    assert n == 2 and list(filled) == [2.0, 2.0, 5.0, 2.0]
    # SER-FIQ: identical passes give 1, spread passes less
    same = np.repeat(np.eye(4)[None, :1], 3, axis=1)
    spread = np.eye(4)[None, :3]
    assert serfiq_quality(same)[0] == pytest.approx(1.0)
    # three orthonormal passes: 3 pairs at distance sqrt(2); q = 2 sigmoid(-(2 / 9) 3 sqrt(2))
    assert serfiq_quality(spread)[0] == pytest.approx(2 / (1 + math.exp(6 * math.sqrt(2) / 9)))


def recompute(folder: Path, measure: str, threshold: float) -> tuple[list[float], float]:
    """The fixed-form curve from faces.csv and pairs.csv, in plain Python."""
    with (folder / "faces.csv").open() as fh:
        quality = {row["face"]: float(row[measure]) for row in csv.DictReader(fh)}
    pairs = []
    with (folder / "pairs.csv").open() as fh:
        for row in csv.DictReader(fh):
            if row["genuine"] == "1":
                q = min(quality[row["face_a"]], quality[row["face_b"]])
                pairs.append((q, float(row["score"])))
    fnmr = brute_fixed([p[0] for p in pairs], [p[1] for p in pairs], [1] * len(pairs), threshold)
    return fnmr, trapezoid(fnmr)


@pytest.fixture(scope="module")
def blurred_run(demo, facenet, saved_head, tmp_path_factory):
    """``facedash quality --demo --degrade blur:3 --json --out DIR``, in-process."""
    import contextlib
    import io

    from facedash import cli

    out = tmp_path_factory.mktemp("quality")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(["quality", "--demo", "--degrade", "blur:3", "--json", "--out", str(out)])
    assert code == 0
    return json.loads(buf.getvalue()), out


def test_the_command_shows_what_the_issue_asks(blurred_run):
    payload, out = blurred_run
    assert {"measures", "edc", "threshold", "start_fnmr", "form"} <= set(payload)
    assert payload["form"] == "fixed"
    assert payload["measures"] == ["pfe", "norm", "serfiq", "detector", "face_size", "sharpness"]
    edc_ = payload["edc"]
    assert {*payload["measures"], "oracle", "random"} <= set(edc_)
    for curve in edc_.values():
        assert set(curve) >= {"discard", "fnmr", "pauc"} and len(curve["fnmr"]) == 20
    assert payload["faces"] == {"clean": 118, "blur": 118}
    assert payload["start_fnmr"] == pytest.approx(edc_["random"]["fnmr"][0])
    # PFE's partial area below the random order's; the oracle's below every measure's
    assert edc_["pfe"]["pauc"] < edc_["random"]["pauc"]
    for name in payload["measures"]:
        assert edc_["oracle"]["pauc"] < edc_[name]["pauc"], name
    # every curve recomputed from the files agrees to 1e-6
    for name in payload["measures"]:
        fnmr, pauc = recompute(out, name, payload["threshold"])
        assert np.allclose(fnmr, edc_[name]["fnmr"], atol=1e-6, rtol=0), name
        assert abs(pauc - edc_[name]["pauc"]) < 1e-6, name


def test_no_measure_is_ever_nan(blurred_run):
    payload, out = blurred_run
    with (out / "faces.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 236
    assert all(math.isfinite(float(r[m])) for r in rows for m in payload["measures"])
    assert set(payload["unscored"]) == set(payload["measures"])


def test_serfiq_scores_blurred_faces_lower_than_clean_ones(demo, facenet):
    """On the demo's val faces; SER-FIQ fits nothing (FaceNet's own dropout and weights only)."""
    from facedash.quality import degraded, study
    from facedash.quality.scorer import Scorer

    rows, crops = study.crops_of(demo)
    val = [k for k, r in enumerate(rows) if demo.rows[r].attributes.get("split") == "val"]
    assert len(val) >= 20
    clean = crops[val]
    blurred, _ = degraded.copies(clean, {"blur": 6.0})
    scorer = Scorer(facenet, passes=10, seed=0)
    assert scorer.stochastic and scorer.rate == pytest.approx(0.2)
    q = scorer(np.concatenate([clean, blurred]))["measures"]["serfiq"]
    diff = q[: len(val)] - q[len(val) :]
    assert np.mean(diff > 0) >= 0.9
    assert diff.mean() > 0


def test_a_sample_keeps_every_person_in_the_sets_order(demo):
    from facedash.quality import study

    assert study.sample(demo, None) is demo and study.sample(demo, len(demo.rows)) is demo
    sub = study.sample(demo, 30)
    names = [r.name for r in demo.rows]
    at = [names.index(r.name) for r in sub.rows]
    assert len(sub.rows) == 30 and at == sorted(at)  # a subset, in the set's order
    assert set(sub.people) == set(demo.people)  # every person kept
    np.testing.assert_array_equal(sub.embeddings, np.asarray(demo.embeddings)[at])
    assert sub.thumbs == [demo.thumbs[i] for i in at]
    assert [r.name for r in study.sample(demo, 30, seed=1).rows] != [r.name for r in sub.rows]


def test_the_uncertainty_page_shows_the_edc_section(demo, saved_head, app_py, monkeypatch):
    from streamlit.testing.v1 import AppTest

    import facedash.ui.quality

    # A set past the section's sample size is scored on a seeded per-person sample, said so.
    monkeypatch.setattr(facedash.ui.quality, "SAMPLE_FACES", 60)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/uncertainty.py")
    at.run()
    assert not at.exception, at.exception
    assert any("error versus discard (EDC)" in s.value for s in at.subheader)
    assert "quality_blur" in [s.key for s in at.slider]
    assert "quality_form" in [r.key for r in at.radio]
    tables = [d.value for d in at.dataframe if "partial area" in d.value.columns]
    assert len(tables) == 2  # the set as it is, and beside a blurred copy (blur 0.5 by default)
    measures = list(tables[1]["measure"])
    assert measures[-2:] == ["oracle", "random order"] and "SER-FIQ" in measures
    assert any("could not score" in c.value or "scored every face" in c.value for c in at.caption)
    assert any(
        f"On a seeded sample of 60 of the set's {len(demo.rows)} faces" in c.value
        for c in at.caption
    )


def test_degrade_values_are_in_each_kinds_own_unit(capsys):
    from facedash import cli
    from facedash.quality import degraded

    assert degraded.parse("blur:3, jpeg:20") == {"blur": 3.0, "jpeg": 20.0}
    assert degraded.strength("blur", 3) == pytest.approx(0.5)  # sigma = 6 s px
    # JPEG quality 5 + 90 (1 - s)^2 of facedash.pfe.degrade gives back the quality asked for
    s = degraded.strength("jpeg", 20)
    assert 5 + 90 * (1 - s) ** 2 == pytest.approx(20)
    for bad in ("blur", "blur:x", "blur:9", "fog:1", "blur:1,blur:2", ""):
        with pytest.raises(ValueError):
            degraded.parse(bad)
    assert cli.main(["quality", "--demo", "--degrade", "blur:9", "--json"]) == 2
    assert "blur takes sigma px from 0 to 6" in capsys.readouterr().err
