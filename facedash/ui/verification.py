"""The Verification page's cached computations, its second-model set and its panels.

Every cached entry is keyed on the set's content key (``keys.set_key``), the score and
the pairs' definition (source, sample size, seed, pairs-file hash), so a slider move
reruns none of them and another session on the same set shares them. Every text shown
goes through ``facedash.i18n``; option values, table data and exports stay English.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
import streamlit as st

import facedash.pfe  # noqa: F401  (registers the mls score; loads no model)
from facedash import i18n
from facedash import verification as V
from facedash.faces.pipeline import EmbeddingSet
from facedash.figures import verification as F
from facedash.i18n import N_, _
from facedash.models.cards import ModelSpec, all_cards, spec
from facedash.ui import cache, compare, state, widgets
from facedash.ui.keys import set_key

# Option values (session keys, English; shown through ``_()``).
ALL, FILE = N_("Pairs of this set"), N_("Pairs file (LFW pairs.txt)")
NONE = N_("(none)")
THRESHOLD = "verification_threshold"
FAIL_LIMIT = 24  # failing pairs shown per tab
RATE_KEYS = ("far", "frr", "precision", "recall", "f1", "accuracy")
NAMES = {"tar": "TAR", "far": N_("FAR (FMR)"), "frr": N_("FRR (FNMR)")}  # both vocabularies
# The library's own words (score names, decision rules, pair sources), marked here for the
# catalog and translated where shown; a header or word not in the catalog shows as it is.
LIBRARY_TEXTS = (
    N_("Cosine similarity"),
    N_("Euclidean distance"),
    N_("Mutual likelihood score (PFE)"),
    N_("score ≥ t means same"),
    N_("score ≤ t means same"),
    N_("all pairs"),
    N_("pairs file"),
)
HEADERS = (
    N_("figure"),
    N_("value"),
    N_("95% interval"),
    N_("model"),
    N_("score"),
    N_("threshold"),
    N_("precision"),
    N_("recall"),
    N_("accuracy"),
    N_("group"),
    N_("genuine"),
    N_("impostor"),
)
_SAMPLE = re.compile(r"^balanced sample \(seed (\d+)\)$")


def model_spec(model_id: str) -> ModelSpec:
    """The registry entry of ``model_id`` (name, metric, published thresholds)."""
    return spec(model_id)


def file_hash(data: bytes | None) -> str:
    """A short content key for an uploaded pairs file ('' when none)."""
    return hashlib.sha1(data).hexdigest() if data else ""


def in_language(fn: Callable[[Any], str]) -> Callable[[Any], str]:
    """``fn`` as a widget's ``format_func`` that answers in this run's language from any thread.

    Streamlit calls it in the script thread, but ``AppTest`` calls it again from its own thread
    (English) to match a value with its shown option; bound here, both agree.
    """
    lang = i18n.language()

    def label(value: Any) -> str:
        with i18n.using(lang):
            return fn(value)

    return label


def score_name(score: str) -> str:
    """The score's name in this run's language."""
    return _(V.SCORES[score].name)


def rule(kind: V.ScoreKind) -> str:
    """The score's decision rule in this run's language."""
    return _(kind.rule)


def pairs_source(pairs: V.Pairs) -> str:
    """Where the pairs come from, in this run's language."""
    sample = _SAMPLE.match(pairs.source)
    if sample:
        return _("balanced sample (seed {seed})").format(seed=sample.group(1))
    return _(pairs.source)


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as shown: its headers in this run's language (its data and exports stay English)."""
    return frame.rename(columns=lambda c: _(c) if isinstance(c, str) and c else c)


# A resource, not data: a 10k set's million pairs, scores and sweep are shared as they are
# instead of unpickled on every rerun (0.3 s a rerun); their arrays are made read-only.
@st.cache_resource(max_entries=16, show_spinner=False)
def _analysis(
    key: str,
    score: str,
    source: str,
    max_pairs: int,
    seed: int,
    pairs_hash: str,
    _result: EmbeddingSet,
    _file: bytes | None,
) -> tuple[V.Pairs, np.ndarray, V.Sweep, F.Histogram]:
    """Pairs, their scores, the sweep over every threshold and the score histogram.

    Cached on (set key, score, pairs source, sample size, seed, pairs-file hash).
    """
    if source == FILE:
        pairs = V.read_pairs_file(_file or b"", _result.people.tolist(), _result.names.tolist())
    else:
        pairs = V.sample_pairs(_result.people, max_pairs, seed=seed)
    scores = V.pair_scores(_result, pairs, score)
    sw = V.sweep(scores, pairs.same, score=score)
    hist = F.score_histogram(scores, pairs.same)
    cache.read_only(pairs, scores, sw, hist)
    return pairs, scores, sw, hist


