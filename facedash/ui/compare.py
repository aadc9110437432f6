"""Two models side by side on Verification: both DET curves, what each needs at one FMR, and the pairs they split.

The sidebar's "Compare with" names the second model (``fd_compare``); the Verification page
then embeds the same set with it and, on the faces both models embedded and the same pairs,
shows both DET curves, a table of AUC, EER and the threshold and TAR each model needs at one
false match rate, and the pairs one model decides right and the other wrong.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from facedash.figures import det as D
from facedash.figures import verification as F
from facedash.i18n import N_, _
from facedash.ui import state, widgets
from facedash.verification import compare as C

NONE = N_("(none)")
FMRS = (0.1, 0.01, 0.001)


def follow_sidebar(others: list[str], key: str) -> None:
    """Set the page's second-model picker ``key`` from the sidebar's "Compare with" when that changes."""
    wanted = state.compare_model()
    if st.session_state.get("_fd_compare_seen") != wanted:
        st.session_state["_fd_compare_seen"] = wanted
        if wanted == NONE or wanted in others:
            st.session_state[key] = wanted


def panel(
    result: Any, other: Any, curves: tuple[F.Curve, F.Curve], max_pairs: int, seed: int
) -> None:
    """Both models on the same pairs of the faces both embedded (see the module docstring)."""
    ia, ib = C.shared_rows(C.face_keys(result), C.face_keys(other))
    if len(ia) < 2:
        st.info(_("The two models share fewer than two faces of this set: nothing to compare."))
        return
    first, second = curves
    p = C.paired(
        result.embeddings,
        other.embeddings,
        list(result.people),
        (ia, ib),
        (first.sweep.score, second.sweep.score),
        max_pairs=max_pairs,
        seed=seed,
    )
    st.markdown(
        _(
            "**Same pairs, both models**: {n} faces both embedded, {genuine} genuine / {impostor} impostor pairs."
        ).format(n=len(ia), genuine=p.pairs.genuine, impostor=p.pairs.impostor)
    )
    same = (
        F.Curve(first.label, p.sweeps[0], first.threshold, first.default),
        F.Curve(second.label, p.sweeps[1], second.threshold, second.default),
    )
    left, right = st.columns(2)
    left.plotly_chart(D.det_figure(list(same)), key="verification_det_overlay")
    fmr = right.selectbox(
        _("At the false match rate (FMR)"),
        FMRS,
        index=1,
        format_func=lambda f: f"{f:.1%}",
        key="verification_compare_fmr",
    )
    table = pd.DataFrame(C.operating_table([c.label for c in same], p.sweeps, fmr))
    st.dataframe(  # full width: six columns do not fit beside the figure
        table.drop(columns=["score", "fmr"])
        .round(4)
        .rename(
            columns={
                "model": _("model"),
                "score": _("score"),
                "auc": "AUC",
                "eer": "EER",
                "eer_threshold": _("EER threshold"),
                "fmr": "FMR",
                "threshold_at_fmr": _("threshold at this FMR"),
                "tar_at_fmr": _("TAR at this FMR"),
            }
        ),
        hide_index=True,
        key="verification_compare_operating",
    )
    st.caption(
        _(
            "Two models' scores are on different scales: compare them at the same FMR. The table "
            "gives the threshold each needs for it, and how many genuine pairs each then accepts."
        )
    )
    a_only, b_only = C.disagreements(p, (first.threshold, second.threshold))
    tabs = st.tabs(
        [
            _("{a} right, {b} wrong").format(a=first.label, b=second.label),
            _("{a} right, {b} wrong").format(a=second.label, b=first.label),
        ]
    )
    for tab, idx, scores in ((tabs[0], a_only, p.scores[1]), (tabs[1], b_only, p.scores[0])):
        with tab:
            st.caption(
                _("At each model's own threshold; the wrong model's score shown, its worst first.")
            )
            widgets.pair_gallery(result, p.pairs.i, p.pairs.j, scores, idx)


def report_button(result: Any, max_pairs: int) -> None:
    """The "Download report (HTML)" button: this model (and the "Compare with" one), built when clicked."""
    from facedash.figures.report import html_report
    from facedash.verification.model_report import model_report, set_summary

    second = state.compare_model()

    def build() -> bytes:
        sets = [result]
        if second != NONE:
            other = state.embedding_set(second, slot="verification_other")
            if other is not None and len(other.rows) >= 2:
                sets.append(other)
        sections = [(model_report(s, max_pairs=max_pairs), s) for s in sets]
        return html_report(set_summary(result), sections).encode("utf-8")

    st.download_button(
        _("Download report (HTML)"),
        build,
        file_name=f"facedash-report-{result.model_id}{'' if second == NONE else '-vs-' + second}.html",
        mime="text/html",
        key="verification_report",
        help=_(
            "One file that opens offline: the set, each model's card, ROC and DET, the thresholds, "
            "development → evaluation, the worst pairs. With 'Compare with', both models."
        ),
    )
