"""Honest numbers: dev -> eval against brute-force counts, DET against scikit-learn, FTA counts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import det_curve

from facedash import verification as V
from facedash.figures import det as D
from facedash.figures import verification as F

CRITERIA = [
    V.Criterion("target_fmr", target_fmr=0.01),
    V.Criterion("target_fmr", target_fmr=0.001),
    V.Criterion("target_fmr", target_fmr=0.0),
    V.Criterion("eer"),
    V.Criterion("f1"),
    V.Criterion("cost", cost=10.0),
    V.Criterion("cost", cost=0.05),
]


# -- brute force, independent of the sweep --------------------------------------------------------
def _split_pairs(demo, value: str) -> tuple[np.ndarray, np.ndarray]:
    """Every pair within one split by a double loop; the cosine and the truth of each.

    The scores are the library's own cosine of those pairs (bit for bit what the sweep
    sees, so a threshold equal to a score is decided alike); a numpy cosine agrees to 1e-12.
    """
    idx = [k for k, r in enumerate(demo.rows) if r.attributes["split"] == value]
    i, j, same = [], [], []
    for a in range(len(idx)):
        for b in range(a + 1, len(idx)):
            i.append(idx[a])
            j.append(idx[b])
            same.append(demo.rows[idx[a]].person == demo.rows[idx[b]].person)
    i, j = np.array(i), np.array(j)
    scores = V.cosine(demo, i, j)
    e = demo.embeddings.astype(np.float64)
    plain = (e[i] * e[j]).sum(1) / np.linalg.norm(e[i], axis=1) / np.linalg.norm(e[j], axis=1)
    np.testing.assert_allclose(scores, plain, atol=1e-12)
    return scores, np.array(same)


def _counts(s: np.ndarray, y: np.ndarray, t: float) -> dict[str, float]:
    acc = s >= t
    tp, fp = int((acc & y).sum()), int((acc & ~y).sum())
    fn, tn = int((~acc & y).sum()), int((~acc & ~y).sum())
    return {
        "fmr": fp / (fp + tn),
        "fnmr": fn / (tp + fn),
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "f1": 2 * tp / (2 * tp + fp + fn),
        "accuracy": (tp + tn) / len(s),
    }


def _brute_threshold(s: np.ndarray, y: np.ndarray, c: V.Criterion) -> float:
    """The criterion's threshold by trying every distinct score (and "accept nothing")."""
    candidates = np.unique(s)[::-1]  # strictest first
    rates = [_counts(s, y, t) for t in candidates]
    fmr = np.array([r["fmr"] for r in rates])
    fnmr = np.array([r["fnmr"] for r in rates])
    if c.name == "target_fmr":
        ok = np.flatnonzero(fmr <= c.target_fmr)
        return float(candidates[ok[-1]]) if len(ok) else np.inf  # most lenient that passes
    if c.name == "eer":
        return float(candidates[np.argmin(np.abs(fmr - fnmr))])
    if c.name == "f1":
        return float(candidates[np.argmax([r["f1"] for r in rates])])
    cost = c.cost * fmr + fnmr
    return float(candidates[np.argmin(cost)]) if cost.min() <= 1.0 else np.inf


@pytest.mark.parametrize("dev, evaluation", [("train", "val"), ("val", "train")])
@pytest.mark.parametrize("criterion", CRITERIA, ids=lambda c: c.label)
def test_dev_eval_matches_brute_force_on_the_demo(demo, dev, evaluation, criterion):
    groups = [r.attributes["split"] for r in demo.rows]
    de = V.dev_eval(demo, demo.people, groups, dev, evaluation, criterion, replicates=50)
    ds, dy = _split_pairs(demo, dev)
    es, ey = _split_pairs(demo, evaluation)
    choose, report = de.choose_record(), de.report_record()
    assert set(choose) == {"split", "criterion", "threshold", "fmr", "fnmr", "pairs"}
    assert set(report) == {
        "split",
        "threshold",
        "fmr",
        "fnmr",
        "precision",
        "f1",
        "accuracy",
        "pairs",
        "interval",
    }
    assert choose["pairs"] == {"genuine": int(dy.sum()), "impostor": int((~dy).sum())}
    assert report["pairs"] == {"genuine": int(ey.sum()), "impostor": int((~ey).sum())}
    # The threshold is the criterion's on the development pairs alone ...
    expected = _brute_threshold(ds, dy, criterion)
    if np.isinf(expected):  # accept nothing
        assert de.threshold > ds.max() and choose["fmr"] == 0 and choose["fnmr"] == 1
    else:
        assert de.threshold == pytest.approx(expected, abs=1e-12)
    for k, v in _counts(ds, dy, de.threshold).items():
        if k in choose:
            assert choose[k] == pytest.approx(v, abs=1e-12), k
    # ... and the evaluation figures are plain counts at that threshold.
    for k, v in _counts(es, ey, de.threshold).items():
        assert report[k] == pytest.approx(v, abs=1e-12), k
    if criterion.name == "target_fmr":
        assert choose["fmr"] <= criterion.target_fmr
        looser = np.unique(ds)[np.unique(ds) < de.threshold]
        if len(looser):  # the next looser threshold breaks the target: the most lenient one
            assert _counts(ds, dy, looser.max())["fmr"] > criterion.target_fmr
    # The evaluation split's in-sample optimum is the same criterion on its own pairs.
    own = _brute_threshold(es, ey, criterion)
    if np.isfinite(own):
        assert de.in_sample_threshold == pytest.approx(own, abs=1e-12)
    # The interval is over the evaluation split's people, and brackets its value.
    iv = report["interval"]
    assert iv["replicates"] == 50 and iv["valid"] >= 45
    for k in ("fmr", "fnmr", "f1"):
        assert iv[k]["low"] - 1e-12 <= iv[k]["value"] <= iv[k]["high"] + 1e-12
        assert iv[k]["value"] == pytest.approx(report[k])


