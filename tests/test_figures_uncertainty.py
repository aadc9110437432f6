"""Uncertainty figures and page analyses: pure functions, checked against brute force."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from facedash.figures import uncertainty as fig
from facedash.pfe import analysis
from facedash.pfe import evaluate as ev


def test_tar_at_far_matches_a_threshold_sweep():
    rng = np.random.default_rng(0)
    gen, imp = rng.normal(1, 1, 300), rng.normal(-1, 1, 1000)
    for far in (0.001, 0.01, 0.1):
        best = 0.0
        for t in np.concatenate([gen, imp]):  # brute force: every threshold with FAR <= far
            if np.mean(imp > t) <= far:
                best = max(best, np.mean(gen > t))
        assert ev.tar_at_far(gen, imp, far) == pytest.approx(best)


def test_risk_control_drops_the_lowest_quality_items():
    rng = np.random.default_rng(1)
    n = 40
    people = rng.integers(0, 4, n)
    mu = rng.normal(size=(n, 8))
    i, j = np.triu_indices(n, k=1)
    score = np.sum(mu[i] * mu[j], axis=1)
    quality = rng.uniform(size=n)
    curves = ev.risk_control((i, j, score), people[i] == people[j], {"q": quality}, far=0.1)
    for f, tar in zip(curves["fraction"], curves["q"], strict=True):
        keep = np.argsort(quality)[int(np.floor(f * n)) :]
        m = np.isin(i, keep) & np.isin(j, keep)
        same = people[i] == people[j]
        assert tar == pytest.approx(ev.tar_at_far(score[m & same], score[m & ~same], 0.1))


def test_fusion_and_ranking():
    rng = np.random.default_rng(2)
    mu = rng.normal(size=(10, 8))
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)
    s2 = rng.uniform(0.01, 0.1, size=(10, 8))
    people = np.array(list("aaabbbcccd"))
    out = analysis.fusion(mu, s2, people, np.array([0, 1, 2]))
    assert out["confidence_fused"] > out["confidence_each"].max()
    np.testing.assert_array_equal(out["others"], np.arange(3, 10))
    assert not out["genuine"].any()
    order = analysis.ranking(s2)
    conf = 1 / (8 / np.sum(1 / s2, axis=1))
    assert np.all(np.diff(conf[order]) <= 0)
    with pytest.raises(ValueError):
        analysis.fusion(mu, s2, people, np.array([], dtype=int))


def test_mosaic_tiles_images():
    imgs = np.arange(5 * 2 * 2 * 3, dtype=np.uint8).reshape(5, 2, 2, 3)
    out = analysis.mosaic(imgs, 3)
    assert out.shape == (4, 6, 3)
    np.testing.assert_array_equal(out[2:4, 2:4], imgs[4])


def test_figures_are_figures():
    conf = np.array([3.0, 1.0, 2.0])
    f = fig.confidence_ranking(conf, np.array(["a", "b", "a"]), np.array(["x", "y", "z"]))
    assert isinstance(f, go.Figure) and len(f.data) == 2
    assert list(f.data[0].y) == [3.0, 2.0]
    table = {
        "level": [0, 0.5],
        **{
            f"{m}_{t}{s}": [1.0, 0.5]
            for m in ("cosine", "mls")
            for t in ("genuine", "impostor")
            for s in ("", "_std")
        },
    }
    assert len(fig.dilemma(table, "blur").data) == 4
    curves = {"fraction": [0, 0.1], "pfe": [0.8, 0.9], "detector": [0.8, 0.85]}
    assert len(fig.risk_control(curves, 0.01).data) == 2
    assert len(fig.sigma_profile(np.ones(4), np.ones(4)).data) == 2
    assert len(fig.fusion_scores(np.array([True, False]), [1, 0], [1, 0], "MLS").data) == 4
    assert len(fig.sigma_vs_degradation({"blur": [(0, 1), (1, 2)]}).data) == 1
    assert isinstance(fig.loss_curve([3, 2, 1]), go.Figure)
    assert len(fig.confidence_bars(["a"], [1.0], 2.0).data[0].x) == 2


def test_face_check_figure_draws_each_face_and_the_non_faces():
    f = fig.face_check(
        ["a", "b"], [300.0, 200.0], [150.0, 120.0], [1e-11, 0.0, 5.0], ["n", "f", "t"]
    )
    assert len(f.data) == 3  # one line per face, one column of non-face crops
    assert list(f.data[0].x) == ["clean", "blurred"] and list(f.data[0].y) == [300.0, 150.0]
    assert min(f.data[2].y) > 0  # a zero confidence still lands on the log axis
    assert f.layout.shapes[0].y0 == 120.0  # the lowest blurred face
    with pytest.raises(ValueError, match="one label"):
        fig.face_check(["a"], [1.0, 2.0], [1.0], [], [])


def test_pair_sample_is_every_pair_or_a_bounded_seeded_sample_of_distinct_pairs():
    i, j = analysis.pair_sample(30, limit=1000)
    assert len(i) == 30 * 29 // 2 and (i < j).all()
    i, j = analysis.pair_sample(5000, limit=2000, seed=1)
    assert len(i) == 2000 and (i < j).all() and j.max() < 5000
    assert len(set(zip(i.tolist(), j.tolist(), strict=True))) == 2000
    a, b = analysis.pair_sample(5000, limit=2000, seed=1)
    np.testing.assert_array_equal(a, i)
    np.testing.assert_array_equal(b, j)


def test_sigma_curves_go_logarithmic_only_when_they_span_decades():
    """A head whose σ² explodes on one degradation would flatten every other line at zero."""
    calm = fig.sigma_vs_degradation(
        {"blur": [(0, 0.010), (1, 0.020)], "jpeg": [(0, 0.01), (1, 0.5)]}
    )
    assert calm.layout.yaxis.type == "linear"
    wild = {"blur": [(0, 0.010), (1, 0.020)], "occlusion": [(0, 0.010), (1, 2.3e10)]}
    shown = fig.sigma_vs_degradation(wild)
    assert shown.layout.yaxis.type == "log"
    assert "log scale" in shown.layout.yaxis.title.text
    assert [t.name for t in shown.data] == ["blur", "occlusion"]
