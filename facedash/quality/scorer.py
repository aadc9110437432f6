"""The model-dependent quality measures of aligned crops: ``pfe``, ``norm``, ``serfiq``, ``detector``.

Which measures apply is decided per model and runtime:

* ``serfiq`` where the model is a Keras graph with a ``Dropout`` layer followed by a plain
  chain of layers up to the output (FaceNet: ``AvgPool`` -> ``Dropout`` -> ``Bottleneck`` ->
  ``Bottleneck_BatchNorm`` -> ``normalize``). The backbone runs once per crop; the chain
  after the dropout then runs ``passes`` times on the pooled features, each time with a
  seeded inverted-dropout mask at the layer's own rate (what ``Dropout(training=True)``
  does) and every other layer, batch normalisation included, in inference mode.
* ``norm`` where the embedding's norm before L2 normalisation can be read and varies: in a
  Keras graph whose output is unit-length, the norm of the chain's last output before it; a
  runtime (ONNX, OpenVINO, a SavedModel) whose raw output is not unit-length (the card's
  embedder keeps those norms); a model that returns unnormalised embeddings (dlib).
* ``pfe`` where a saved uncertainty head belongs to this model (``facedash.pfe.saved``): on
  FaceNet from the pooled features the SER-FIQ passes start from (the head's own ``AvgPool``
  features and ONet's face logit), on any other model through the extractor its head reads
  (``facedash.pfe.features.extractor_for``, one more pass).
* ``detector`` for every model: MTCNN's ONet on the crop itself, not on the photo.

TensorFlow is imported only inside the functions.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from facedash.pfe.head import FEATURE_DIM, ONET_SIZE, onet_logit, onet_model
from facedash.quality.measures import pfe_confidence, serfiq_quality

PASSES = 10
UNIT_TOLERANCE = 1e-3  # embeddings whose norms all lie within this of 1 are taken as normalised


def head_record(model_id: str, root: Any = None) -> dict[str, Any] | None:
    """The record of the saved uncertainty head of ``model_id`` (None when it has none)."""
    from facedash.pfe import train

    record = train.read_record(root, model=model_id)
    if record is None or record.get("model_id", "facenet") != model_id:
        return None
    return record


def saved_head(model_id: str, root: Any = None) -> Any:
    """The saved uncertainty head of ``model_id`` (``facedash.pfe.saved``); None when it has none."""
    from facedash.pfe import train

    if head_record(model_id, root) is None:
        return None
    return train.load_head(root, model=model_id)


def _unit(norms: np.ndarray) -> bool:
    return bool(len(norms)) and float(np.max(np.abs(norms - 1.0))) < UNIT_TOLERANCE


def _chain_after_dropout(model: Any) -> tuple[Any, list[Any]] | None:
    """The model's last ``Dropout`` and the plain chain of layers from it to the output, if any."""
    layers = list(model.layers)
    drops = [n for n, layer in enumerate(layers) if type(layer).__name__ == "Dropout"]
    if not drops:
        return None
    start = drops[-1]
    chain, prev = [], layers[start]
    for layer in layers[start + 1 :]:
        if layer.input is not prev.output:
            return None
        chain.append(layer)
        prev = layer
    if not chain or prev.output is not model.outputs[0]:
        return None
    return layers[start], chain


def _prepare(spec: Any, faces: np.ndarray) -> np.ndarray:
    if spec.runtime == "keras-facenet":
        from facedash.models.facenet import prewhiten

        return prewhiten(faces)
    from facedash.models.user import prepare

    return prepare(spec, faces)


