"""The DET curve: false non-match rate against false match rate, from a sweep.

Biometric reports (ISO/IEC 19795-1, NIST FRVT, bob.measure) draw both error rates
against each other, usually on normal-deviate axes, where two Gaussian score
distributions give a straight line. In their words a false accept is a **false match**
(FMR = FAR) and a false reject a **false non-match** (FNMR = FRR).

``det_curve`` gives the same points as ``sklearn.metrics.det_curve(...,
drop_intermediate=False)``, with thresholds in the score's own units; ``det_points``
thins them to a few hundred for a JSON record or a figure, evenly on the
normal-deviate scale of both rates so that both tails keep their shape.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from facedash.verification.sweep import Sweep

DET_POINTS = 300


def det_curve(sw: Sweep) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fmr, fnmr, thresholds)``, FMR decreasing, as scikit-learn's ``det_curve``.

    Thresholds run from the strictest one whose FNMR is already 0 (loosest end, FMR
    highest) to the loosest one whose FMR is still 0 (the accept-nothing point,
    +inf for a similarity and -inf for a distance, when no genuine pair scores above
    every impostor): the points in between are the ones a DET plot can show.
    """
    if sw.positives == 0 or sw.negatives == 0:
        raise ValueError("a DET curve needs both genuine and impostor pairs")
    start = np.inf if sw.higher_is_same else -np.inf
    tps = np.r_[0, sw.tp]
    fps = np.r_[0, sw.fp]
    thresholds = np.r_[start, sw.thresholds]
    first = int(np.searchsorted(fps, fps[0], side="right")) - 1  # last point with FMR 0
    last = int(np.searchsorted(tps, tps[-1])) + 1  # first point with FNMR 0, inclusive
    sl = slice(first, last)
    return (
        fps[sl][::-1] / sw.negatives,
        (sw.positives - tps[sl])[::-1] / sw.positives,
        thresholds[sl][::-1],
    )


def _probit(rate: np.ndarray, floor: float) -> np.ndarray:
    return ndtri(np.clip(rate, floor, 1 - floor))


def det_points(sw: Sweep, max_points: int = DET_POINTS) -> dict[str, np.ndarray]:
    """The DET curve thinned to at most ``max_points``: ``{"fmr", "fnmr", "thresholds"}``.

    Points are spaced evenly along the curve's length on the normal-deviate scale (a
    rate of 0 drawn at half of one error), so both tails keep their shape; both ends are
    kept, and a curve with fewer points comes back whole.
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    fmr, fnmr, thr = det_curve(sw)
    n = len(fmr)
    if n > max_points:
        # Distance travelled along the curve on the probit scale (rates of 0 or 1 at half an
        # error): keep the point nearest each of max_points evenly spaced marks along it.
        floor = 0.5 / max(sw.positives, sw.negatives)
        x, y = _probit(fmr, floor), _probit(fnmr, floor)
        along = np.r_[0.0, np.cumsum(np.hypot(np.diff(x), np.diff(y)))]
        marks = np.linspace(0.0, along[-1], max_points)
        idx = np.unique(np.r_[0, np.searchsorted(along, marks).clip(0, n - 1), n - 1])
        if len(idx) > max_points:  # searchsorted ties can add a point or two
            idx = idx[np.linspace(0, len(idx) - 1, max_points).round().astype(int)]
        fmr, fnmr, thr = fmr[idx], fnmr[idx], thr[idx]
    return {"fmr": fmr, "fnmr": fnmr, "thresholds": thr}