def test_dev_eval_shows_a_gap_on_the_demo(demo):
    """Chosen on the 25 val faces (perfectly separated), the EER threshold misses on train."""
    groups = [r.attributes["split"] for r in demo.rows]
    de = V.dev_eval(demo, demo.people, groups, "val", "train", V.Criterion("eer"), replicates=0)
    assert de.interval is None and de.report_record()["interval"] is None
    assert de.chosen.far == 0 and de.chosen.frr == 0  # in-sample on val: perfect
    assert de.reported.frr > de.in_sample.frr  # held out: worse than train's own optimum


def test_dev_eval_pairs_index_the_split_so_the_bootstrap_draws_its_people(demo):
    """Each split's pairs index its own faces: a bootstrap over them draws only its people."""
    groups = np.array([r.attributes["split"] for r in demo.rows], dtype=object)
    de = V.dev_eval(demo, demo.people, groups, "train", "val", V.Criterion("f1"), replicates=40)
    assert len(de.eval.index) == 25 and set(groups[de.eval.index]) == {"val"}
    assert de.eval.pairs.j.max() < 25 and len(de.eval.pairs) == 25 * 24 // 2
    g = de.eval.global_pairs
    assert set(groups[g.i]) == set(groups[g.j]) == {"val"}
    np.testing.assert_array_equal(de.eval.people, demo.people[de.eval.index])
    assert de.interval.valid == 40  # 5 people drawn with replacement: both classes every time


def test_dev_eval_errors_name_the_problem(demo):
    groups = [r.attributes["split"] for r in demo.rows]
    with pytest.raises(ValueError, match="no face has split = 'test'; values: train, val"):
        V.dev_eval(demo, demo.people, groups, "train", "test", V.Criterion("eer"))
    solo = ["a" if r.person == "madonna" else "b" for r in demo.rows]
    with pytest.raises(ValueError, match="different-person pairs"):
        V.dev_eval(demo, demo.people, solo, "a", "b", V.Criterion("eer"), attribute="g")
    with pytest.raises(ValueError, match="target FMR"):
        V.Criterion("target_fmr")
    with pytest.raises(ValueError, match="unknown criterion"):
        V.Criterion("auc")
    with pytest.raises(ValueError, match="positive"):
        V.Criterion("cost", cost=0)


def test_distance_scores_use_the_lower_is_same_rule(demo):
    groups = [r.attributes["split"] for r in demo.rows]
    c = V.Criterion("target_fmr", target_fmr=0.01)
    de = V.dev_eval(demo, demo.people, groups, "train", "val", c, score="euclidean", replicates=0)
    cs, y = _split_pairs(demo, "val")
    d = np.sqrt(np.maximum(2 - 2 * cs, 0))  # unit vectors: distance from the cosine
    acc = d <= de.threshold
    assert de.reported.fp == int((acc & ~y).sum()) and de.reported.tp == int((acc & y).sum())
    assert de.chosen.far <= 0.01


