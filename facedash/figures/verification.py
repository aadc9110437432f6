"""Verification figures: pure builders from sweeps and counts to plotly figures.

Curves are thinned to at most ``MAX_POINTS`` points for drawing (the markers
stay exact), so a figure over a million pairs stays a few kilobytes and a
slider rerun only rebuilds small figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from facedash.i18n import N_, _
from facedash.verification import Confusion, Subgroup, Sweep

MAX_POINTS = 600
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
GENUINE, IMPOSTOR = "#2ca02c", "#d62728"
_MARGIN = {"l": 50, "r": 20, "t": 50, "b": 45}
# Score ids shown in axis titles, in the thread's language (other ids are shown as they are).
SCORE_NAMES = {"cosine": N_("cosine"), "euclidean": N_("euclidean")}


def score_name(score: str) -> str:
    """A score id (``cosine``, ``euclidean``, ``mls``) as shown on a figure."""
    return _(SCORE_NAMES[score]) if score in SCORE_NAMES else score


@dataclass(frozen=True)
class Curve:
    """One model's sweep, its chosen threshold and its published default (if any)."""

    label: str
    sweep: Sweep
    threshold: float
    default: float | None = None


@dataclass(frozen=True)
class Histogram:
    """Genuine and impostor score counts over shared bins."""

    edges: np.ndarray
    genuine: np.ndarray
    impostor: np.ndarray


def score_histogram(scores: np.ndarray, same: np.ndarray, bins: int = 60) -> Histogram:
    """Counts of genuine and impostor scores over ``bins`` shared bins (computed once per sweep)."""
    s = np.asarray(scores, dtype=np.float64)
    edges = np.histogram_bin_edges(s, bins=bins)
    return Histogram(
        edges,
        np.histogram(s[same], bins=edges)[0],
        np.histogram(s[~same], bins=edges)[0],
    )


def _thin(n: int, keep: Sequence[int] = ()) -> np.ndarray:
    idx = np.arange(n)
    if n > MAX_POINTS:
        idx = np.unique(
            np.r_[np.linspace(0, n - 1, MAX_POINTS).round().astype(int), np.asarray(keep, int)]
        )
    return idx


def _figure(data: Sequence[Any], *, title: str, **layout: Any) -> go.Figure:
    """One constructor call (far cheaper than ``add_trace`` / ``update_layout`` one by one)."""
    return go.Figure(
        data=list(data), layout={"title": {"text": title}, "margin": _MARGIN, **layout}
    )


def _far_axis(log_far: bool) -> dict[str, Any]:
    if log_far:
        return {"title": {"text": _("False accept rate FAR (= FMR), log scale")}, "type": "log"}
    return {"title": {"text": _("False accept rate FAR (= FMR)")}, "range": [-0.01, 1.01]}


def _point(sw: Sweep, threshold: float) -> Confusion:
    return sw.at(threshold)


def _far_floor(negatives: int) -> float:
    """Where FAR 0 is drawn on a log axis: half of one false accept."""
    return 0.5 / max(negatives, 1)


def roc_figure(curves: Sequence[Curve], *, log_far: bool = False) -> go.Figure:
    """ROC (TAR against FAR) of one or more models, each with its threshold and default marked.

    On a log FAR axis (the usual view for face verification, where the interesting
    part is FAR below 1%) a FAR of 0 is drawn at half of one false accept.
    """
    data: list[go.Scatter | go.Bar] = []
    at, default = _("{label}: threshold {t:.4g}"), _("{label}: published default {t:g}")
    for n, c in enumerate(curves):
        colour = COLOURS[n % len(COLOURS)]
        fpr, tpr, _unused = c.sweep.roc()
        floor = _far_floor(c.sweep.negatives) if log_far else 0.0
        fpr = np.maximum(fpr, floor)
        idx = _thin(len(fpr))
        data.append(
            go.Scatter(
                x=fpr[idx],
                y=tpr[idx],
                mode="lines",
                line={"color": colour, "width": 2},
                name=f"{c.label} (AUC {c.sweep.auc:.4f})",
                hovertemplate="FAR (FMR) %{x:.4f}<br>TAR %{y:.4f}<extra></extra>",
            )
        )
        p = _point(c.sweep, c.threshold)
        data.append(
            go.Scatter(
                x=[max(p.far, floor)],
                y=[p.recall],
                mode="markers",
                marker={"color": colour, "size": 13, "line": {"color": "black", "width": 1.5}},
                name=at.format(label=c.label, t=c.threshold),
                hovertemplate=_("threshold {t:.4g}").format(t=c.threshold)
                + "<br>FAR (FMR) %{x:.4f}<br>TAR %{y:.4f}<extra></extra>",
            )
        )
        if c.default is not None:
            d = _point(c.sweep, c.default)
            data.append(
                go.Scatter(
                    x=[max(d.far, floor)],
                    y=[d.recall],
                    mode="markers",
                    marker={"color": colour, "size": 13, "symbol": "x"},
                    name=default.format(label=c.label, t=c.default),
                )
            )
    if not log_far:
        data.append(
            go.Scatter(
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                line={"color": "grey", "dash": "dot", "width": 1},
                name=_("chance"),
                hoverinfo="skip",
            )
        )
    return _figure(
        data,
        title=_("ROC: true accepts against false accepts"),
        xaxis=_far_axis(log_far),
        yaxis={"title": {"text": _("True accept rate TAR (= 1 − FNMR)")}, "range": [-0.01, 1.01]},
        legend={"x": 0.99, "y": 0.01, "xanchor": "right", "yanchor": "bottom"},
    )


