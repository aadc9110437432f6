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

PFE's loss only sees faces, so on its own the head can give a crop with no face in it
(noise, a wall, a hand) as small a variance as a sharp face. The head therefore carries
a **face check** (``gate``) that adds two signals, each wrong where the other is right:

* ``l_facenet = w . x + b``, a logistic unit on the same pooled features, fitted on faces
  (clean and degraded) against non-face crops (``facedash.pfe.nonface``): it rejects
  noise, flat colours and textures by wide margins, but, fitted on a few people, it
  can take a hand or a shoulder for a face;
* ``l_onet``, the face logit of MTCNN's own ONet on the whole crop (48 x 48): trained on
  many faces and backgrounds, it rejects those, but some textures fool it.

The extractor appends ``l_onet`` to the pooled features as one more column (``face_score``);
a crop whose score ``s = l_facenet + l_onet`` reaches ``FACE_SCORE`` keeps its PFE variance
untouched; below it the variance grows by ``e^GATE_SLOPE`` per unit of score,

    log sigma^2 = log sigma^2_PFE + min(GATE_SLOPE * max(0, FACE_SCORE - s), GATE_MAX),

so faces keep PFE's ranking and a non-face's confidence (``mean 1/sigma^2``) falls far
below any face's. TensorFlow is imported only inside the functions.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

POOL_LAYER = "AvgPool"
FEATURE_DIM = 1792
EPS = 1e-6
PFE_FEATURE_DIM = FEATURE_DIM + 1  # pooled features and ONet's face logit
FACE_SCORE = 3.0  # a crop whose two face logits sum to this is taken for a face
GATE_SLOPE = 10.0  # below it: variance times e^10 per unit of score
GATE_MAX = 30.0  # the check multiplies a variance by e^30 at most
ONET_SIZE = 48


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


def onet_model(device: str = "CPU:0") -> Any:
    """MTCNN's ONet (shipped in the ``mtcnn`` wheel): 48 x 48 crops -> (offsets, marks, p(face))."""
    from mtcnn import MTCNN

    return MTCNN(device=device).stages[2]._model


def _onet_input(tf: Any, faces: Any) -> Any:
    """uint8 faces -> ONet's input: 48 x 48 by area resize, normalised as MTCNN does."""
    return (
        tf.image.resize(tf.cast(faces, tf.float32), (ONET_SIZE, ONET_SIZE), "area") - 127.5
    ) / 128.0


def onet_logit(size: int, device: str = "CPU:0") -> Any:
    """A compiled ``faces (N, size, size, 3) uint8 -> ONet's face logit (N,)`` (the crop at 48 x 48)."""
    import tensorflow as tf

    onet = onet_model(device)

    def face_logit(x: Any) -> Any:
        p = onet(_onet_input(tf, x), training=False)[2][:, 1]
        p = tf.clip_by_value(p, 1e-7, 1.0 - 1e-7)
        return tf.math.log(p) - tf.math.log(1.0 - p)

    return tf.function(face_logit, input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8)])


def onet_logit_openvino(size: int) -> Any:
    """``onet_logit`` with ONet on OpenVINO fp32 (the detector's converted network).

    The same 48 x 48 area resize (TensorFlow's) and logit; ONet's outputs agree with
    TensorFlow's to float rounding, and it runs 3-4x faster on the CPU.
    """
    import tensorflow as tf

    from facedash.faces.mtcnn_nets import OpenVINONets

    nets = OpenVINONets.load()
    shrink = tf.function(
        lambda x: _onet_input(tf, x),
        input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8)],
    )

    def face_logit(faces: np.ndarray) -> np.ndarray:
        small = shrink(tf.constant(np.asarray(faces, dtype=np.uint8))).numpy()
        p = np.clip(nets.onet(small)[2][:, 1], np.float32(1e-7), np.float32(1.0 - 1e-7))
        out: np.ndarray = np.log(p) - np.log(np.float32(1.0) - p)
        return out

    return face_logit


