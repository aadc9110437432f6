"""Figures of the Arithmetic & search page: pure ``data -> go.Figure`` builders."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from facedash.i18n import _

RIGHT, WRONG, NEUTRAL = "#2ca02c", "#d62728", "#7f7f7f"


def _data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def neighbours_figure(
    thumbs: Sequence[bytes | None],
    captions: Sequence[str],
    scores: Sequence[float],
    correct: Sequence[bool | None] | None = None,
    *,
    score_name: str | None = None,
    title: str = "",
) -> go.Figure:
    """A row of face thumbnails (JPEG bytes), each titled with its caption and score.

    ``correct`` marks each face right (green frame), wrong (red) or None (grey);
    ``score_name`` defaults to "distance" (in the thread's language).
    """
    k = len(thumbs)
    if not (len(captions) == len(scores) == k) or (correct is not None and len(correct) != k):
        raise ValueError("thumbs, captions, scores (and correct) must have the same length")
    if k == 0:
        raise ValueError("no faces to show")
    marks = list(correct) if correct is not None else [None] * k
    score_name = _("distance") if score_name is None else score_name
    titles = [
        f"{i + 1}. {c}<br>{score_name} {s:.3f}" + (" ✓" if m else (" ✗" if m is False else ""))
        for i, (c, s, m) in enumerate(zip(captions, scores, marks, strict=True))
    ]
    # One row of k image panels, laid out as make_subplots(rows=1, cols=k, spacing 0.02) does;
    # written out as plain dicts, which plotly validates in one pass instead of a few
    # hundred update calls (this builder runs three times on every rerun of the page).
    spacing = 0.02
    width = (1 - spacing * (k - 1)) / k
    data, shapes, annotations = [], [], []
    layout: dict = {}
    for i, (thumb, mark, text) in enumerate(zip(thumbs, marks, titles, strict=True)):
        n = str(i + 1) if i else ""
        left = i * (width + spacing)
        layout[f"xaxis{n}"] = {"anchor": f"y{n}", "domain": [left, left + width], "visible": False}
        layout[f"yaxis{n}"] = {"anchor": f"x{n}", "domain": [0.0, 1.0], "visible": False}
        if thumb is not None:
            data.append(
                {
                    "type": "image",
                    "source": _data_uri(thumb),
                    "hoverinfo": "skip",
                    "xaxis": f"x{n}",
                    "yaxis": f"y{n}",
                }
            )
        colour = RIGHT if mark else (WRONG if mark is False else NEUTRAL)
        shapes.append(
            {
                "type": "rect",
                "xref": f"x{n} domain",
                "yref": f"y{n} domain",
                "x0": 0,
                "y0": 0,
                "x1": 1,
                "y1": 1,
                "line": {"color": colour, "width": 6 if mark is not None else 1},
            }
        )
        annotations.append(
            {
                "text": text,
                "x": left + width / 2,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11},
            }
        )
    layout.update(
        shapes=shapes,
        annotations=annotations,
        title=title or None,
        height=260 + (30 if title else 0),
        margin={"l": 10, "r": 10, "t": 80 if title else 60, "b": 10},
    )
    fig = go.Figure(data=data, layout=layout)
    return fig


def hits_heatmap(
    persons: Sequence[str],
    attributes: Sequence[str],
    queries: Sequence[tuple[str, str]],
    first_right: Sequence[int],
    k: int,
) -> go.Figure:
    """Person x attribute grid: the rank of the first right face of each query (0 = not in top k).

    Attribute values are keys (``queries`` name them); each is shown through _(), so a
    synthetic condition ("grayscale", marked N_ where it is defined) reads in the language.
    """
    grid = np.full((len(persons), len(attributes)), np.nan)
    text = np.full(grid.shape, _("no such face"), dtype=object)
    ranked, missed = _("rank {r}"), _("not in top {k}")
    for (p, a), r in zip(queries, first_right, strict=True):
        i, j = list(persons).index(p), list(attributes).index(a)
        grid[i, j] = r if r > 0 else k + 1
        text[i, j] = ranked.format(r=r) if r > 0 else missed.format(k=k)
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=[_(str(a)) for a in attributes],
            y=list(persons),
            text=text,
            texttemplate="%{text}",
            zmin=1,
            zmax=k + 1,
            colorscale=[[0, RIGHT], [0.5, "#ffdd57"], [1, WRONG]],
            colorbar={"title": _("rank")},
            hovertemplate="%{y} + %{x}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title=_("Where the right face came, for every person + attribute query"),
        xaxis_title=_("attribute"),
        yaxis_title=_("person"),
        height=120 + 40 * len(persons),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


def cmc_figure(cmc: np.ndarray, *, max_rank: int = 20, name: str | None = None) -> go.Figure:
    """Cumulative match characteristic: share of probes with a mate within rank r.

    ``name`` (the trace's) defaults to "this set" in the thread's language.
    """
    cmc = np.asarray(cmc, dtype=float)
    if cmc.ndim != 1 or not len(cmc):
        raise ValueError("cmc must be a non-empty 1-d array")
    n = min(max_rank, len(cmc))
    ranks = np.arange(1, n + 1)
    fig = go.Figure(
        go.Scatter(
            x=ranks,
            y=cmc[:n],
            mode="lines+markers",
            name=_("this set") if name is None else name,
            hovertemplate=_("rank %{x}: %{y:.1%}") + "<extra></extra>",
        )
    )
    for r in (1, 5):
        if r <= n:
            text = _("rank-{r} {rate:.1%}").format(r=r, rate=cmc[r - 1])
            fig.add_annotation(x=r, y=cmc[r - 1], text=text, showarrow=True)
    fig.update_layout(
        title=_("CMC: a same-person face within the first r results"),
        xaxis_title=_("rank r"),
        yaxis_title=_("identification rate"),
        yaxis_range=[max(0.0, float(cmc[0]) - 0.1), 1.01],
        yaxis_tickformat=".0%",
        height=360,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


def head_figure(rows: Sequence[dict[str, object]]) -> go.Figure:
    """Top-1 / top-5 before and after the triplet head, grouped bars.

    Each row's ``embedding`` (a key such as "plain embedding") is shown through _().
    """
    if not rows:
        raise ValueError("no rows to plot")
    fig = go.Figure()
    for metric in ("top-1", "top-5"):
        fig.add_trace(
            go.Bar(
                x=[_(str(r["embedding"])) for r in rows],
                y=[float(r[metric]) for r in rows],  # type: ignore[arg-type]
                name=metric,
                text=[f"{float(r[metric]):.0%}" for r in rows],  # type: ignore[arg-type]
                textposition="outside",
            )
        )
    fig.update_layout(
        barmode="group",
        title=_("Person + attribute accuracy on held-out faces"),
        yaxis_range=[0, 1.1],
        yaxis_tickformat=".0%",
        height=340,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


def loss_figure(losses: Sequence[float]) -> go.Figure:
    """Triplet loss per epoch."""
    fig = go.Figure(go.Scatter(x=np.arange(1, len(losses) + 1), y=list(losses), mode="lines"))
    fig.update_layout(
        title=_("Triplet loss while training the head"),
        xaxis_title=_("epoch"),
        yaxis_title=_("loss"),
        height=260,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig
