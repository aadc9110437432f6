"""Face regions from the five landmarks, and how a map's mass splits over them.

Regions are drawn on the aligned crop as "capsules" (all pixels within a radius
of a segment), with radii in units of the inter-ocular distance ``d``:

- eyes: a disc of radius ``0.3 d`` around each eye;
- nose: the segment from a third of the way between the eye midpoint and the
  nose tip down to the tip, radius ``0.25 d``;
- mouth: the segment between the mouth corners, radius ``0.25 d``;
- other: every other pixel of the crop (forehead, cheeks, chin, hair, background).

Overlaps go to the first of eyes, mouth, nose. The regions partition the crop,
so the shares always sum to 1.
"""

from __future__ import annotations

import numpy as np

REGIONS = ("eyes", "nose", "mouth", "other")
EYE_R, NOSE_R, MOUTH_R, NOSE_START = 0.3, 0.25, 0.25, 1 / 3


def _capsule(px: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    """Pixels ``px (..., 2)`` within ``radius`` of segment ``ab``."""
    ab = b - a
    denom = float(ab @ ab)
    t = np.zeros(px.shape[:-1]) if denom == 0 else np.clip(((px - a) @ ab) / denom, 0, 1)
    closest = a + t[..., None] * ab
    return np.linalg.norm(px - closest, axis=-1) <= radius


def region_labels(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Label image ``(size, size)``: 0 eyes, 1 nose, 2 mouth, 3 other."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (5, 2):
        raise ValueError(f"landmarks must be (5, 2), got {pts.shape}")
    le, re_, nose, ml, mr = pts
    d = max(float(np.linalg.norm(re_ - le)), 1.0)
    yy, xx = np.mgrid[0:size, 0:size]
    px = np.stack([xx + 0.5, yy + 0.5], axis=-1)
    eyes = _capsule(px, le, le, EYE_R * d) | _capsule(px, re_, re_, EYE_R * d)
    mid = (le + re_) / 2
    nose_m = _capsule(px, mid + NOSE_START * (nose - mid), nose, NOSE_R * d)
    mouth = _capsule(px, ml, mr, MOUTH_R * d)
    labels = np.full((size, size), 3, dtype=np.int8)
    labels[nose_m] = 1
    labels[mouth] = 2
    labels[eyes] = 0
    return labels


def region_shares(maps: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Share of each map's positive mass per region, ``(N, 4)`` summing to 1 per row.

    ``maps`` is ``(N, S, S)`` (or one ``(S, S)`` map), ``labels`` ``(N, S, S)`` or one
    ``(S, S)`` label image for all. Negative values carry no mass; a map with no
    positive mass gets the regions' area shares (a flat map's shares).
    """
    m = np.asarray(maps, dtype=np.float64)
    single = m.ndim == 2
    if single:
        m = m[None]
    lab = np.broadcast_to(np.asarray(labels), m.shape)
    onehot = lab[..., None] == np.arange(len(REGIONS))  # (N, S, S, 4)
    mass = np.einsum("nhw,nhwr->nr", np.maximum(m, 0), onehot)
    area = onehot.sum(axis=(1, 2)).astype(np.float64)
    total = mass.sum(axis=1, keepdims=True)
    shares = np.where(
        total > 0, mass / np.where(total > 0, total, 1), area / area.sum(1, keepdims=True)
    )
    return shares[0] if single else shares


def area_shares(labels: np.ndarray) -> np.ndarray:
    """Share of the crop's pixels in each region, ``(4,)`` or ``(N, 4)``."""
    lab = np.asarray(labels)
    counts = (lab[..., None] == np.arange(len(REGIONS))).sum(axis=(-3, -2))
    return counts / counts.sum(axis=-1, keepdims=True)
