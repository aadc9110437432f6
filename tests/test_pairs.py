"""Pair maps of both signs judged the field's way (#26): decision flips, deletion, insertion.

The flip rates and the pixel replacement are checked against plain loops; xSSAB and Grad-CAM are
run on real demo pairs with FaceNet, and ``facedash explain-pairs`` gives the contract's keys.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from facedash.explain import flips as F
from facedash.explain import pairs as P


def _plain_flip_rate(before, after, t, genuine):
    eligible = flipped = 0
    for b, a in zip(before, after, strict=True):
        if genuine and b >= t:
            eligible += 1
            flipped += a < t
        if not genuine and b < t:
            eligible += 1
            flipped += a >= t
    return flipped / eligible if eligible else float("nan")


@pytest.mark.parametrize("genuine", [True, False])
def test_flip_rates_agree_with_a_plain_loop_over_pairs(genuine):
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(1, 30))
        before, after = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
        before[: n // 3] = 0.25  # ties at the threshold: accepted (>=)
        t = 0.25
        want = _plain_flip_rate(before, after, t, genuine)
        got = F.flip_rate(before, after, t, genuine)
        assert (np.isnan(want) and np.isnan(got)) or got == pytest.approx(want)


def test_replacing_the_top_pixels_takes_exactly_those_from_the_blurred_face():
    rng = np.random.default_rng(0)
    face = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    blur = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    heat = rng.random((20, 20))
    order = F.order_of(heat)
    out = F.replace_first(face, blur, order, 0.1)
    changed = np.flatnonzero(np.any(out != face, axis=-1).ravel())
    top = set(np.argsort(-heat.ravel())[:40].tolist())
    assert set(changed.tolist()) <= top  # only the top 10 % (40 of 400 pixels) ...
    for p in top:  # ... and every one of them now holds the blurred face's value
        y, x = divmod(p, 20)
        assert (out[y, x] == blur[y, x]).all()
    back = F.restore_first(face, blur, order, 0.1)  # insertion: the top 10 % restored
    assert all((back.reshape(-1, 3)[p] == face.reshape(-1, 3)[p]).all() for p in top)
    assert (
        np.delete(back.reshape(-1, 3), list(top), axis=0)
        == np.delete(blur.reshape(-1, 3), list(top), axis=0)
    ).all()


@pytest.fixture(scope="module")
def demo_pairs(demo):
    crops, people, emb = F.set_crops(demo)
    return crops, people, emb, F.eer_threshold(emb, people)


def test_xssab_flips_more_genuine_pairs_than_random_pixels_and_deletes_faster(facenet, demo_pairs):
    crops, people, _emb, t = demo_pairs
    genuine, impostor = F.sample_pairs(people, 4, seed=1)
    x = F.measure("xssab", crops, genuine, impostor, t, embed=facenet.embed, model=facenet.model)
    assert x.flip["20"] > x.random_flip["20"]
    assert x.deletion_auc < x.random_deletion_auc
    assert x.impostor_flip is not None and x.impostor_flip["50"] >= x.random_impostor_flip["50"]
    maps = P.xssab(facenet.model, crops[genuine[0][0]], crops[genuine[0][1]])
    assert maps.similar.shape == maps.dissimilar.shape == (2, *crops.shape[1:3])
    assert maps.similar.std() > 0 and maps.dissimilar.std() > 0  # neither constant
    same = float(
        np.dot(facenet.embed(crops[[genuine[0][0]]])[0], facenet.embed(crops[[genuine[0][1]]])[0])
    )
    assert maps.score == pytest.approx(same, abs=1e-3)  # S+ - S- is the pair's cosine
    g = F.measure(
        "gradcam", crops, genuine[:1], impostor, t, embed=facenet.embed, model=facenet.model
    )
    assert g.impostor_flip is None and len(g.pairs) == 1  # no dissimilar maps: no impostor pairs


def test_explain_pairs_json_has_the_contract_keys(demo, capsys):
    from facedash.cli import main

    assert (
        main(["explain-pairs", "--demo", "--methods", "xssab,gradcam", "--sample", "2", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["genuine"] == 2 and out["impostor"] == 2 and out["threshold_source"] == "eer"
    assert 0 < out["threshold"] < 1
    for name in ("xssab", "gradcam"):
        m = out["methods"][name]
        for key in (
            "flip",
            "random_flip",
            "deletion_auc",
            "insertion_auc",
            "random_deletion_auc",
            "ms_per_pair",
        ):
            assert key in m, (name, key)
        assert set(m["flip"]) == {"5", "10", "20", "30", "50"}
        assert -1.0 <= m["randomization"] <= 1.0  # the check ran (its verdict is the table's)
    assert set(out["methods"]["xssab"]["impostor_flip"]) == {"5", "10", "20", "30", "50"}
    assert out["methods"]["gradcam"]["impostor_flip"] is None


def test_explain_pairs_refuses_an_unknown_method_in_one_line(capsys):
    from facedash.cli import main

    assert main(["explain-pairs", "--demo", "--methods", "xssab,lime", "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lime" in err[0] and "corrrise" in err[0]


def test_the_attention_page_measures_the_pair_methods(demo):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.run()
    at.switch_page("pages/attention.py")
    at.run()
    assert at.selectbox(key="pairmaps_method").options == ["CorrRISE", "xSSAB"]
    at.multiselect(key="pairstudy_methods").set_value(["xssab"])
    at.selectbox(key="pairstudy_sample").set_value(5)
    at.button(key="pairstudy_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "flips at 20 %" in d.value.columns)
    assert list(table["method"]) == ["xSSAB"]
    assert any("the EER threshold on this set" in c.value for c in at.caption)
    at.toggle(key="pairmaps_on").set_value(True)
    at.selectbox(key="pairmaps_method").set_value("xssab").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("xSSAB" in m.value and "arguments" in m.value for m in at.markdown)
