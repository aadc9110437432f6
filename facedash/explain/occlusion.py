"""Occlusion sensitivity: how much the score drops when a square patch is greyed out.

The patch (``patch`` px, moved by ``stride`` px) is set to the image mean (0
after prewhitening). A pixel's value is the mean drop ``s(x) - s(x_occluded)``
over the patches that cover it. All occluded copies of a face go through the
compiled forward pass in batches; the map is one matrix product of the drops
with the patch masks.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from facedash.explain.base import Attribution, Explainer, bind, embed
from facedash.explain.targets import Target


def patch_masks(size: int, patch: int, stride: int) -> np.ndarray:
    """Boolean masks ``(P, size, size)``, one per patch position (the last one flush with the edge)."""
    if not 0 < patch <= size or stride <= 0:
        raise ValueError(f"need 0 < patch <= {size} and stride > 0, got {patch}, {stride}")
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    idx = np.arange(size)
    rows = (idx[None, :] >= np.array(starts)[:, None]) & (
        idx[None, :] < np.array(starts)[:, None] + patch
    )
    masks = rows[:, None, :, None] & rows[None, :, None, :]  # (Py, Px, size, size)
    return masks.reshape(-1, size, size)


class Occlusion(Explainer):
    """Occlusion sensitivity of the target score."""

    name = "occlusion"
    label = "Occlusion"
    heavy: ClassVar[bool] = True

    def __init__(
        self,
        model: Any,
        *,
        layer: str | None = None,
        patch: int = 32,
        stride: int = 8,
        batch_size: int = 64,
    ) -> None:
        super().__init__(model, layer=layer, batch_size=batch_size)
        self.masks = patch_masks(self.size, patch, stride)

    def attribute(self, x: np.ndarray, target: Target) -> Attribution:
        """Mean score drop under the patches covering each pixel."""
        w, emb = bind(target, self.model, x)
        clean = np.sum(emb * w, axis=1)
        keep = (~self.masks).astype(np.float32)[..., None]  # (P, S, S, 1)
        flat = self.masks.reshape(len(self.masks), -1).astype(np.float32)
        cover = flat.sum(axis=0)
        maps = np.empty((len(x), self.size, self.size), dtype=np.float32)
        for i in range(len(x)):
            occluded = x[i][None] * keep  # prewhitened: 0 is the image mean
            scores = embed(self.model, occluded, batch=self.batch_size) @ w[i]
            drop = clean[i] - scores
            maps[i] = (drop @ flat / cover).reshape(self.size, self.size)
        return maps, emb, w
