"""Arithmetic & search: the attribute view, its features, the triplet head, the cached reports.

What is cached, and on what key:

- ``view``: the set seen through one attribute (for synthetic conditions: every face
  transformed and embedded), held in this session per (set key, attribute); its
  embeddings go through the set's store and the finished view is kept beside it, so a
  later visit or a restarted server reads one file;
- ``features``: the triplet head's input features of the view, kept beside the store
  (``facedash.search.view_features``) and held in this session;
- ``report`` / ``index``: the person x attribute evaluation and the index, once per
  (view key, space, method, index kind, k) for every session (``st.cache_data`` /
  ``st.cache_resource``); the space is the embedding or a trained head (named by its
  weights);
- ``identification``: the leave-one-out CMC of the set, once per set key;
- the trained head: in this session, per (view key, method, epochs, features).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from facedash import search
from facedash.i18n import N_, _
from facedash.search.conditions import attribute_view
from facedash.ui import cache, state
from facedash.ui import data as data_ui
from facedash.ui.keys import set_key

PAGE = "arithmetic"
FACE_CHOICES = 500  # faces offered in a picker at most (a seeded sample of larger sets)
REPORT_K = 10  # neighbours per query in the person x attribute report (the k slider's top)
EMBEDDING = "embedding"
# The library's English labels this page shows (search.METHOD_LABELS, conditions.CONDITION_LABELS,
# search.FEATURES, the head comparison's rows and the progress notes), translated by ``shown``.
LIBRARY_TEXTS = (
    N_("median, made non-negative, L2-normalised (the reference)"),
    N_("mean, L2-normalised"),
    N_("original crop (re-embedded from the stored aligned face)"),
    N_("grayscale (luma, BT.601)"),
    N_("mirrored left-right"),
    N_("darker (gamma 2.2 on [0, 1] pixel values)"),
    N_("blurred (Gaussian, sigma 2.5 px)"),
    N_("brighter (gamma 0.5 on [0, 1] pixel values)"),
    N_("hue rotated by 120 degrees (R, G, B -> B, R, G)"),
    N_("sepia tone"),
    N_("Gaussian noise, std 20 grey levels (seeded by the pixels)"),
    N_("FaceNet's 128-d embedding (identity space)"),
    N_("pooled 1792-d features before the bottleneck"),
    N_("mid-level block Block17_10, pooled"),
    N_("early block Block35_5, pooled"),
    N_("plain embedding"),
    N_("features, no head"),
    N_("triplet head"),
    N_("Transforming and embedding the faces"),
)
# Synthetic conditions' values (data keys, as stored) as the pickers and captions show them.
CONDITION_NAMES = {
    "original": N_("original"),
    "grayscale": N_("grayscale"),
    "mirrored": N_("mirrored"),
    "darker": N_("darker"),
    "blurred": N_("blurred"),
    "brighter": N_("brighter"),
    "hue": N_("hue"),
    "sepia": N_("sepia"),
    "noisy": N_("noisy"),
}
_COMPUTING = N_("Computing {feature} of every face")  # search.view_features' progress note
INDEX_LABELS = {"exact": N_("exact")}  # "ngt" is a name (NGT), shown as it is
# The head comparison's columns (data keys, as in compare_head's rows), shown through _().
HEAD_COLUMNS = {
    "embedding": N_("embedding"),
    "features": N_("features"),
    "faces (held out)": N_("faces (held out)"),
    "queries": N_("queries"),
    "image - A + B top-1": N_("image - A + B top-1"),
    "image - A + B top-5": N_("image - A + B top-5"),
}


def shown(text: str) -> str:
    """A library text (label, progress note, reason) in the page's language; unknown ones as they are."""
    if text in LIBRARY_TEXTS:
        return _(text)
    for f in search.FEATURES.values():
        if text == _COMPUTING.format(feature=f.label):
            return _(_COMPUTING).format(feature=_(f.label))
    return data_ui.reason(text)


