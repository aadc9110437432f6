"""Feature vectors where attributes survive, for the arithmetic: which FaceNet layer, cached.

FaceNet's 128-d embedding was trained to ignore how a photo was taken; its earlier
layers were not. ``FEATURES`` names the candidates the triplet head can read, each
a layer of the frozen network averaged over its spatial positions (one forward pass
through ``facedash.pfe.head.FeatureExtractor``):

=============  ======  =====================================================================
name           dims    layer
=============  ======  =====================================================================
``embedding``  128     the embedding itself (the identity space; no extra pass)
``avgpool``    1792    ``AvgPool``: the last block's global average, before the bottleneck
``block17``    896     ``Block17_10_Activation``: the last mid-level (Inception-ResNet-B) block
``block35``    256     ``Block35_5_Activation``: the last early (Inception-ResNet-A) block
=============  ======  =====================================================================

``block17`` is the default: it measured best on held-out demo photos under the demo
conditions and kept the lead on JAFFE-named sets made with transforms no training saw
(README, "Arithmetic that can see attributes"; ``bench/arithmetic.py``).

``view_features`` computes a view's features once, ``chunk`` faces at a time, and keeps
them (float16) beside the store, keyed by the faces' content keys and the layer, so a
page visit or a second run reads one file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from facedash.data import thumbnails
from facedash.data.arraycache import read_cached, view_cache_dir, write_cached

FEATURE_VERSION = "1"  # part of every feature-cache key
CHUNK = 256


@dataclass(frozen=True)
class Feature:
    """A candidate input of the triplet head."""

    name: str
    layer: str | None  # None: the embedding itself
    dim: int
    label: str


FEATURES = {
    f.name: f
    for f in (
        Feature("embedding", None, 128, "FaceNet's 128-d embedding (identity space)"),
        Feature("avgpool", "AvgPool", 1792, "pooled 1792-d features before the bottleneck"),
        Feature("block17", "Block17_10_Activation", 896, "mid-level block Block17_10, pooled"),
        Feature("block35", "Block35_5_Activation", 256, "early block Block35_5, pooled"),
    )
}
DEFAULT_FEATURE = "block17"


def feature(name: str) -> Feature:
    """The candidate called ``name``; ``ValueError`` names the others."""
    try:
        return FEATURES[name]
    except KeyError:
        raise ValueError(f"unknown feature {name!r}; use one of {', '.join(FEATURES)}") from None


def features_key(result: Any, layer: str) -> str:
    """The cache key of ``layer``'s features of every face of an ``EmbeddingSet``."""
    return thumbnails.set_key(
        [r.image_hash for r in result.rows],
        [r.face_index for r in result.rows],
        result.det_key,
        result.align_key,
        layer,
        FEATURE_VERSION,
    )


def view_features(
    view: Any,
    name: str = DEFAULT_FEATURE,
    *,
    extractor: Callable[[str], Any] | None = None,
    store: Any = None,
    chunk: int = CHUNK,
    progress: Callable[[int, int, str], None] | None = None,
) -> np.ndarray:
    """The ``name`` features ``(N, dim)`` float32 of every face of an ``AttributeView``.

    ``extractor(layer)`` gives a ``FeatureExtractor`` (default: one over the
    registry's FaceNet); it is asked for only when the features are not kept yet.
    With ``store`` (a file, not a memory store) they are kept beside it.
    """
    spec = feature(name)
    if spec.layer is None:
        return np.asarray(view.result.embeddings, dtype=np.float32)
    key = f"features-{name}-{features_key(view.result, spec.layer)}"
    folder = view_cache_dir(store)
    n = len(view.result.rows)
    held = read_cached(folder, key)
    if held is not None and held["features"].shape == (n, spec.dim):
        return held["features"].astype(np.float32)
    if extractor is None:
        extractor = _default_extractor
    ex = extractor(spec.layer)
    out = np.empty((n, spec.dim), dtype=np.float16)
    for start in range(0, n, chunk):
        crops = _sized(view.crops(range(start, min(start + chunk, n))), ex.size)
        out[start : start + len(crops)] = ex(crops)[0]
        if progress is not None:
            progress(min(start + chunk, n), n, f"Computing {spec.label} of every face")
    write_cached(folder, key, {"features": out})
    return out.astype(np.float32)


def _default_extractor(layer: str) -> Any:
    from facedash.models.registry import get_model
    from facedash.pfe.head import FeatureExtractor

    return FeatureExtractor(get_model("facenet"), layer=layer, face_score=False)


def _sized(crops: np.ndarray, size: int) -> np.ndarray:
    """Crops resized to the extractor's input (a dlib set's 150 px crops for FaceNet's 160)."""
    if crops.shape[1:3] == (size, size):
        return crops
    import cv2

    return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])
