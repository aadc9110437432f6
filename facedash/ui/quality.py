"""The face-image quality section (EDC) of the Uncertainty page: cached computations and its renderer.

Every measure that applies to the set's model (``facedash.quality``) is judged by its EDC on
the set as it is and on the set beside a degraded copy of every face (the section's blur /
JPEG / darkness / occlusion strengths, applied together). The scorer is built once per
server and model (and saved head); each face table once per set, model, head and
strengths, shared by every session; each evaluation once per table and form.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from facedash.figures import quality as fig
from facedash.figures.uncertainty import kind_name
from facedash.i18n import N_, _
from facedash.quality import edc
from facedash.ui import cache, keys

KNOBS = ("blur", "jpeg", "darkness", "occlusion")
# Faces the section scores at most (a seeded per-person sample past that): every face costs
# FaceNet, its SER-FIQ passes and ONet, twice with the degraded copy (about 30 ms a face on a
# 2-core CPU), so a first visit of a 10,000-face set stays within seconds.
SAMPLE_FACES = 300
DEFAULTS = {"blur": 0.5, "jpeg": 0.0, "darkness": 0.0, "occlusion": 0.0}
SCORES = {"cosine": N_("cosine"), "euclidean": N_("Euclidean distance")}  # the caption's score
FORM_NAMES = {
    "fixed": N_("fixed threshold (Schlett et al.)"),
    "rethreshold": N_("threshold re-chosen for a fixed FMR (CR-FIQA's code)"),
}
HOWTO = N_(
    r"""
**What an EDC shows.** Each measure gives every face a quality $q$ (higher = better). A pair's
quality is the lower of its two faces', $q_{ab} = \min(q_a, q_b)$. The genuine pairs (same person)
are ordered by it, lowest first (ties in their row order); at the discard fraction
$f = k/20$, $k = 0 \dots 19$, the first $\lfloor k n / 20 \rfloor$ of the $n$ pairs are dropped and
the curve shows the FNMR of the rest at one fixed threshold $t$ (the EER's, where FMR = FNMR on all
pairs): the share of them with score $< t$. The partial area is the trapezoid area under the curve
from 0 to 20% discarded, not normalised.

**Why lower is better.** A measure that knows which faces the model will get wrong puts them at the
front of the queue: discarding them removes the false non-matches first, so FNMR falls fast and the
area is small. A measure that knows nothing falls no faster than chance.

**The references.** The *oracle* discards the genuine pairs with the worst scores first: no measure
of the faces alone can do better, so its area is the floor. The *random* curve is the mean over 20
seeded random orders: it stays near the starting FNMR, and a useful measure lies below it.

**The two forms.** *Fixed threshold* (Schlett et al., 2023) keeps $t$ and discards genuine pairs
only. *Re-thresholded* (the evaluation code of CR-FIQA and SER-FIQ) discards all pairs, genuine and
impostor, by their quality and chooses the loosest threshold whose FMR on the remaining impostor
pairs is at most the starting FMR again; a measure can then also gain by removing impostor pairs
that score high.

