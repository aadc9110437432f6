"""The uncertainty head and the frozen FaceNet feature extractor it reads from.

PFE keeps the face model frozen: ``mu`` is its embedding. The head sees the
network's pooled features *before* the embedding layer (keras-facenet's
``AvgPool``, the 1792-d global average of the last Inception-ResNet block, which
feeds the ``Bottleneck`` Dense) and predicts ``log sigma^2`` for every embedding
dimension:

    FC(hidden) - BN - ReLU - FC(dim) - BN(no scale, no shift) - gamma * x + beta

with one scalar ``gamma`` and one scalar ``beta`` shared by all dimensions
(initialised to 1e-4 and -7 as in the reference code, so training starts from a
tiny, uniform variance), and ``log(1e-6 + exp(.))`` for numerical safety.
TensorFlow is imported only inside the functions.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

POOL_LAYER = "AvgPool"
FEATURE_DIM = 1792
EPS = 1e-6


def feature_model(facenet_model: Any, layer: str = POOL_LAYER) -> Any:
    """``keras.Model(input, [features, embedding])`` over FaceNet's own layers.

    ``features`` is ``layer``'s output, averaged over its spatial positions when it
    has any (``AvgPool`` is already the 1792-d global average; a mid-level block
    such as ``Block17_10_Activation``, 8 x 8 x 896, becomes 896-d).
    """
    import keras

    out = facenet_model.get_layer(layer).output
    if len(out.shape) == 4:
        out = keras.layers.GlobalAveragePooling2D(name=f"{layer}_mean")(out)
    return keras.Model(facenet_model.input, [out, facenet_model.output], name="facenet_features")


class FeatureExtractor:
    """Batched, thread-safe features (``layer``, pooled) and embeddings of aligned uint8 faces."""

    def __init__(self, embedder: Any, layer: str = POOL_LAYER) -> None:
        import tensorflow as tf

        if not hasattr(getattr(embedder, "model", None), "get_layer"):
            # A fast backend (OpenVINO) has no Keras graph: features need the reference model.
            from facedash.models.registry import get_model

            embedder = get_model(embedder.spec.id)
        self.embedder = embedder
        self.layer = layer
        self.device = getattr(embedder, "device", "CPU:0")
        self.size = int(embedder.model.input.shape[1])
        model = feature_model(embedder.model, layer)
        self.dim = int(model.outputs[0].shape[-1])
        self._forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, self.size, self.size, 3], tf.float32)],
        )
        self._lock = threading.Lock()

    def __call__(
        self, faces: np.ndarray, batch_size: int = 32, progress: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(features (N, dim), embeddings (N, 128))`` of faces ``(N, size, size, 3)`` uint8."""
        import tensorflow as tf

        from facedash.models.facenet import prewhiten

        faces = np.asarray(faces)
        if faces.ndim != 4 or faces.shape[1:] != (self.size, self.size, 3):
            raise ValueError(
                f"faces must have shape (N, {self.size}, {self.size}, 3), got {faces.shape}"
            )
        feats = np.empty((len(faces), self.dim), dtype=np.float32)
        embs = np.empty((len(faces), 128), dtype=np.float32)
        with self._lock, tf.device(self.device):
            for start in range(0, len(faces), batch_size):
                batch = prewhiten(faces[start : start + batch_size])
                f, e = self._forward(tf.constant(batch))
                feats[start : start + len(batch)] = f.numpy()
                embs[start : start + len(batch)] = e.numpy()
                if progress is not None:
                    progress(start + len(batch), len(faces))
        return feats, embs


def build_head(
    in_dim: int = FEATURE_DIM,
    dim: int = 128,
    hidden: int = 128,
    seed: int = 0,
    dropout: float = 0.0,
    weight_decay: float = 5e-4,
) -> Any:
    """The uncertainty head as a Keras model: features ``(N, in_dim)`` -> ``log sigma^2 (N, dim)``."""
    import keras
    from keras import layers

    class ScaleShift(layers.Layer):
        """``gamma * x + beta`` with one scalar gamma and one scalar beta for all dimensions."""

        def build(self, input_shape: Any) -> None:
            self.gamma = self.add_weight(
                name="gamma", shape=(), initializer=keras.initializers.Constant(1e-4)
            )
            self.beta = self.add_weight(
                name="beta", shape=(), initializer=keras.initializers.Constant(-7.0)
            )

        def call(self, x: Any) -> Any:
            return self.gamma * x + self.beta

    init = keras.initializers.GlorotUniform(seed=seed)
    init2 = keras.initializers.GlorotUniform(seed=seed + 1)
    reg = keras.regularizers.L2(weight_decay)
    x_in = keras.Input((in_dim,), name="features")
    x = layers.Dropout(dropout, seed=seed, name="dropout")(x_in) if dropout > 0 else x_in
    x = layers.Dense(
        hidden, use_bias=False, kernel_initializer=init, kernel_regularizer=reg, name="fc1"
    )(x)
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-3, name="bn1")(x)
    x = layers.ReLU(name="relu1")(x)
    x = layers.Dense(
        dim, use_bias=False, kernel_initializer=init2, kernel_regularizer=reg, name="fc_log_sigma2"
    )(x)
    x = layers.BatchNormalization(
        momentum=0.9, epsilon=1e-3, center=False, scale=False, name="bn2"
    )(x)
    x = ScaleShift(name="scale_shift")(x)
    out = layers.Lambda(lambda z: keras.ops.log(EPS + keras.ops.exp(z)), name="log_sigma2")(x)
    return keras.Model(x_in, out, name="pfe_uncertainty_head")


class UncertaintyHead:
    """A trained head with its record; ``sigma2(features)`` is thread-safe."""

    def __init__(self, model: Any, record: dict[str, Any]) -> None:
        import tensorflow as tf

        self.model = model
        self.record = record
        in_dim = int(model.input.shape[1])
        self._forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, in_dim], tf.float32)],
        )
        self._lock = threading.Lock()

    def log_sigma2(self, features: np.ndarray) -> np.ndarray:
        """``log sigma^2`` ``(N, 128)`` of pooled features ``(N, 1792)``."""
        import tensorflow as tf

        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2:
            raise ValueError(f"features must be (N, D), got {features.shape}")
        if len(features) == 0:
            return np.zeros((0, int(self.model.output.shape[1])), dtype=np.float32)
        with self._lock:
            return self._forward(tf.constant(features)).numpy()

    def sigma2(self, features: np.ndarray) -> np.ndarray:
        """``sigma^2`` ``(N, 128)`` of pooled features ``(N, 1792)``."""
        return np.exp(self.log_sigma2(features).astype(np.float64))
