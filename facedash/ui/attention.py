"""The Attention page's cached computations: aligned crops, explanations, a photo's face, checks.

Explanations need gradients, so they always run on the TensorFlow model
(``gradient_model``), whatever backend embeds the faces. Only the faces a view
needs are re-cropped from their photos (one face, a pair, or the whole-set
sample), so a 10,000-face set costs the Attention page what a 100-face set does;
the whole-set average runs on a seeded sample of at most ``WHOLE_SET_MAX`` faces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from facedash.explain import METHODS, parse_target
from facedash.explain.analysis import Analysis, analyse, heat_of, set_average
from facedash.explain.crops import aligned_crops
from facedash.explain.faithfulness import RANDOMIZATION_BOUND, randomized_copy, spearman
from facedash.explain.methods import blocks, default_layer, make
from facedash.explain.targets import centroid_of_each
from facedash.explain.targets import person_centroids as centroids
from facedash.faces.detect import AlignSettings, aligned_landmarks
from facedash.i18n import N_, _
from facedash.models.cards import spec
from facedash.ui import cache, state
from facedash.ui.keys import set_key
from facedash.verification.compare import face_keys, shared_rows

TOP_BLOCKS = 4  # blocks shuffled by the randomization check
WHOLE_SET_MAX = 300  # faces explained by the whole-set view at most (a seeded sample past it)
WHOLE_SET_CHUNK = 50  # faces per explanation call in the whole-set view (one progress step)
# The target picker's values (keys, as the CLI names them) and what it shows for each.
TARGETS = {
    "centroid": N_("Similarity to the person's centroid"),
    "reference": N_("Similarity to a second face"),
    "top-channel": N_("Top channel, argmax |embedding| (the blog's reference)"),
    "channel": N_("A channel I pick"),
}
REGION_COLUMNS = ("eyes", "nose", "mouth", "other")  # the shares table's columns (data keys)
# Shown names of the library's English words (explainer labels, region and group names).
_SHOWN = {
    "Occlusion": N_("Occlusion"),
    "All faces": N_("All faces"),
    "group": N_("group"),
    "eyes": N_("eyes"),
    "nose": N_("nose"),
    "mouth": N_("mouth"),
    "other": N_("other"),
}
# The library's messages a page shows (English as the library words them), translated.
_ERRORS = {
    "no face found in the photo": N_("no face found in the photo"),
}
_SELF = N_(
    "cannot explain a face's similarity to {what} when that is its own embedding: the model's "
    "output is L2-normalised, so the gradient of cos(f(x), f(x)) is exactly zero. Pick another "
    "face, or the person's centroid computed from other photos."
)
_SELF_WHAT = {
    "the reference face": N_("the reference face"),
    "the person's centroid": N_("the person's centroid"),
}


def unexplainable(model_id: str) -> str | None:
    """Why the page's methods cannot explain ``model_id`` (None when they can), in the session's language.

    The methods differentiate a Keras model and read its inner layers: FaceNet, and a
    user's Keras model taking NHWC input (its card's channels and normalisation are applied
    to the faces first, ``facedash.explain.base.prepare_of``).
    """
    card = spec(model_id)
    if card.runtime == "keras-facenet" or (card.runtime == "keras" and card.layout == "nhwc"):
        return None
    return _(
        "The gradient methods need a model's gradients and inner layers: FaceNet, or a Keras "
        "model taking NHWC input. {model} runs on {runtime} ({prep}), which gives them neither; "
        "the pair maps below explain it with forward passes only."
    ).format(model=card.name, runtime=card.runtime, prep=card.preprocessing)


def gradient_model(model_id: str) -> Any:
    """The Keras model of ``model_id`` that the explainers differentiate (loaded once per server)."""
    return cache.model(model_id).model  # type: ignore[attr-defined]


@st.cache_data(show_spinner=False, max_entries=32)
def crops(
    key: tuple, _load: Callable[[], Any], _rows: list, margin: float, rotate: bool
) -> np.ndarray:
    """Faces ``_rows`` aligned to the model's input, re-cropped from their photos.

    Cached on ``key`` (the set's content key, its alignment key and the face
    indices) and the alignment; ``_load`` gives the data set only on a miss.
    """
    dataset = _load()
    if dataset is None:  # pages ask only once a set is open
        raise ValueError("no face set is open")
    return aligned_crops(dataset, _rows, AlignSettings(margin=margin, rotate=rotate))


def face_crops(result: Any, indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """Aligned crops of the faces ``indices`` of the current set (see ``crops``)."""
    _unused, align = state.settings()
    idx = tuple(int(i) for i in indices)
    return crops(
        (*set_crops_key(result), idx),
        state.current_dataset,
        [result.rows[i] for i in idx],
        align.margin,
        align.rotate,
    )


def landmarks_of(result: Any, indices: Any, size: int) -> np.ndarray:
    """The five landmarks of faces ``indices`` in aligned-crop coordinates ``(K, 5, 2)``."""
    _unused, align = state.settings()
    return np.stack(
        [
            aligned_landmarks(result.rows[i], size, margin=align.margin, rotate=align.rotate)
            for i in indices
        ]
    )


@st.cache_data(show_spinner=False, max_entries=64)
def explain(
    model_id: str,
    faces: np.ndarray,
    landmarks: np.ndarray,
    method: str,
    layer: str | None,
    target: str,
    reference: np.ndarray | None,
    deletion: bool = True,
) -> Analysis:
    """Maps, region shares and deletion curves; cached on every argument (faces by content)."""
    tgt = parse_target(target, reference=reference, centroid=reference)
    return analyse(
        gradient_model(model_id),
        faces,
        landmarks,
        method=method,
        layer=layer,
        target=tgt,
        deletion=deletion,
    )


@st.cache_resource(show_spinner=False)
def randomized(model_id: str) -> Any:
    """A copy of the model with its top blocks shuffled, built once per server."""
    return randomized_copy(gradient_model(model_id), top_blocks=TOP_BLOCKS)


@dataclass
class Inputs:
    """What one explanation is asked about: the faces, their landmarks, references, titles."""

    faces: np.ndarray
    landmarks: np.ndarray
    embeddings: np.ndarray
    titles: list[str]
    persons: list[str]


def label(result: Any, i: int) -> str:
    """A face's person and file name."""
    row = result.rows[i]
    return f"{row.person} · {row.name}"


