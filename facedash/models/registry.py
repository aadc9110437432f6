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
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from facedash.errors import FacedashError
from facedash.models import race
from facedash.models.backends import Choice, ProbeSource, requested, resolve, tensorflow_gpus
from facedash.models.cards import ModelSpec, spec


class Embedder(Protocol):
    """A loaded model: aligned uint8 faces in, L2-normalised float32 embeddings out."""

    spec: ModelSpec
    device: str
    backend: str
    precision: str

    def embed(self, faces: np.ndarray) -> np.ndarray:
        """Embeddings ``(N, dim)`` of aligned faces ``(N, size, size, 3)`` uint8."""
        ...


RUNTIMES: dict[str, str] = {
    "keras-facenet": "facedash.models.facenet:load",
    "dlib": "facedash.models.dlib:load",
    "onnx": "facedash.models.user:load",
    "keras": "facedash.models.user:load",
    "savedmodel": "facedash.models.user:load",
    "openvino": "facedash.models.user:load",
}
"""A card's ``runtime`` -> the ``module:function`` that builds its ``Embedder`` (imported on first use).

The built-in loaders take the asset folder; a user's card's loader takes the card too."""
RUNTIME_BACKENDS = {
    "onnx": "onnxruntime",
    "keras": "keras",
    "savedmodel": "tensorflow",
    "openvino": "openvino",
}


def load_model(model_id: str, root: Path | None = None) -> Embedder:
    """Build a new ``Embedder`` (not cached: the caller owns caching)."""
    card = spec(model_id, root)
    module_name, func = RUNTIMES[card.runtime].split(":")
    loader = getattr(importlib.import_module(module_name), func)
    return loader(root) if card.builtin else loader(card, root)


_cache: dict[tuple[str, str], Embedder] = {}
_cache_lock = threading.RLock()


def get_model(model_id: str, root: Path | None = None) -> Embedder:
    """The process-wide reference ``Embedder`` for ``model_id``, loaded on first use."""
    key = (spec(model_id, root).store_id, str(root))  # a changed card is a new model
    with _cache_lock:
        if key not in _cache:
            _cache[key] = load_model(model_id, root)
        return _cache[key]


def plan(
    model_id: str,
    backend: str | None = None,
    precision: str | None = None,
    root: Path | None = None,
) -> Choice:
    """What ``model_id`` will run on (cheap: loads nothing); ``plan(...).key`` is its store key.

    A user's card runs on its own runtime at fp32, whatever backend is asked for.
    FaceNet under ``auto`` on a CPU runs what this machine's backend race picked
    (``facedash.models.race``, read from its cache); before the race has run,
    ``resolve``'s rule stands.
    """
    card = spec(model_id)
    if not card.builtin:
        return Choice(model_id, RUNTIME_BACKENDS[card.runtime], "fp32", store_id=card.store_id)
    choice = resolve(model_id, backend, precision)
    if _raced(model_id, backend, precision):
        table = race.read(root)
        if table is not None:
            return Choice(model_id, table["pick"]["backend"], table["pick"]["precision"])
    elif (
        model_id == "facenet"
        and choice.backend == "openvino"
        and not choice.note
        and requested(backend, precision)[1] == "auto"
    ):  # OpenVINO by name, precision auto: its fastest passing precision
        table = race.read(root)
        if table is not None:
            pick, _ = race.decide([r for r in table["candidates"] if r["backend"] == "openvino"])
            if pick is not None:
                return Choice(model_id, "openvino", pick["precision"])
    return choice


def _raced(model_id: str, backend: str | None, precision: str | None) -> bool:
    """Whether the race decides: FaceNet, ``auto`` for backend and precision, no GPU."""
    return (
        model_id == "facenet"
        and requested(backend, precision) == ("auto", "auto")
        and not tensorflow_gpus()
    )


def race_table(
    root: Path | None = None, probe: ProbeSource | None = None, *, run: bool = True
) -> dict[str, Any] | None:
    """The backend race for FaceNet on this machine: cached, else run now on ``probe`` (None: not run)."""
    table = race.read(root)
    if table is not None or probe is None or not run:
        return table
    card = spec("facenet", root)
    threshold = float(card.default_thresholds.get("cosine", 0.6))
    return race.run(root, lambda: get_model("facenet", root), probe, threshold=threshold)