# Pairs, their scores, the sweep and the histogram, behind a spinner (cached: ``_analysis``).
analysis = cache.with_spinner(N_("Scoring pairs and sweeping every threshold ..."), _analysis)


@st.cache_data(max_entries=32, show_spinner=False)
def bootstrap(
    key: str,
    score: str,
    pairs_key: tuple,
    threshold: float,
    replicates: int,
    seed: int,
    _sw: V.Sweep,
    _pairs: V.Pairs,
    _people: np.ndarray,
) -> V.Bootstrap:
    """Bootstrap intervals over people; cached on (set key, score, pairs, threshold, replicates, seed)."""
    return V.bootstrap(_sw, _pairs, _people, threshold, replicates=replicates, seed=seed)


@st.cache_data(max_entries=32)
def subgroup_sweeps(
    key: str,
    score: str,
    pairs_key: tuple,
    attribute: str,
    _scores: np.ndarray,
    _pairs: V.Pairs,
    _groups: np.ndarray,
) -> dict[str, V.Sweep]:
    """One sweep per value of ``attribute``; cached on (set key, score, pairs, attribute)."""
    return V.subgroup_sweeps(_scores, _pairs, _groups, score=score)


@st.cache_data(max_entries=16)
def report_csv(key: str, score: str, pairs_key: tuple, _sw: V.Sweep) -> str:
    """Every threshold's figures as CSV (at most 20,000 rows); cached on (set key, score, pairs)."""
    return V.report_csv(_sw, max_rows=20_000)


def other_set(model_id: str) -> EmbeddingSet | None:
    """The current face set embedded by another model (same detector and face settings), held in this session."""
    return state.embedding_set(model_id, slot="verification_other")


def head_in_sample_note(result: EmbeddingSet) -> str | None:
    """A warning when the set's model's PFE head was trained on this very set (its MLS is in-sample)."""
    from facedash.pfe import train as pfe_train

    record = pfe_train.read_record(model=result.model_id) or {}
    if record.get("dataset") != result.dataset:
        return None
    return _(
        "The uncertainty head was trained on this very set ({dataset}), so its MLS figures here "
        "are in-sample and optimistic. The honest comparison is on held-out people: {heldout} "
        "(from `facedash pfe train`)."
    ).format(dataset=record.get("dataset"), heldout=record.get("heldout", {}))


def interval_text(iv: V.Interval, pct: bool = False) -> str:
    """A 95% interval as text ('n/a' when the bootstrap could not estimate it)."""
    if not np.isfinite(iv.low):
        return _("n/a")
    return f"{iv.low:.2%} – {iv.high:.2%}" if pct else f"{iv.low:.4f} – {iv.high:.4f}"


def rates(c: V.Confusion) -> dict[str, Any]:
    """The rates of one confusion matrix that the comparison table shows."""
    return {k: v for k, v in c.as_dict().items() if k in RATE_KEYS}


