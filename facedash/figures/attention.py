"""Figures of the Attention page: pure ``data -> go.Figure`` builders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from facedash.i18n import N_, _

# Region keys (English, as in exports); shown through _().
REGION_NAMES = (N_("eyes"), N_("nose"), N_("mouth"), N_("other"))
REGION_COLOURS = ("#1f77b4", "#ff7f0e", "#d62728", "#7f7f7f")


def image_figure(image: np.ndarray, title: str = "", *, height: int = 300) -> go.Figure:
    """A uint8 RGB image (a face or its overlay) without axes."""
    fig = go.Figure(go.Image(z=np.asarray(image, dtype=np.uint8), hoverinfo="skip"))
    fig.update_layout(
        title=dict(text=title, font=dict(size=13)),
        height=height,
        margin=dict(l=0, r=0, t=30 if title else 0, b=0),
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _regions() -> list[str]:
    return [_(r) for r in REGION_NAMES]


def region_figure(shares: Sequence[float], areas: Sequence[float], title: str = "") -> go.Figure:
    """Share of the map's mass per region beside each region's share of the crop's area."""
    regions = _regions()
    pct = [100 * float(v) for v in shares]
    area = [100 * float(v) for v in areas]
    fig = go.Figure(
        [
            go.Bar(
                name=_("share of the map"),
                x=regions,
                y=pct,
                marker_color=list(REGION_COLOURS),
                text=[f"{v:.0f}%" for v in pct],
                textposition="outside",
            ),
            go.Bar(name=_("share of the area"), x=regions, y=area, marker_color="#c7c7c7"),
        ]
    )
    fig.update_layout(
        title=dict(text=title or _("Where the map's mass is"), font=dict(size=13)),
        barmode="group",
        height=260,
        yaxis=dict(title="%", range=[0, max(100.0, *pct, *area) * 1.15 if pct else 100]),
        margin=dict(l=10, r=10, t=35, b=10),
        legend=dict(orientation="h", y=-0.2),
    )
    return fig


def deletion_figure(
    fractions: np.ndarray,
    scores: np.ndarray,
    random_scores: np.ndarray,
    auc: float,
    random_auc: float,
    *,
    score_label: str | None = None,
) -> go.Figure:
    """The deletion curve (most salient pixels first) against a random order, with both AUCs.

    ``score_label`` (the y axis) defaults to "score" in the thread's language.
    """
    x = 100 * np.asarray(fractions, dtype=float)
    fig = go.Figure(
        [
            go.Scatter(
                x=x,
                y=scores,
                mode="lines+markers",
                name=_("most salient first (AUC {auc:.3f})").format(auc=auc),
            ),
            go.Scatter(
                x=x,
                y=random_scores,
                mode="lines+markers",
                name=_("random order (AUC {auc:.3f})").format(auc=random_auc),
                line=dict(dash="dash", color="#7f7f7f"),
            ),
        ]
    )
    fig.update_layout(
        title=dict(text=_("Deletion curve (lower is more faithful)"), font=dict(size=13)),
        xaxis_title=_("% of pixels deleted"),
        yaxis_title=_("score") if score_label is None else score_label,
        height=260,
        margin=dict(l=10, r=10, t=35, b=10),
        legend=dict(orientation="h", y=-0.3),
    )
    return fig


def average_maps_figure(names: Sequence[str], maps: np.ndarray, counts: Sequence[int]) -> go.Figure:
    """Mean heat maps (all faces, then each person) side by side, on one colour scale."""
    n = len(names)
    fig = make_subplots(
        rows=1,
        cols=n,
        subplot_titles=[f"{name} ({c})" for name, c in zip(names, counts, strict=True)],
        horizontal_spacing=0.01,
    )
    for i, m in enumerate(np.asarray(maps)):
        fig.add_trace(
            go.Heatmap(
                z=m,
                zmin=0,
                zmax=1,
                colorscale="Jet",
                showscale=i == n - 1,
                hovertemplate="x %{x}, y %{y}: %{z:.2f}<extra></extra>",
            ),
            row=1,
            col=i + 1,
        )
        fig.update_yaxes(
            autorange="reversed", visible=False, scaleanchor=f"x{i + 1}", row=1, col=i + 1
        )
        fig.update_xaxes(visible=False, row=1, col=i + 1)
    fig.update_layout(height=260, margin=dict(l=0, r=0, t=30, b=0))
    fig.update_annotations(font_size=11)
    return fig


def average_regions_figure(names: Sequence[str], shares: np.ndarray) -> go.Figure:
    """Stacked region shares of each mean map (all faces and per person)."""
    s = 100 * np.asarray(shares, dtype=float)
    fig = go.Figure(
        [
            go.Bar(
                name=r,
                x=list(names),
                y=s[:, j],
                marker_color=REGION_COLOURS[j],
                text=[f"{v:.0f}%" for v in s[:, j]],
                textposition="inside",
            )
            for j, r in enumerate(_regions())
        ]
    )
    fig.update_layout(
        barmode="stack",
        height=300,
        yaxis=dict(title=_("% of the mean map's mass"), range=[0, 100]),
        margin=dict(l=10, r=10, t=10, b=10),
    )
    return fig


def randomization_figure(spearman: np.ndarray, bound: float) -> go.Figure:
    """Spearman rank correlation of each map with its randomized-model map, and the bound."""
    vals = np.asarray(spearman, dtype=float)
    face = _("face {i}")
    fig = go.Figure(
        go.Bar(x=[face.format(i=i + 1) for i in range(len(vals))], y=vals, name="Spearman")
    )
    fig.add_hline(
        y=bound, line_dash="dash", annotation_text=_("bound {bound:g}").format(bound=bound)
    )
    fig.update_layout(
        height=220,
        yaxis=dict(range=[-1, 1], title="Spearman ρ"),
        margin=dict(l=10, r=10, t=10, b=10),
    )
    return fig
