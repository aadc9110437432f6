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
import streamlit as st

from facedash.detect import AlignSettings, DetectorSettings
from facedash.explain import parse_target
from facedash.explain.analysis import Analysis, analyse, heat_of, set_average
from facedash.explain.crops import aligned_crops, face_from_photo
from facedash.explain.faithfulness import randomized_copy, spearman
from facedash.explain.methods import make
from facedash.explain.regions import aligned_landmarks
from facedash.explain.targets import centroid_of_each, nearest_centroid
from facedash.explain.targets import person_centroids as centroids
from facedash.ui import cache, state
from facedash.ui.keys import set_key

TOP_BLOCKS = 4  # blocks shuffled by the randomization check
WHOLE_SET_MAX = 300  # faces explained by the whole-set view at most (a seeded sample past it)
WHOLE_SET_CHUNK = 50  # faces per explanation call in the whole-set view (one progress step)


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
    _, align = state.settings()
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
    _, align = state.settings()
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


@st.cache_data(show_spinner="Finding the face ...", max_entries=8)
def own_face(
    data: bytes, model_id: str, backend: str, precision: str, margin: float, rotate: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A photo's largest face: aligned crop, landmarks and embedding; cached on the photo's bytes."""
    settings = AlignSettings(margin=margin, rotate=rotate)
    _, face, crop = face_from_photo(data, cache.detector(DetectorSettings()), settings)
    lms = aligned_landmarks(face, crop.shape[0], margin=margin, rotate=rotate)
    # Embedded like the set (same backend and precision), so similarities never mix precisions.
    return crop, lms, cache.embedder(model_id, backend, precision).embed(crop[None])[0]


@st.cache_resource(show_spinner="Shuffling the top blocks of a copy of the model ...")
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


def inputs(result: Any, faces_idx: list[int], upload: Any | None) -> Inputs:
    """The chosen faces of the set; an uploaded photo's face replaces the first one."""
    faces = face_crops(result, faces_idx)
    out = Inputs(
        faces,
        landmarks_of(result, faces_idx, faces.shape[1]),
        result.embeddings[faces_idx],
        [label(result, i) for i in faces_idx],
        [str(result.people[i]) for i in faces_idx],
    )
    if upload is not None:
        _, align = state.settings()
        crop, lms, emb = own_face(
            upload.getvalue(),
            result.model_id,
            result.backend,
            result.precision,
            align.margin,
            align.rotate,
        )
        out.faces, out.landmarks, out.embeddings = (
            faces.copy(),
            out.landmarks.copy(),
            out.embeddings.copy(),
        )
        out.faces[0], out.landmarks[0], out.embeddings[0] = crop, lms, emb
        names, cents = centroids(result.embeddings, result.people)
        out.persons[0] = names[nearest_centroid(emb, names, cents)[0]]
        out.titles[0] = f"{upload.name} (nearest person: {out.persons[0]})"
    return out


def references(result: Any, target: str, x: Inputs) -> np.ndarray | None:
    """Reference vectors for a pair (each face against the other) or the persons' centroids."""
    if target == "reference":
        return x.embeddings[::-1]
    if target == "centroid":
        names, cents = centroids(result.embeddings, result.people)
        return cents[[names.index(p) for p in x.persons]]
    return None


def randomization(
    model_id: str, method: str, layer: str | None, spec: str, reference, faces, heat
) -> tuple[np.ndarray, np.ndarray]:
    """The same faces explained by the randomized model: its heat maps and the Spearman ρ per face."""
    tgt = parse_target(spec, reference=reference, centroid=reference)
    er = make(method, randomized(model_id), layer=layer).explain(faces, tgt)
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
        return "every face", "."
    return (
        f"a sample of {WHOLE_SET_MAX} faces",
        f" (a seeded sample: {n:,} faces would take too long, and the average of "
        f"{WHOLE_SET_MAX} already shows where the model looks).",
    )


def whole_set_with_progress(
    result: Any, method: str, layer: str | None, target: str, spec: str
) -> tuple:
    """``whole_set`` behind a progress bar (one step per chunk of faces)."""
    bar = st.progress(0.0, text="Explaining the faces ...")
    try:
        return whole_set(
            result,
            method,
            layer,
            target,
            spec,
            progress=lambda done, total: bar.progress(
                done / total, text=f"Explained {done} of {total} faces ..."
            ),
        )
    finally:
        bar.empty()


def set_crops_key(result: Any) -> tuple:
    """The key the set's crops are cached on: the set's content key and its alignment."""
    return (set_key(result), result.align_key)
