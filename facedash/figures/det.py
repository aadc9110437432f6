"""DET figures: false non-match rate against false match rate on normal-deviate axes.

Each rate is drawn at ``norm.ppf(rate)`` (the probit), where two Gaussian score
distributions give a straight line and the low-error corner that matters for
face verification is spread out; tick labels name the rates themselves
(0.1%, 1%, 10% ...). A rate of 0 has no probit: it is drawn at half of one error of
that curve, as on the ROC's log axis. The curve is ``verification.det_points`` (the
points of ``sklearn.metrics.det_curve``, thinned along the curve).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
from scipy.stats import norm

from facedash.figures.verification import _MARGIN, COLOURS, Curve
from facedash.i18n import _
from facedash.verification import Sweep, det_points

TICKS = (1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95)
TOP = 0.97  # the axes end past the 95% tick


@dataclass(frozen=True)
class Mark:
    """An extra marked threshold on one curve (e.g. a threshold chosen on another split)."""

    label: str
    sweep: Sweep
    threshold: float
    colour: str = "black"
    symbol: str = "diamond"


def _floors(sw: Sweep) -> tuple[float, float]:
    """Where an FMR or FNMR of 0 is drawn: half of one false match / non-match."""
    return 0.5 / max(sw.negatives, 1), 0.5 / max(sw.positives, 1)


def probit(rate: np.ndarray | float, floor: float) -> np.ndarray:
    """The normal deviate of ``rate``, with 0 drawn at ``floor`` (and 1 at ``1 - floor``)."""
    return np.asarray(norm.ppf(np.clip(rate, floor, 1 - floor)), dtype=np.float64)


def _tick_text(p: float) -> str:
    pct = p * 100
    return f"{pct:g}%"


def _axis(title: str, lowest: float) -> dict[str, Any]:
    ticks = [t for t in TICKS if t >= lowest * 0.999]
    return {
        "title": {"text": title},
        "tickvals": norm.ppf(ticks).tolist(),
        "ticktext": [_tick_text(t) for t in ticks],
        "range": [float(norm.ppf(lowest)) - 0.15, float(norm.ppf(TOP))],
        "zeroline": False,
    }


def _marker(
    sw: Sweep, threshold: float, colour: str, symbol: str, name: str, size: int = 13
) -> go.Scatter:
    c = sw.at(threshold)
    fx, fy = _floors(sw)
    return go.Scatter(
        x=probit(c.far, fx).reshape(1),
        y=probit(c.frr, fy).reshape(1),
        mode="markers",
        marker={
            "color": colour,
            "size": size,
            "symbol": symbol,
            "line": {"color": "black", "width": 1.5},
        },
        name=name,
        customdata=[[c.far, c.frr]],
        hovertemplate=_("threshold {t:.4g}").format(t=threshold)
        + "<br>FMR %{customdata[0]:.4%}<br>FNMR %{customdata[1]:.4%}<extra></extra>",
    )


def det_figure(
    curves: Sequence[Curve], *, marks: Sequence[Mark] = (), title: str | None = None
) -> go.Figure:
    """DET (FNMR against FMR, normal-deviate axes) of each curve, with its threshold marked.

    Each ``Curve``'s threshold is a dot and its published default a cross, as on the ROC;
    ``marks`` add further points (a threshold chosen elsewhere, an in-sample optimum).
    """
    data: list[go.Scatter] = []
    lowest = 0.01
    named, at, default = (
        _("{label} ({genuine}+{impostor} pairs)"),
        _("{label}: threshold {t:.4g}"),
        _("{label}: published default {t:g}"),
    )
    for n, c in enumerate(curves):
        colour = COLOURS[n % len(COLOURS)]
        sw = c.sweep
        fx, fy = _floors(sw)
        lowest = min(lowest, fx, fy)
        pts = det_points(sw)
        data.append(
            go.Scatter(
                x=probit(pts["fmr"], fx),
                y=probit(pts["fnmr"], fy),
                mode="lines",
                line={"color": colour, "width": 2},
                name=named.format(label=c.label, genuine=sw.positives, impostor=sw.negatives),
                customdata=np.c_[pts["fmr"], pts["fnmr"]],
                hovertemplate="FMR (FAR) %{customdata[0]:.4%}<br>"
                "FNMR (FRR) %{customdata[1]:.4%}<extra></extra>",
            )
        )
        name = at.format(label=c.label, t=c.threshold)
        data.append(_marker(sw, c.threshold, colour, "circle", name))
        if c.default is not None:
            name = default.format(label=c.label, t=c.default)
            data.append(_marker(sw, c.default, colour, "x", name))
    for m in marks:
        lowest = min(lowest, *_floors(m.sweep))
        data.append(_marker(m.sweep, m.threshold, m.colour, m.symbol, m.label, size=12))
    line = norm.ppf([lowest, TOP])
    data.append(
        go.Scatter(
            x=line,
            y=line,
            mode="lines",
            line={"color": "grey", "dash": "dot", "width": 1},
            name=_("FMR = FNMR (the EER lies on it)"),
            hoverinfo="skip",
        )
    )
    return go.Figure(
        data=data,
        layout={
            "title": {
                "text": title or _("DET: false non-matches against false matches"),
                "subtitle": {
                    "text": _("normal-deviate axes; a rate of 0 is drawn at half of one error")
                },
            },
            "margin": _MARGIN,
            "xaxis": _axis(_("False match rate FMR (= FAR), normal-deviate scale"), lowest),
            "yaxis": _axis(_("False non-match rate FNMR (= FRR)"), lowest),
            "legend": {"x": 0.99, "y": 0.99, "xanchor": "right", "yanchor": "top"},
        },
    )