# -- panels (widgets of this page that hold their own layout) -----------------------------
def intervals_panel(key: str, score: str, pairs_key: tuple, threshold: float, sw, pairs, result):
    """The bootstrap expander (replicates, seed, a toggle); returns the bootstrap when computed."""
    with st.expander(_("Confidence intervals (bootstrap over people)")):
        bc = st.columns(3)
        reps = bc[0].number_input(
            _("Replicates"), 20, 2000, 200, step=20, key="verification_boot_reps"
        )
        bseed = bc[1].number_input(_("Seed"), 0, 10_000, 0, key="verification_boot_seed")
        if not bc[2].toggle(_("Compute"), key="verification_boot_on"):
            return None
        with st.spinner(_("Bootstrapping over people ...")):
            boot = bootstrap(
                key, score, pairs_key, threshold, int(reps), int(bseed), sw, pairs, result.people
            )
        rows = [
            {
                "figure": "ROC-AUC",
                "value": boot.auc.value,
                "95% interval": interval_text(boot.auc),
            }
        ]
        rows += [
            {
                "figure": _(NAMES.get(n, n)),
                "value": iv.value,
                "95% interval": interval_text(iv),
            }
            for n, iv in boot.rates.items()
        ]
        st.dataframe(shown(pd.DataFrame(rows)), hide_index=True, key="verification_boot_table")
        st.caption(
            _(
                "{valid} of {replicates} replicates had both genuine and impostor pairs; "
                "{people} people: with few people the intervals are wide."
            ).format(
                valid=boot.valid,
                replicates=boot.replicates,
                people=len(set(result.people.tolist())),
            )
        )
        return boot


def confusion_panel(conf: V.Confusion) -> None:
    """The confusion matrix at the live threshold, its counts and its rates."""
    st.plotly_chart(F.confusion_figure(conf), key="verification_confusion")
    k = st.columns(4)
    k[0].metric(_("True accepts (TP)"), conf.tp)
    k[1].metric(_("False accepts (FP)"), conf.fp)
    k[2].metric(_("True rejects (TN)"), conf.tn)
    k[3].metric(_("False rejects (FN)"), conf.fn)
    st.markdown(
        _(
            "FMR (FAR) **{far}** · FNMR (FRR) **{frr}** · precision **{precision}** · "
            "recall **{recall}** · F1 **{f1}** · accuracy **{accuracy}**"
        ).format(
            far=f"{conf.far:.2%}",
            frr=f"{conf.frr:.2%}",
            **{n: f"{getattr(conf, n):.4f}" for n in ("precision", "recall", "f1", "accuracy")},
        )
    )


def errors_panel(
    result, pairs: V.Pairs, scores: np.ndarray, threshold: float, score: str, conf
) -> None:
    """The false accepts and false rejects at the live threshold, worst first."""
    st.subheader(_("Errors at this threshold, worst first"))
    tab_fa, tab_fr = st.tabs(
        [
            _("False accepts ({n})").format(n=conf.fp),
            _("False rejects ({n})").format(n=conf.fn),
        ]
    )
    kinds: tuple[tuple[Any, Literal["false_accept", "false_reject"], str], ...] = (
        (
            tab_fa,
            "false_accept",
            _("Different people the model calls the same; the most alike first."),
        ),
        (
            tab_fr,
            "false_reject",
            _("The same person the model calls different; the least alike first."),
        ),
    )
    for tab, kind, text in kinds:
        with tab:
            st.caption(text)
            idx = V.failing_pairs(
                scores, pairs, threshold, score=score, kind=kind, limit=FAIL_LIMIT
            )
            widgets.pair_gallery(result, pairs.i, pairs.j, scores, idx)


def second_model_panel(
    result, curve: F.Curve, score: str, max_pairs: int, seed: int, log_far: bool
) -> None:
    """The same set embedded by a second model: ROC and F1 overlays, a table at both thresholds."""
    st.subheader(_("Compare with a second model"))
    others = [mid for mid in all_cards() if mid != result.model_id]
    compare.follow_sidebar(others, "verification_second")
    second = st.selectbox(
        _("Second model"),
        [NONE, *others],
        format_func=in_language(lambda m: _(NONE) if m == NONE else m),
        key="verification_second",
    )
    if second == NONE:
        return
    other = other_set(second)
    if other is None or len(other.rows) < 2:
        return
    ospec = model_spec(second)
    oscore = ospec.metric if ospec.metric in V.SCORES else score
    okey = set_key(other)
    opairs, _unused, osw, _hist = analysis(okey, oscore, ALL, max_pairs, seed, "", other, None)
    othreshold = widgets.threshold_slider(
        _("{model} threshold ({rule})").format(model=second, rule=rule(V.SCORES[oscore])),
        "verification_threshold_2",
        osw.thresholds,
        (okey, oscore, max_pairs, seed),
        osw.best_f1().threshold,
    )
    curves = [curve, F.Curve(second, osw, othreshold, ospec.default_thresholds.get(oscore))]
    left, right = st.columns(2)
    left.plotly_chart(F.roc_figure(curves, log_far=log_far), key="verification_roc_overlay")
    right.plotly_chart(F.f1_overlay_figure(curves), key="verification_f1_overlay")
    table = [
        {"model": c.label, "score": c.sweep.score, "threshold": c.threshold, "AUC": c.sweep.auc}
        | rates(c.sweep.at(c.threshold))
        for c in curves
    ]
    st.dataframe(
        shown(pd.DataFrame(table).rename(columns={"far": NAMES["far"], "frr": NAMES["frr"]})),
        hide_index=True,
        key="verification_compare_table",
    )
    compare.panel(result, other, (curve, curves[1]), max_pairs, seed)
    st.caption(
        _(
            "{model}: {genuine} genuine / {impostor} impostor pairs; FAR (FMR) {far} at its threshold."
        ).format(
            model=second,
            genuine=opairs.genuine,
            impostor=opairs.impostor,
            far=f"{osw.at(othreshold).far:.2%}",
        )
    )


