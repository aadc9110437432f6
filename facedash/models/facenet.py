"""FaceNet: keras-facenet's Inception-ResNet-v1 with the ``facenet_keras.h5`` weights.

The ``.h5`` file cannot be loaded as a model in Keras 3 (its Lambda layers hold
Python 3.6 bytecode), so the architecture is rebuilt from keras-facenet and the
weights are loaded by layer name. ``verify_weights`` then compares every array
of every weight-bearing layer with the file: a silent partial load is impossible.
Inference runs through one compiled ``tf.function`` over batches, on the GPU
when TensorFlow sees one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from facedash import assets
from facedash.errors import WeightLoadError
from facedash.models.cards import MODELS, ModelSpec

BATCH = 32


def prewhiten(faces: np.ndarray) -> np.ndarray:
    """Per-image standardisation: ``(x - mean) / max(std, 1/sqrt(x.size))`` (float32)."""
    x = np.asarray(faces, dtype=np.float32)
    axes = tuple(range(1, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    std = x.std(axis=axes, keepdims=True)
    floor = np.float32(1.0 / np.sqrt(float(np.prod(x.shape[1:]))))
    return ((x - mean) / np.maximum(std, floor)).astype(np.float32, copy=False)


def embed_prewhitened(
    faces: np.ndarray, dim: int, run: Callable[[np.ndarray], np.ndarray], batch_size: int
) -> np.ndarray:
    """L2-normalised ``(N, dim)`` embeddings: ``run`` on prewhitened batches of ``batch_size`` faces.

    The loop FaceNet's converted runtimes share (OpenVINO, ONNX Runtime); the caller holds
    its runtime's lock.
    """
    out = np.empty((len(faces), dim), dtype=np.float32)
    for start in range(0, len(faces), batch_size):
        batch = prewhiten(faces[start : start + batch_size])
        out[start : start + len(batch)] = run(batch)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


def build(size: int = 160, dim: int = 128) -> Any:
    """The bare architecture (random weights)."""
    from facedash.models.tfsetup import configure

    configure()
    from keras_facenet.inception_resnet_v1 import InceptionResNetV1

    return InceptionResNetV1(input_shape=(size, size, 3), classes=dim)


def verify_weights(model: Any, h5_path: Path) -> int:
    """Check every weight-bearing layer against the file; return how many arrays matched.

    Raises ``WeightLoadError`` naming the layers that are missing or differ.
    """
    import h5py

    problems: list[str] = []
    checked = 0
    with h5py.File(h5_path, "r") as fh:
        group = fh["model_weights"] if "model_weights" in fh else fh
        for layer in model.layers:
            weights = layer.get_weights()
            if not weights:
                continue
            if layer.name not in group:
                problems.append(f"{layer.name}: not in the file")
                continue
            lg = group[layer.name]
            names = [
                n.decode() if isinstance(n, bytes) else n for n in lg.attrs.get("weight_names", [])
            ]
            stored = [np.asarray(lg[n]) for n in names]
            if len(stored) != len(weights):
                problems.append(
                    f"{layer.name}: {len(weights)} arrays in the model, {len(stored)} in the file"
                )
                continue
            for mine, theirs in zip(weights, stored, strict=True):
                if mine.shape != theirs.shape or not np.array_equal(mine, theirs):
                    problems.append(f"{layer.name}: weights differ from the file")
                    break
                checked += 1
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise WeightLoadError(f"FaceNet weights did not load completely from {h5_path}: {shown}")
    return checked


def flops_per_image(model: Any) -> int:
    """Multiply-add FLOPs (2 per MAC) of one forward pass through conv and dense layers."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            kh, kw, cin, cout = layer.kernel.shape
            _, oh, ow, _ = layer.output.shape
            total += 2 * kh * kw * cin * cout * oh * ow
        elif kind == "Dense":
            cin, cout = layer.kernel.shape
            total += 2 * cin * cout
    return int(total)


class FaceNetEmbedder:
    """Batched FaceNet inference, the fp32 reference; thread-safe.

    On a GPU that runs out of memory, the batch is rerun on the CPU (same fp32
    model, so no precision mixes) and ``note`` says so.
    """

    spec: ModelSpec = MODELS["facenet"]
    backend = "tensorflow"
    precision = "fp32"
    agreement = None  # the reference agrees with itself
    cache_path = None

    def __init__(self, model: Any, device: str, arrays_checked: int) -> None:
        import tensorflow as tf

        self.model = model
        self.device = device
        self.arrays_checked = arrays_checked
        self.load_seconds = 0.0
        self.note = ""
        size = self.spec.input_size
        self._forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)],
        )
        self._lock = threading.Lock()

    def embed(self, faces: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
        """L2-normalised embeddings ``(N, 128)`` of aligned uint8 faces ``(N, 160, 160, 3)``."""
        import tensorflow as tf

        faces = self.spec.batch(faces)
        out = np.empty((len(faces), self.spec.dim), dtype=np.float32)
        with self._lock:
            for start in range(0, len(faces), batch_size):
                batch = prewhiten(faces[start : start + batch_size])
                try:
                    with tf.device(self.device):
                        vectors = self._forward(tf.constant(batch)).numpy()
                except tf.errors.ResourceExhaustedError:
                    if self.device.startswith("CPU"):
                        raise
                    self.note = f"{self.device} ran out of memory; batches now run on the CPU"
                    self.device = "CPU:0"
                    with tf.device(self.device):
                        vectors = self._forward(tf.constant(batch)).numpy()
                out[start : start + len(batch)] = vectors
        return out


def load_from(h5: Path) -> FaceNetEmbedder:
    """Build FaceNet from the weights file ``h5``, verify every layer, warm the compiled function."""
    import time

    from facedash.models.tfsetup import tf_device

    t0 = time.perf_counter()
    model = build(MODELS["facenet"].input_size, MODELS["facenet"].dim)
    try:
        model.load_weights(str(h5), by_name=True)
    except (KeyError, ValueError, OSError) as exc:
        raise WeightLoadError(f"FaceNet weights did not load from {h5}: {exc}") from None
    checked = verify_weights(model, h5)
    embedder = FaceNetEmbedder(model, tf_device(), checked)
    embedder.embed(np.zeros((1, 160, 160, 3), dtype=np.uint8))  # trace once, up front
    embedder.load_seconds = round(time.perf_counter() - t0, 2)
    return embedder


def load(root: Path | None = None) -> FaceNetEmbedder:
    """FaceNet from the verified weights in the asset folder."""
    return load_from(assets.require_weights(root))
