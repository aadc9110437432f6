"""Per-face quality measures that need no model, and the rules every measure follows.

Every measure has a fixed name (``NAMES``) and reads "higher = better quality". A face a
measure cannot score (no stored crop, a NaN) gets that measure's lowest value among the
faces it did score (``fill_unscored``), so no measure is ever NaN and such faces are the
first a discard removes; the count is reported.

* ``pfe``: PFE confidence, 1 / harmonic mean of σ² = mean over dimensions of 1 / σ²;
* ``norm``: the embedding's norm before L2 normalisation (MagFace's reading);
* ``serfiq``: SER-FIQ (Terhörst et al., CVPR 2020) from ``m`` stochastic embeddings
  ``x_1 ... x_m`` (the model's own dropout active, each L2-normalised):
  ``q = 2 sigmoid(-(2 / m^2) sum_{i<j} ||x_i - x_j||)``;
* ``detector``: MTCNN's ONet face logit ``log p(face) - log p(not face)`` of the aligned crop;
* ``face_size``: the detected face box's size in photo pixels, ``sqrt(width x height)``;
* ``sharpness``: the variance of the Laplacian of the crop's grey image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NAMES = ("pfe", "norm", "serfiq", "detector", "face_size", "sharpness")


def pfe_confidence(sigma2: np.ndarray) -> np.ndarray:
    """1 / harmonic mean of σ² over the dimensions, per face (NaN rows stay NaN)."""
    s = np.asarray(sigma2, dtype=np.float64)
    return np.mean(1.0 / s, axis=1)


def serfiq_quality(stochastic: np.ndarray) -> np.ndarray:
    """SER-FIQ of each face from its stochastic embeddings ``(N, m, d)`` (normalised here).

    ``2 sigmoid(-(2 / m^2) sum_{i<j} ||x_i - x_j||)``, in ``(0, 1]``; 1 when every pass agrees.
    """
    x = np.asarray(stochastic, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] < 2:
        raise ValueError(f"expected (N, m >= 2, d) stochastic embeddings, got {x.shape}")
    x = x / np.maximum(np.linalg.norm(x, axis=2, keepdims=True), 1e-12)
    m = x.shape[1]
    gram = np.einsum("nid,njd->nij", x, x)
    dist = np.sqrt(np.maximum(2.0 - 2.0 * gram, 0.0))
    upper = np.triu_indices(m, k=1)
    total = dist[:, upper[0], upper[1]].sum(axis=1)
    return 2.0 / (1.0 + np.exp(2.0 * total / m**2))


def face_size(boxes: Sequence[Sequence[float]]) -> np.ndarray:
    """``sqrt(width x height)`` of each face box ``(x, y, width, height)``, in photo pixels."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.sqrt(np.clip(b[:, 2], 0, None) * np.clip(b[:, 3], 0, None))


def sharpness(crops: np.ndarray) -> np.ndarray:
    """Variance of the Laplacian (3 x 3, OpenCV's) of each crop's grey image ``(N, H, W, 3)`` uint8."""
    import cv2

    out = np.empty(len(crops))
    for n, crop in enumerate(crops):
        grey = cv2.cvtColor(np.asarray(crop, dtype=np.uint8), cv2.COLOR_RGB2GRAY)
        out[n] = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    return out


def fill_unscored(values: np.ndarray) -> tuple[np.ndarray, int]:
    """``(values with every non-finite one set to the lowest finite one, how many were set)``.

    When no face was scored at all every value becomes 0.
    """
    v = np.asarray(values, dtype=np.float64).copy()
    bad = ~np.isfinite(v)
    if bad.any():
        v[bad] = float(v[~bad].min()) if (~bad).any() else 0.0
    return v, int(bad.sum())


def pair_quality(face_quality: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """A pair's quality: the lower of its two faces'."""
    q = np.asarray(face_quality, dtype=np.float64)
    return np.minimum(q[np.asarray(i)], q[np.asarray(j)])