def subgroups_panel(result, key, score, pairs_key, scores, pairs, threshold, log_far) -> None:
    """One ROC and one row of rates per value of a chosen attribute."""
    st.subheader(_("Subgroups"))
    if not result.attribute_names:
        st.caption(
            _(
                "This set has no attribute columns (a manifest's extra columns, or JAFFE names, "
                "give some)."
            )
        )
        return
    attribute = st.selectbox(
        _("Attribute"),
        result.attribute_names,
        format_func=in_language(_),  # a known attribute name (the demo's split) in words
        key="verification_attribute",
    )
    groups = np.array([row.attributes.get(attribute, "") for row in result.rows], dtype=object)
    sweeps = subgroup_sweeps(key, score, pairs_key, attribute, scores, pairs, groups)
    subs = V.subgroups_at(sweeps, threshold)
    left, right = st.columns(2)
    left.plotly_chart(
        F.subgroup_roc_figure(subs, attribute, log_far=log_far), key="verification_subgroup_roc"
    )
    at = f"{threshold:.4f}"
    right.dataframe(
        shown(
            pd.DataFrame([s.as_dict() for s in subs]).rename(
                columns={
                    "far": _("FAR (FMR) at {threshold}").format(threshold=at),
                    "frr": _("FRR (FNMR) at {threshold}").format(threshold=at),
                }
            )
        ),
        hide_index=True,
        key="verification_subgroup_table",
    )
    right.caption(
        _("A pair belongs to a group when both faces do; pairs across groups are left out.")
    )


def operating_points_panel(result, score: str, threshold: float, record: dict) -> None:
    """Save the current threshold under a name, or load a saved one (in this session's store)."""
    points = V.OperatingPoints(state.points_store())  # uploads, and a class: in this session only
    o1, o2 = st.columns(2)
    name = o1.text_input(
        _("Name this operating point"),
        key="verification_op_name",
        placeholder=_("e.g. door lock, FAR 0.1%"),
    ).strip()
    if o1.button(_("Save"), key="verification_op_save", disabled=not name):
        points.save(
            V.OperatingPoint(
                name, result.model_id, score, result.dataset, threshold, record["at_threshold"]
            )
        )
        o1.success(
            _("Saved '{name}' at {threshold}.").format(name=name, threshold=f"{threshold:.4f}")
        )
    saved = points.list(model_id=result.model_id, score=score)
    if not saved:
        o2.caption(
            _("No saved points yet for {model} · {score}.").format(
                model=result.model_id, score=score
            )
        )
        return
    labels = {f"{p.name} · {p.threshold:.4f} · {p.dataset}": p for p in saved}
    pick = labels[o2.selectbox(_("Saved points"), list(labels), key="verification_op_pick")]
    o2.button(
        _("Load"),
        key="verification_op_load",
        on_click=widgets.set_value,
        args=(THRESHOLD, pick.threshold),
    )
    figures = ", ".join(f"{k} {v:.4g}" for k, v in pick.figures.items() if isinstance(v, float))
    o2.caption(_("Figures when saved: {figures}").format(figures=figures))