class Scorer:
    """Model-dependent measures and embeddings of aligned uint8 crops; thread-safe."""

    def __init__(
        self, embedder: Any, *, head: Any = None, passes: int = PASSES, seed: int = 0
    ) -> None:
        import tensorflow as tf

        self.embedder = embedder
        self.spec = embedder.spec
        self.passes = int(passes)
        self.seed = int(seed)
        self.device = getattr(embedder, "device", "CPU:0")
        if not str(self.device).upper().startswith(("CPU", "GPU")):
            self.device = "CPU:0"
        model: Any = getattr(embedder, "model", None)
        found = _chain_after_dropout(model) if hasattr(model, "layers") else None
        self._backbone: Any = None
        self._chain: Any = None
        self.rate = 0.0
        if found is not None and self.passes >= 2:
            import keras

            drop, chain = found
            self.rate = float(drop.rate)
            backbone = keras.Model(model.input, [drop.input, model.outputs[0]])
            self._backbone = tf.function(
                lambda x: backbone(x, training=False),
                input_signature=[tf.TensorSpec([None, *model.input.shape[1:]], tf.float32)],
            )
            self._chain_layers = chain
            self.feature_dim = int(drop.input.shape[-1])
            self._chain = tf.function(
                self._run_chain,
                input_signature=[tf.TensorSpec([None, self.feature_dim], tf.float32)],
            )
        else:
            self.feature_dim = 0
        self.head = head
        # FaceNet's head reads AvgPool, the dropout's input: the passes' features serve it too.
        self._pooled_head = (
            head is not None
            and self.spec.runtime == "keras-facenet"
            and self._chain is not None
            and self.feature_dim == FEATURE_DIM
        )
        self._head_logit: Any = (
            onet_logit(int(self.spec.input_size), self.device) if self._pooled_head else None
        )
        self._extractor: Any = None
        onet = onet_model(self.device)

        def probs(x: Any) -> Any:
            small = tf.image.resize(tf.cast(x, tf.float32), (ONET_SIZE, ONET_SIZE), "area")
            return onet((small - 127.5) / 128.0, training=False)[2]

        size = int(self.spec.input_size)
        self._onet = tf.function(
            probs, input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8)]
        )
        self._lock = threading.Lock()

    def _run_chain(self, x: Any) -> Any:
        outs = []
        for layer in self._chain_layers:
            x = layer(x, training=False)
            outs.append(x)
        return outs

    @property
    def stochastic(self) -> bool:
        """Whether ``serfiq`` applies (a dropout layer and a plain chain after it)."""
        return self._chain is not None

    def _keras(self, crops: np.ndarray, batch: int) -> dict[str, np.ndarray]:
        import tensorflow as tf

        pooled, emb, norm = [], [], []
        stoch = []
        rng = np.random.default_rng(self.seed)
        keep = 1.0 - self.rate
        for start in range(0, len(crops), batch):
            x = tf.constant(_prepare(self.spec, crops[start : start + batch]))
            f, e = self._backbone(x)
            f = f.numpy().astype(np.float32)
            pooled.append(f)
            emb.append(e.numpy())
            outs = [o.numpy() for o in self._chain(tf.constant(f))]
            norms = [np.linalg.norm(o.reshape(len(o), -1), axis=1) for o in outs]
            norm.append(np.stack(norms, axis=1))
            n = len(f)
            masks = (rng.random((self.passes, n, f.shape[1])) < keep).astype(np.float32)
            tiled = (np.broadcast_to(f, masks.shape) * masks / keep).reshape(-1, f.shape[1])
            last = self._chain(tf.constant(tiled))[-1].numpy()
            stoch.append(last.reshape(self.passes, n, -1).transpose(1, 0, 2))
        return {
            "pooled": np.concatenate(pooled),
            "embeddings": np.concatenate(emb),
            "norms": np.concatenate(norm),
            "stochastic": np.concatenate(stoch),
        }

    def onet_probs(self, crops: np.ndarray, batch: int = 64) -> np.ndarray:
        """ONet's ``(p(not face), p(face))`` of each whole crop."""
        import tensorflow as tf

        parts = [
            self._onet(tf.constant(np.asarray(crops[s : s + batch], dtype=np.uint8))).numpy()
            for s in range(0, len(crops), batch)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, 2), np.float32)

    def __call__(self, crops: np.ndarray, batch: int = 32) -> dict[str, Any]:
        """``{"measures": {name: (N,)}, "embeddings": (N, d)}`` of crops ``(N, S, S, 3)`` uint8.

        Only the measures that apply to this model are in ``measures``; values may be NaN
        here (the caller fills them, ``measures.fill_unscored``).
        """
        import tensorflow as tf

        crops = np.asarray(crops, dtype=np.uint8)
        out: dict[str, np.ndarray | None] = {}
        with self._lock, tf.device(self.device):
            probs = self.onet_probs(crops).astype(np.float64)
            p0 = np.maximum(probs[:, 0], np.finfo(np.float64).tiny)
            p1 = np.maximum(probs[:, 1], np.finfo(np.float64).tiny)
            detector = np.log(p1) - np.log(p0)
            if self._chain is not None:
                k = self._keras(crops, batch)
                embeddings = k["embeddings"]
                if self._pooled_head:
                    logit = self._head_logit(tf.constant(crops)).numpy()
                    feats = np.concatenate([k["pooled"], logit[:, None]], axis=1)
                    out["pfe"] = pfe_confidence(self.head.sigma2(feats))
                out["norm"] = self._norm_from_chain(k["norms"])
                out["serfiq"] = serfiq_quality(k["stochastic"])
            else:
                embeddings = np.asarray(self.embedder.embed(crops))
                raw = getattr(self.embedder, "last_norms", None)
                raw = np.linalg.norm(embeddings, axis=1) if raw is None else np.asarray(raw)
                out["norm"] = raw.astype(np.float64)
            if self.head is not None and not self._pooled_head:
                out["pfe"] = pfe_confidence(self.head.sigma2(self._head_features(crops)))
        norm = out.pop("norm", None)
        if norm is not None and not _unit(norm):
            out["norm"] = norm
        out["detector"] = detector
        return {"measures": out, "embeddings": np.asarray(embeddings, dtype=np.float32)}

    def _head_features(self, crops: np.ndarray) -> np.ndarray:
        """What a non-FaceNet head reads, through its own extractor (built on first use)."""
        if self._extractor is None:
            from facedash.pfe.features import extractor_for

            self._extractor = extractor_for(self.embedder)
        feats, _ = self._extractor(crops)
        return feats

    @staticmethod
    def _norm_from_chain(norms: np.ndarray) -> np.ndarray | None:
        """The norm of the last chain output that is not unit-length, when the output is."""
        last = norms[:, -1]
        if not _unit(last):
            return last
        for col in range(norms.shape[1] - 2, -1, -1):
            if not _unit(norms[:, col]):
                return norms[:, col]
        return None