def sample_note(view: Any) -> str:
    """The info note's sentence on a sampled conditions view (empty when every face is in it)."""
    n = view.faces_used
    if n >= view.faces_total:
        return ""
    return " " + _(
        "They are made for a seeded sample of {n} of the set's {total} faces, in proportion "
        "to each person's (every person is in it)."
    ).format(n=f"{n:,}", total=f"{view.faces_total:,}")


def value_label(v: Any, value: Any) -> str:
    """An attribute value as shown: a synthetic condition's name translated, other values as they are."""
    value = str(value)
    if v.synthetic and value in CONDITION_NAMES:
        return _(CONDITION_NAMES[value])
    return value


def index_label(kind: str) -> str:
    """An index kind as the picker shows it."""
    return _(INDEX_LABELS[kind]) if kind in INDEX_LABELS else kind


def analogy_note(done: int, total: int, *, head: bool) -> str:
    """How many image - A + B queries the report scored, and what they include."""
    text = _("Image − A + B over {done:,} queries").format(done=done)
    if done < total:
        text += _(" (a seeded sample of {total:,})").format(total=total)
    return text + (
        _(". In the head's space these include faces it trained on.") if head else _(".")
    )


def head_table(rows: list[dict[str, Any]]) -> tuple[Any, list[str]]:
    """The head comparison as shown (headers and space names translated) and its rate columns."""
    import pandas as pd

    table = pd.DataFrame(rows)
    rates = [c for c in table.columns if "top" in c]
    if "embedding" in table.columns:
        table["embedding"] = [shown(str(v)) for v in table["embedding"]]
    names = {c: _(HEAD_COLUMNS[c]) if c in HEAD_COLUMNS else c for c in table.columns}
    return table.rename(columns=names), [names[c] for c in rates]


def _progress(text: str) -> tuple[Callable[[int, int, str], None], Any]:
    bar = st.progress(0.0, text=text)

    def report(done: int, total: int, message: str) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{shown(message)} ({done:,}/{total:,})")

    return report, bar


def view(result: Any, pattern: str) -> Any:
    """The set seen through one attribute (``attribute_view``), held in this session."""
    key = (set_key(result), pattern)
    held = st.session_state.get(f"{PAGE}_view_cache")
    if held is not None and held[0] == key:
        return held[1]
    report, bar = _progress(_("Preparing the attribute view (stored for next time) ..."))
    try:
        out = attribute_view(
            result,
            pattern,
            store=state.session_store(),
            get_model=lambda: cache.embedder_for(result),
            progress=report,
        )
    finally:
        bar.empty()
    st.session_state[f"{PAGE}_view_cache"] = (key, out)
    return out


def view_key(v: Any) -> str:
    """The content key of a view's faces."""
    return set_key(v.result)


def extractor(layer: str) -> Any:
    """A FaceNet feature extractor for ``layer`` (the reference Keras model: it has the layers)."""
    with st.spinner(_("Preparing the feature extractor ...")):
        return _extractor(layer)


@st.cache_resource(show_spinner=False)
def _extractor(layer: str) -> Any:
    from facedash.pfe.head import FeatureExtractor

    return FeatureExtractor(cache.model("facenet"), layer=layer, face_score=False)


def features(v: Any, name: str) -> np.ndarray:
    """The ``name`` features of every face of the view (computed once, kept beside the store)."""
    key = (view_key(v), name)
    held = st.session_state.get(f"{PAGE}_features")
    if held is not None and held[0] == key:
        return held[1]
    report, bar = _progress(_("Computing the features (once per set, stored) ..."))
    try:
        out = search.view_features(
            v, name, extractor=extractor, store=state.session_store(), progress=report
        )
    finally:
        bar.empty()
    st.session_state[f"{PAGE}_features"] = (key, out)
    return out


def train_head(
    v: Any, method: str, epochs: int, feature: str, progress: Callable[[int, int, float], None]
) -> Any:
    """Train the triplet head on ~70% of the photos and score the arithmetic on the rest."""
    from facedash.search.triplet import compare_head

    feats = features(v, feature)
    cmp = compare_head(
        v.result.embeddings,
        v.persons,
        v.values,
        v.sources,
        features=feats,
        feature=feature,
        method=method,
        epochs=epochs,
        progress=progress,
    )
    st.session_state[f"{PAGE}_head_result"] = ((view_key(v), method, epochs, feature), cmp)
    return cmp


