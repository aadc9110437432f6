"""Verification page: ROC, DET, F1 and one live threshold, dev → eval, FTA, a second model, subgroups."""

from __future__ import annotations

import streamlit as st

from facedash import verification as V
from facedash.errors import FacedashError
from facedash.figures import det as D
from facedash.figures import verification as F
from facedash.i18n import _
from facedash.ui import camera as CAM
from facedash.ui import compare as UC
from facedash.ui import howto, state, widgets
from facedash.ui import protocol as UP
from facedash.ui import verification as UV

THRESHOLD = UV.THRESHOLD


def _pairs_input(default_score: str) -> tuple[str, str, int, int, bytes | None] | None:
    """The pairs source, score, sample size, seed and pairs file (None while a file is awaited)."""
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    source = c1.radio(
        _("Pairs"),
        [UV.ALL, UV.FILE],
        format_func=UV.in_language(_),
        key="verification_source",
        horizontal=True,
    )
    known = list(V.SCORES)
    if st.session_state.get("verification_score") not in known:
        st.session_state["verification_score"] = (
            default_score if default_score in known else known[0]
        )
    score = c2.selectbox(
        _("Score"), known, key="verification_score", format_func=UV.in_language(UV.score_name)
    )
    max_pairs = c3.number_input(
        _("Sample past (pairs)"),
        1_000,
        5_000_000,
        200_000,
        step=10_000,
        key="verification_max_pairs",
        help=_("Above this many pairs, a seeded balanced random sample is used."),
    )
    seed = c4.number_input(_("Seed"), 0, 10_000, 0, key="verification_seed")
    if source != UV.FILE:
        return source, score, int(max_pairs), int(seed), None
    upload = st.file_uploader(
        _("LFW pairs.txt (name n1 n2 / name1 n1 name2 n2)"),
        type=["txt"],
        key="verification_pairs_file",
    )
    if upload is None:
        st.info(_("Upload a pairs file, or choose '{all}'.").format(all=_(UV.ALL)))
        return None
    return source, score, int(max_pairs), int(seed), upload.getvalue()


def _threshold_controls(sw: V.Sweep, default: float | None, kind: V.ScoreKind, ctx: tuple) -> float:
    """The jump buttons (max F1, EER, target FAR, published default) and the threshold slider."""
    eer_t = sw.eer()[1]
    best = sw.best_f1()
    b = st.columns([1, 1, 1, 1, 1])
    b[0].button(
        _("Max F1"),
        key="verification_go_f1",
        on_click=widgets.set_value,
        args=(THRESHOLD, best.threshold),
    )
    b[1].button(
        "EER", key="verification_go_eer", on_click=widgets.set_value, args=(THRESHOLD, eer_t)
    )
    target = b[2].number_input(
        _("Target FMR = FAR (%)"),
        0.001,
        100.0,
        1.0,
        step=0.1,
        format="%.3f",
        key="verification_target_far",
        label_visibility="collapsed",
    )
    far_t = sw.threshold_at_far(target / 100)
    b[3].button(
        _("FMR (FAR) ≤ {target}%").format(target=f"{target:g}"),
        key="verification_go_far",
        on_click=widgets.set_value,
        args=(THRESHOLD, far_t),
        disabled=far_t is None,
    )
    b[4].button(
        _("Published default {value}").format(value=f"{default:g}")
        if default is not None
        else _("No published default"),
        key="verification_go_default",
        on_click=widgets.set_value,
        args=(THRESHOLD, default),
        disabled=default is None,
    )
    return widgets.threshold_slider(
        _("Threshold ({rule})").format(rule=UV.rule(kind)),
        THRESHOLD,
        sw.thresholds,
        ctx,
        best.threshold,
    )


