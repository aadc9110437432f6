"""The Verification page's honest numbers: development → evaluation, and failure to acquire.

``dev_eval`` is cached on the set's content key (``keys.set_key``), the score, the
split attribute and its two values, the criterion and the pair sample, so a slider
move elsewhere on the page reruns nothing here. The panels hold their own widgets
(keys ``verification_split_by``, ``verification_dev``, ``verification_eval``,
``verification_criterion``, ``verification_dev_target``, ``verification_dev_cost``).
Every text shown goes through ``facedash.i18n``; table data and split values stay as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from facedash import verification as V
from facedash.faces.pipeline import EmbeddingSet
from facedash.figures import det as D
from facedash.figures import verification as F
from facedash.i18n import N_, _
from facedash.ui import cache, state
from facedash.ui.data import template_pattern
from facedash.ui.keys import set_key
from facedash.ui.verification import in_language, shown

REPLICATES = 200
RATES: tuple[tuple[str, str], ...] = (
    ("FMR (FAR)", "far"),
    ("FNMR (FRR)", "frr"),
    (N_("precision"), "precision"),
    ("F1", "f1"),
    (N_("accuracy"), "accuracy"),
)
# The library's criteria (``V.CRITERIA``), marked for the catalog and translated where shown.
CRITERIA_TEXTS = (
    N_("target FMR"),
    N_("EER (FMR = FNMR)"),
    N_("max F1"),
    N_("min cost"),
)
HEADERS = (
    N_("figures"),
    N_("split"),
    N_("pairs (genuine + impostor)"),
    N_("95% interval (FMR · FNMR · F1)"),
    N_("rates"),
    N_("genuine + impostor pairs"),
)

# The library's reasons a pairs file or a split cannot be scored (its exceptions' English
# texts, ``{...}`` for their variable parts), marked here and translated where shown.
ERRORS = (
    N_("pairs file is not UTF-8 text"),
    N_("pairs file is empty"),
    N_("pairs file has a header but no pairs"),
    N_(
        "line {line}: expected 3 fields (name n1 n2) or 4 fields (name1 n1 name2 n2), "
        "got {n}: {text}"
    ),
    N_("line {line}: image numbers must be positive integers, got {a} and {b}"),
    N_("line {line}: a person name is a number: {text}"),
    N_("line {line}: pairs image {a} of {name} with itself"),
    N_("line {line}: the header {header} announces {expected} pairs, the file has {n}"),
    N_("{n} pairs name faces not in the set, e.g. {example}"),
    N_("none of the {n} pairs names a face of this set (people here: {people}, ...)"),
    N_("{n} pairs disagree with the set's people, e.g. rows {i} and {j} are marked {marked}"),
    N_("no face has {attribute} = {value}; values: {known}"),
    N_("{attribute} = {value} has one face: no pairs to score"),
    N_(
        "{attribute} = {value} needs both same-person and different-person pairs, "
        "got {genuine} and {impostor}"
    ),
)


_ERRORS = [(t, template_pattern(t)) for t in ERRORS]


def error_text(message: str) -> str:
    """A library error about pairs or splits in this run's language (unknown ones as they are)."""
    for template, pattern in _ERRORS:
        found = pattern.match(message)
        if found:
            return _(template).format(**found.groupdict())
    return message


def criterion_label(c: V.Criterion) -> str:
    """``c.label`` in this run's language (``FMR ≤ 0.01``, ``EER (FMR = FNMR)``, ``min 10·FMR + FNMR``)."""
    if c.name == "target_fmr":
        return _("FMR ≤ {target}").format(target=f"{c.target_fmr:.4g}")
    if c.name == "cost":
        return _("min {cost}·FMR + FNMR").format(cost=f"{c.cost:g}")
    return _(V.CRITERIA[c.name])


@st.cache_data(max_entries=16, show_spinner=False)
def _dev_eval(
    key: str,
    score: str,
    attribute: str,
    dev: str,
    evaluation: str,
    criterion: tuple[str, float | None, float],
    max_pairs: int,
    seed: int,
    _result: EmbeddingSet,
) -> tuple[V.DevEval, F.Histogram]:
    """The dev → eval result and the evaluation pairs' score histogram.

    Cached on (set key, score, attribute, both splits, criterion, sample size, seed).
    """
    groups = [r.attributes.get(attribute, "") for r in _result.rows]
    de = V.dev_eval(
        _result,
        _result.people,
        groups,
        dev,
        evaluation,
        V.Criterion(*criterion),
        attribute=attribute,
        score=score,
        max_pairs=max_pairs,
        seed=seed,
        replicates=REPLICATES,
    )
    return de, F.score_histogram(de.eval.scores, de.eval.pairs.same)


# The dev -> eval result and its histogram, behind a spinner (cached: ``_dev_eval``).
dev_eval = cache.with_spinner(N_("Choosing on one split, scoring on the other ..."), _dev_eval)


