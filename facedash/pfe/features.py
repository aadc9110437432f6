"""What the uncertainty head reads, for any model: ``extractor_for(embedder)``.

PFE keeps the face model frozen and reads features from *inside* it (Shi & Jain read the
layer before the embedding). How far inside one can look depends on the model:

==========================  ================================================================
model                       features (``kind``)
==========================  ================================================================
FaceNet (built in)          ``AvgPool``, the 1792-d global average of the last
                            Inception-ResNet block that feeds the ``Bottleneck`` Dense
                            (``pooled``; ``facedash.pfe.head.FeatureExtractor``)
a Keras model (card         the last spatial feature map on the way to the chosen output,
runtime ``keras``)          global-average-pooled (the pooled input of its embedding
                            layers; ``pooled``); without one, the input of its last Dense
                            layer (``dense-input``)
anything else (ONNX,        the model's own embedding before L2 normalisation
OpenVINO IR, SavedModel,    (``embedding``): all a black-box model shows; where the model
dlib, a Keras model         normalises inside itself, its norm carries nothing
without either)
==========================  ================================================================

Every extractor appends ONet's face logit of the whole crop as one more column (the head's
face check, ``facedash.pfe.head``), returns ``(features, embeddings)`` of aligned uint8
crops at the model's input size, the embeddings exactly as the model's embedder gives
them (L2-normalised when its card says so), and says what it read: ``features`` (a dict
kept in the head's record: kind, layer, dim, an English text) and ``tag`` (part of the
feature cache's keys, so two models never share cached features). All are thread-safe.
TensorFlow is imported only inside the functions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

EMBEDDING_TEXT = "the model's own embedding before L2 normalisation ({dim}-d)"


def pooled_tensor(model: Any, output: str = "") -> tuple[Any, str, str] | None:
    """``(tensor, layer name, how)``: what feeds the embedding layers of a Keras model, or None.

    Walks back from the chosen output (by name, else the first) to the nearest tensor with
    spatial axes (rank 4): when a global-average-pooling layer reads it, that layer's output
    (``how`` ``pooled``), else the map itself (``map``: to be pooled). With no spatial tensor
    before the model's input, the input of the last Dense layer met on the way
    (``dense-input``). None when neither is found (a nested model, a graph that cannot be
    walked).
    """
    outputs = list(model.outputs)
    names = [getattr(getattr(t, "_keras_history", None), "operation", None) for t in outputs]
    pick = 0
    for n, op in enumerate(names):
        if output and op is not None and getattr(op, "name", "") == output:
            pick = n
    inputs = {id(t) for t in model.inputs}
    seen: set[int] = set()
    frontier = [outputs[pick]]
    pooled: tuple[Any, str] | None = None  # the last GlobalAveragePooling2D met
    dense_input: tuple[Any, str] | None = None
    while frontier:
        nxt = []
        for t in frontier:
            if id(t) in inputs:
                continue
            history = getattr(t, "_keras_history", None)
            if history is None:
                return None
            op = history.operation
            if len(t.shape) == 4:
                if pooled is not None:
                    return pooled[0], pooled[1], "pooled"
                return t, op.name, "map"
            nodes = getattr(op, "_inbound_nodes", [])
            if history.node_index >= len(nodes):
                return None
            ins = list(nodes[history.node_index].input_tensors)
            kind = type(op).__name__
            if kind == "GlobalAveragePooling2D":
                pooled = (t, op.name)
            elif kind == "Dense" and dense_input is None and ins:
                dense_input = (ins[0], op.name)
            elif kind in ("Functional", "Sequential", "Model"):
                return None  # a model inside the model: its layers are not walked
            for x in ins:
                if id(x) not in seen:
                    seen.add(id(x))
                    nxt.append(x)
        frontier = nxt
    if dense_input is not None and len(dense_input[0].shape) == 2:
        return dense_input[0], dense_input[1], "dense-input"
    return None


class _Extractor:
    """What the model-agnostic extractors share: the ONet column, the batching and the lock."""

    tag: str
    features: dict[str, Any]
    dim: int
    embedding_dim: int
    face_score = True

    def __init__(self, embedder: Any) -> None:
        from facedash.pfe.head import onet_logit

        self.embedder = embedder
        self.spec = embedder.spec
        self.size = int(self.spec.input_size)
        from facedash.models.tfsetup import configure, tf_device

        configure()
        self.device = tf_device()  # where ONet (and a Keras model) run, whatever runs the model
        self._onet = onet_logit(self.size, self.device)
        self._lock = threading.Lock()

    def _forward(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(features without the ONet column, embeddings)`` of one batch."""
        raise NotImplementedError

    def __call__(
        self, faces: np.ndarray, batch_size: int = 32, progress: Callable | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(features (N, dim), embeddings (N, embedding_dim))`` of aligned uint8 faces."""
        import tensorflow as tf

        faces = self.spec.batch(faces)
        feats = np.empty((len(faces), self.dim), dtype=np.float32)
        embs = np.empty((len(faces), self.embedding_dim), dtype=np.float32)
        with self._lock:
            for start in range(0, len(faces), batch_size):
                raw = faces[start : start + batch_size]
                f, e = self._forward(raw)
                with tf.device(self.device):
                    feats[start : start + len(raw), -1] = self._onet(tf.constant(raw)).numpy()
                feats[start : start + len(raw), :-1] = f
                embs[start : start + len(raw)] = e
                if progress is not None:
                    progress(start + len(raw), len(faces))
        return feats, embs


def _unit(x: np.ndarray, l2: bool) -> np.ndarray:
    """As ``CardEmbedder.embed`` normalises: float32, divided by its norm unless the card says not."""
    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    if l2:
        x = x / np.maximum(np.linalg.norm(x, axis=1)[:, None], 1e-12)
    return x


class EmbeddingExtractor(_Extractor):
    """Features = the model's embedding before L2 normalisation (any runtime, a black box)."""

    def __init__(self, embedder: Any) -> None:
        super().__init__(embedder)
        self.embedding_dim = int(self.spec.dim)
        self.dim = self.embedding_dim + 1
        self.tag = f"{self.spec.store_id}:embedding"
        self.features = {
            "kind": "embedding",
            "layer": self.spec.output or "",
            "dim": self.embedding_dim,
            "face_score": True,
            "text": EMBEDDING_TEXT.format(dim=self.embedding_dim),
        }

    def _forward(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        session = getattr(self.embedder, "session", None)
        if session is None:  # dlib and the like: their embedding as it comes
            out = np.asarray(self.embedder.embed(faces), dtype=np.float32)
            return out, out
        from facedash.models.user import prepare

        raw = np.asarray(session.run(prepare(self.spec, faces), self.spec.output), np.float32)
        raw = raw.reshape(len(faces), -1)
        return raw, _unit(raw, self.spec.l2)


class KerasPooledExtractor(_Extractor):
    """Features = the pooled input of a Keras model's embedding layers (``pooled_tensor``)."""

    def __init__(self, embedder: Any, found: tuple[Any, str, str]) -> None:
        import keras
        import tensorflow as tf

        super().__init__(embedder)
        model = embedder.model
        tensor, layer, how = found
        if how == "map":
            tensor = keras.layers.GlobalAveragePooling2D(name=f"{layer}_pfe_mean")(tensor)
        outputs = list(model.outputs)
        names = [getattr(t._keras_history.operation, "name", "") for t in outputs]
        chosen = outputs[names.index(self.spec.output)] if self.spec.output in names else outputs[0]
        both = keras.Model(model.inputs, [tensor, chosen], name="pfe_features")
        pooled = int(tensor.shape[-1])
        self.embedding_dim = int(self.spec.dim)
        self.dim = pooled + 1
        kind = "dense-input" if how == "dense-input" else "pooled"
        self.tag = f"{self.spec.store_id}:{kind}:{layer}"
        self.features = {
            "kind": kind,
            "layer": layer,
            "dim": pooled,
            "face_score": True,
            "text": (
                f"{layer} ({pooled}-d, global average of the last spatial feature map, the "
                "input of the embedding layers)"
                if kind == "pooled"
                else f"the input of the Dense layer {layer} ({pooled}-d)"
            ),
        }
        shape = [None, *model.inputs[0].shape[1:]]
        self._run = tf.function(
            lambda x: both(x, training=False), input_signature=[tf.TensorSpec(shape, tf.float32)]
        )

    def _forward(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import tensorflow as tf

        from facedash.models.user import prepare

        with tf.device(self.device):
            f, e = self._run(tf.constant(prepare(self.spec, faces)))
        return f.numpy(), _unit(e.numpy(), self.spec.l2)


def extractor_for(embedder: Any) -> Any:
    """The feature extractor the uncertainty head of ``embedder``'s model reads (see the module)."""
    spec = getattr(embedder, "spec", None)
    if spec is None or spec.runtime == "keras-facenet":
        from facedash.pfe.head import FeatureExtractor

        return FeatureExtractor(embedder)
    model = getattr(embedder, "model", None)
    if spec.runtime == "keras" and model is not None and hasattr(model, "outputs"):
        found = pooled_tensor(model, spec.output)
        if found is not None:
            return KerasPooledExtractor(embedder, found)
    return EmbeddingExtractor(embedder)
