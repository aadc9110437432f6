"""Verification page: ROC, F1 and one live threshold, a second model, subgroups, intervals."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from facedash import verification as V
from facedash.detect import DetectorSettings
from facedash.errors import FacedashError
from facedash.figures import verification as F
from facedash.models.registry import MODELS, spec
from facedash.pipeline import EmbeddingSet, embed_dataset
from facedash.ui import cache, state

ALL, FILE = "Pairs of this set", "Pairs file (LFW pairs.txt)"
NONE = "(none)"
FAIL_LIMIT = 24

HOW_TO_READ = r"""
**What this page computes.** Every pair of faces gets a **score**: cosine similarity
$\cos(a, b) = \frac{a \cdot b}{\lVert a \rVert \lVert b \rVert}$ (higher means same person) or
Euclidean distance $\lVert a - b \rVert$ (lower means same). A **threshold** $t$ turns the
score into a decision: "same" when $s \ge t$ (similarity) or $s \le t$ (distance).
Genuine pairs (same person) that are accepted are true accepts (TP), rejected ones false
rejects (FN); impostor pairs (different people) that are accepted are false accepts (FP).

- $\mathrm{TAR} = \mathrm{recall} = \frac{TP}{TP + FN}$, $\mathrm{FAR} = \frac{FP}{FP + TN}$,
  $\mathrm{FRR} = 1 - \mathrm{TAR}$, $\mathrm{precision} = \frac{TP}{TP + FP}$,
  $F_1 = \frac{2\,TP}{2\,TP + FP + FN}$, accuracy $= \frac{TP + TN}{\text{all pairs}}$.

**ROC.** Each threshold is one point (FAR, TAR); sliding it from strict to loose traces the
curve from (0, 0) to (1, 1). The **AUC** (area under it) is the chance that a random genuine
pair scores as "more same" than a random impostor pair: 1 is perfect, 0.5 is a coin.
**TAR at FAR = 1%** is how many genuine pairs pass when only 1% of impostors may.

**EER** (equal error rate) is where FAR = FRR: one number for how well the two score
distributions separate, at the threshold where both error kinds are equally frequent.

**F1** is the harmonic mean of precision and recall. Its maximum is a data-driven threshold
when both error kinds cost alike; when a false accept costs more (unlocking a phone), pick
the threshold for a target FAR instead.