def _no_face_items(result: EmbeddingSet) -> list:
    """The set's items of its photos without a face (their person), held in this session.

    Listed again from the sidebar's set only when there are such photos, once per set.
    """
    if not result.no_face:
        return []
    memo = (set_key(result), tuple(result.no_face))
    held = st.session_state.get("verification_no_face_items")
    if held is not None and held[0] == memo:
        return held[1]
    dataset = state.current_dataset()
    names = {name for name, _unused in result.no_face}
    items = [it for it in dataset.items if it.name in names] if dataset is not None else []
    st.session_state["verification_no_face_items"] = (memo, items)
    return items


def acquisition(
    result: EmbeddingSet, attribute: str | None = None, value: str | None = None
) -> V.Acquisition:
    """The set's FTA record (the photos without a face get their person from the set's items)."""
    return V.acquisition(result, _no_face_items(result), attribute=attribute, value=value)


def _interval(iv: V.Interval) -> str:
    return _("n/a") if not np.isfinite(iv.low) else f"{iv.low:.4f} – {iv.high:.4f}"


def _row(figures: str, split: str, threshold: float, c: V.Confusion) -> dict[str, Any]:
    return {"figures": figures, "split": split, "threshold": threshold} | {
        label: getattr(c, attr) for label, attr in RATES
    }


def _choice(label: str, options: list[str], key: str, prefer: str, fallback: int, col, shown=str):
    """A selectbox that forgets a remembered value no longer among ``options``."""
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)
    start = options.index(prefer) if prefer in options else min(fallback, len(options) - 1)
    return col.selectbox(label, options, index=start, key=key, format_func=shown)


def _criterion_input(col) -> tuple[str, float | None, float]:
    name = col.selectbox(
        _("Criterion"),
        list(V.CRITERIA),
        format_func=in_language(lambda c: _(V.CRITERIA[c])),
        key="verification_criterion",
    )
    target, cost = None, V.protocol.DEFAULT_COST
    if name == "target_fmr":
        target = (
            st.number_input(
                _("Target FMR on the development pairs (%)"),
                0.0,
                100.0,
                1.0,
                step=0.1,
                format="%.3f",
                key="verification_dev_target",
                help=_("The most lenient threshold whose development FMR does not exceed it."),
            )
            / 100
        )
    elif name == "cost":
        cost = st.number_input(
            _("Cost of one false match, in false non-matches"),
            0.01,
            1e6,
            V.protocol.DEFAULT_COST,
            key="verification_dev_cost",
            help=_("The threshold minimises cost · FMR + FNMR on the development pairs."),
        )
    return name, target, float(cost)