def inputs(result: Any, faces_idx: list[int]) -> Inputs:
    """The chosen faces of the set (a photo's face replaces one in ``facedash.ui.camera``)."""
    faces = face_crops(result, faces_idx)
    out = Inputs(
        faces,
        landmarks_of(result, faces_idx, faces.shape[1]),
        result.embeddings[faces_idx],
        [label(result, i) for i in faces_idx],
        [str(result.people[i]) for i in faces_idx],
    )
    return out


def references(result: Any, target: str, x: Inputs) -> np.ndarray | None:
    """Reference vectors for a pair (each face against the other) or the persons' centroids."""
    if target == "reference":
        return x.embeddings[::-1]
    if target == "centroid":
        names, cents = centroids(result.embeddings, result.people)
        return cents[[names.index(p) for p in x.persons]]
    return None


def layer_names(model_id: str) -> tuple[list[Any], str | None]:
    """The model's explainable layers (``blocks``) and the one the page starts on."""
    model = gradient_model(model_id)
    return blocks(model), default_layer(model)


def compare_layer(model_id: str, layer: str | None) -> str | None:
    """The second model's layer for the first's ``layer``: the same name where it has one.

    Otherwise its own default layer (``default_layer``); None for methods without a layer.
    """
    if layer is None:
        return None
    listed, default = layer_names(model_id)
    return layer if any(b.name == layer for b in listed) else default