def metrics_figure(curve: Curve) -> go.Figure:
    """Precision, recall, F1 and accuracy against the threshold, with the threshold marked."""
    sw = curve.sweep
    idx = _thin(len(sw.thresholds), [int(np.argmax(sw.f1))])
    t = sw.thresholds[idx]
    data: list[go.Scatter | go.Bar] = []
    for name, values, colour in (
        (_("precision"), sw.precision, "#1f77b4"),
        (_("recall (TAR)"), sw.recall, "#2ca02c"),
        ("F1", sw.f1, "#d62728"),
        (_("accuracy"), sw.accuracy, "#9467bd"),
    ):
        data.append(
            go.Scatter(
                x=t,
                y=values[idx],
                mode="lines",
                name=name,
                line={"color": colour, "width": 2},
                hovertemplate=_("threshold") + f" %{{x:.4g}}<br>{name} %{{y:.4f}}<extra></extra>",
            )
        )
    rule = "≥" if sw.higher_is_same else "≤"
    return _figure(
        data,
        title=_("Rates against the threshold (same when score {rule} threshold)").format(rule=rule),
        xaxis={"title": {"text": _("Threshold ({score})").format(score=score_name(sw.score))}},
        yaxis={"title": {"text": _("Rate")}, "range": [-0.02, 1.02]},
        legend={"orientation": "h", "y": -0.2},
        **_threshold_lines(curve),
    )


def _threshold_lines(curve: Curve) -> dict[str, list[dict]]:
    """Vertical lines (as layout shapes: cheaper than ``add_vline``) at the threshold and default."""
    shapes = [
        {
            "type": "line",
            "x0": curve.threshold,
            "x1": curve.threshold,
            "y0": 0,
            "y1": 1,
            "yref": "paper",
            "line": {"color": "black", "width": 2},
        }
    ]
    notes = [
        {
            "x": curve.threshold,
            "y": 1,
            "yref": "paper",
            "yanchor": "bottom",
            "text": _("threshold {t:.4g}").format(t=curve.threshold),
            "showarrow": False,
        }
    ]
    if curve.default is not None:
        shapes.append(
            {
                "type": "line",
                "x0": curve.default,
                "x1": curve.default,
                "y0": 0,
                "y1": 1,
                "yref": "paper",
                "line": {"color": "grey", "width": 1.5, "dash": "dash"},
            }
        )
        notes.append(
            {
                "x": curve.default,
                "y": 0.95,
                "yref": "paper",
                "xanchor": "left",
                "yanchor": "top",
                "text": _("published {t:g}").format(t=curve.default),
                "showarrow": False,
                "font": {"color": "grey"},
            }
        )
    return {"shapes": shapes, "annotations": notes}


def histogram_figure(hist: Histogram, curve: Curve) -> go.Figure:
    """Genuine and impostor score distributions (share of each class per bin), threshold marked."""
    centres = (hist.edges[:-1] + hist.edges[1:]) / 2
    width = float(hist.edges[1] - hist.edges[0]) if len(hist.edges) > 1 else 1.0
    data: list[go.Scatter | go.Bar] = []
    for name, counts, colour in (
        (_("genuine (same person)"), hist.genuine, GENUINE),
        (_("impostor (different people)"), hist.impostor, IMPOSTOR),
    ):
        share = counts / max(int(counts.sum()), 1)
        data.append(
            go.Bar(
                x=centres,
                y=share,
                width=width,
                name=f"{name}: {int(counts.sum())}",
                marker={"color": colour},
                opacity=0.55,
                customdata=counts,
                hovertemplate=_("score %{x:.4g}<br>share %{y:.3f} (%{customdata} pairs)")
                + "<extra></extra>",
            )
        )
    return _figure(
        data,
        barmode="overlay",
        title=_("Score distributions"),
        xaxis={"title": {"text": _("{score} score").format(score=score_name(curve.sweep.score))}},
        yaxis={"title": {"text": _("Share of the class's pairs")}},
        legend={"orientation": "h", "y": -0.2},
        **_threshold_lines(curve),
    )