def _race_first(
    model_id: str,
    root: Path | None,
    backend: str | None,
    precision: str | None,
    probe: ProbeSource | None,
) -> None:
    """Run the race before the first ``auto`` load on this machine (when a probe is given)."""
    if probe is not None and _raced(model_id, backend, precision):
        try:
            race_table(root, probe)
        except FacedashError:  # no weights or demo faces: the load says so, as before
            pass


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
    probe: ProbeSource | None = None,
) -> Embedder:
    """A new embedder on the chosen backend; the reference (with a ``note``) if that one fails.

    ``probe`` gives aligned faces to check a backend's first conversion against the
    reference (``facedash.faces.probe.demo_probe``); it is called only when a
    converted model has to be built, and stored with it. Without one, a backend
    that must be built first is refused and the reference runs (``note`` says why).
    What loaded is remembered for ``loaded``: the sidebar and ``facedash doctor``
    can say where a model runs without loading it again.
    """
    _race_first(model_id, root, backend, precision, probe)
    choice = plan(model_id, backend, precision, root)
    embedder = _load_choice(choice, root, probe)
    with _cache_lock:
        _loaded[(model_id, str(root), choice)] = describe(embedder)
    return embedder


def _load_choice(choice: Choice, root: Path | None, probe: ProbeSource | None) -> Embedder:
    import time

    t0 = time.perf_counter()
    if choice.store_id:  # a user's card: its own runtime, nothing converted
        return get_model(choice.model_id, root)
    if choice.backend == "onnxruntime":
        return _load_onnx(choice, root, t0)
    if choice.backend == "openvino":
        from facedash.models import openvino_facenet

        try:
            return openvino_facenet.load(
                choice.precision,
                root,
                reference=lambda: get_model(choice.model_id, root),
                probe=probe,
            )
        except openvino_facenet.BackendRefused as exc:
            note = f"{exc}; using TensorFlow fp32"
        reference = get_model(choice.model_id, root)
        return Fallback(reference, note, round(time.perf_counter() - t0, 2))
    reference = get_model(choice.model_id, root)
    if choice.note:
        return Fallback(reference, f"{choice.note}; using TensorFlow fp32", 0.0)
    return reference


def _load_onnx(choice: Choice, root: Path | None, t0: float) -> Embedder:
    """FaceNet on ONNX Runtime (the race's pick), with the race's agreement figures."""
    import time

    from facedash.models import onnx_facenet
    from facedash.models.openvino_facenet import Agreement

    try:
        embedder = onnx_facenet.load(root, reference=lambda: get_model(choice.model_id, root))
    except onnx_facenet.OnnxUnavailable as exc:
        reference = get_model(choice.model_id, root)
        return Fallback(
            reference, f"{exc}; using TensorFlow fp32", round(time.perf_counter() - t0, 2)
        )
    table = race.read(root) or {}
    row = next(
        (r for r in table.get("candidates", []) if r["backend"] == "onnxruntime" and r["passed"]),
        None,
    )
    if row is not None:
        embedder.agreement = Agreement(
            table.get("faces", race.FACES), row["min_cosine"], row["mean_cosine"], race.MIN_COSINE
        )
    return embedder


_loaded: dict[tuple[str, str, Choice], dict[str, Any]] = {}


def loaded(
    model_id: str,
    root: Path | None = None,
    *,
    backend: str | None = None,
    precision: str | None = None,
) -> dict[str, Any] | None:
    """``describe()`` of the embedder this process loaded for that choice, or None (loads nothing).

    Never waits for a load in progress (which holds the cache's lock): the sidebar asks
    while the server's warm-up loads the model.
    """
    key = (model_id, str(root), plan(model_id, backend, precision, root))
    return _loaded.get(key)  # one dict read: atomic, no lock needed


_embedders: dict[tuple[str, str, Choice], Embedder] = {}


def get_embedder(
    model_id: str,
    root: Path | None = None,
    *,
    backend: str | None = None,
    precision: str | None = None,
    probe: ProbeSource | None = None,
) -> Embedder:
    """The process-wide embedder for ``model_id`` on the chosen backend, loaded on first use."""
    _race_first(model_id, root, backend, precision, probe)
    key = (model_id, str(root), plan(model_id, backend, precision, root))
    with _cache_lock:
        if key not in _embedders:
            _embedders[key] = load_embedder(
                model_id, root, backend=backend, precision=precision, probe=probe
            )
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