def matched(result: Any, other: Any, faces_idx: Sequence[int]) -> list[int] | None:
    """The rows of ``other`` (the same photos under another model) that hold ``faces_idx``.

    None when the other model did not embed every one of those faces.
    """
    ia, ib = shared_rows(face_keys(result), face_keys(other))
    where = dict(zip(ia.tolist(), ib.tolist(), strict=True))
    rows = [where.get(int(i)) for i in faces_idx]
    return None if any(r is None for r in rows) else [int(r) for r in rows]  # type: ignore[arg-type]


def compare_spec(spec: str, dim: int) -> str | None:
    """The first model's target for the second: a channel it lacks gives None."""
    if spec.startswith("channel:") and int(spec.split(":", 1)[1]) >= dim:
        return None
    return spec


def compare_caption(model_id: str, a: Analysis, j: int) -> str:
    """``facenet · score 0.812 · deletion AUC 0.31 (random 0.52)`` for one face's map."""
    text = _("{model} · score {score:.3f}").format(model=model_id, score=a.explanation.scores[j])
    if a.curves is not None:
        text += " · " + _("deletion AUC {auc:.2f} (random {random:.2f})").format(
            auc=a.curves.auc[j], random=a.curves.random_auc[j]
        )
    return text


def randomization(
    model_id: str, method: str, layer: str | None, spec: str, reference, faces, heat
) -> tuple[np.ndarray, np.ndarray]:
    """The same faces explained by the randomized model: its heat maps and the Spearman ρ per face."""
    tgt = parse_target(spec, reference=reference, centroid=reference)
    with st.spinner(_("Shuffling the top blocks of a copy of the model ...")):
        model = randomized(model_id)
    er = make(method, model, layer=layer).explain(faces, tgt)
    rheat = heat_of(er.maps)
    return rheat, spearman(heat, rheat)


def whole_set_sample(n: int, limit: int, seed: int = 0) -> np.ndarray:
    """The faces the whole-set view explains: all ``n``, or a seeded sample of ``limit`` (sorted)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _nearest_others(embeddings: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """For each face of ``faces``, its most similar other face of the whole set (``len(faces) x N``)."""
    emb = np.asarray(embeddings, dtype=np.float32)
    sims = emb[faces] @ emb.T
    sims[np.arange(len(faces)), faces] = -np.inf
    return sims.argmax(axis=1)


def whole_set(
    result: Any,
    method: str,
    layer: str | None,
    target: str,
    spec: str,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> tuple:
    """The sampled faces explained (no deletion curves): average maps, per-face records, the sample.

    With a pair target each face is compared with its nearest other face of the
    whole set; with the centroid target, with its own person's centroid. Faces are
    explained ``WHOLE_SET_CHUNK`` at a time (each chunk cached), ``progress(done,
    total)`` after each.
    """
    faces = whole_set_sample(len(result.rows), WHOLE_SET_MAX if limit is None else limit)
    crops_all = face_crops(result, faces)
    lms = landmarks_of(result, faces, crops_all.shape[1])
    ref = None
    if target == "reference":
        ref = result.embeddings[_nearest_others(result.embeddings, faces)]
    elif target == "centroid":
        ref = centroid_of_each(result.embeddings, result.people)[faces]
    heat, records = [], []
    names = [str(result.names[i]) for i in faces]
    for start in range(0, len(faces), WHOLE_SET_CHUNK):
        part = slice(start, start + WHOLE_SET_CHUNK)
        a = explain(
            result.model_id,
            crops_all[part],
            lms[part],
            method,
            layer,
            spec,
            None if ref is None else ref[part],
            deletion=False,
        )
        heat.append(a.heat)
        records += a.records(names[part])
        if progress is not None:
            progress(min(start + WHOLE_SET_CHUNK, len(faces)), len(faces))
    people = np.asarray(result.people)[faces]
    return set_average(np.concatenate(heat), lms, people), records, faces


def whole_set_words(n: int) -> tuple[str, str]:
    """What the whole-set view explains ("every face" or "a sample of 300 faces"), and a note why."""
    if n <= WHOLE_SET_MAX:
        return _("every face"), _(".")
    return (
        _("a sample of {n} faces").format(n=WHOLE_SET_MAX),
        _(
            " (a seeded sample: {n:,} faces would take too long, and the average of "
            "{limit} already shows where the model looks)."
        ).format(n=n, limit=WHOLE_SET_MAX),
    )


def whole_set_with_progress(
    result: Any, method: str, layer: str | None, target: str, spec: str
) -> tuple:
    """``whole_set`` behind a progress bar (one step per chunk of faces)."""
    bar = st.progress(0.0, text=_("Explaining the faces ..."))
    try:
        return whole_set(
            result,
            method,
            layer,
            target,
            spec,
            progress=lambda done, total: bar.progress(
                done / total,
                text=_("Explained {done} of {total} faces ...").format(done=done, total=total),
            ),
        )
    finally:
        bar.empty()


def set_crops_key(result: Any) -> tuple:
    """The key the set's crops are cached on: the set's content key and its alignment."""
    return (set_key(result), result.align_key)


def method_label(method: str) -> str:
    """An explainer's name as the pickers and captions show it."""
    label = METHODS[method].label
    return _(_SHOWN.get(label, label))


