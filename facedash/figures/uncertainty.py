"""Figures of the Uncertainty page: pure functions, data in, plotly figure out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from facedash.i18n import N_, _

GENUINE, IMPOSTOR = "#2a9d8f", "#e76f51"
PFE, DETECTOR = "#3a86ff", "#8d99ae"
# Degradation kinds (``facedash.pfe.degrade.KINDS``) and pair classes as shown, through _().
KIND_NAMES = {
    "clean": N_("clean"),
    "blur": N_("blur"),
    "downscale": N_("downscale"),
    "jpeg": N_("jpeg"),
    "noise": N_("noise"),
    "occlusion": N_("occlusion"),
    "darkness": N_("darkness"),
}
TAGS = {"genuine": N_("genuine"), "impostor": N_("impostor")}
# Non-face crop kinds (``facedash.pfe.nonface.KINDS``), shown through _().
NONFACE_NAMES = {
    "noise": N_("noise"),
    "flat": N_("flat"),
    "texture": N_("texture"),
    "background": N_("background"),
}


def kind_name(kind: str) -> str:
    """A degradation kind as shown (unknown kinds as they are)."""
    return _(KIND_NAMES[kind]) if kind in KIND_NAMES else kind


WEBGL_FROM = 500  # faces past which the ranking is drawn in WebGL


def confidence_ranking(confidence: np.ndarray, people: np.ndarray, names: np.ndarray) -> go.Figure:
    """Every face's confidence, sorted, coloured by person."""
    confidence = np.asarray(confidence, dtype=float)
    order = np.argsort(-confidence, kind="stable")
    fig = go.Figure()
    people, names = np.asarray(people), np.asarray(names)
    ranked = people[order]
    # Thousands of faces: WebGL points (one trace per person either way).
    scatter = go.Scattergl if len(confidence) > WEBGL_FROM else go.Scatter
    for person in sorted(set(people.tolist())):
        idx = np.flatnonzero(ranked == person)
        fig.add_trace(
            scatter(
                x=idx,
                y=confidence[order[idx]],
                mode="markers",
                name=str(person),
                text=names[order[idx]].astype(str),
                hovertemplate="%{text}<br>" + _("confidence %{y:.1f}") + "<extra></extra>",
            )
        )
    fig.update_layout(
        xaxis_title=_("rank (most certain first)"),
        yaxis_title=_("confidence = 1 / harmonic mean of σ²"),
        height=320,
        margin=dict(t=30, b=40),
    )
    return fig


def sigma_profile(sigma2_clean: np.ndarray, sigma2: np.ndarray) -> go.Figure:
    """σ² per embedding dimension, clean vs degraded (log scale)."""
    dims = np.arange(len(sigma2))
    fig = go.Figure(
        [
            go.Scatter(x=dims, y=sigma2_clean, name=_("clean"), mode="lines", line=dict(color=PFE)),
            go.Scatter(
                x=dims, y=sigma2, name=_("degraded"), mode="lines", line=dict(color=IMPOSTOR)
            ),
        ]
    )
    fig.update_layout(
        xaxis_title=_("embedding dimension"),
        yaxis_title="σ²",
        yaxis_type="log",
        height=280,
        margin=dict(t=30, b=40),
    )
    return fig


def sigma_vs_degradation(curves: Mapping[str, Sequence[Sequence[float]]]) -> go.Figure:
    """Mean σ² of held-out faces against degradation strength, one line per kind.

    The axis is logarithmic when the means span more than two decades (a head whose σ²
    explodes on a fully occluded face would otherwise flatten every other line to zero).
    """
    fig = go.Figure()
    every: list[float] = []
    for kind, pts in curves.items():
        x, y = zip(*pts, strict=True)
        every += y
        fig.add_trace(go.Scatter(x=x, y=y, name=kind_name(kind), mode="lines+markers"))
    values = np.asarray(every, dtype=np.float64)
    values = values[np.isfinite(values)]
    log = bool(len(values)) and values.min() > 0 and values.max() / values.min() > 100
    fig.update_layout(
        xaxis_title=_("degradation strength"),
        yaxis_title=_("mean σ² (held-out faces, log scale)")
        if log
        else _("mean σ² (held-out faces)"),
        yaxis_type="log" if log else "linear",
        height=320,
        margin=dict(t=30, b=40),
    )
    return fig