def confusion_figure(c: Confusion) -> go.Figure:
    """The 2x2 confusion matrix: counts, and each cell's share of its true class."""
    counts = np.array([[c.tp, c.fn], [c.fp, c.tn]])
    totals = counts.sum(axis=1, keepdims=True)
    rates = counts / np.maximum(totals, 1)
    names = np.array(
        [
            [_("true accept (TP)"), _("false reject / non-match (FN)")],
            [_("false accept / match (FP)"), _("true reject (TN)")],
        ]
    )
    text = [
        [f"{names[r, k]}<br><b>{counts[r, k]}</b><br>{rates[r, k]:.2%}" for k in range(2)]
        for r in range(2)
    ]
    heat = go.Heatmap(
        z=rates,
        x=[_("predicted same"), _("predicted different")],
        y=[_("same person"), _("different people")],
        text=text,
        texttemplate="%{text}",
        colorscale="Blues",
        zmin=0,
        zmax=1,
        showscale=False,
        hoverinfo="skip",
    )
    return _figure(
        [heat],
        title=_("Confusion at threshold {t:.4g}").format(t=c.threshold),
        yaxis={"autorange": "reversed"},
        height=330,
    )


def f1_overlay_figure(curves: Sequence[Curve]) -> go.Figure:
    """F1 against the threshold for up to two models, each on its own threshold axis (bottom, top)."""
    data: list[go.Scatter | go.Bar] = []
    at = _("{label}: threshold {t:.4g} (F1 {f1:.3f})")
    on_axis = _("{label}: {score} threshold")
    for n, c in enumerate(curves[:2]):
        colour = COLOURS[n]
        sw = c.sweep
        idx = _thin(len(sw.thresholds), [int(np.argmax(sw.f1))])
        axis = "x" if n == 0 else "x2"
        data.append(
            go.Scatter(
                x=sw.thresholds[idx],
                y=sw.f1[idx],
                mode="lines",
                xaxis=axis,
                line={"color": colour, "width": 2},
                name=f"{c.label} F1 ({score_name(sw.score)})",
            )
        )
        p = sw.at(c.threshold)
        data.append(
            go.Scatter(
                x=[c.threshold],
                y=[p.f1],
                mode="markers",
                xaxis=axis,
                marker={"color": colour, "size": 13, "line": {"color": "black", "width": 1.5}},
                name=at.format(label=c.label, t=c.threshold, f1=p.f1),
            )
        )
    layout: dict = {
        "title": {"text": _("F1 against each model's own threshold"), "y": 0.98, "yanchor": "top"},
        "xaxis": {
            "title": {
                "text": on_axis.format(
                    label=curves[0].label, score=score_name(curves[0].sweep.score)
                )
            }
        },
        "yaxis": {"title": {"text": "F1"}, "range": [-0.02, 1.02]},
        "margin": {**_MARGIN, "t": 120},
        "legend": {"orientation": "h", "y": -0.25},
    }
    if len(curves) > 1:
        layout["xaxis2"] = {
            "title": {
                "text": on_axis.format(
                    label=curves[1].label, score=score_name(curves[1].sweep.score)
                )
            },
            "overlaying": "x",
            "side": "top",
            "color": COLOURS[1],
        }
        layout["xaxis"]["color"] = COLOURS[0]
    return go.Figure(data=data, layout=layout)


def subgroup_roc_figure(
    groups: Sequence[Subgroup], attribute: str, *, log_far: bool = False
) -> go.Figure:
    """ROC of each subgroup, with its AUC and its point at the shared threshold."""
    data: list[go.Scatter | go.Bar] = []
    named = _("{attribute}={group} (AUC {auc}; {genuine}+{impostor} pairs)")
    for n, g in enumerate(groups):
        colour = COLOURS[n % len(COLOURS)]
        floor = _far_floor(g.impostor) if log_far else 0.0
        idx = _thin(len(g.fpr))
        auc = _("n/a") if not np.isfinite(g.auc) else f"{g.auc:.4f}"
        data.append(
            go.Scatter(
                x=np.maximum(g.fpr[idx], floor),
                y=g.tpr[idx],
                mode="lines",
                line={"color": colour, "width": 2},
                name=named.format(
                    attribute=attribute,
                    group=g.group,
                    auc=auc,
                    genuine=g.genuine,
                    impostor=g.impostor,
                ),
            )
        )
        if g.at is not None and g.genuine and g.impostor:
            data.append(
                go.Scatter(
                    x=[max(g.at.far, floor)],
                    y=[g.at.recall],
                    mode="markers",
                    marker={"color": colour, "size": 11, "line": {"color": "black", "width": 1}},
                    showlegend=False,
                    hovertemplate=f"{g.group}: FAR (FMR) %{{x:.4f}}, TAR %{{y:.4f}}<extra></extra>",
                )
            )
    return _figure(
        data,
        title=_("ROC per {attribute} (dots: the shared threshold)").format(attribute=attribute),
        xaxis=_far_axis(log_far),
        yaxis={"title": {"text": _("True accept rate (TAR)")}, "range": [-0.01, 1.01]},
        legend={"x": 0.99, "y": 0.01, "xanchor": "right", "yanchor": "bottom"},
    )