def held_head(v: Any, *settings: Any) -> Any:
    """The head comparison trained in this session for this view, or None.

    With ``settings`` (method, epochs, features) only one trained with exactly those.
    """
    held = st.session_state.get(f"{PAGE}_head_result")
    if held is None or held[0][0] != view_key(v):
        return None
    if settings and held[0][1:] != settings:
        return None
    return held[1]


def space_key(v: Any, space: str) -> str:
    """A name for a search space: the embedding, or a head named by its weights."""
    if space == EMBEDDING:
        return EMBEDDING
    head = held_head(v).head
    return "head-" + hashlib.sha1(head.weight.tobytes()).hexdigest()[:12]


def vectors(v: Any, space: str) -> np.ndarray:
    """The view's vectors in ``space``: its embeddings, or the trained head's output."""
    if space == EMBEDDING:
        return np.asarray(v.result.embeddings)
    head = held_head(v).head
    return head.transform(features(v, head.feature))


@st.cache_resource(max_entries=4, show_spinner=False)
def _index(vkey: str, space: str, kind: str, _vectors: np.ndarray) -> search.Index:
    return search.make_index(_vectors, kind)


def index(v: Any, space: str, kind: str) -> search.Index:
    """The nearest-neighbour index of the view in ``space`` (built once per view, space, kind)."""
    with st.spinner(_("Building the index ...")):
        return _index(view_key(v), space_key(v, space), kind, vectors(v, space))


@st.cache_data(max_entries=16, show_spinner=False)
def _report(
    vkey: str, space: str, method: str, kind: str, k: int, _v: Any, _index: Any, _vec: Any
) -> search.ArithmeticReport:
    return search.evaluate_arithmetic(
        _vec,
        _v.persons,
        _v.values,
        method=method,
        index=_index,
        k=k,
        sources=_v.sources if _v.synthetic else None,
    )


def report(v: Any, space: str, method: str, kind: str) -> search.ArithmeticReport:
    """Every person x attribute query (and a bounded sample of image - A + B), scored.

    Always with the ``REPORT_K`` nearest faces, so moving the k slider recomputes nothing.
    """
    vec = vectors(v, space)
    idx = index(v, space, kind)
    with st.spinner(_("Scoring every person × attribute ...")):
        return _report(view_key(v), space_key(v, space), method, kind, REPORT_K, v, idx, vec)


@st.cache_data(max_entries=16, show_spinner=False)
def _groups(vkey: str, space: str, method: str, _v: Any, _vec: Any) -> tuple[Any, Any]:
    return (
        search.group_vectors(_vec, _v.persons, method),
        search.group_vectors(_vec, _v.values.astype(str), method),
    )


def groups(v: Any, space: str, method: str) -> tuple[search.GroupVectors, search.GroupVectors]:
    """The person and attribute vectors of the view in ``space`` (once per view, space, method)."""
    return _groups(view_key(v), space_key(v, space), method, v, vectors(v, space))


@st.cache_data(max_entries=8, show_spinner=False)
def _identification(key: str, _result: Any) -> search.Identification:
    return search.identification(_result.embeddings, _result.people)


def identification(result: Any) -> search.Identification:
    """Leave-one-out face search of the set (a bounded sample of probes), once per set."""
    with st.spinner(_("Searching with every face ...")):
        return _identification(set_key(result), result)


def face_options(n: int, limit: int = FACE_CHOICES) -> list[int]:
    """The faces a picker offers: all of them, or a seeded sample of ``limit`` in set order."""
    return search.sample_queries(n, limit).tolist()


def nearest(
    embeddings: np.ndarray, query: np.ndarray, k: int, exclude: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` faces most cosine-similar to ``query`` (face ``exclude`` left out): ids, similarities."""
    found = search.ExactIndex(embeddings).search(query, k + 1)
    ids, sims = found.ids[0], found.similarity[0]
    keep = ids != exclude
    return ids[keep][:k], sims[keep][:k]
