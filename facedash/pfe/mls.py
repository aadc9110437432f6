"""Mutual Likelihood Score (MLS), its loss, fusion and the confidence of a Gaussian face.

Each face is a Gaussian ``N(mu, diag(sigma2))`` in embedding space (Shi & Jain,
"Probabilistic Face Embeddings", ICCV 2019). Everything here is plain numpy,
vectorised over faces and dimensions:

* ``mls``: ``-1/2 sum_l [(mu1_l - mu2_l)^2 / (s1_l + s2_l) + log(s1_l + s2_l)]``
  (the constant ``D/2 log 2 pi`` is left out unless asked for: it never changes a ranking);
* ``pairwise_mls`` / ``pairwise_mls_scores``: the same for every pair, or for index pairs,
  in row blocks so that memory stays bounded;
* ``mls_loss``: the mean of ``-MLS`` over the genuine pairs of a batch;
* ``fuse``: ``1/s_fused = sum_i 1/s_i``, ``mu_fused = sum_i (s_fused / s_i) mu_i``;
* ``harmonic_mean`` / ``confidence``: the paper's uncertainty of one face, the harmonic mean
  of its ``sigma2`` over dimensions, and our confidence ``1 / harmonic_mean = mean_l 1/s_l``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

LOG_2PI = float(np.log(2.0 * np.pi))
_BLOCK_ELEMS = 1_000_000  # pairs x dims handled per block


def _check(mu: np.ndarray, sigma2: np.ndarray, name: str = "") -> tuple[np.ndarray, np.ndarray]:
    mu = np.asarray(mu, dtype=np.float64)
    sigma2 = np.asarray(sigma2, dtype=np.float64)
    if mu.shape != sigma2.shape:
        raise ValueError(f"mu{name} {mu.shape} and sigma2{name} {sigma2.shape} must have one shape")
    if mu.ndim == 0:
        raise ValueError("mu must have at least one dimension (the embedding)")
    if np.any(~np.isfinite(sigma2)) or np.any(sigma2 <= 0):
        raise ValueError(f"sigma2{name} must be finite and positive")
    return mu, sigma2


def mls(
    mu1: np.ndarray,
    sigma2_1: np.ndarray,
    mu2: np.ndarray,
    sigma2_2: np.ndarray,
    *,
    include_const: bool = False,
) -> np.ndarray:
    """MLS between Gaussians, broadcast over leading axes; the last axis is the embedding."""
    mu1, sigma2_1 = _check(mu1, sigma2_1, "1")
    mu2, sigma2_2 = _check(mu2, sigma2_2, "2")
    s = sigma2_1 + sigma2_2
    out = -0.5 * np.sum((mu1 - mu2) ** 2 / s + np.log(s), axis=-1)
    if include_const:
        out = out - 0.5 * mu1.shape[-1] * LOG_2PI
    return out


def pairwise_mls(
    mu: np.ndarray,
    sigma2: np.ndarray,
    mu_b: np.ndarray | None = None,
    sigma2_b: np.ndarray | None = None,
) -> np.ndarray:
    """The ``(N, M)`` MLS matrix between rows of ``mu`` and rows of ``mu_b`` (default: ``mu``)."""
    mu, sigma2 = _check(mu, sigma2)
    if (mu_b is None) != (sigma2_b is None):
        raise ValueError("give both mu_b and sigma2_b, or neither")
    if mu_b is None or sigma2_b is None:
        mu_b, sigma2_b = mu, sigma2
    else:
        mu_b, sigma2_b = _check(mu_b, sigma2_b, "_b")
    if mu.ndim != 2 or mu_b.ndim != 2 or mu.shape[1] != mu_b.shape[1]:
        raise ValueError(f"expected (N, D) and (M, D) arrays, got {mu.shape} and {mu_b.shape}")
    n, m, d = len(mu), len(mu_b), mu.shape[1]
    out = np.empty((n, m), dtype=np.float64)
    rows = max(1, _BLOCK_ELEMS // max(1, m * d))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        s = sigma2[start:stop, None, :] + sigma2_b[None, :, :]
        diff2 = mu[start:stop, None, :] - mu_b[None, :, :]
        np.square(diff2, out=diff2)  # in place: fewer temporaries on big blocks
        np.divide(diff2, s, out=diff2)
        np.log(s, out=s)
        diff2 += s
        out[start:stop] = -0.5 * diff2.sum(axis=-1)
    return out


def pairwise_mls_scores(
    mu: np.ndarray, sigma2: np.ndarray, i: ArrayLike, j: ArrayLike
) -> np.ndarray:
    """MLS of the index pairs ``(i[k], j[k])`` of one set of Gaussians, in blocks."""
    mu, sigma2 = _check(mu, sigma2)
    i = np.asarray(i, dtype=np.int64).ravel()
    j = np.asarray(j, dtype=np.int64).ravel()
    if i.shape != j.shape:
        raise ValueError(f"i and j must have the same length, got {len(i)} and {len(j)}")
    if mu.ndim != 2:
        raise ValueError(f"mu must be (N, D), got {mu.shape}")
    n, d = mu.shape
    if len(i) and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n):
        raise ValueError(f"pair indices must lie in [0, {n})")
    out = np.empty(len(i), dtype=np.float64)
    step = max(1, _BLOCK_ELEMS // max(1, d))
    for start in range(0, len(i), step):
        a, b = i[start : start + step], j[start : start + step]
        s = sigma2[a] + sigma2[b]
        out[start : start + step] = -0.5 * np.sum((mu[a] - mu[b]) ** 2 / s + np.log(s), axis=1)
    return out


def genuine_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``i < j`` with equal labels."""
    labels = np.asarray(labels)
    i, j = np.triu_indices(len(labels), k=1)
    keep = labels[i] == labels[j]
    return i[keep], j[keep]


def mls_loss(mu: np.ndarray, sigma2: np.ndarray, labels: np.ndarray) -> float:
    """Mean ``-MLS`` over the genuine pairs (equal labels, ``i < j``) of a batch."""
    i, j = genuine_pairs(labels)
    if len(i) == 0:
        raise ValueError("the batch has no genuine pair: give at least two faces of one person")
    return float(-np.mean(pairwise_mls_scores(mu, sigma2, i, j)))


def fuse(mu: np.ndarray, sigma2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fuse ``n`` Gaussians of one person, per dimension; returns ``(mu_fused, sigma2_fused)``.

    ``1/sigma2_fused = sum_i 1/sigma2_i`` and ``mu_fused = sum_i (sigma2_fused / sigma2_i) mu_i``:
    a precision-weighted mean, so a sharp photo counts more than a blurred one.
    """
    mu, sigma2 = _check(mu, sigma2)
    if mu.ndim != 2 or len(mu) == 0:
        raise ValueError(f"expected (n, D) arrays with n >= 1, got {mu.shape}")
    precision = 1.0 / sigma2
    sigma2_fused = 1.0 / precision.sum(axis=0)
    mu_fused = np.sum(sigma2_fused * precision * mu, axis=0)
    return mu_fused, sigma2_fused


def harmonic_mean(sigma2: np.ndarray) -> np.ndarray:
    """Harmonic mean of ``sigma2`` over the last axis (the paper's uncertainty of a face)."""
    sigma2 = np.asarray(sigma2, dtype=np.float64)
    return sigma2.shape[-1] / np.sum(1.0 / sigma2, axis=-1)


def confidence(sigma2: np.ndarray) -> np.ndarray:
    """Confidence of a face: ``1 / harmonic_mean(sigma2)``, its mean precision; larger is surer."""
    return 1.0 / harmonic_mean(sigma2)