**How to read the charts.** The slider moves the black marker on every chart at once and
updates the confusion matrix. Crosses and dashed lines mark the model's **published default**
threshold, so you see how far it sits from this data's optimum. The histograms show how
much the genuine (green) and impostor (red) scores overlap: every pair on the wrong side of
the line is an error, listed worst first below as image pairs. Intervals come from a
bootstrap over **people** (not pairs: pairs of one person are not independent).
"""


# -- cached computations (pure; keyed on the set, the score and the pairs) ----------------------
def _set_key(result: EmbeddingSet, slot: str = "verification_setkey") -> str:
    """A content key of the set (cached per result object in this session)."""
    held = st.session_state.get(slot)
    if held is not None and held[0] == id(result):
        return held[1]
    digest = hashlib.sha1(f"{result.model_id}|{result.det_key}|{result.align_key}".encode())
    for r in result.rows:
        digest.update(f"{r.image_hash}:{r.face_index};".encode())
    key = digest.hexdigest()
    st.session_state[slot] = (id(result), key)
    return key


@st.cache_data(max_entries=16, show_spinner="Scoring pairs and sweeping every threshold ...")
def _analysis(
    set_key: str,
    score: str,
    source: str,
    max_pairs: int,
    seed: int,
    file_hash: str,
    _result: EmbeddingSet,
    _file: bytes | None,
) -> tuple[V.Pairs, np.ndarray, V.Sweep, F.Histogram]:
    if source == FILE:
        pairs = V.read_pairs_file(_file or b"", _result.people, _result.names)
    else:
        pairs = V.sample_pairs(_result.people, max_pairs, seed=seed)
    scores = V.pair_scores(_result, pairs, score)
    sw = V.sweep(scores, pairs.same, score=score)
    return pairs, scores, sw, F.score_histogram(scores, pairs.same)


@st.cache_data(max_entries=32, show_spinner="Bootstrapping over people ...")
def _bootstrap(
    set_key: str,
    score: str,
    pairs_key: tuple,
    threshold: float,
    replicates: int,
    seed: int,
    _sw: V.Sweep,
    _pairs: V.Pairs,
    _people: np.ndarray,
) -> V.Bootstrap:
    return V.bootstrap(_sw, _pairs, _people, threshold, replicates=replicates, seed=seed)


@st.cache_data(max_entries=32)
def _subgroup_sweeps(
    set_key: str, score: str, pairs_key: tuple, attribute: str, _scores, _pairs, _groups
) -> dict[str, V.Sweep]:
    return V.subgroup_sweeps(_scores, _pairs, _groups, score=score)


@st.cache_data(max_entries=16)
def _csv(set_key: str, score: str, pairs_key: tuple, _sw: V.Sweep) -> str:
    return V.report_csv(_sw, max_rows=20_000)


# -- helpers -------------------------------------------------------------------------------------
def _other_set(model_id: str) -> EmbeddingSet | None:
    """The current face set embedded by another model (same detector and face settings)."""
    dataset = state.current_dataset()
    if dataset is None:
        return None
    _, align = state.settings()
    store = state.session_store()  # a private memory store for unsaved uploads
    key = (dataset.kind, dataset.fingerprint(), model_id, align, id(store))
    held = st.session_state.get("verification_other")
    if held is not None and held[0] == key:
        return held[1]
    bar = st.progress(0.0, text=f"Embedding with {model_id} ...")
    try:
        result = embed_dataset(
            dataset,
            model_id=model_id,
            store=store,
            align_settings=align,
            get_detector=lambda: cache.detector(DetectorSettings()),
            get_model=lambda: cache.model(model_id),
            progress=lambda d, t, m: bar.progress(d / max(t, 1), text=f"{m} ({d}/{t})"),
        )
    except FacedashError as exc:
        bar.empty()
        st.error(str(exc))
        return None
    bar.empty()
    st.session_state["verification_other"] = (key, result)
    return result


def _set_threshold(value: float | None, key: str = "verification_threshold") -> None:
    if value is not None:
        st.session_state[key] = float(value)


def _slider(label: str, key: str, sw: V.Sweep, ctx: tuple, start: float) -> float:
    """A threshold slider over the sweep's range; reset to ``start`` when its context changes."""
    lo, hi = float(sw.thresholds.min()), float(sw.thresholds.max())
    pad = max((hi - lo) * 0.02, 1e-6)
    lo, hi = lo - pad, hi + pad
    if st.session_state.get(key + "_ctx") != ctx or key not in st.session_state:
        st.session_state[key + "_ctx"] = ctx
        st.session_state[key] = float(start)
    st.session_state[key] = float(np.clip(st.session_state[key], lo, hi))
    return st.slider(label, lo, hi, step=(hi - lo) / 1000, format="%.4f", key=key)


def _pair_gallery(
    result: EmbeddingSet, pairs: V.Pairs, scores: np.ndarray, idx: np.ndarray, per_row: int = 4
) -> None:
    if not len(idx):
        st.caption("None at this threshold.")
        return
    for start in range(0, len(idx), per_row):
        cols = st.columns(per_row)
        for col, k in zip(cols, idx[start : start + per_row], strict=False):
            a, b = int(pairs.i[k]), int(pairs.j[k])
            box = col.container(border=True)
            left, right = box.columns(2)
            for side, face in ((left, a), (right, b)):
                thumb = result.thumbs[face]
                if thumb:
                    side.image(thumb, width="stretch")
            box.caption(
                f"score **{scores[k]:.4f}** · {result.rows[a].person} / {result.rows[b].person}",
                help=f"{result.rows[a].name}\n\n{result.rows[b].name}",
            )


def _ci(iv: V.Interval, pct: bool = False) -> str:
    if not np.isfinite(iv.low):
        return "n/a"
    return f"{iv.low:.2%} – {iv.high:.2%}" if pct else f"{iv.low:.4f} – {iv.high:.4f}"