def dev_eval_panel(result: EmbeddingSet, key: str, score: str, max_pairs: int, seed: int, default):
    """Choose a threshold on one split's pairs, report it on another's, beside its in-sample optimum."""
    st.subheader(
        _("Development → evaluation: a threshold chosen on one split, reported on another")
    )
    st.caption(
        _(
            "Everything above is in-sample: the live threshold, the max-F1 and EER thresholds are "
            "read off the very pairs they are scored on. Here the threshold is chosen on the "
            "development pairs only (both faces in one split) and scored on the evaluation pairs "
            "(both in another)."
        )
    )
    names = result.attribute_names
    if not names:
        st.caption(
            _(
                "This set has no attribute to split it by (the demo's train/val, a manifest's "
                "column)."
            )
        )
        return
    c = st.columns(4)
    attribute = _choice(
        _("Split attribute"), names, "verification_split_by", "split", 0, c[0], in_language(_)
    )
    values = sorted({r.attributes.get(attribute, "") for r in result.rows})
    if len(values) < 2:
        st.caption(
            _("Every face has the same {attribute}: there is nothing to hold out.").format(
                attribute=attribute
            )
        )
        return
    dev = _choice(_("Choose on (development)"), values, "verification_dev", "train", 0, c[1])
    evl = _choice(_("Report on (evaluation)"), values, "verification_eval", "val", 1, c[2])
    criterion = _criterion_input(c[3])
    if dev == evl:
        st.warning(
            _("Development and evaluation are the same split: the figures below are in-sample.")
        )
    try:
        de, hist = dev_eval(key, score, attribute, dev, evl, criterion, max_pairs, seed, result)
    except ValueError as exc:
        st.warning(error_text(str(exc)))
        return
    r, s, iv = de.reported, de.in_sample, de.interval
    m = st.columns(5)
    m[0].metric(
        _("Threshold chosen on {split}").format(split=dev),
        f"{de.threshold:.4f}",
        help=criterion_label(de.criterion),
    )
    for col, (label, attr) in zip(m[1:], RATES[:2] + RATES[3:], strict=True):
        band = (
            _("95% interval over {split}'s people: {interval}").format(
                split=evl, interval=_interval(iv.rates[attr])
            )
            if iv
            else None
        )
        col.metric(
            _("{rate} on {split}").format(rate=_(label), split=evl),
            f"{getattr(r, attr):.4f}",
            help=band,
        )
    rows = [
        _row(_("chosen on {split} (development)").format(split=dev), dev, de.threshold, de.chosen),
        _row(_("reported on {split} (held out)").format(split=evl), evl, de.threshold, r),
        _row(
            _("{split}'s own optimum (in-sample)").format(split=evl),
            evl,
            de.in_sample_threshold,
            s,
        ),
    ]
    for row, sp in zip(rows, (de.dev, de.eval, de.eval), strict=True):
        row["pairs (genuine + impostor)"] = f"{sp.pairs.genuine} + {sp.pairs.impostor}"
    band = "95% interval (FMR · FNMR · F1)"
    for row in rows:
        row[band] = ""
    if iv is not None:
        rows[1][band] = " · ".join(_interval(iv.rates[a]) for a in ("far", "frr", "f1"))
    st.dataframe(shown(pd.DataFrame(rows)), hide_index=True, key="verification_dev_eval_table")
    st.caption(
        _(
            "Chosen on {dev} ({criterion}), the threshold {threshold} gives {eval} FMR {fmr} and "
            "FNMR {fnmr}; {eval}'s own optimum would claim FMR {own_fmr} and FNMR {own_fnmr} at "
            "{own_threshold}. The gap is the lesson: an optimum read off the pairs it is scored "
            "on is as good as that threshold will ever look. The interval is a bootstrap over "
            "{people} people of {eval}."
        ).format(
            dev=dev,
            eval=evl,
            criterion=criterion_label(de.criterion),
            threshold=f"{de.threshold:.4f}",
            fmr=f"{r.far:.2%}",
            fnmr=f"{r.frr:.2%}",
            own_fmr=f"{s.far:.2%}",
            own_fnmr=f"{s.frr:.2%}",
            own_threshold=f"{de.in_sample_threshold:.4f}",
            people=len(set(de.eval.people.tolist())),
        )
    )
    curves = [
        F.Curve(_("{split} (development)").format(split=dev), de.dev.sweep, de.threshold),
        F.Curve(_("{split} (evaluation)").format(split=evl), de.eval.sweep, de.threshold, default),
    ]
    mark = D.Mark(
        _("{split}'s in-sample optimum {threshold}").format(
            split=evl, threshold=f"{de.in_sample_threshold:.4g}"
        ),
        de.eval.sweep,
        de.in_sample_threshold,
    )
    title = _("DET of {dev} and {eval} (dots: chosen on {dev})").format(dev=dev, eval=evl)
    left, right = st.columns(2)
    left.plotly_chart(
        D.det_figure(curves, marks=[mark], title=title), key="verification_dev_eval_det"
    )
    right.plotly_chart(F.histogram_figure(hist, curves[1]), key="verification_dev_eval_hist")
    acq = acquisition(result, attribute, evl)
    if acq.files:
        tx = V.transaction_rates(r, de.eval.people, acq.people)
        st.caption(
            _(
                "With {split}'s {n} photos without a face counted (FTA {fta}): transaction FMR "
                "{fmr}, FNMR {fnmr}."
            ).format(
                split=evl,
                n=len(acq.files),
                fta=f"{acq.fta:.2%}",
                fmr=f"{tx.fmr:.4f}",
                fnmr=f"{tx.fnmr:.4f}",
            )
        )


def fta_panel(result: EmbeddingSet, conf: V.Confusion, set_pairs: bool) -> None:
    """FTA, and FMR/FNMR over acquired faces beside the transaction rates that count FTA photos."""
    acq = acquisition(result)
    st.markdown(
        _(
            "**Failure to acquire (FTA)**: no face found in {missing} of {photos} photos "
            "(**{fta}**)."
        ).format(missing=len(acq.files), photos=acq.photos, fta=f"{acq.fta:.2%}")
    )
    if not set_pairs:
        st.caption(_("Transaction rates count the set's own pairs; a pairs file names its own."))
        return
    tx = V.transaction_rates(conf, result.people, acq.people)
    table = [
        {
            "rates": _("acquired faces only"),
            "FMR (FAR)": conf.far,
            "FNMR (FRR)": conf.frr,
            "genuine + impostor pairs": f"{tx.genuine - tx.genuine_fta} + {tx.impostor - tx.impostor_fta}",
        },
        {
            "rates": _("transaction (FTA counted)"),
            "FMR (FAR)": tx.fmr,
            "FNMR (FRR)": tx.fnmr,
            "genuine + impostor pairs": f"{tx.genuine} + {tx.impostor}",
        },
    ]
    st.dataframe(shown(pd.DataFrame(table)), hide_index=True, key="verification_fta_table")
    files = ", ".join(acq.files[:5]) + (" ..." if len(acq.files) > 5 else "")
    st.caption(
        _(
            "A photo without a face matches nobody: its genuine pairs count as false non-matches, "
            "its impostor pairs as true non-matches."
        )
        + " "
        + (
            _("No face in: {files}.").format(files=files)
            if acq.files
            else _("Every photo gave a face here, so both rows agree.")
        )
    )
