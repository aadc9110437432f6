"""Figures of face-image quality: the EDC of each measure with the oracle and random references.

Pure: curves in (``facedash.quality.study.evaluate``'s ``record["edc"]``), a plotly figure out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from facedash.i18n import N_, _

# The measures' fixed names (``facedash.quality.measures.NAMES``) and the references, as shown.
MEASURE_NAMES = {
    "pfe": N_("PFE confidence"),
    "norm": N_("embedding norm"),
    "serfiq": N_("SER-FIQ"),
    "detector": N_("detector score (ONet)"),
    "face_size": N_("face size"),
    "sharpness": N_("sharpness"),
    "oracle": N_("oracle"),
    "random": N_("random order"),
}
COLOURS = {
    "pfe": "#3a86ff",
    "norm": "#8338ec",
    "serfiq": "#2a9d8f",
    "detector": "#8d99ae",
    "face_size": "#e9c46a",
    "sharpness": "#e76f51",
}


def measure_name(name: str) -> str:
    """A measure's (or reference's) name as shown; unknown names as they are."""
    return _(MEASURE_NAMES[name]) if name in MEASURE_NAMES else name


def edc_figure(
    curves: Mapping[str, Mapping[str, Any]],
    measures: Sequence[str],
    *,
    pauc_upto: float = 0.2,
    form: str = "fixed",
    title: str = "",
) -> go.Figure:
    """FNMR against the fraction discarded: one line per measure, the oracle and the random order.

    The band up to ``pauc_upto`` is the stretch whose area the table reports.
    """
    fig = go.Figure()
    for name in [*measures, "random", "oracle"]:
        if name not in curves:
            continue
        c = curves[name]
        line: dict[str, Any] = {"color": COLOURS.get(name, "#264653"), "width": 2}
        if name == "oracle":
            line = {"color": "#000000", "width": 2, "dash": "dash"}
        elif name == "random":
            line = {"color": "#999999", "width": 2, "dash": "dot"}
        fig.add_trace(
            go.Scatter(
                x=[100 * f for f in c["discard"]],
                y=c["fnmr"],
                mode="lines+markers",
                marker={"size": 4},
                name=f"{measure_name(name)} ({c['pauc']:.4f})",
                line=line,
                hovertemplate=measure_name(name)
                + "<br>"
                + _("discarded {x}%").format(x="%{x:.0f}")
                + "<br>FNMR %{y:.4f}<extra></extra>",
            )
        )
    fig.add_vrect(x0=0, x1=100 * pauc_upto, fillcolor="#bbbbbb", opacity=0.15, line_width=0)
    fig.update_layout(
        title=title or None,
        xaxis_title=_("pairs discarded, lowest quality first (%)"),
        yaxis_title=_("FNMR at the fixed threshold")
        if form == "fixed"
        else _("FNMR at the threshold re-chosen for the starting FMR"),
        legend_title_text=_("measure (partial area)"),
        height=380,
        margin={"t": 40 if title else 20, "b": 40},
    )
    return fig


def pauc_rows(
    curves: Mapping[str, Mapping[str, Any]],
    measures: Sequence[str],
    unscored: Mapping[str, int],
) -> list[dict[str, Any]]:
    """The partial-area table: one row per measure, then the oracle and the random order."""
    random_area = float(curves["random"]["pauc"]) if "random" in curves else float("nan")
    rows = []
    for name in [*measures, "oracle", "random"]:
        if name not in curves:
            continue
        area = float(curves[name]["pauc"])
        rows.append(
            {
                _("measure"): measure_name(name),
                _("partial area"): round(area, 6),
                _("vs random"): round(area / random_area, 3) if random_area > 0 else None,
                _("faces it could not score"): (
                    str(unscored.get(name, 0)) if name in measures else "—"  # the references
                ),
            }
        )
    return rows
