"""FaceNet on ONNX Runtime (CPU, fp32): converted once with tf2onnx, cached, loaded without TensorFlow.

The conversion needs tf2onnx (``requirements-convert.txt``) and the live Keras
model (the caller's ``reference``); it is written to the converted-model cache
(``facedash.models.ircache``: ``.../onnxruntime-<version>/fp32/model.onnx``).
A load from the cache needs only ONNX Runtime. The agreement with the fp32
reference is checked by the caller (the backend race), on the caller's probe.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from facedash import assets
from facedash.errors import FacedashError
from facedash.models import ircache
from facedash.models.cards import MODELS, ModelSpec
from facedash.models.facenet import embed_prewhitened

BATCH = 32
CONVERT_HINT = "pip install -r requirements-convert.txt"


class OnnxUnavailable(FacedashError):
    """ONNX Runtime missing, no conversion possible (tf2onnx absent), or a failed conversion."""


def version() -> str | None:
    """ONNX Runtime's version, or None (package metadata: no import)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    try:
        return importlib.metadata.version("onnxruntime")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - odd install
        return "unknown"


def converter_available() -> bool:
    """Whether tf2onnx (the Keras -> ONNX converter) is importable."""
    return importlib.util.find_spec("tf2onnx") is not None


def cache_entry(root: Path | None = None) -> ircache.Entry:
    """Where the converted FaceNet lives (nothing is created)."""
    return ircache.entry(
        "facenet", assets.WEIGHTS_SHA256, "onnxruntime", version() or "none", "fp32", root
    )


def converted(root: Path | None = None) -> bool:
    """A complete, checked conversion exists in the cache."""
    return version() is not None and ircache.check(cache_entry(root))[0] is not None


class OnnxEmbedder:
    """FaceNet run by ONNX Runtime on the CPU; thread-safe."""

    spec: ModelSpec = MODELS["facenet"]
    backend = "onnxruntime"
    precision = "fp32"

    def __init__(self, session: Any, entry: ircache.Entry) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name
        self._lock = threading.Lock()
        self.device = "CPU"
        self.cache_path = str(entry.folder)
        self.agreement: Any = None  # set by the caller from the race's gate figures
        self.load_seconds = 0.0
        self.note = ""

    def embed(self, faces: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
        """L2-normalised embeddings ``(N, 128)`` of aligned uint8 faces ``(N, 160, 160, 3)``."""
        faces = self.spec.batch(faces)
        with self._lock:
            return embed_prewhitened(
                faces,
                self.spec.dim,
                lambda batch: self._session.run(None, {self._input: batch})[0],
                batch_size,
            )


def _convert(reference: Any) -> bytes:
    import tensorflow as tf
    import tf2onnx

    size = MODELS["facenet"].input_size
    signature = [tf.TensorSpec([None, size, size, 3], tf.float32, name="input")]
    function = tf.function(lambda x: reference.model(x, training=False), input_signature=signature)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=17)
    return proto.SerializeToString()


def load(root: Path | None = None, *, reference: Any | None = None) -> OnnxEmbedder:
    """FaceNet on ONNX Runtime from the cache; converted first (``reference()`` gives the Keras model).

    Raises ``OnnxUnavailable`` with the reason when it cannot be had.
    """
    t0 = time.perf_counter()
    if version() is None:
        raise OnnxUnavailable("ONNX Runtime is not installed")
    e = cache_entry(root)
    with ircache.building(e):
        meta, why = ircache.check(e)
        if meta is None:
            if not converter_available():
                raise OnnxUnavailable(
                    f"no FaceNet ONNX conversion: tf2onnx is not installed ({CONVERT_HINT})"
                )
            if reference is None:
                raise OnnxUnavailable("no FaceNet ONNX conversion and no reference to convert")
            try:
                data = _convert(reference())
            except FacedashError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed conversion is a reason, not a crash
                raise OnnxUnavailable(
                    f"converting FaceNet to ONNX failed: {type(exc).__name__}: {exc}"
                ) from None

            def produce(tmp: Path) -> None:
                (tmp / "model.onnx").write_bytes(data)

            ircache.write(e, produce, {"convert_seconds": round(time.perf_counter() - t0, 2)})
    import onnxruntime as ort

    session = ort.InferenceSession(str(e.path("model.onnx")), providers=["CPUExecutionProvider"])
    embedder = OnnxEmbedder(session, e)
    embedder.load_seconds = round(time.perf_counter() - t0, 2)
    return embedder
