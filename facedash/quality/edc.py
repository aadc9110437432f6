"""The Error-versus-Discard Characteristic (EDC) of a quality measure: pure numpy.

Inputs are pairs, not faces: each pair's ``quality`` (the lower of its two faces'),
its ``key`` (the comparison score on a "higher is same" scale: a similarity as it is,
a distance negated) and whether it is ``genuine``. A pair is rejected at threshold
``t`` (on the key's scale) when ``key < t``.

Two forms, both on the grid of discard fractions ``f = k / 20``, ``k = 0 ... 19``:

``fixed`` (Schlett et al., "Considerations on the evaluation of biometric quality
    assessment algorithms", 2023): take the genuine pairs; order them by quality,
    lowest first, ties by their row order; at grid point ``k`` drop the first
    ``floor(k * n / 20)`` of the ``n`` genuine pairs and report the share of the rest
    that the one fixed threshold rejects.
``rethreshold`` (the ERC of the CR-FIQA / SER-FIQ evaluation code): order *all* pairs,
    genuine and impostor, by quality, drop the first ``floor(k * N / 20)`` of the ``N``,
    choose the loosest threshold whose false-match rate on the remaining impostor pairs
    is at most the starting one (``fmr0``, the FMR of the starting threshold on every
    impostor pair), and report the FNMR of the remaining genuine pairs at it.

``pauc`` is the trapezoid area under FNMR over the grid points from 0 to ``PAUC_UPTO``
(0.20), not normalised. The ``oracle`` orders genuine pairs by their own score (the
worst-scored first; impostor pairs by how high they score) and the ``random`` curve is
the mean over seeded random orders: the best and the no-information references.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEPS = 20
GRID = np.arange(STEPS) / STEPS  # 0, 0.05, ..., 0.95
PAUC_UPTO = 0.20
FORMS = ("fixed", "rethreshold")
RANDOM_ORDERS = 20


@dataclass(frozen=True)
class Curve:
    """One EDC: FNMR at each discard fraction, and its partial area."""

    discard: np.ndarray
    fnmr: np.ndarray
    pauc: float

    def as_dict(self) -> dict[str, object]:
        """``{"discard", "fnmr", "pauc"}`` as plain lists and floats."""
        return {
            "discard": [float(f) for f in self.discard],
            "fnmr": [float(v) for v in self.fnmr],
            "pauc": float(self.pauc),
        }


def partial_area(fnmr: np.ndarray, discard: np.ndarray = GRID, upto: float = PAUC_UPTO) -> float:
    """Trapezoid area of ``fnmr`` over the grid points with ``discard <= upto`` (not normalised)."""
    fnmr, discard = np.asarray(fnmr, dtype=np.float64), np.asarray(discard, dtype=np.float64)
    keep = discard <= upto + 1e-12
    x, y = discard[keep], fnmr[keep]
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def drop_counts(n: int, steps: int = STEPS) -> np.ndarray:
    """How many of ``n`` ordered items grid point ``k`` drops: ``floor(k * n / steps)`` (integers)."""
    return np.array([(k * n) // steps for k in range(steps)], dtype=np.int64)


def order_by_quality(quality: np.ndarray) -> np.ndarray:
    """Indices lowest quality first; ties keep their row order (a stable sort)."""
    return np.argsort(np.asarray(quality, dtype=np.float64), kind="stable")


def fixed_fnmr(quality: np.ndarray, key: np.ndarray, threshold: float) -> np.ndarray:
    """The fixed-threshold EDC of *genuine* pairs: FNMR after each grid point's discard.

    ``quality`` and ``key`` are the genuine pairs' own, in row order.
    """
    key = np.asarray(key, dtype=np.float64)
    n = len(key)
    if n == 0:
        raise ValueError("the EDC needs at least one genuine pair")
    rejected = (key < threshold)[order_by_quality(quality)]
    # rejected pairs among the last n - d of the order, for every d at once
    tail = np.r_[np.cumsum(rejected[::-1])[::-1], 0]
    d = drop_counts(n)
    return tail[d] / (n - d)


def loosest_threshold(impostor_keys: np.ndarray, fmr: float) -> float:
    """The loosest threshold at which at most ``floor(fmr * m)`` of ``m`` impostor keys are accepted."""
    keys = np.sort(np.asarray(impostor_keys, dtype=np.float64))[::-1]
    allowed = int(np.floor(fmr * len(keys) + 1e-9))
    if allowed >= len(keys):
        return -np.inf
    return float(np.nextafter(keys[allowed], np.inf))


def rethreshold_fnmr(
    quality: np.ndarray, key: np.ndarray, genuine: np.ndarray, fmr0: float
) -> tuple[np.ndarray, np.ndarray]:
    """The re-thresholded EDC over *all* pairs: ``(fnmr, thresholds)`` at each grid point.

    A grid point with no genuine pair left reports FNMR 0.
    """
    key = np.asarray(key, dtype=np.float64)
    genuine = np.asarray(genuine, dtype=bool)
    order = order_by_quality(quality)
    fnmr = np.zeros(STEPS)
    thresholds = np.zeros(STEPS)
    for k, d in enumerate(drop_counts(len(key))):
        kept = order[d:]
        g, imp = key[kept][genuine[kept]], key[kept][~genuine[kept]]
        t = loosest_threshold(imp, fmr0)
        thresholds[k] = t
        fnmr[k] = float(np.mean(g < t)) if len(g) else 0.0
    return fnmr, thresholds


def curve(
    quality: np.ndarray,
    key: np.ndarray,
    genuine: np.ndarray,
    threshold: float,
    *,
    form: str = "fixed",
) -> Curve:
    """The EDC of one pair quality, in either form (``threshold`` on the key's scale)."""
    key = np.asarray(key, dtype=np.float64)
    genuine = np.asarray(genuine, dtype=bool)
    quality = np.asarray(quality, dtype=np.float64)
    if form == "fixed":
        fnmr = fixed_fnmr(quality[genuine], key[genuine], threshold)
    elif form == "rethreshold":
        fmr0 = float(np.mean(key[~genuine] >= threshold)) if (~genuine).any() else 0.0
        fnmr, _ = rethreshold_fnmr(quality, key, genuine, fmr0)
    else:
        raise ValueError(f"unknown EDC form {form!r}; known: {', '.join(FORMS)}")
    return Curve(GRID.copy(), fnmr, partial_area(fnmr))


def oracle_quality(key: np.ndarray, genuine: np.ndarray) -> np.ndarray:
    """The oracle's pair quality: a genuine pair's own key, an impostor pair's negated key."""
    key = np.asarray(key, dtype=np.float64)
    return np.where(np.asarray(genuine, dtype=bool), key, -key)


def oracle(key: np.ndarray, genuine: np.ndarray, threshold: float, *, form: str = "fixed") -> Curve:
    """The best any measure can do: discard the worst-scored genuine pairs first."""
    return curve(oracle_quality(key, genuine), key, genuine, threshold, form=form)


def random_curve(
    key: np.ndarray,
    genuine: np.ndarray,
    threshold: float,
    *,
    form: str = "fixed",
    orders: int = RANDOM_ORDERS,
    seed: int = 0,
) -> Curve:
    """The mean EDC over ``orders`` random orders (seeds ``seed ... seed + orders - 1``)."""
    runs = [
        curve(
            np.random.default_rng(seed + r).permutation(len(key)).astype(np.float64),
            key,
            genuine,
            threshold,
            form=form,
        ).fnmr
        for r in range(orders)
    ]
    fnmr = np.mean(runs, axis=0)
    return Curve(GRID.copy(), fnmr, partial_area(fnmr))


def threshold_for_fnmr(genuine_keys: np.ndarray, fnmr: float) -> float:
    """The threshold whose FNMR over ``genuine_keys`` is ``round(fnmr * n) / n`` (ties aside)."""
    g = np.sort(np.asarray(genuine_keys, dtype=np.float64))
    if not len(g):
        raise ValueError("no genuine pair")
    if not 0.0 <= fnmr < 1.0:
        raise ValueError(f"the starting FNMR must lie in [0, 1), got {fnmr}")
    return float(g[min(int(round(fnmr * len(g))), len(g) - 1)])
