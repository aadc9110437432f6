"""σ² in the pass that embeds: ``Sigma2Pass``, the hook ``facedash embed`` gives ``embed_dataset``.

Where a model has a trained uncertainty head, the head reads features the model's own
forward pass already computes, so each new face's σ² costs the head (and, for FaceNet's
face check, ONet's logit of the 48 px crop) on top of the embedding, not a second run of
the model:

==========================  ================================================================
embedder                    features and embeddings from one forward pass
==========================  ================================================================
FaceNet on TensorFlow       ``FeatureExtractor`` over the embedder's own Keras model
                            (``AvgPool`` and the embedding from one two-output model)
FaceNet on OpenVINO         ``facedash.models.openvino_features``: the converted model with
                            ``AvgPool`` as a second output, compiled as the embedder is
any other model             ``extractor_for(embedder)`` (its embeddings are the model's own)
FaceNet on ONNX Runtime     none: σ² is left to the Uncertainty page (``note`` says so)
==========================  ================================================================

The hook ``(model, face keys, aligned crops) -> embeddings`` runs on the pipeline's
embedding thread; it returns the embeddings the features came with and keeps each
face's σ² in the per-face table (``facedash.pfe.perface``), where ``sigma2_of_set``
finds them. σ² from the embed pass read the aligned crop itself, the Uncertainty page's
own computation reads the stored JPEG thumbnail: per dimension they differ by about 2%
(median; tests/test_pfe_embedpass.py states the bounds). The head and the feature model
load on the first batch with work, so a set already in the store imports no TensorFlow.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facedash.pfe.perface import FaceSigma2

Features = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class OpenVINOPooled:
    """FaceNet on OpenVINO: ``AvgPool`` and embeddings from one pass, ONet's logit appended.

    ONet runs on OpenVINO too (``onet_logit_openvino``, the detector's converted network).
    """

    def __init__(self, embedder: Any) -> None:
        from facedash.models.openvino_features import OpenVINOFeatures
        from facedash.models.tfsetup import configure
        from facedash.pfe.head import onet_logit_openvino

        configure()
        self._run = OpenVINOFeatures(embedder)
        self._onet = onet_logit_openvino(int(embedder.spec.input_size))
        self.tag = "facenet-avgpool"
        self.onet_seconds = 0.0  # ONet's share: what the face check adds to the model's pass

    def __call__(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(features (N, 1793), embeddings (N, 128))``: pooled, then ONet's face logit."""
        pooled, embeddings = self._run(faces)
        t0 = time.perf_counter()
        logit = self._onet(faces)
        self.onet_seconds += time.perf_counter() - t0
        return np.concatenate([pooled, logit[:, None].astype(np.float32)], axis=1), embeddings


def same_pass_features(embedder: Any) -> Features | None:
    """What gives ``embedder``'s head features with its embeddings in one pass (see the module)."""
    spec = embedder.spec
    if spec.runtime == "keras-facenet":
        if hasattr(getattr(embedder, "model", None), "get_layer"):
            from facedash.pfe.head import FeatureExtractor

            return FeatureExtractor(embedder)
        from facedash.models.openvino_features import can_extract

        return OpenVINOPooled(embedder) if can_extract(embedder) else None
    from facedash.pfe.features import extractor_for

    return extractor_for(embedder)


class Sigma2Pass:
    """The embed hook: embeddings with features, each face's σ² kept in ``folder``'s table.

    ``faces``: how many faces got σ² this run; ``seconds``: the time the σ² took beyond the
    model's own pass (loading the head and the feature model, ONet's logit where it runs
    apart from the model (OpenVINO), the head, the table's writes); ``note``: why none were computed, where that happened.
    """

    def __init__(
        self,
        model_id: str,
        *,
        det_key: str,
        align_key: str,
        folder: Path,
        root: Path | str | None = None,
    ) -> None:
        self.model_id = model_id
        self.det_key = det_key
        self.align_key = align_key
        self.table = FaceSigma2(folder)
        self.root = root
        self.faces = 0
        self.seconds = 0.0
        self.note = ""
        self._head: Any = None
        self._version = ""
        self._features: Features | None = None
        self._ready = False
        self._lock = threading.Lock()

    def _prepare(self, model: Any) -> None:
        from facedash.pfe import head_version, train

        t0 = time.perf_counter()
        self._ready = True
        self._features = same_pass_features(model)
        if self._features is None:
            self.note = (
                f"σ² not computed while embedding: {model.backend} gives no features in the "
                "embedding pass (the Uncertainty page computes them on its first visit)"
            )
            return
        self._head = train.load_head(self.root, model=self.model_id)
        self._version = head_version(self._head)
        self.seconds += time.perf_counter() - t0

    def __call__(self, model: Any, keys: Sequence[tuple[str, int]], crops: np.ndarray) -> Any:
        """Embeddings of ``crops`` (the faces ``keys``: image hash, face index); their σ² kept."""
        from facedash.models.backends import store_key

        with self._lock:
            if not self._ready:
                self._prepare(model)
            if self._features is None:
                return model.embed(crops)
            features, embeddings = self._features(crops)
            t0 = time.perf_counter()
            self.table.put(
                list(keys),
                self._head.log_sigma2(features),
                head=self._version,
                model_key=store_key(model.spec.store_id, model.precision),
                det_key=self.det_key,
                align_key=self.align_key,
                source="embed",
            )
            self.faces += len(keys)
            self.seconds += time.perf_counter() - t0
            return embeddings

    def summary(self) -> dict[str, Any]:
        """The ``sigma2`` part of ``facedash embed --json``."""
        onet = getattr(self._features, "onet_seconds", 0.0)
        out: dict[str, Any] = {"faces": self.faces, "seconds": round(self.seconds + onet, 3)}
        if self.note:
            out["note"] = self.note
        return out


def for_model(
    model_id: str,
    *,
    det_key: str,
    align_key: str,
    root: Path | str | None = None,
    folder: Path | None = None,
) -> Sigma2Pass | None:
    """The hook for ``model_id`` when it has a trained head (read as JSON: no TensorFlow), else None.

    ``folder``: where the per-face table lives (default ``$FACEDASH_HOME/pfe/sigma2``, the
    σ² cache ``sigma2_of_set`` reads for sets on disk).
    """
    from facedash import paths
    from facedash.pfe import train

    record = train.read_record(root, model=model_id)
    if record is None or record.get("model_id", "facenet") != model_id:
        return None
    return Sigma2Pass(
        model_id,
        det_key=det_key,
        align_key=align_key,
        folder=folder if folder is not None else paths.home() / "pfe" / "sigma2",
        root=root,
    )
