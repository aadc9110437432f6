"""The Attention page's cached computations: aligned crops, explanations, a photo's face, checks.

Explanations need gradients, so they always run on the TensorFlow model
(``gradient_model``), whatever backend embeds the faces.
"""

from __future__ import annotations

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
from facedash.explain.targets import centroid_of_each, nearest_centroid, nearest_other
from facedash.explain.targets import person_centroids as centroids
from facedash.ui import cache, state

TOP_BLOCKS = 4  # blocks shuffled by the randomization check


def gradient_model(model_id: str) -> Any:
    """The Keras model of ``model_id`` that the explainers differentiate (loaded once per server)."""
    return cache.model(model_id).model  # type: ignore[attr-defined]


@st.cache_data(show_spinner=False, max_entries=4)
def crops(key: tuple, _dataset: Any, _rows: list, margin: float, rotate: bool) -> np.ndarray:
    """Every face of the set aligned to the model's input; cached on (set fingerprint, alignment)."""
    return aligned_crops(_dataset, _rows, AlignSettings(margin=margin, rotate=rotate))


def set_crops(result: Any) -> np.ndarray:
    """The current set's aligned crops (see ``crops``)."""
    _, align = state.settings()
    return crops(
        set_crops_key(result), state.current_dataset(), result.rows, align.margin, align.rotate
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
    data: bytes, model_id: str, margin: float, rotate: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A photo's largest face: aligned crop, landmarks and embedding; cached on the photo's bytes."""
    settings = AlignSettings(margin=margin, rotate=rotate)
    _, face, crop = face_from_photo(data, cache.detector(DetectorSettings()), settings)
    lms = aligned_landmarks(face, crop.shape[0], margin=margin, rotate=rotate)
    return crop, lms, cache.model(model_id).embed(crop[None])[0]


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
    all_crops = set_crops(result)
    faces = all_crops[faces_idx]
    out = Inputs(
        faces,
        landmarks_of(result, faces_idx, all_crops.shape[1]),
        result.embeddings[faces_idx],
        [label(result, i) for i in faces_idx],
        [str(result.people[i]) for i in faces_idx],
    )
    if upload is not None:
        _, align = state.settings()
        crop, lms, emb = own_face(upload.getvalue(), result.model_id, align.margin, align.rotate)
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


def whole_set(result: Any, method: str, layer: str | None, target: str, spec: str) -> tuple:
    """Every face explained (no deletion curves): the average maps and per-face records.

    With a pair target each face is compared with its nearest other face; with the
    centroid target, with its own person's centroid.
    """
    all_crops = set_crops(result)
    lms = landmarks_of(result, range(len(result.rows)), all_crops.shape[1])
    ref = None
    if target == "reference":
        ref = result.embeddings[nearest_other(result.embeddings)]
    elif target == "centroid":
        ref = centroid_of_each(result.embeddings, result.people)
    s = explain(result.model_id, all_crops, lms, method, layer, spec, ref, deletion=False)
    return set_average(s.heat, lms, result.people), s.records(list(result.names))


def set_crops_key(result: Any) -> tuple:
    """The key the set's crops are cached on: the set's fingerprint and its alignment."""
    dataset = state.current_dataset()
    if dataset is None:  # pages ask only once a set is open
        raise ValueError("no face set is open")
    return (dataset.fingerprint(), result.align_key)
