"""Is a map faithful? Deletion curves (Petsiuk et al. 2018) and model randomization (Adebayo et al. 2018).

Deletion: the pixels of each face are set to the image mean (0 after
prewhitening) in order of decreasing saliency, in ``steps`` equal fractions;
the target score ``e(x_deleted) · w`` (``w`` bound on the clean face) is measured
after each. A faithful map makes the score fall fast: a smaller area under the
curve than a random order of the same pixels. All masked copies of all faces go
through the model in one batched pass.

Randomization: the top blocks of the network are re-initialised (each weight
array shuffled, which keeps its scale and destroys what was learned). A map
that explains the model must change: its Spearman rank correlation with the
original map must fall below ``RANDOMIZATION_BOUND``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from facedash.explain.base import embed

#: Calibration (demo set, every 15th face, target = cosine to the person's centroid, top 4
#: blocks shuffled; Spearman of each map with its randomized-model map):
#:   HiResCAM @ Block35_5_Activation (the default)   mean 0.19, max 0.27   -> changes
#:   HiResCAM @ Block17_10_Activation                mean 0.13, max 0.42   -> changes
#:   Grad-CAM (unguided) @ Block17_10_Activation     mean 0.07, max 0.48   -> changes
#:   LayerCAM @ Block17_10 / Block35_5               mean 0.84 / 0.76      -> barely changes
#:   guided Grad-CAM (tf-explain) @ Block17_10       mean 0.97             -> barely changes
#: The methods that pass stay below 0.5 on every face, those that fail stay above 0.65 on
#: every face (they follow the activations, i.e. the image, more than the model), so the
#: bound sits in the gap.
RANDOMIZATION_BOUND = 0.5
TOP_BLOCKS = (
    ("Bottleneck",)
    + tuple(f"Block8_{i}" for i in range(6, 0, -1))
    + ("Mixed_7a",)
    + tuple(f"Block17_{i}" for i in range(10, 0, -1))
    + ("Mixed_6a",)
    + tuple(f"Block35_{i}" for i in range(5, 0, -1))
)


def blocks_above(layer: str) -> int:
    """How many of ``TOP_BLOCKS`` lie strictly above the block holding ``layer``."""
    for i, block in enumerate(TOP_BLOCKS):
        if layer == block or layer.startswith(block + "_"):
            return i
    return len(TOP_BLOCKS)


@dataclass
class DeletionCurves:
    """Deletion curves of N faces: saliency order and a random order."""

    fractions: np.ndarray  # (K+1,)
    scores: np.ndarray  # (N, K+1), most salient first
    random_scores: np.ndarray  # (N, K+1)

    @property
    def auc(self) -> np.ndarray:
        """Area under each saliency-order curve ``(N,)`` (trapezoid over the fraction deleted)."""
        return np.trapezoid(self.scores, self.fractions, axis=1)

    @property
    def random_auc(self) -> np.ndarray:
        """Area under each random-order curve ``(N,)``."""
        return np.trapezoid(self.random_scores, self.fractions, axis=1)


def deletion_orders(maps: np.ndarray, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pixel ranks ``(N, S*S)``: by decreasing saliency, and a seeded random order.

    Ties in the map (flat regions, e.g. after a ReLU) are broken by the same random
    key, so neither order favours any part of the image.
    """
    flat = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    rng = np.random.default_rng(seed)
    key = rng.random(flat.shape)
    order = np.lexsort((key, -flat), axis=1)
    random = np.argsort(key, axis=1)
    return _ranks(order), _ranks(random)


def _ranks(order: np.ndarray) -> np.ndarray:
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(order.shape[1])[None, :], axis=1)
    return ranks


def deletion_curves(
    model: Any,
    x: np.ndarray,
    maps: np.ndarray,
    weights: np.ndarray,
    *,
    steps: int = 10,
    seed: int = 0,
    batch: int = 64,
) -> DeletionCurves:
    """Deletion curves of prewhitened faces ``x (N, S, S, 3)`` for their ``maps (N, S, S)``."""
    n, size = len(x), x.shape[1]
    if maps.shape != (n, size, size):
        raise ValueError(f"maps must be {(n, size, size)}, got {maps.shape}")
    if steps < 1:
        raise ValueError("steps must be >= 1")
    fractions = np.linspace(0.0, 1.0, steps + 1)
    cut = np.round(fractions * size * size).astype(int)  # pixels deleted at each step
    curves = []
    for ranks in deletion_orders(maps, seed=seed):
        keep = ranks[:, None, :] >= cut[None, :, None]  # (N, K+1, S*S)
        masked = x[:, None] * keep.reshape(n, steps + 1, size, size, 1)
        emb = embed(model, masked.reshape(-1, size, size, 3).astype(np.float32), batch=batch)
        curves.append(np.einsum("nkd,nd->nk", emb.reshape(n, steps + 1, -1), weights))
    return DeletionCurves(fractions, curves[0], curves[1])


def randomized_copy(model: Any, *, top_blocks: int = 4, seed: int = 0) -> Any:
    """A copy of the model with its top ``top_blocks`` blocks re-initialised (weights shuffled).

    FaceNet's blocks by name (``TOP_BLOCKS``); a Keras model without them has its last
    ``top_blocks`` weighted layers below the embedding shuffled instead. The copy keeps the
    model's input preparation (``base.PREPARE``).
    """
    from facedash.explain.base import PREPARE

    if not 1 <= top_blocks <= len(TOP_BLOCKS):
        raise ValueError(f"top_blocks must be in 1..{len(TOP_BLOCKS)}, got {top_blocks}")
    copy = _architecture_copy(model)
    copy.set_weights(model.get_weights())
    prefixes = TOP_BLOCKS[:top_blocks]
    chosen = [
        layer
        for layer in copy.layers
        if any(layer.name == p or layer.name.startswith(p + "_") for p in prefixes)
    ]
    if not chosen:
        chosen = [layer for layer in copy.layers if layer.get_weights()][-top_blocks:]
    rng = np.random.default_rng(seed)
    for layer in chosen:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.permutation(w.ravel()).reshape(w.shape) for w in weights])
    if getattr(model, PREPARE, None) is not None:
        setattr(copy, PREPARE, getattr(model, PREPARE))
    return copy


def _architecture_copy(model: Any) -> Any:
    """The same architecture with fresh weights: FaceNet rebuilt by keras-facenet, else a Keras clone.

    FaceNet's Lambda layers cannot be cloned by Keras; a user's model loads in safe mode or
    was trusted, and ``clone_model`` copies its layers from their configs.
    """
    from facedash.models.facenet import build

    size, dim = int(model.input_shape[1]), int(model.output_shape[-1])
    if any(type(layer).__name__ == "Lambda" for layer in model.layers):
        return build(size, dim)
    import keras

    return keras.models.clone_model(model)


def spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Spearman rank correlation of two stacks of maps ``(N, ...)`` (average ranks for ties)."""
    from scipy.stats import rankdata

    ra = rankdata(np.asarray(a).reshape(len(a), -1), axis=1)
    rb = rankdata(np.asarray(b).reshape(len(b), -1), axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra**2).sum(1) * (rb**2).sum(1))
    return np.where(denom > 0, (ra * rb).sum(1) / np.where(denom > 0, denom, 1), 0.0)