# -- the page ------------------------------------------------------------------------------------
def main() -> None:
    result = state.page_start(
        "pages/verification.py",
        "Verification",
        HOW_TO_READ,
        min_faces=2,
        too_few="Verification needs at least two faces.",
    )
    if result is None:
        return
    model_spec = spec(result.model_id)
    set_key = _set_key(result)

    # 1. Pairs and score.
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    source = c1.radio("Pairs", [ALL, FILE], key="verification_source", horizontal=True)
    scores_known = list(V.SCORES)
    default_score = model_spec.metric if model_spec.metric in scores_known else scores_known[0]
    if st.session_state.get("verification_score") not in scores_known:
        st.session_state["verification_score"] = default_score
    score = c2.selectbox(
        "Score", scores_known, key="verification_score", format_func=lambda s: V.SCORES[s].name
    )
    max_pairs = int(
        c3.number_input(
            "Sample past (pairs)",
            1_000,
            5_000_000,
            200_000,
            step=10_000,
            key="verification_max_pairs",
            help="Above this many pairs, a seeded balanced random sample is used.",
        )
    )
    seed = int(c4.number_input("Seed", 0, 10_000, 0, key="verification_seed"))
    data: bytes | None = None
    if source == FILE:
        upload = st.file_uploader(
            "LFW pairs.txt (name n1 n2 / name1 n1 name2 n2)",
            type=["txt"],
            key="verification_pairs_file",
        )
        if upload is None:
            st.info("Upload a pairs file, or choose 'Pairs of this set'.")
            return
        data = upload.getvalue()
    file_hash = hashlib.sha1(data).hexdigest() if data else ""
    try:
        pairs, scores, sw, hist = _analysis(
            set_key, score, source, max_pairs, seed, file_hash, result, data
        )
    except (FacedashError, ValueError) as exc:
        st.error(str(exc))
        return
    if pairs.genuine == 0 or pairs.impostor == 0:
        st.warning(
            f"Need both same-person and different-person pairs; got {pairs.genuine} and {pairs.impostor}."
        )
        return
    pairs_key = (source, max_pairs, seed, file_hash)
    kind = V.SCORES[score]
    default = model_spec.default_thresholds.get(score)
    eer, eer_t = sw.eer()
    best = sw.best_f1()
    st.caption(
        f"{pairs.genuine} genuine and {pairs.impostor} impostor pairs ({pairs.source}"
        + (
            f"; {pairs.dropped} pairs of the file name faces not in this set"
            if pairs.dropped
            else ""
        )
        + f") · model `{result.model_id}` · {kind.name}: {kind.rule}"
    )

    # 2. Headline figures.
    m = st.columns(6)
    m[0].metric("ROC-AUC", f"{sw.auc:.4f}")
    m[1].metric("EER", f"{eer:.2%}", help=f"at threshold {eer_t:.4f}")
    for col, far in zip(m[2:5], V.TARGET_FARS, strict=True):
        col.metric(f"TAR @ FAR {far:.1%}", f"{sw.tar_at_far(far):.4f}")
    m[5].metric("Best F1", f"{best.f1:.4f}", help=f"at threshold {best.threshold:.4f}")

    # 3. The threshold: slider and jump buttons.
    b = st.columns([1, 1, 1, 1, 1])
    b[0].button("Max F1", key="verification_go_f1", on_click=_set_threshold, args=(best.threshold,))
    b[1].button("EER", key="verification_go_eer", on_click=_set_threshold, args=(eer_t,))
    target = b[2].number_input(
        "Target FAR (%)",
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
        f"FAR ≤ {target:g}%",
        key="verification_go_far",
        on_click=_set_threshold,
        args=(far_t,),
        disabled=far_t is None,
    )
    b[4].button(
        f"Published default {default:g}" if default is not None else "No published default",
        key="verification_go_default",
        on_click=_set_threshold,
        args=(default,),
        disabled=default is None,
    )
    threshold = _slider(
        f"Threshold ({kind.rule})",
        "verification_threshold",
        sw,
        (set_key, score, pairs_key),
        best.threshold,
    )
    conf = sw.at(threshold)
    log_far = st.toggle(
        "Log FAR axis on ROC curves",
        value=True,
        key="verification_log_far",
        help="On the log axis, a FAR of 0 is drawn at half of one false accept of that curve.",
    )
    curve = F.Curve(result.model_id, sw, threshold, default)
    if default is not None:
        d = sw.at(default)
        st.caption(
            f"Published default {default:g} ({model_spec.threshold_source}): F1 {d.f1:.4f}, "
            f"FAR {d.far:.2%}, FRR {d.frr:.2%} — this data's max-F1 threshold is {best.threshold:.4f} "
            f"(F1 {best.f1:.4f}); the EER threshold is {eer_t:.4f}."
        )

    # 4. Charts and the confusion matrix.
    left, right = st.columns(2)
    left.plotly_chart(F.roc_figure([curve], log_far=log_far), key="verification_roc")
    right.plotly_chart(F.metrics_figure(curve), key="verification_metrics")
    if score == "mls":
        # PFE's claim, side by side: the same pairs scored by cosine, each at its own max-F1 threshold.
        _, _, csw, _ = _analysis(
            set_key, "cosine", source, max_pairs, seed, file_hash, result, data
        )
        st.caption(
            f"Same pairs, two scores: ROC-AUC cosine {csw.auc:.4f} vs MLS {sw.auc:.4f}; "
            "each curve is marked at its own max-F1 threshold."
        )
        from facedash.pfe import train as pfe_train

        record = pfe_train.read_record() or {}
        if record.get("dataset") == result.dataset:
            st.warning(
                f"The uncertainty head was trained on this very set ({record.get('dataset')}), so its MLS "
                "figures here are in-sample and optimistic. The honest comparison is on held-out people: "
                f"{record.get('heldout', {})} (from `facedash pfe train`)."
            )
        left, right = st.columns(2)
        cos_curve = F.Curve("cosine", csw, csw.best_f1().threshold)
        left.plotly_chart(F.roc_figure([cos_curve], log_far=log_far), key="verification_roc_cosine")
        right.plotly_chart(
            F.roc_figure([F.Curve("MLS", sw, best.threshold)], log_far=log_far),
            key="verification_roc_mls",
        )
    left, right = st.columns(2)
    left.plotly_chart(F.histogram_figure(hist, curve), key="verification_hist")
    with right:
        st.plotly_chart(F.confusion_figure(conf), key="verification_confusion")
        k = st.columns(4)
        k[0].metric("True accepts (TP)", conf.tp)
        k[1].metric("False accepts (FP)", conf.fp)
        k[2].metric("True rejects (TN)", conf.tn)
        k[3].metric("False rejects (FN)", conf.fn)
        st.markdown(
            f"FAR **{conf.far:.2%}** · FRR **{conf.frr:.2%}** · precision **{conf.precision:.4f}** · "
            f"recall **{conf.recall:.4f}** · F1 **{conf.f1:.4f}** · accuracy **{conf.accuracy:.4f}**"
        )

    # 5. Confidence intervals.
    with st.expander("Confidence intervals (bootstrap over people)"):
        bc = st.columns(3)
        reps = int(
            bc[0].number_input("Replicates", 20, 2000, 200, step=20, key="verification_boot_reps")
        )
        bseed = int(bc[1].number_input("Seed", 0, 10_000, 0, key="verification_boot_seed"))
        run = bc[2].toggle("Compute", key="verification_boot_on")
        boot = None
        if run:
            boot = _bootstrap(
                set_key, score, pairs_key, threshold, reps, bseed, sw, pairs, result.people
            )
            st.dataframe(
                pd.DataFrame(
                    [{"figure": "ROC-AUC", "value": boot.auc.value, "95% interval": _ci(boot.auc)}]
                    + [
                        {
                            "figure": name.upper() if len(name) == 3 else name,
                            "value": iv.value,
                            "95% interval": _ci(iv),
                        }
                        for name, iv in boot.rates.items()
                    ]
                ),
                hide_index=True,
                key="verification_boot_table",
            )
            st.caption(
                f"{boot.valid} of {boot.replicates} replicates had both genuine and impostor pairs; "
                f"{len(set(result.people.tolist()))} people: with few people the intervals are wide."
            )

    # 6. Failing pairs.
    st.subheader("Errors at this threshold, worst first")
    fa = V.failing_pairs(
        scores, pairs, threshold, score=score, kind="false_accept", limit=FAIL_LIMIT
    )
    fr = V.failing_pairs(
        scores, pairs, threshold, score=score, kind="false_reject", limit=FAIL_LIMIT
    )
    tab_fa, tab_fr = st.tabs([f"False accepts ({conf.fp})", f"False rejects ({conf.fn})"])
    with tab_fa:
        st.caption("Different people the model calls the same; the most alike first.")
        _pair_gallery(result, pairs, scores, fa)
    with tab_fr:
        st.caption("The same person the model calls different; the least alike first.")
        _pair_gallery(result, pairs, scores, fr)

    # 7. A second model.
    st.subheader("Compare with a second model")
    others = [mid for mid in MODELS if mid != result.model_id]
    second = st.selectbox("Second model", [NONE, *others], key="verification_second")
    curves = [curve]
    if second != NONE:
        other = _other_set(second)
        if other is not None and len(other.rows) >= 2:
            ospec = spec(second)
            oscore = ospec.metric if ospec.metric in V.SCORES else score
            okey = _set_key(other, "verification_setkey_2")
            opairs, oscores, osw, _ = _analysis(okey, oscore, ALL, max_pairs, seed, "", other, None)
            odefault = ospec.default_thresholds.get(oscore)
            othreshold = _slider(
                f"{second} threshold ({V.SCORES[oscore].rule})",
                "verification_threshold_2",
                osw,
                (okey, oscore, max_pairs, seed),
                osw.best_f1().threshold,
            )
            curves.append(F.Curve(second, osw, othreshold, odefault))
            left, right = st.columns(2)
            left.plotly_chart(F.roc_figure(curves, log_far=log_far), key="verification_roc_overlay")
            right.plotly_chart(F.f1_overlay_figure(curves), key="verification_f1_overlay")
            oc = osw.at(othreshold)
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "model": c.label,
                            "score": c.sweep.score,
                            "threshold": c.threshold,
                            "AUC": c.sweep.auc,
                            **_rates(c.sweep.at(c.threshold)),
                        }
                        for c in curves
                    ]
                ),
                hide_index=True,
                key="verification_compare_table",
            )
            st.caption(
                f"{second}: {opairs.genuine} genuine / {opairs.impostor} impostor pairs; FAR {oc.far:.2%} at its threshold."
            )

    # 8. Subgroups.
    st.subheader("Subgroups")
    attributes = result.attribute_names
    if not attributes:
        st.caption(
            "This set has no attribute columns (a manifest's extra columns, or JAFFE names, give some)."
        )
    else:
        attribute = st.selectbox("Attribute", attributes, key="verification_attribute")
        groups = np.array([row.attributes.get(attribute, "") for row in result.rows], dtype=object)
        subs = V.subgroups_at(
            _subgroup_sweeps(set_key, score, pairs_key, attribute, scores, pairs, groups), threshold
        )
        left, right = st.columns(2)
        left.plotly_chart(
            F.subgroup_roc_figure(subs, attribute, log_far=log_far), key="verification_subgroup_roc"
        )
        right.dataframe(
            pd.DataFrame([s.as_dict() for s in subs]).rename(
                columns={"far": f"FAR at {threshold:.4f}", "frr": f"FRR at {threshold:.4f}"}
            ),
            hide_index=True,
            key="verification_subgroup_table",
        )
        right.caption(
            "A pair belongs to a group when both faces do; pairs across groups are left out."
        )

    # 9. Operating points and downloads.
    st.subheader("Operating points and report")
    record = V.summary(sw, model=result.model_id, threshold=threshold)
    record.update(
        {"dataset": result.dataset, "pairs_source": pairs.source, "default_threshold": default}
    )
    if boot is not None:
        record["bootstrap"] = boot.as_dict()
    points = V.OperatingPoints(state.session_store())  # private uploads: in memory, like the set
    o1, o2 = st.columns(2)
    with o1:
        name = st.text_input(
            "Name this operating point",
            key="verification_op_name",
            placeholder="e.g. door lock, FAR 0.1%",
        )
        if st.button("Save", key="verification_op_save", disabled=not name.strip()):
            points.save(
                V.OperatingPoint(
                    name.strip(),
                    result.model_id,
                    score,
                    result.dataset,
                    threshold,
                    record["at_threshold"],
                )
            )
            st.success(f"Saved '{name.strip()}' at {threshold:.4f}.")
    with o2:
        saved = points.list(model_id=result.model_id, score=score)
        if saved:
            labels = {f"{p.name} · {p.threshold:.4f} · {p.dataset}": p for p in saved}
            pick = st.selectbox("Saved points", list(labels), key="verification_op_pick")
            st.button(
                "Load",
                key="verification_op_load",
                on_click=_set_threshold,
                args=(labels[pick].threshold,),
            )
            st.caption(
                "Figures when saved: "
                + ", ".join(
                    f"{k} {v:.4g}" for k, v in labels[pick].figures.items() if isinstance(v, float)
                )
            )
        else:
            st.caption(f"No saved points yet for {result.model_id} · {score}.")
    d1, d2 = st.columns(2)
    d1.download_button(
        "Download every threshold (CSV)",
        _csv(set_key, score, pairs_key, sw),
        file_name=f"verification_{result.model_id}_{score}.csv",
        mime="text/csv",
        key="verification_dl_csv",
    )
    d2.download_button(
        "Download the report (JSON)",
        V.report_json(record),
        file_name=f"verification_{result.model_id}_{score}.json",
        mime="application/json",
        key="verification_dl_json",
    )


def _rates(c: V.Confusion) -> dict[str, float]:
    return {
        k: v
        for k, v in c.as_dict().items()
        if k in ("far", "frr", "precision", "recall", "f1", "accuracy")
    }


if __name__ == "__main__":
    state.run_page(main)
