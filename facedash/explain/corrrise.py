"""CorrRISE: black-box maps of what makes a pair of faces similar, and what makes it dissimilar.

Lu, Xu & Ebrahimi (WACV 2024). Both faces are covered by independent random masks (RISE's
smooth masks: a coarse random grid, upsampled and shifted), the hidden parts replaced by a
blurred copy of the face; the pair's cosine score is computed for each draw. A pixel's value
is the correlation, over the draws, between that pixel being kept and the pair's score:

    corr_A(p) = Pearson(m_A,k(p), s_k),  s_k = cos(f(m_A,k ⊙ A), f(m_B,k ⊙ B)),  k = 1 … N

Positive correlation (keeping it raises the score) is the *similar* map; negative (keeping
it lowers the score: it argues "different people") the *dissimilar* map. Only forward
passes are needed, so it explains any model: ONNX, OpenVINO, dlib, Keras.

``pair_deletion`` is the check: delete (blur) each face's most important pixels first and
watch the pair's score, normalised by the pair's own score, fall; a faithful map makes it fall
faster than a random order does (lower area under the curve).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Embed = Callable[[np.ndarray], np.ndarray]
DEFAULT_MASKS = 300
GRID = 7
KEEP = 0.5
BATCH = 50


@dataclass(frozen=True)
class PairMaps:
    """CorrRISE of one pair: ``similar`` and ``dissimilar`` are ``(2, S, S)``: face A, face B."""

    similar: np.ndarray
    dissimilar: np.ndarray
    score: float  # the clean pair's cosine
    masks: int
    seconds: float


def blurred(face: np.ndarray) -> np.ndarray:
    """The face as the hidden parts show it: a strong Gaussian blur of itself."""
    import cv2

    sigma = face.shape[0] / 16
    return cv2.GaussianBlur(face, (0, 0), sigmaX=sigma, sigmaY=sigma)


def smooth_masks(
    n: int, size: int, rng: np.random.Generator, grid: int = GRID, keep: float = KEEP
) -> np.ndarray:
    """RISE masks ``(n, size, size)`` in [0, 1]: a random ``grid`` x ``grid`` grid, upsampled, shifted."""
    import cv2

    cell = int(np.ceil(size / grid))
    up = (grid + 1) * cell
    out = np.empty((n, size, size), dtype=np.float32)
    coarse = (rng.random((n, grid, grid)) < keep).astype(np.float32)
    for k in range(n):
        big = cv2.resize(coarse[k], (up, up), interpolation=cv2.INTER_LINEAR)
        dx, dy = rng.integers(0, cell, size=2)
        out[k] = big[dy : dy + size, dx : dx + size]
    return out


def _mix(face: np.ndarray, blur: np.ndarray, masks: np.ndarray) -> np.ndarray:
    m = masks[..., None]
    return (
        (face[None].astype(np.float32) * m + blur[None].astype(np.float32) * (1 - m))
        .round()
        .astype(np.uint8)
    )


def _cosine(ea: np.ndarray, eb: np.ndarray) -> np.ndarray:
    ea = ea / np.maximum(np.linalg.norm(ea, axis=1, keepdims=True), 1e-12)
    eb = eb / np.maximum(np.linalg.norm(eb, axis=1, keepdims=True), 1e-12)
    return np.sum(ea * eb, axis=1)


def _correlation(masks: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Pearson correlation of each pixel's mask values with the scores: ``(S, S)``."""
    m = masks.reshape(len(masks), -1).astype(np.float64)
    m -= m.mean(0)
    s = scores.astype(np.float64) - scores.mean()
    denom = np.sqrt((m**2).sum(0) * (s**2).sum())
    corr = (m * s[:, None]).sum(0) / np.maximum(denom, 1e-12)
    return corr.reshape(masks.shape[1:]).astype(np.float32)


def corrrise(
    embed: Embed,
    a: np.ndarray,
    b: np.ndarray,
    *,
    n_masks: int = DEFAULT_MASKS,
    seed: int = 0,
    batch: int = BATCH,
) -> PairMaps:
    """CorrRISE maps of the pair (``a``, ``b``: aligned uint8 crops of one size); see the module docstring."""
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"two aligned crops of one size, got {a.shape} and {b.shape}")
    if n_masks < 10:
        raise ValueError("CorrRISE needs at least 10 masks")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    size = a.shape[0]
    ma = smooth_masks(n_masks, size, rng)
    mb = smooth_masks(n_masks, size, rng)
    ba, bb = blurred(a), blurred(b)
    scores = np.empty(n_masks, dtype=np.float64)
    for start in range(0, n_masks, batch):
        part = slice(start, start + batch)
        ea = embed(_mix(a, ba, ma[part]))
        eb = embed(_mix(b, bb, mb[part]))
        scores[part] = _cosine(ea, eb)
    clean = float(_cosine(embed(a[None]), embed(b[None]))[0])
    corr = np.stack([_correlation(ma, scores), _correlation(mb, scores)])
    return PairMaps(
        similar=np.clip(corr, 0, None),
        dissimilar=np.clip(-corr, 0, None),
        score=clean,
        masks=n_masks,
        seconds=time.perf_counter() - t0,
    )


def _delete(face: np.ndarray, blur: np.ndarray, order: np.ndarray, fraction: float) -> np.ndarray:
    keep = np.ones(face.shape[0] * face.shape[1], dtype=np.float32)
    keep[order[: int(round(fraction * len(order)))]] = 0.0
    return _mix(face, blur, keep.reshape(1, *face.shape[:2]))[0]


def pair_deletion(
    embed: Embed,
    a: np.ndarray,
    b: np.ndarray,
    orders: tuple[np.ndarray, np.ndarray],
    steps: int = 10,
) -> tuple[np.ndarray, float]:
    """The pair's score as each face's pixels are blurred in ``orders`` (most important first).

    Returns the curve (normalised by the clean pair's score, ``steps + 1`` points from 0% to
    100% deleted) and its trapezoid area over the deleted fraction.
    """
    ba, bb = blurred(a), blurred(b)
    fractions = np.linspace(0, 1, steps + 1)
    xa = np.stack([_delete(a, ba, orders[0], f) for f in fractions])
    xb = np.stack([_delete(b, bb, orders[1], f) for f in fractions])
    scores = _cosine(embed(xa), embed(xb))
    curve = scores / (scores[0] if abs(scores[0]) > 1e-9 else 1.0)
    return curve, float(np.trapezoid(curve, fractions))


def deletion_aucs(
    embed: Embed, a: np.ndarray, b: np.ndarray, heat: np.ndarray, *, steps: int = 10, seeds: int = 3
) -> tuple[float, float]:
    """``(map's deletion AUC, random order's mean AUC)`` for a pair's maps ``heat`` (2, S, S)."""
    orders = (
        np.argsort(-heat[0].ravel(), kind="stable"),
        np.argsort(-heat[1].ravel(), kind="stable"),
    )
    _, auc = pair_deletion(embed, a, b, orders, steps)
    rng = np.random.default_rng(12345)
    n = heat[0].size
    random = [
        pair_deletion(embed, a, b, (rng.permutation(n), rng.permutation(n)), steps)[1]
        for _ in range(seeds)
    ]
    return auc, float(np.mean(random))