def dilemma(table: Mapping[str, Sequence[float]], kind: str) -> go.Figure:
    """Genuine and impostor scores against degradation level: cosine (left) and MLS (right)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(_("cosine similarity"), "MLS"))
    strength = _("{kind} strength (both faces)").format(kind=kind_name(kind))
    x = list(table["level"])
    for col, metric in ((1, "cosine"), (2, "mls")):
        for tag, colour in (("genuine", GENUINE), ("impostor", IMPOSTOR)):
            y = np.asarray(table[f"{metric}_{tag}"], dtype=float)
            sd = np.asarray(table[f"{metric}_{tag}_std"], dtype=float)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    error_y=dict(type="data", array=sd, visible=True, thickness=1),
                    name=_(TAGS[tag]),
                    legendgroup=_(TAGS[tag]),
                    showlegend=col == 1,
                    mode="lines+markers",
                    line=dict(color=colour),
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text=strength, row=1, col=col)
    fig.update_layout(height=340, margin=dict(t=40, b=40))
    return fig


def risk_control(curves: Mapping[str, Sequence[float]], far: float, title: str = "") -> go.Figure:
    """TAR at a fixed FAR as the lowest-quality fraction is rejected: PFE vs the detector."""
    x = 100 * np.asarray(curves["fraction"], dtype=float)
    fig = go.Figure()
    names = {
        "pfe": (_("PFE confidence"), PFE),
        "detector": (_("MTCNN detection score"), DETECTOR),
    }
    for key, (label, colour) in names.items():
        if key in curves:
            fig.add_trace(
                go.Scatter(
                    x=x, y=curves[key], name=label, mode="lines+markers", line=dict(color=colour)
                )
            )
    fig.update_layout(
        title=title,
        xaxis_title=_("faces rejected (lowest quality first), %"),
        yaxis_title=_("TAR at FAR = {far:g}").format(far=far),
        height=320,
        margin=dict(t=40 if title else 30, b=40),
    )
    return fig


BOX_POINTS_MAX = 2000  # points a fusion box draws one by one at most


def fusion_scores(
    genuine: np.ndarray,
    fused: np.ndarray,
    single: np.ndarray,
    metric: str,
) -> go.Figure:
    """Scores of the fused face and of the best single face against every other face."""
    genuine = np.asarray(genuine, dtype=bool)
    fig = go.Figure()
    for key, label, s in (("single", _("best single photo"), single), ("fused", _("fused"), fused)):
        for tag, mask, colour in (("genuine", genuine, GENUINE), ("impostor", ~genuine, IMPOSTOR)):
            fig.add_trace(
                go.Box(
                    y=np.asarray(s)[mask],
                    x0=label,  # one category for the whole trace (not a label per point)
                    name=_(TAGS[tag]),
                    legendgroup=_(TAGS[tag]),
                    showlegend=key == "fused",
                    marker_color=colour,
                    # Every point while they can be seen; past that the box and its outliers.
                    boxpoints="all" if mask.sum() <= BOX_POINTS_MAX else "outliers",
                    jitter=0.4,
                    pointpos=0,
                )
            )
    fig.update_layout(boxmode="group", yaxis_title=metric, height=320, margin=dict(t=30, b=40))
    return fig


def confidence_bars(labels: Sequence[str], values: Sequence[float], fused: float) -> go.Figure:
    """Confidence of each chosen photo and of their fusion."""
    fig = go.Figure(
        go.Bar(
            x=[*labels, _("fused")],
            y=[*values, fused],
            marker_color=[PFE] * len(labels) + [GENUINE],
        )
    )
    fig.update_layout(yaxis_title=_("confidence"), height=280, margin=dict(t=30, b=40))
    return fig


def loss_curve(losses: Sequence[float], ylabel: str | None = None) -> go.Figure:
    """Training loss per epoch (``ylabel`` defaults to "mean −MLS of genuine pairs")."""
    ylabel = _("mean −MLS of genuine pairs") if ylabel is None else ylabel
    fig = go.Figure(go.Scatter(x=np.arange(1, len(losses) + 1), y=losses, mode="lines"))
    fig.update_layout(
        xaxis_title=_("epoch"), yaxis_title=ylabel, height=260, margin=dict(t=30, b=40)
    )
    return fig


def face_check(
    labels: Sequence[str],
    clean: Sequence[float],
    blurred: Sequence[float],
    nonface: Sequence[float],
    nonface_kinds: Sequence[str],
) -> go.Figure:
    """Confidence of a few faces clean and blurred, and of non-face crops (log axis).

    Each face is a line from its clean to its blurred crop; the non-face crops sit in a
    third column. The dashed line is the lowest blurred face: every non-face should be
    under it.
    """
    if not (len(labels) == len(clean) == len(blurred)) or len(nonface) != len(nonface_kinds):
        raise ValueError("one label, clean and blurred value per face; one kind per non-face")
    floor = 1e-12  # a non-face's confidence can be 0 to machine precision on a log axis
    fig = go.Figure()
    columns = [_("clean"), _("blurred")]
    hover = _("%{x}: confidence %{y:.3g}") + "<extra></extra>"
    for label, c, b in zip(labels, clean, blurred, strict=True):
        fig.add_trace(
            go.Scatter(
                x=columns,
                y=[max(c, floor), max(b, floor)],
                mode="lines+markers",
                name=str(label),
                line=dict(color=PFE, width=1),
                marker=dict(size=8),
                hovertemplate=f"{label}<br>" + hover,
                showlegend=False,
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[_("not a face")] * len(nonface),
            y=np.maximum(np.asarray(nonface, dtype=float), floor),
            mode="markers",
            marker=dict(color=IMPOSTOR, size=9, symbol="x"),
            text=[_(NONFACE_NAMES[k]) if k in NONFACE_NAMES else str(k) for k in nonface_kinds],
            hovertemplate="%{text}<br>" + _("confidence %{y:.3g}") + "<extra></extra>",
            name=_("non-face crops"),
            showlegend=False,
        )
    )
    if len(blurred):
        fig.add_hline(
            y=max(float(np.min(blurred)), floor),
            line_dash="dash",
            line_color=DETECTOR,
            annotation_text=_("lowest blurred face"),
        )
    fig.update_layout(
        yaxis_type="log",
        yaxis_title=_("confidence (log)"),
        height=320,
        margin=dict(t=30, b=40),
    )
    return fig
