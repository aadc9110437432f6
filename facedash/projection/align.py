"""Turn one map onto another: orthogonal Procrustes over the faces both maps hold.

Two models' maps of the same faces differ by an arbitrary rotation, reflection, scale and
shift (PCA's axes, UMAP's layout have no fixed orientation). ``procrustes`` finds the
rotation (or reflection) R, the scale s and the shift that bring the second map closest to
the first in the least-squares sense, min ‖s·(Y − ȳ)R + x̄ − X‖, so a person sits in the same
place on both maps; what still differs is how the two models arrange the people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Alignment:
    """The second map turned onto the first, and how far apart they still are."""

    coords: np.ndarray  # (n, d): the second map's points after the turn
    rotation: np.ndarray  # (d, d), orthogonal
    scale: float
    disparity: float  # root-mean-square distance left, over the first map's RMS spread


def procrustes(reference: np.ndarray, other: np.ndarray) -> Alignment:
    """The similarity transform taking ``other`` (n, d) closest to ``reference`` (n, d)."""
    x = np.asarray(reference, dtype=np.float64)
    y = np.asarray(other, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2 or len(x) < 2:
        raise ValueError(
            f"need two (n, d) maps of the same faces, n >= 2; got {x.shape} and {y.shape}"
        )
    mx, my = x.mean(0), y.mean(0)
    x0, y0 = x - mx, y - my
    u, sigma, vt = np.linalg.svd(y0.T @ x0)
    rotation = u @ vt
    norm_y = float((y0**2).sum())
    scale = float(sigma.sum() / norm_y) if norm_y > 0 else 1.0
    turned = scale * y0 @ rotation + mx
    spread = float(np.sqrt((x0**2).sum(1).mean())) or 1.0
    disparity = float(np.sqrt(((turned - x) ** 2).sum(1).mean()) / spread)
    return Alignment(turned, rotation, scale, disparity)
