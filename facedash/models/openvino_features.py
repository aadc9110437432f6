"""FaceNet's pooled features beside its embeddings on OpenVINO, from one forward pass.

``OpenVINOFeatures(embedder)`` reads the converted model of an ``OpenVINOEmbedder`` (the
``model.xml`` of its cache entry, as that embedder compiled it), adds FaceNet's ``AvgPool``
output (the 1792-d global average of the last Inception-ResNet block, which feeds the
``Bottleneck`` layer: what the uncertainty head reads) as a second output, and compiles
it for the CPU with the embedder's own precision and performance hints. The cache entry
is read, never changed: the embedder, its agreement check and the race see the model they
always did.

Its embeddings are computed as ``OpenVINOEmbedder.embed`` computes them (the same
prewhitening, batches and normalisation); an added output can change how OpenVINO fuses
the last layers, so they agree with the embedder's to the precision's rounding, not
bit for bit (``agreement`` says by how much on the embedder's own probe faces). Imports
neither TensorFlow nor Keras.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from facedash.models.facenet import prewhiten

POOL = "AvgPool"  # keras-facenet's layer; its tensor names carry it through the conversion
BATCH = 32


def pooled_output(model: Any) -> Any:
    """The ``AvgPool`` output ``(N, C)`` of a converted FaceNet ``openvino.Model``, or None.

    The first rank-2 output of an operation whose tensor names or friendly name name
    ``AvgPool`` (the conversion keeps ``.../AvgPool_1/Mean:0``); quantisation nodes an int8
    build puts after it are not followed, so the features stay the float average.
    """
    for op in model.get_ordered_ops():
        for out in op.outputs():
            names = " ".join(out.get_names()) + " " + op.get_friendly_name()
            if f"/{POOL}" in names and out.get_partial_shape().rank.get_length() == 2:
                return out
    return None


def can_extract(embedder: Any) -> bool:
    """Whether ``embedder`` is an OpenVINO FaceNet whose converted model is on disk."""
    folder = getattr(embedder, "cache_path", None)
    return (
        getattr(embedder, "backend", "") == "openvino"
        and bool(folder)
        and (Path(str(folder)) / "model.xml").is_file()
    )


class OpenVINOFeatures:
    """``(pooled features (N, 1792), embeddings (N, 128))`` of aligned uint8 faces; thread-safe."""

    def __init__(self, embedder: Any) -> None:
        import openvino as ov

        folder = Path(str(embedder.cache_path))
        core = ov.Core()
        model = core.read_model(str(folder / "model.xml"), str(folder / "model.bin"))
        pooled = pooled_output(model)
        if pooled is None:
            raise ValueError(f"no {POOL} output in the converted model {folder / 'model.xml'}")
        model.add_outputs([pooled])
        self.spec = embedder.spec
        self.precision = embedder.precision
        self.dim = int(pooled.get_partial_shape()[1].get_length())
        self._compiled = core.compile_model(model, "CPU", _config_of(embedder))
        self._request = self._compiled.create_infer_request()
        self._emb = self._compiled.outputs[0]
        self._pool = self._compiled.outputs[1]
        self._lock = threading.Lock()

    def __call__(self, faces: np.ndarray, batch_size: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
        """``(features, L2-normalised embeddings)`` of faces ``(N, 160, 160, 3)`` uint8."""
        faces = self.spec.batch(faces)
        feats = np.empty((len(faces), self.dim), dtype=np.float32)
        embs = np.empty((len(faces), self.spec.dim), dtype=np.float32)
        with self._lock:
            for start in range(0, len(faces), batch_size):
                batch = prewhiten(faces[start : start + batch_size])
                out = self._request.infer({0: batch})
                embs[start : start + len(batch)] = out[self._emb]
                feats[start : start + len(batch)] = out[self._pool]
        embs /= np.maximum(np.linalg.norm(embs, axis=1, keepdims=True), 1e-12)
        return feats, embs


def _config_of(embedder: Any) -> dict[str, Any]:
    """The compile settings the embedder's own compiled model runs with (precision, hint)."""
    compiled = getattr(embedder, "_compiled", None)
    config: dict[str, Any] = {}
    for name in ("INFERENCE_PRECISION_HINT", "PERFORMANCE_HINT"):
        try:
            config[name] = compiled.get_property(name)  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - an embedder without the property: OpenVINO's default
            continue
    return config
