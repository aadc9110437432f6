"""The Verification page's honest numbers: development → evaluation, and failure to acquire.

``dev_eval`` is cached on the set's content key (``keys.set_key``), the score, the
split attribute and its two values, the criterion and the pair sample, so a slider
move elsewhere on the page reruns nothing here. The panels hold their own widgets
(keys ``verification_split_by``, ``verification_dev``, ``verification_eval``,
``verification_criterion``, ``verification_dev_target``, ``verification_dev_cost``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from facedash import verification as V
from facedash.figures import det as D
from facedash.figures import verification as F
from facedash.pipeline import EmbeddingSet
from facedash.ui import state
from facedash.ui.keys import set_key

REPLICATES = 200
RATES: tuple[tuple[str, str], ...] = (
    ("FMR (FAR)", "far"),
    ("FNMR (FRR)", "frr"),
    ("precision", "precision"),
    ("F1", "f1"),
    ("accuracy", "accuracy"),
)


@st.cache_data(max_entries=16, show_spinner="Choosing on one split, scoring on the other ...")
def dev_eval(
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
    names = {name for name, _ in result.no_face}
    items = [it for it in dataset.items if it.name in names] if dataset is not None else []
    st.session_state["verification_no_face_items"] = (memo, items)
    return items


def acquisition(
    result: EmbeddingSet, attribute: str | None = None, value: str | None = None
) -> V.Acquisition:
    """The set's FTA record (the photos without a face get their person from the set's items)."""
    return V.acquisition(result, _no_face_items(result), attribute=attribute, value=value)


def _interval(iv: V.Interval) -> str:
    return "n/a" if not np.isfinite(iv.low) else f"{iv.low:.4f} – {iv.high:.4f}"


def _row(figures: str, split: str, threshold: float, c: V.Confusion) -> dict[str, Any]:
    return {"figures": figures, "split": split, "threshold": threshold} | {
        label: getattr(c, attr) for label, attr in RATES
    }


def _choice(label: str, options: list[str], key: str, prefer: str, fallback: int, col) -> str:
    """A selectbox that forgets a remembered value no longer among ``options``."""
    if st.session_state.get(key) not in options:
        st.session_state.pop(key, None)
    start = options.index(prefer) if prefer in options else min(fallback, len(options) - 1)
    return col.selectbox(label, options, index=start, key=key)


def _criterion_input(col) -> tuple[str, float | None, float]:
    name = col.selectbox(
        "Criterion", list(V.CRITERIA), format_func=V.CRITERIA.get, key="verification_criterion"
    )
    target, cost = None, V.protocol.DEFAULT_COST
    if name == "target_fmr":
        target = (
            st.number_input(
                "Target FMR on the development pairs (%)",
                0.0,
                100.0,
                1.0,
                step=0.1,
                format="%.3f",
                key="verification_dev_target",
                help="The most lenient threshold whose development FMR does not exceed it.",
            )
            / 100
        )
    elif name == "cost":
        cost = st.number_input(
            "Cost of one false match, in false non-matches",
            0.01,
            1e6,
            V.protocol.DEFAULT_COST,
            key="verification_dev_cost",
            help="The threshold minimises cost · FMR + FNMR on the development pairs.",
        )
    return name, target, float(cost)


def dev_eval_panel(result: EmbeddingSet, key: str, score: str, max_pairs: int, seed: int, default):
    """Choose a threshold on one split's pairs, report it on another's, beside its in-sample optimum."""
    st.subheader("Development → evaluation: a threshold chosen on one split, reported on another")
    st.caption(
        "Everything above is in-sample: the live threshold, the max-F1 and EER thresholds are read "
        "off the very pairs they are scored on. Here the threshold is chosen on the development "
        "pairs only (both faces in one split) and scored on the evaluation pairs (both in another)."
    )
    names = result.attribute_names
    if not names:
        st.caption(
            "This set has no attribute to split it by (the demo's train/val, a manifest's column)."
        )
        return
    c = st.columns(4)
    attribute = _choice("Split attribute", names, "verification_split_by", "split", 0, c[0])
    values = sorted({r.attributes.get(attribute, "") for r in result.rows})
    if len(values) < 2:
        st.caption(f"Every face has the same {attribute}: there is nothing to hold out.")
        return
    dev = _choice("Choose on (development)", values, "verification_dev", "train", 0, c[1])
    evl = _choice("Report on (evaluation)", values, "verification_eval", "val", 1, c[2])
    criterion = _criterion_input(c[3])
    if dev == evl:
        st.warning(
            "Development and evaluation are the same split: the figures below are in-sample."
        )
    try:
        de, hist = dev_eval(key, score, attribute, dev, evl, criterion, max_pairs, seed, result)
    except ValueError as exc:
        st.warning(str(exc))
        return
    r, s, iv = de.reported, de.in_sample, de.interval
    m = st.columns(5)
    m[0].metric(f"Threshold chosen on {dev}", f"{de.threshold:.4f}", help=de.criterion.label)
    for col, (label, attr) in zip(m[1:], RATES[:2] + RATES[3:], strict=True):
        band = f"95% interval over {evl}'s people: {_interval(iv.rates[attr])}" if iv else None
        col.metric(f"{label} on {evl}", f"{getattr(r, attr):.4f}", help=band)
    rows = [
        _row(f"chosen on {dev} (development)", dev, de.threshold, de.chosen),
        _row(f"reported on {evl} (held out)", evl, de.threshold, r),
        _row(f"{evl}'s own optimum (in-sample)", evl, de.in_sample_threshold, s),
    ]
    for row, sp in zip(rows, (de.dev, de.eval, de.eval), strict=True):
        row["pairs (genuine + impostor)"] = f"{sp.pairs.genuine} + {sp.pairs.impostor}"
    band = "95% interval (FMR · FNMR · F1)"
    for row in rows:
        row[band] = ""
    if iv is not None:
        rows[1][band] = " · ".join(_interval(iv.rates[a]) for a in ("far", "frr", "f1"))
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="verification_dev_eval_table")
    st.caption(
        f"Chosen on {dev} ({de.criterion.label}), the threshold {de.threshold:.4f} gives {evl} "
        f"FMR {r.far:.2%} and FNMR {r.frr:.2%}; {evl}'s own optimum would claim FMR {s.far:.2%} "
        f"and FNMR {s.frr:.2%} at {de.in_sample_threshold:.4f}. The gap is the lesson: an optimum "
        f"read off the pairs it is scored on is as good as that threshold will ever look. The "
        f"interval is a bootstrap over {len(set(de.eval.people.tolist()))} people of {evl}."
    )
    curves = [
        F.Curve(f"{dev} (development)", de.dev.sweep, de.threshold),
        F.Curve(f"{evl} (evaluation)", de.eval.sweep, de.threshold, default),
    ]
    mark = D.Mark(
        f"{evl}'s in-sample optimum {de.in_sample_threshold:.4g}",
        de.eval.sweep,
        de.in_sample_threshold,
    )
    left, right = st.columns(2)
    left.plotly_chart(
        D.det_figure(curves, marks=[mark], title=f"DET of {dev} and {evl} (dots: chosen on {dev})"),
        key="verification_dev_eval_det",
    )
    right.plotly_chart(F.histogram_figure(hist, curves[1]), key="verification_dev_eval_hist")
    acq = acquisition(result, attribute, evl)
    if acq.files:
        tx = V.transaction_rates(r, de.eval.people, acq.people)
        st.caption(
            f"With {evl}'s {len(acq.files)} photos without a face counted (FTA {acq.fta:.2%}): "
            f"transaction FMR {tx.fmr:.4f}, FNMR {tx.fnmr:.4f}."
        )


def fta_panel(result: EmbeddingSet, conf: V.Confusion, set_pairs: bool) -> None:
    """FTA, and FMR/FNMR over acquired faces beside the transaction rates that count FTA photos."""
    acq = acquisition(result)
    st.markdown(
        f"**Failure to acquire (FTA)**: no face found in {len(acq.files)} of {acq.photos} photos "
        f"(**{acq.fta:.2%}**)."
    )
    if not set_pairs:
        st.caption("Transaction rates count the set's own pairs; a pairs file names its own.")
        return
    tx = V.transaction_rates(conf, result.people, acq.people)
    table = [
        {
            "rates": "acquired faces only",
            "FMR (FAR)": conf.far,
            "FNMR (FRR)": conf.frr,
            "genuine + impostor pairs": f"{tx.genuine - tx.genuine_fta} + {tx.impostor - tx.impostor_fta}",
        },
        {
            "rates": "transaction (FTA counted)",
            "FMR (FAR)": tx.fmr,
            "FNMR (FRR)": tx.fnmr,
            "genuine + impostor pairs": f"{tx.genuine} + {tx.impostor}",
        },
    ]
    st.dataframe(pd.DataFrame(table), hide_index=True, key="verification_fta_table")
    st.caption(
        "A photo without a face matches nobody: its genuine pairs count as false non-matches, "
        "its impostor pairs as true non-matches."
        + ("" if acq.files else " Every photo gave a face here, so both rows agree.")
        + (
            f" No face in: {', '.join(acq.files[:5])}{' ...' if len(acq.files) > 5 else ''}."
            if acq.files
            else ""
        )
    )
