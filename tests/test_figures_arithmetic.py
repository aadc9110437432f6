"""The Arithmetic & search page's figure builders: types, contents and bad input."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from facedash.data.images import encode_jpeg
from facedash.figures import arithmetic as figs


def thumbs(n):
    rng = np.random.default_rng(0)
    return [encode_jpeg(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)) for _ in range(n)]


def test_neighbours_figure_marks_right_and_wrong():
    fig = figs.neighbours_figure(thumbs(3), ["a", "b", "c"], [0.1, 0.2, 0.3], [True, False, None])
    assert isinstance(fig, go.Figure)
    assert sum(isinstance(t, go.Image) for t in fig.data) == 3
    colours = [s.line.color for s in fig.layout.shapes]
    assert colours == [figs.RIGHT, figs.WRONG, figs.NEUTRAL]
    titles = [a.text for a in fig.layout.annotations]
    assert "✓" in titles[0] and "✗" in titles[1] and "0.300" in titles[2]
    with pytest.raises(ValueError, match="same length"):
        figs.neighbours_figure(thumbs(2), ["a"], [0.1, 0.2])
    with pytest.raises(ValueError, match="no faces"):
        figs.neighbours_figure([], [], [])


def test_hits_heatmap_places_every_query():
    fig = figs.hits_heatmap(["p", "q"], ["x", "y"], [("p", "x"), ("q", "y")], [1, 0], 5)
    z = np.array(fig.data[0].z, dtype=float)
    assert z[0, 0] == 1 and z[1, 1] == 6 and np.isnan(z[0, 1])
    assert fig.data[0].text[1][1] == "not in top 5"


def test_cmc_figure():
    cmc = np.array([0.8, 0.9, 1.0, 1.0, 1.0, 1.0])
    fig = figs.cmc_figure(cmc, max_rank=4)
    assert list(fig.data[0].y) == [0.8, 0.9, 1.0, 1.0]
    assert any("rank-1 80.0%" in a.text for a in fig.layout.annotations)
    with pytest.raises(ValueError):
        figs.cmc_figure(np.array([]))


def test_head_and_loss_figures():
    rows = [
        {"embedding": "plain embedding", "top-1": 0.3, "top-5": 0.9},
        {"embedding": "triplet head", "top-1": 0.4, "top-5": 0.95},
    ]
    fig = figs.head_figure(rows)
    assert [t.name for t in fig.data] == ["top-1", "top-5"]
    assert list(fig.data[0].y) == [0.3, 0.4]
    assert len(figs.loss_figure([1.0, 0.5]).data[0].y) == 2
    with pytest.raises(ValueError):
        figs.head_figure([])