def error_text(exc: Exception) -> str:
    """A library error the page shows, in the page's language (unknown ones as they are)."""
    text = str(exc)
    if text in _ERRORS:
        return _(_ERRORS[text])
    for what, shown in _SELF_WHAT.items():
        if text == _SELF.format(what=what):
            return _(_SELF).format(what=_(shown))
    return text


def group_names(names: Sequence[str]) -> list[str]:
    """The whole-set view's group names as shown ("All faces" translated; persons as they are)."""
    return [
        _(_SHOWN["All faces"]) if i == 0 and n == "All faces" else n for i, n in enumerate(names)
    ]


def shares_table(names: Sequence[str], shares: np.ndarray) -> pd.DataFrame:
    """The region shares per group, with the headers in the page's language."""
    table = pd.DataFrame(shares, columns=[_(_SHOWN[c]) for c in REGION_COLUMNS])
    table.insert(0, _(_SHOWN["group"]), list(names))
    return table


def deletion_note(auc: float, random_auc: float) -> str:
    """The deletion check's verdict under a face's curve."""
    verdict = (
        _("faster than random: faithful")
        if auc < random_auc
        else _("not faster than random: do not trust this map")
    )
    return _("Deletion AUC {auc:.3f} vs random {random:.3f}: {verdict}.").format(
        auc=auc, random=random_auc, verdict=verdict
    )


def deletion_csv(curves: Any, titles: Sequence[str]) -> bytes:
    """The deletion curves, one row per face, order and step (English columns, as exported)."""
    long = pd.DataFrame(
        [
            {"face": titles[j], "fraction_deleted": f, "order": order, "score": s}
            for j in range(len(titles))
            for order, ys in (("salient", curves.scores[j]), ("random", curves.random_scores[j]))
            for f, s in zip(curves.fractions, ys, strict=True)
        ]
    )
    return long.to_csv(index=False).encode()


def randomization_note() -> str:
    """What the model-randomization check does, and the bound it holds the maps to."""
    return _(
        "Shuffles the weights of the top {n} blocks (Bottleneck, Block8_6, Block8_5, "
        "Block8_4) of a copy of the model and explains the same faces again. A map that "
        "explains the model must change: Spearman rank correlation below {bound:g}."
    ).format(n=TOP_BLOCKS, bound=RANDOMIZATION_BOUND)


def panel_heading(title: str, target: str, score: float) -> str:
    """A face's row heading: its title and the score the map explains."""
    return _("**{title}** · {target} score {score:.3f}").format(
        title=title, target=target, score=score
    )