def main() -> None:
    state.page_shell("pages/verification.py")  # first: it settles the language of the texts below
    result = state.page_start(
        "pages/verification.py",
        _("Verification"),
        howto.VERIFICATION,
        min_faces=2,
        too_few=_("Verification needs at least two faces."),
    )
    if result is None:
        return
    model_spec = UV.model_spec(result.model_id)
    key = UV.set_key(result)

    # 1. Pairs and score.
    chosen = _pairs_input(model_spec.metric)
    if chosen is None:
        return
    source, score, max_pairs, seed, data = chosen
    pairs_hash = UV.file_hash(data)
    try:
        pairs, scores, sw, hist = UV.analysis(
            key, score, source, max_pairs, seed, pairs_hash, result, data
        )
    except (FacedashError, ValueError) as exc:
        st.error(UP.error_text(str(exc)))
        return
    if pairs.genuine == 0 or pairs.impostor == 0:
        st.warning(
            _(
                "Need both same-person and different-person pairs; got {genuine} and {impostor}."
            ).format(genuine=pairs.genuine, impostor=pairs.impostor)
        )
        return
    pairs_key = (source, max_pairs, seed, pairs_hash)
    kind = V.SCORES[score]
    default = model_spec.default_thresholds.get(score)
    eer, eer_t = sw.eer()
    best = sw.best_f1()
    dropped = (
        _("; {n} pairs of the file name faces not in this set").format(n=pairs.dropped)
        if pairs.dropped
        else ""
    )
    st.caption(
        _(
            "{genuine} genuine and {impostor} impostor pairs ({source}{dropped}) · model `{model}` "
            "· {score}: {rule}"
        ).format(
            genuine=pairs.genuine,
            impostor=pairs.impostor,
            source=UV.pairs_source(pairs),
            dropped=dropped,
            model=result.model_id,
            score=UV.score_name(score),
            rule=UV.rule(kind),
        )
    )

    # 2. Headline figures.
    m = st.columns(6)
    m[0].metric("ROC-AUC", f"{sw.auc:.4f}")
    at = _("at threshold {threshold}")
    m[1].metric("EER", f"{eer:.2%}", help=at.format(threshold=f"{eer_t:.4f}"))
    for col, far in zip(m[2:5], V.TARGET_FARS, strict=True):
        col.metric(f"TAR @ FMR {far:.1%}", f"{sw.tar_at_far(far):.4f}", help="FMR = FAR")
    m[5].metric(_("Best F1"), f"{best.f1:.4f}", help=at.format(threshold=f"{best.threshold:.4f}"))

    # 3. The threshold.
    threshold = _threshold_controls(sw, default, kind, (key, score, pairs_key))
    conf = sw.at(threshold)
    log_far = st.toggle(
        _("Log FAR (FMR) axis on ROC curves"),
        value=True,
        key="verification_log_far",
        help=_("On the log axis, a FAR of 0 is drawn at half of one false accept of that curve."),
    )
    curve = F.Curve(result.model_id, sw, threshold, default)
    if default is not None:
        d = sw.at(default)
        st.caption(
            _(
                "Published default {default} ({source}): F1 {f1}, FMR {fmr}, FNMR {fnmr} — this "
                "data's max-F1 threshold is {best} (F1 {best_f1}); the EER threshold is {eer}. "
                "Both are in-sample: read off these very pairs (see Development → evaluation "
                "below)."
            ).format(
                default=f"{default:g}",
                source=model_spec.threshold_source,
                f1=f"{d.f1:.4f}",
                fmr=f"{d.far:.2%}",
                fnmr=f"{d.frr:.2%}",
                best=f"{best.threshold:.4f}",
                best_f1=f"{best.f1:.4f}",
                eer=f"{eer_t:.4f}",
            )
        )

    # 4. Charts and the confusion matrix.
    left, right = st.columns(2)
    left.plotly_chart(F.roc_figure([curve], log_far=log_far), key="verification_roc")
    right.plotly_chart(D.det_figure([curve]), key="verification_det")
    if score == "mls":
        # PFE's claim, side by side: the same pairs scored by cosine, each at its own max-F1 threshold.
        csw = UV.analysis(key, "cosine", source, max_pairs, seed, pairs_hash, result, data)[2]
        st.caption(
            _(
                "Same pairs, two scores: ROC-AUC cosine {cosine} vs MLS {mls}; each curve is "
                "marked at its own max-F1 threshold."
            ).format(cosine=f"{csw.auc:.4f}", mls=f"{sw.auc:.4f}")
        )
        note = UV.head_in_sample_note(result)
        if note:
            st.warning(note)
        left, right = st.columns(2)
        cos_curve = F.Curve("cosine", csw, csw.best_f1().threshold)
        left.plotly_chart(F.roc_figure([cos_curve], log_far=log_far), key="verification_roc_cosine")
        right.plotly_chart(
            F.roc_figure([F.Curve("MLS", sw, best.threshold)], log_far=log_far),
            key="verification_roc_mls",
        )
    left, right = st.columns(2)
    left.plotly_chart(F.metrics_figure(curve), key="verification_metrics")
    right.plotly_chart(F.histogram_figure(hist, curve), key="verification_hist")
    CAM.verification_panel(result, score, threshold, hist, curve, kind)
    left, right = st.columns(2)
    with left:
        UV.confusion_panel(conf)
    with right:
        UP.fta_panel(result, conf, set_pairs=source != UV.FILE)

    # 5.-8. Dev -> eval, intervals, failing pairs, a second model, subgroups.
    UP.dev_eval_panel(result, key, score, max_pairs, seed, default)
    boot = UV.intervals_panel(key, score, pairs_key, threshold, sw, pairs, result)
    UV.errors_panel(result, pairs, scores, threshold, score, conf)
    UV.second_model_panel(result, curve, score, max_pairs, seed, log_far)
    UC.report_button(result, max_pairs)
    UV.subgroups_panel(result, key, score, pairs_key, scores, pairs, threshold, log_far)

    # 9. Operating points and downloads.
    st.subheader(_("Operating points and report"))
    record = V.summary(sw, model=result.model_id, threshold=threshold)
    record.update(
        {"dataset": result.dataset, "pairs_source": pairs.source, "default_threshold": default}
    )
    if boot is not None:
        record["bootstrap"] = boot.as_dict()
    UV.operating_points_panel(result, score, threshold, record)
    d1, d2 = st.columns(2)
    d1.download_button(
        _("Download every threshold (CSV)"),
        UV.report_csv(key, score, pairs_key, sw),
        file_name=f"verification_{result.model_id}_{score}.csv",
        mime="text/csv",
        key="verification_dl_csv",
    )
    d2.download_button(
        _("Download the report (JSON)"),
        V.report_json(record),
        file_name=f"verification_{result.model_id}_{score}.json",
        mime="application/json",
        key="verification_dl_json",
    )


if __name__ == "__main__":
    state.run_page(main)