# -- DET --------------------------------------------------------------------------------------------
def _random(seed: int, n: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    y[:2] = True, False
    s = rng.normal(size=n) + 1.5 * y
    return y, (np.round(s * 2) / 2 if ties else s)


@pytest.mark.parametrize("score", ["cosine", "euclidean"])
@pytest.mark.parametrize("ties", [False, True])
def test_det_curve_matches_sklearn(score, ties):
    y, s = _random(5, 3000, ties)
    if score == "euclidean":
        s = s.max() - s + 0.1  # a distance: small for genuine pairs
    sw = V.sweep(s, y, score=score)
    fmr, fnmr, thr = V.det_curve(sw)
    oriented = s if score == "cosine" else -s
    sk_fpr, sk_fnr, sk_thr = det_curve(y, oriented, drop_intermediate=False)
    np.testing.assert_allclose(fmr, sk_fpr, atol=1e-12, rtol=0)
    np.testing.assert_allclose(fnmr, sk_fnr, atol=1e-12, rtol=0)
    np.testing.assert_allclose(thr, sk_thr if score == "cosine" else -sk_thr)
    assert np.all(np.diff(fmr) <= 0) and np.all(np.diff(fnmr) >= 0)


def test_det_curve_on_the_demo_matches_sklearn(demo):
    p = V.all_pairs(demo.people)
    s = V.pair_scores(demo, p, "cosine")
    sw = V.sweep(s, p.same)
    fmr, fnmr, thr = V.det_curve(sw)
    sk = det_curve(p.same, s, drop_intermediate=False)
    np.testing.assert_allclose(fmr, sk[0], atol=1e-12)
    np.testing.assert_allclose(fnmr, sk[1], atol=1e-12)
    np.testing.assert_allclose(thr, sk[2])
    pts = V.det_points(sw)
    assert 50 <= len(pts["fmr"]) <= V.DET_POINTS < len(fmr)
    # Every kept point is a point of sklearn's curve, and both ends are kept.
    where = {(a, b, t) for a, b, t in zip(sk[0], sk[1], sk[2], strict=True)}
    assert all(
        (a, b, t) in where
        for a, b, t in zip(pts["fmr"], pts["fnmr"], pts["thresholds"], strict=True)
    )
    assert (pts["fmr"][0], pts["fnmr"][-1]) == (sk[0][0], sk[1][-1])
    # Kept where the curve moves on the probit scale: the low-FMR tail is not thinned away.
    assert np.sum(pts["fmr"] < 0.01) >= 0.2 * len(pts["fmr"])


def test_det_figure_draws_sklearn_points_on_normal_deviate_axes(demo):
    p = V.all_pairs(demo.people)
    s = V.pair_scores(demo, p, "cosine")
    sw = V.sweep(s, p.same)
    fig = D.det_figure([F.Curve("facenet", sw, 0.3, 0.6)])
    line = fig.data[0]
    sk_fpr, sk_fnr, _ = det_curve(p.same, s, drop_intermediate=False)
    floor_x, floor_y = 0.5 / sw.negatives, 0.5 / sw.positives
    expected = set(
        zip(
            np.round(norm.ppf(np.clip(sk_fpr, floor_x, 1 - floor_x)), 9),
            np.round(norm.ppf(np.clip(sk_fnr, floor_y, 1 - floor_y)), 9),
            strict=True,
        )
    )
    drawn = set(zip(np.round(line.x, 9), np.round(line.y, 9), strict=True))
    assert drawn <= expected and len(drawn) > 50
    marker = next(t for t in fig.data if "threshold 0.3" in (t.name or ""))
    c = sw.at(0.3)
    assert marker.x[0] == pytest.approx(norm.ppf(max(c.far, floor_x)))
    assert marker.y[0] == pytest.approx(norm.ppf(c.frr))
    default = next(t for t in fig.data if "published default 0.6" in (t.name or ""))
    d = sw.at(0.6)
    assert default.x[0] == pytest.approx(norm.ppf(max(d.far, floor_x)))  # FMR 0: at the floor
    ticks = dict(zip(fig.layout.xaxis.ticktext, fig.layout.xaxis.tickvals, strict=True))
    for text, rate in (("0.1%", 0.001), ("1%", 0.01), ("5%", 0.05), ("50%", 0.5)):
        assert ticks[text] == pytest.approx(norm.ppf(rate))  # log-style labels, probit positions
    assert "FMR" in fig.layout.xaxis.title.text and "FNMR" in fig.layout.yaxis.title.text


# -- FTA and transaction rates ------------------------------------------------------------------------
def test_transaction_rates_count_fta_pairs_by_brute_force():
    rng = np.random.default_rng(3)
    people = np.array(list("aaabbbbccd"), dtype=object)
    fta_people = np.array(list("abd"), dtype=object)  # photos without a face
    everyone = np.r_[people, fta_people]
    acquired = np.r_[np.ones(len(people), bool), np.zeros(len(fta_people), bool)]
    scores = rng.normal(size=(len(everyone), len(everyone)))
    p = V.all_pairs(people)
    s = scores[p.i, p.j]
    y = people[p.i] == people[p.j]
    conf = V.sweep(s, y).at(0.2)
    tx = V.transaction_rates(conf, people, fta_people)
    # Brute force over every pair of every photo: an FTA photo's pair is never a match.
    fm = fnm = gen = imp = 0
    for i in range(len(everyone)):
        for j in range(i + 1, len(everyone)):
            same = everyone[i] == everyone[j]
            match = acquired[i] and acquired[j] and scores[i, j] >= 0.2
            gen, imp = gen + same, imp + (not same)
            fnm += same and not match
            fm += (not same) and match
    assert (tx.genuine, tx.impostor) == (gen, imp)
    assert tx.fnmr == pytest.approx(fnm / gen) and tx.fmr == pytest.approx(fm / imp)
    assert tx.fnmr > conf.frr and tx.fmr <= conf.far
    assert V.transaction_rates(conf, people, []).fnmr == pytest.approx(conf.frr)


def test_acquisition_of_the_demo_counts_every_photo(demo, demo_dataset):
    acq = V.acquisition(demo, demo_dataset.items)
    searched = len({r.name for r in demo.rows}) + len(demo.no_face)
    assert acq.photos == searched == 118  # every demo photo is read and searched
    assert acq.fta == len(demo.no_face) / 118
    val = V.acquisition(demo, demo_dataset.items, attribute="split", value="val")
    assert val.photos == 25
