"""The explainer base class, the explanation record and the shared model plumbing.

``Explainer.explain(faces, target)`` is a template method: it checks and
prepares the aligned uint8 faces (``prepare_of``: prewhitening, FaceNet's, unless the
model carries its card's own preparation), calls the strategy's ``attribute`` (maps at
the method's own resolution, the faces' embeddings and the bound target
weights), checks the target, and resizes every map to the input size. A new
method overrides ``attribute`` only.

Compiled TensorFlow functions are cached per (model, layer) and guarded by a
lock, so one explainer serves every page rerun and thread.
"""

from __future__ import annotations

import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from facedash.explain.targets import Target
from facedash.models.facenet import prewhiten

BATCH = 16
#: the attribute a Keras model carries when its input is not FaceNet's prewhitened RGB: a
#: function from aligned uint8 RGB faces to that input (set by the model layer from the card)
PREPARE = "facedash_prepare"
#: what ``Explainer.attribute`` returns: raw maps, embeddings, bound target weights
Attribution = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class Explanation:
    """Maps of N faces for one method, layer and target."""

    method: str
    layer: str | None
    target: str
    maps: np.ndarray  # (N, S, S) float32 at the input's resolution
    raw: np.ndarray = field(repr=False)  # (N, h, w) at the method's own resolution
    scores: np.ndarray = field(repr=False)  # (N,) target score of each clean face
    weights: np.ndarray = field(repr=False)  # (N, D) bound target weights
    embeddings: np.ndarray = field(repr=False)  # (N, D)

    def __len__(self) -> int:
        return len(self.maps)


def check_faces(faces: np.ndarray, size: int) -> np.ndarray:
    """Aligned faces as ``(N, size, size, 3)`` uint8, else ``ValueError``."""
    arr = np.asarray(faces)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1:] != (size, size, 3):
        raise ValueError(f"faces must have shape (N, {size}, {size}, 3), got {arr.shape}")
    if len(arr) == 0:
        raise ValueError("no faces to explain")
    if arr.dtype != np.uint8:
        raise ValueError(f"faces must be uint8 aligned crops, got {arr.dtype}")
    return arr


def upsample(maps: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of ``(N, h, w)`` maps to ``(N, size, size)`` (cv2, channels = faces)."""
    import cv2

    maps = np.asarray(maps, dtype=np.float32)
    if maps.shape[1:] == (size, size):
        return maps.copy()
    out = np.empty((len(maps), size, size), dtype=np.float32)
    for start in range(0, len(maps), 500):  # cv2 handles up to 512 channels per call
        part = np.moveaxis(maps[start : start + 500], 0, -1)
        resized = cv2.resize(part, (size, size), interpolation=cv2.INTER_LINEAR)
        out[start : start + 500] = np.moveaxis(resized.reshape(size, size, -1), -1, 0)
    return out


class _FnCache:
    """Compiled functions per (model, key), dropped when the model is garbage-collected."""

    def __init__(self) -> None:
        self._fns: dict[tuple[int, Any], tuple[weakref.ref, Callable]] = {}
        self._lock = threading.Lock()

    def get(self, model: Any, key: Any, build: Callable[[], Callable]) -> Callable:
        k = (id(model), key)
        with self._lock:
            hit = self._fns.get(k)
            if hit is not None and hit[0]() is model:
                return hit[1]
            fn = build()
            self._fns[k] = (weakref.ref(model), fn)
            return fn


FUNCTIONS = _FnCache()


def prepare_of(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """How aligned uint8 RGB faces become ``model``'s input: its card's preparation, else prewhitening."""
    return getattr(model, PREPARE, None) or prewhiten


def forward_fn(model: Any) -> Callable:
    """The compiled batched forward pass of ``model`` (prewhitened input)."""

    def build() -> Callable:
        import tensorflow as tf

        size = model.input_shape[1]
        return tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)],
        )

    return FUNCTIONS.get(model, "forward", build)


def embed(model: Any, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """Embeddings of prewhitened inputs ``x``, batched through the compiled forward pass."""
    fn = forward_fn(model)
    out = [np.asarray(fn(x[s : s + batch])) for s in range(0, len(x), batch)]
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)


def bind(target: Target, model: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bound target weights ``(N, D)`` and the embeddings of prewhitened faces ``x``."""
    emb = embed(model, x)
    target.check(emb)
    return target.weights(emb), emb


class Explainer(ABC):
    """A saliency method over one model (and, for CAM methods, one layer)."""

    name: ClassVar[str] = "base"
    label: ClassVar[str] = "Base"
    uses_layer: ClassVar[bool] = False
    heavy: ClassVar[bool] = False  # many forward/backward passes per face

    def __init__(self, model: Any, *, layer: str | None = None, batch_size: int = BATCH) -> None:
        if self.uses_layer:
            if layer is None:
                raise ValueError(f"{self.label} needs a layer name")
            names = {lay.name for lay in model.layers}
            if layer not in names:
                raise ValueError(
                    f"layer {layer!r} is not in the model; pick one of facedash.explain.layers.blocks()"
                )
        self.model = model
        self.layer = layer if self.uses_layer else None
        self.batch_size = batch_size
        self.size = int(model.input_shape[1])

    def explain(self, faces: np.ndarray, target: Target) -> Explanation:
        """Maps ``(N, S, S)`` for aligned uint8 faces, explaining ``target``."""
        faces = check_faces(faces, self.size)
        x = prepare_of(self.model)(faces)
        raw, emb, weights = self.attribute(x, target)
        target.check(emb)
        scores = np.sum(emb * weights, axis=1)
        return Explanation(
            method=self.name,
            layer=self.layer,
            target=target.name,
            maps=upsample(raw, self.size),
            raw=np.asarray(raw, dtype=np.float32),
            scores=scores.astype(np.float32),
            weights=weights.astype(np.float32),
            embeddings=emb.astype(np.float32),
        )

    @abstractmethod
    def attribute(self, x: np.ndarray, target: Target) -> Attribution:
        """Raw maps ``(N, h, w)``, embeddings ``(N, D)`` and bound weights ``(N, D)`` of prewhitened ``x``."""
