"""The Uncertainty page's two-model figure: each face's confidence under model A against model B."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from facedash.i18n import _

WEBGL_FROM = 500  # faces past which the points are drawn in WebGL


def confidence_scatter(
    conf_a: np.ndarray,
    conf_b: np.ndarray,
    people: np.ndarray,
    names: np.ndarray,
    label_a: str,
    label_b: str,
) -> go.Figure:
    """One point per face: its confidence under ``label_a`` (x) and ``label_b`` (y), log-log, by person."""
    conf_a, conf_b = np.asarray(conf_a, float), np.asarray(conf_b, float)
    people, names = np.asarray(people), np.asarray(names)
    scatter = go.Scattergl if len(conf_a) > WEBGL_FROM else go.Scatter
    fig = go.Figure()
    each = _("{model}: confidence")
    hover = (
        f"%{{text}}<br>{each.format(model=label_a)} %{{x:.1f}}"
        f"<br>{each.format(model=label_b)} %{{y:.1f}}<extra></extra>"
    )
    for person in sorted(set(people.tolist())):
        idx = np.flatnonzero(people == person)
        fig.add_trace(
            scatter(
                x=conf_a[idx],
                y=conf_b[idx],
                mode="markers",
                name=str(person),
                text=names[idx].astype(str),
                hovertemplate=hover,
            )
        )
    axis = _("{model}: confidence = 1 / harmonic mean of σ² (log)")
    fig.update_layout(
        xaxis=dict(type="log", title=axis.format(model=label_a)),
        yaxis=dict(type="log", title=axis.format(model=label_b)),
        height=420,
        margin=dict(t=30, b=40),
    )
    return fig
