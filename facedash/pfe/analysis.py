"""What the Uncertainty page shows, as plain functions over arrays (no Streamlit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from facedash.pfe import degrade
from facedash.pfe import evaluate as ev
from facedash.pfe.mls import confidence, fuse, pairwise_mls, pairwise_mls_scores


def ranking(sigma2: np.ndarray) -> np.ndarray:
    """Face indices from most to least confident (faces without sigma^2 last)."""
    conf = confidence(np.where(np.isnan(sigma2), np.inf, sigma2))
    return np.argsort(-conf, kind="stable")


def explore(
    crop: np.ndarray,
    strengths: Mapping[str, float],
    extractor: Any,
    head: Any,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Degrade one aligned crop; its sigma^2, and cosine and MLS to the clean crop."""
    degraded = degrade.degrade(crop, strengths, seed=seed)
    feats, mu = extractor(np.stack([crop, degraded]))
    sigma2 = head.sigma2(feats)
    mu = mu.astype(np.float64)
    return {
        "image": degraded,
        "sigma2_clean": sigma2[0],
        "sigma2": sigma2[1],
        "confidence_clean": float(confidence(sigma2[0])),
        "confidence": float(confidence(sigma2[1])),
        "cosine": float(mu[0] @ mu[1]),
        "mls": float(pairwise_mls_scores(mu, sigma2, np.array([0]), np.array([1]))[0]),
        "mls_self": float(pairwise_mls_scores(mu, sigma2, np.array([0]), np.array([0]))[0]),
    }


MAX_PAIRS = 200_000  # pairs scored at most on a set's risk-control curve (a seeded sample)


def pair_sample(n: int, limit: int = MAX_PAIRS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``i < j`` of ``n`` items, or a seeded sample of ``limit`` distinct ones."""
    total = n * (n - 1) // 2
    if total <= limit:
        return np.triu_indices(n, k=1)
    rng = np.random.default_rng(seed)
    picked: np.ndarray = np.zeros(0, np.int64)
    while len(picked) < limit:
        i = rng.integers(0, n, 2 * limit)
        j = rng.integers(0, n, 2 * limit)
        a, b = np.minimum(i, j), np.maximum(i, j)
        code = a[a < b].astype(np.int64) * n + b[a < b]
        picked = np.unique(np.concatenate([picked, code]))
    picked = np.sort(rng.choice(picked, size=limit, replace=False))
    return picked // n, picked % n


def face_check(
    crops: np.ndarray,
    nonface_crops: np.ndarray,
    extractor: Any,
    head: Any,
    *,
    blur: float = 1.0,
) -> dict[str, Any]:
    """Confidence of faces clean and blurred and of non-face crops under one head.

    Returns ``clean``, ``blurred`` (per face), ``nonface`` (per crop) confidences and the
    head's face-check scores (``None`` for a head without a face check).
    """
    from facedash.pfe.head import FACE_SCORE

    blurred = degrade.apply_batch(np.asarray(crops), "blur", blur)
    feats, _ = extractor(np.concatenate([crops, blurred, nonface_crops]))
    conf = confidence(head.sigma2(feats))
    score = head.face_score(feats)
    n = len(crops)
    return {
        "clean": conf[:n],
        "blurred": conf[n : 2 * n],
        "nonface": conf[2 * n :],
        "score": score,
        "threshold": FACE_SCORE,
        "blur": blur,
        "ordered": (conf[:n] > conf[n : 2 * n]) & (conf[n : 2 * n] > conf[2 * n :].max()),
    }


def set_risk_control(
    mu: np.ndarray,
    sigma2: np.ndarray,
    people: np.ndarray,
    detector_score: np.ndarray,
    *,
    far: float = 0.01,
    max_pairs: int = MAX_PAIRS,
) -> dict[str, list[float]]:
    """Risk-control curves on a set: TAR@FAR (cosine) as the lowest-quality faces are rejected.

    Over every pair of faces, or a seeded sample of ``max_pairs`` of them on large sets.
    """
    ok = ~np.isnan(sigma2).any(axis=1)
    mu, sigma2 = np.asarray(mu, float)[ok], sigma2[ok]
    people, det = np.asarray(people)[ok], np.asarray(detector_score, float)[ok]
    i, j = pair_sample(len(mu), max_pairs)
    unit = mu.astype(np.float32)
    blocks = [  # scored 50,000 pairs at a time (a 10k set's sample stays small in memory)
        np.einsum("ij,ij->i", unit[i[a : a + 50_000]], unit[j[a : a + 50_000]])
        for a in range(0, len(i), 50_000)
    ]
    score = np.concatenate(blocks).astype(np.float64) if blocks else np.zeros(0)
    return ev.risk_control(
        (i, j, score), people[i] == people[j], {"pfe": confidence(sigma2), "detector": det}, far=far
    )


def fusion(
    mu: np.ndarray, sigma2: np.ndarray, people: np.ndarray, chosen: np.ndarray
) -> dict[str, Any]:
    """Fuse the chosen faces (one person) and score the fused Gaussian against every other face.

    Returns the fused ``sigma2`` and ``mu`` (and ``mu`` re-normalised), the confidence of each
    chosen face and of the fusion, and the cosine and MLS of the fusion (and, for comparison,
    of the single most confident chosen face) against the faces not chosen, with their labels.
    """
    chosen = np.asarray(chosen, dtype=np.int64)
    if len(chosen) == 0:
        raise ValueError("choose at least one face to fuse")
    mu = np.asarray(mu, dtype=np.float64)
    people = np.asarray(people)
    f_mu, f_s2 = fuse(mu[chosen], sigma2[chosen])
    unit = f_mu / np.linalg.norm(f_mu)
    others = np.setdiff1d(np.flatnonzero(~np.isnan(sigma2).any(axis=1)), chosen)
    conf = confidence(sigma2[chosen])
    best = chosen[int(np.argmax(conf))]
    target = people[chosen[0]]
    return {
        "mu": f_mu,
        "mu_unit": unit,
        "sigma2": f_s2,
        "confidence_each": conf,
        "confidence_fused": float(confidence(f_s2)),
        "others": others,
        "genuine": people[others] == target,
        "cosine_fused": mu[others] @ unit,
        "mls_fused": pairwise_mls(f_mu[None], f_s2[None], mu[others], sigma2[others])[0],
        "cosine_best": mu[others] @ mu[best],
        "mls_best": pairwise_mls(mu[best][None], sigma2[best][None], mu[others], sigma2[others])[0],
        "best": int(best),
    }


def separation_auc(scores: np.ndarray, genuine: np.ndarray) -> float:
    """ROC-AUC of genuine vs impostor scores (nan when one class is missing)."""
    from sklearn.metrics import roc_auc_score

    genuine = np.asarray(genuine, dtype=bool)
    if genuine.all() or not genuine.any():
        return float("nan")
    return float(roc_auc_score(genuine, scores))


def mosaic(images: np.ndarray, cols: int) -> np.ndarray:
    """Tile ``(N, H, W, 3)`` images into one picture, ``cols`` per row (blank padding)."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    rows = -(-n // cols)
    out = np.full((rows * h, cols * w, c), 255, dtype=images.dtype)
    for k, im in enumerate(images):
        r, q = divmod(k, cols)
        out[r * h : (r + 1) * h, q * w : (q + 1) * w] = im
    return out