**The measures.** PFE confidence $1/\mathrm{HM}(\sigma^2)$; the embedding's norm before L2
normalisation (MagFace's reading); SER-FIQ $q = 2\,\mathrm{sigmoid}(-\frac{2}{m^2}\sum_{i<j}
\lVert x_i - x_j \rVert)$ over $m$ passes with the model's dropout active (batch normalisation in
inference mode); MTCNN's ONet face logit on the aligned crop; the face box's size in pixels; the
variance of the Laplacian. A face a measure cannot score gets that measure's lowest value.
"""
)


@st.cache_resource(max_entries=2, show_spinner=False)
def _scorer(model_id: str, head_stamp: str) -> Any:
    from facedash.quality.scorer import Scorer, saved_head

    return Scorer(cache.model(model_id), head=saved_head(model_id))


def head_stamp(model_id: str) -> str:
    """The saved head of ``model_id`` by its training time ("" when it has none)."""
    from facedash.quality.scorer import head_record

    record = head_record(model_id)
    return "" if record is None else str(record.get("trained_at", ""))


@st.cache_data(max_entries=4, show_spinner=False)
def _clean(set_key: str, model_id: str, stamp: str, _result: Any) -> Any:
    from facedash.quality import study

    return study.clean_table(_result, _scorer(model_id, stamp))


@st.cache_data(max_entries=16, show_spinner=False)
def _copy(set_key: str, model_id: str, stamp: str, strengths: tuple, _result: Any) -> Any:
    from facedash.quality import degraded, study

    rows, crops = study.crops_of(_result)
    copies = degraded.combined(crops, dict(strengths)) if len(crops) else crops
    kind = ["degraded"] * len(rows)
    return study.copy_table(_result, _scorer(model_id, stamp), rows, copies, kind)


@st.cache_data(max_entries=32, show_spinner=False)
def _evaluated(
    set_key: str, model_id: str, stamp: str, strengths: tuple, form: str, _result: Any
) -> dict[str, Any] | str:
    from facedash.models.cards import spec
    from facedash.quality import study

    tables = [_clean(set_key, model_id, stamp, _result)]
    if strengths:
        tables.append(_copy(set_key, model_id, stamp, strengths, _result))
    metric = spec(model_id).metric
    try:
        ev = study.evaluate(
            study.concat(tables),
            metric=metric if metric in ("cosine", "euclidean") else "cosine",
            form=form,
        )
    except ValueError as exc:
        return str(exc)
    return ev.record


def evaluation(result: Any, strengths: dict[str, float], form: str) -> dict[str, Any] | str:
    """The EDC record of the set (with a degraded copy where a strength is above 0); text if none."""
    held = tuple((k, float(v)) for k, v in strengths.items() if v > 0)
    with st.spinner(_("Scoring every face with every quality measure ...")):
        return _evaluated(
            keys.set_key(result), result.model_id, head_stamp(result.model_id), held, form, result
        )


def _panel(record: dict[str, Any] | str, name: str) -> None:
    if isinstance(record, str):
        st.info(record)
        return
    measures = record["measures"]
    form_name = FORM_NAMES[record["form"]]
    st.caption(
        _(
            "{genuine} genuine and {impostor} impostor pairs; threshold {threshold} "
            "({score}, the EER's); starting FNMR {fnmr}, FMR {fmr}; form: {form}."
        ).format(
            genuine=record["pairs"]["genuine"],
            impostor=record["pairs"]["impostor"],
            threshold=f"{record['threshold']:.4f}",
            score=_(SCORES[record["score"]]) if record["score"] in SCORES else record["score"],
            fnmr=f"{record['start_fnmr']:.4f}",
            fmr=f"{record['start_fmr']:.4f}",
            form=_(form_name),
        )
    )
    st.plotly_chart(
        fig.edc_figure(record["edc"], measures, pauc_upto=record["pauc_upto"], form=record["form"]),
        key=f"quality_edc_{name}",
    )
    rows = fig.pauc_rows(record["edc"], measures, record["unscored"])
    st.dataframe(rows, hide_index=True, key=f"quality_table_{name}")
    unscored = {m: n for m, n in record["unscored"].items() if n}
    if unscored:
        st.caption(
            _("Faces a measure could not score (given its lowest value): {counts}.").format(
                counts=", ".join(f"{fig.measure_name(m)} {n}" for m, n in unscored.items())
            )
        )
    else:
        st.caption(_("Every measure scored every face."))


@st.cache_resource(max_entries=4, show_spinner=False)
def _sample(set_key: str, limit: int, _result: Any) -> Any:
    from facedash.quality import study

    return study.sample(_result, limit)


def section(result: Any) -> None:
    """The EDC section: curves and partial areas on the set as it is and beside a degraded copy."""
    st.divider()
    st.subheader(_("Face-image quality: error versus discard (EDC)"))
    total = len(result.rows)
    result = _sample(keys.set_key(result), SAMPLE_FACES, result)
    if len(result.rows) < total:
        st.caption(
            _(
                "On a seeded sample of {n} of the set's {total} faces, in proportion to each "
                "person's (every face is scored by every measure, twice with the degraded copy)."
            ).format(n=f"{len(result.rows):,}", total=f"{total:,}")
        )
    form = st.radio(
        _("EDC form"),
        list(edc.FORMS),
        format_func=lambda f: _(FORM_NAMES[f]),
        horizontal=True,
        key="quality_form",
    )
    cols = st.columns(len(KNOBS))
    strengths = {
        k: cols[n].slider(kind_name(k), 0.0, 1.0, DEFAULTS[k], 0.05, key=f"quality_{k}")
        for n, k in enumerate(KNOBS)
    }
    left, right = st.columns(2)
    with left:
        st.markdown("**" + _("The set as it is") + "**")
        _panel(evaluation(result, {}, form), "clean")
    with right:
        st.markdown("**" + _("The set beside a degraded copy of every face") + "**")
        if not any(v > 0 for v in strengths.values()):
            st.info(_("Set a strength above 0 to add a degraded copy of every face."))
        else:
            _panel(evaluation(result, strengths, form), "degraded")
    with st.expander(_("How to read this")):
        st.markdown(_(HOWTO))