class FeatureExtractor:
    """Batched, thread-safe features (``layer``, pooled) and embeddings of aligned uint8 faces.

    With ``face_score`` (the default for the PFE's pooled layer) the features get one more
    column: ONet's face logit of the whole crop (``PFE_FEATURE_DIM`` columns in all).

    This is FaceNet's extractor; ``facedash.pfe.features.extractor_for`` picks the one for
    any model (this one for FaceNet). ``tag`` names the features in the feature cache's keys,
    ``features`` describes them for the head's record.
    """

    def __init__(
        self, embedder: Any, layer: str = POOL_LAYER, face_score: bool | None = None
    ) -> None:
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
        self.face_score = layer == POOL_LAYER if face_score is None else bool(face_score)
        self.dim = int(model.outputs[0].shape[-1]) + int(self.face_score)
        self.embedding_dim = int(model.outputs[1].shape[-1])
        self.tag = "facenet-avgpool" if layer == POOL_LAYER else f"facenet-{layer}"
        self.features = {
            "kind": "pooled",
            "layer": layer,
            "dim": self.dim - int(self.face_score),
            "face_score": self.face_score,
            "text": (
                "AvgPool (1792-d, before the Bottleneck embedding layer)"
                if layer == POOL_LAYER
                else f"{layer} ({self.dim - int(self.face_score)}-d, pooled)"
            ),
        }
        self._forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, self.size, self.size, 3], tf.float32)],
        )
        self._onet = onet_logit(self.size, self.device) if self.face_score else None
        self._lock = threading.Lock()

    def __call__(
        self, faces: np.ndarray, batch_size: int = 32, progress: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(features (N, dim), embeddings (N, embedding_dim))`` of faces ``(N, size, size, 3)`` uint8."""
        import tensorflow as tf

        from facedash.models.facenet import prewhiten

        faces = np.asarray(faces)
        if faces.ndim != 4 or faces.shape[1:] != (self.size, self.size, 3):
            raise ValueError(
                f"faces must have shape (N, {self.size}, {self.size}, 3), got {faces.shape}"
            )
        feats = np.empty((len(faces), self.dim), dtype=np.float32)
        embs = np.empty((len(faces), self.embedding_dim), dtype=np.float32)
        with self._lock, tf.device(self.device):
            for start in range(0, len(faces), batch_size):
                raw = faces[start : start + batch_size]
                f, e = self._forward(tf.constant(prewhiten(raw)))
                if self._onet is not None:
                    feats[start : start + len(raw), -1] = self._onet(tf.constant(raw)).numpy()
                    feats[start : start + len(raw), :-1] = f.numpy()
                else:
                    feats[start : start + len(raw)] = f.numpy()
                embs[start : start + len(raw)] = e.numpy()
                if progress is not None:
                    progress(start + len(raw), len(faces))
        return feats, embs


def build_head(
    in_dim: int = FEATURE_DIM,
    dim: int = 128,
    hidden: int = 128,
    seed: int = 0,
    dropout: float = 0.0,
    weight_decay: float = 5e-4,
    gate: bool = False,
) -> Any:
    """The uncertainty head as a Keras model: features ``(N, in_dim)`` -> ``log sigma^2 (N, dim)``.

    With ``gate`` the last input column is ONet's face logit and the face check (layer
    ``face_logit`` on the pooled columns, its weights set by ``with_gate``) raises the
    variance of crops it does not take for faces; the PFE layers read the pooled columns.
    """
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
    pooled = layers.Lambda(lambda t: t[:, :-1], name="pooled")(x_in) if gate else x_in
    x = layers.Dropout(dropout, seed=seed, name="dropout")(pooled) if dropout > 0 else pooled
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
    if gate:
        logit = layers.Dense(1, name="face_logit")(pooled)
        out = layers.Lambda(
            lambda t: (
                t[0]
                + keras.ops.minimum(
                    GATE_SLOPE * keras.ops.relu(FACE_SCORE - t[1] - t[2][:, -1:]), GATE_MAX
                )
            ),
            name="gated_log_sigma2",
        )([out, logit, x_in])
    return keras.Model(x_in, out, name="pfe_uncertainty_head")


def with_gate(model: Any, kernel: np.ndarray, bias: np.ndarray) -> Any:
    """A copy of a trained head (pooled features in) with the face check on pooled + ONet columns."""
    config = {
        "in_dim": int(model.input.shape[1]) + 1,
        "dim": int(model.output.shape[1]),
        "hidden": int(model.get_layer("fc1").units),
    }
    gated = build_head(**config, gate=True)
    for layer in model.layers:
        if layer.weights:
            gated.get_layer(layer.name).set_weights(layer.get_weights())
    gated.get_layer("face_logit").set_weights(
        [np.asarray(kernel, np.float32).reshape(-1, 1), np.asarray(bias, np.float32).reshape(1)]
    )
    return gated


def has_gate(model: Any) -> bool:
    """Whether a head model has the face gate."""
    return any(layer.name == "face_logit" for layer in model.layers)


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
        """``log sigma^2`` ``(N, dim)`` of extractor features (pooled, and the face logit).

        ``dim`` is the model's embedding size; the head reads the first ``in_dim`` columns.
        """
        import tensorflow as tf

        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2:
            raise ValueError(f"features must be (N, D), got {features.shape}")
        in_dim = int(self.model.input.shape[1])
        if features.shape[1] < in_dim:
            raise ValueError(
                f"this head reads {in_dim} feature columns (pooled features and ONet's face "
                f"logit), got {features.shape[1]}: use FeatureExtractor(..., face_score=True)"
            )
        features = features[:, :in_dim]
        if len(features) == 0:
            return np.zeros((0, int(self.model.output.shape[1])), dtype=np.float32)
        with self._lock:
            return self._forward(tf.constant(features)).numpy()

    def sigma2(self, features: np.ndarray) -> np.ndarray:
        """``sigma^2`` ``(N, dim)`` of extractor features (FaceNet's: ``(N, 1793)`` -> ``(N, 128)``)."""
        return np.exp(self.log_sigma2(features).astype(np.float64))

    def face_score(self, features: np.ndarray) -> np.ndarray | None:
        """The face check's score ``l_facenet + l_onet`` (>= ``FACE_SCORE``: a face); None without one."""
        if not has_gate(self.model):
            return None
        x = np.asarray(features, dtype=np.float64)
        pooled = int(self.model.input.shape[1]) - 1  # the last column read is ONet's logit
        kernel, bias = self.model.get_layer("face_logit").get_weights()
        return x[:, :pooled] @ kernel[:, 0].astype(np.float64) + float(bias[0]) + x[:, pooled]

    @property
    def dim(self) -> int:
        """How many log sigma^2 the head gives per face: its model's embedding size."""
        return int(self.model.output.shape[1])
