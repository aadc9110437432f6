"""The threshold sweep: counts and rates at every distinct threshold, from one sort.

``sweep`` works on a "higher is same" key (a distance negated) and reports every
threshold in the score's own units, with the decision rule ``score >= t`` for
similarities and ``score <= t`` for distances. It sorts the scores once and takes
cumulative sums (as scikit-learn's ``_binary_clf_curve``), giving TP, FP, TN, FN and
every rate at every distinct threshold with no loop over thresholds. A threshold
from a slider is then a binary search into those arrays (``Sweep.at``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facedash.verification.scores import score_kind


@dataclass(frozen=True)
class Confusion:
    """Counts and rates at one threshold."""

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1 when nothing is accepted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN), the true accept rate (TAR)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """2 TP / (2 TP + FP + FN)."""
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else 0.0

    @property
    def accuracy(self) -> float:
        """(TP + TN) / all pairs."""
        n = self.tp + self.fp + self.tn + self.fn
        return (self.tp + self.tn) / n if n else 0.0

    @property
    def far(self) -> float:
        """False accept rate FP / (FP + TN)."""
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    @property
    def frr(self) -> float:
        """False reject rate FN / (TP + FN)."""
        return self.fn / (self.tp + self.fn) if self.tp + self.fn else 0.0

    def as_dict(self) -> dict[str, float | int]:
        """JSON-ready counts and rates."""
        return {
            "threshold": float(self.threshold),
            "tp": self.tp,
            "fp": self.fp,
            "tn": self.tn,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "accuracy": self.accuracy,
            "far": self.far,
            "frr": self.frr,
        }


def _curve(
    key_sorted: np.ndarray, y_sorted: np.ndarray, w_sorted: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative TP and FP at each distinct key (keys sorted descending)."""
    distinct = np.flatnonzero(np.diff(key_sorted))
    last = np.r_[distinct, len(key_sorted) - 1]
    if w_sorted is None:
        tps = np.cumsum(y_sorted, dtype=np.int64)[last]
        fps = (last + 1) - tps
    else:
        tps = np.cumsum(w_sorted * y_sorted)[last]
        fps = np.cumsum(w_sorted * ~y_sorted)[last]
    return last, tps, fps


def _auc(fps: np.ndarray, tps: np.ndarray) -> float:
    """Trapezoidal ROC area from cumulative counts (the (0, 0) point added)."""
    if len(tps) == 0 or tps[-1] <= 0 or fps[-1] <= 0:
        return float("nan")
    fpr = np.r_[0.0, fps / fps[-1]]
    tpr = np.r_[0.0, tps / tps[-1]]
    return float(np.trapezoid(tpr, fpr))


@dataclass(frozen=True)
class Sweep:
    """Counts and rates at every distinct threshold, strictest first.

    ``thresholds`` are in the score's units; a pair is accepted ("same") at
    threshold ``t`` when ``score >= t`` (similarity) or ``score <= t`` (distance).
    Index ``k`` accepts every pair at least as "same" as the ``k``-th distinct score.
    """

    score: str
    higher_is_same: bool
    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    positives: int
    negatives: int
    key: np.ndarray = field(repr=False)  # each pair's "higher is same" key, in pair order

    def order(self) -> tuple[np.ndarray, np.ndarray]:
        """``(order, last)``: pairs most-"same" first, and the last position of each distinct key."""
        order = np.argsort(-self.key, kind="stable")
        key_sorted = self.key[order]
        return order, np.r_[np.flatnonzero(np.diff(key_sorted)), len(key_sorted) - 1]

    # counts
    @property
    def fn(self) -> np.ndarray:
        """False rejects at each threshold."""
        return self.positives - self.tp

    @property
    def tn(self) -> np.ndarray:
        """True rejects at each threshold."""
        return self.negatives - self.fp

    # rates
    @property
    def precision(self) -> np.ndarray:
        """TP / (TP + FP) at each threshold."""
        return self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> np.ndarray:
        """TAR = TP / P at each threshold."""
        return self.tp / max(self.positives, 1)

    @property
    def f1(self) -> np.ndarray:
        """2 TP / (2 TP + FP + FN) at each threshold."""
        return 2 * self.tp / (self.tp + self.fp + self.positives)

    @property
    def accuracy(self) -> np.ndarray:
        """(TP + TN) / all at each threshold."""
        return (self.tp + self.tn) / (self.positives + self.negatives)

    @property
    def far(self) -> np.ndarray:
        """FP / N at each threshold (the ROC's FPR)."""
        return self.fp / max(self.negatives, 1)

    @property
    def frr(self) -> np.ndarray:
        """FN / P at each threshold (1 - TAR)."""
        return self.fn / max(self.positives, 1)

    # the ROC
    def roc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(fpr, tpr, thresholds)`` with the accept-nothing point first.

        As sklearn's ``roc_curve(drop_intermediate=False)``; the first threshold is
        +inf for a similarity, -inf for a distance.
        """
        start = np.inf if self.higher_is_same else -np.inf
        return (
            np.r_[0.0, self.far],
            np.r_[0.0, self.recall],
            np.r_[start, self.thresholds],
        )

    @property
    def auc(self) -> float:
        """Area under the ROC curve (trapezoidal; ties count half, as ``roc_auc_score``)."""
        return _auc(self.fp, self.tp)

    def _key(self, threshold: float) -> float:
        return threshold if self.higher_is_same else -threshold

    def index(self, threshold: float) -> int:
        """Index of the sweep point that ``threshold`` lands on; -1 when it accepts nothing."""
        keys = self.thresholds if self.higher_is_same else -self.thresholds
        # keys descend; count distinct keys >= the threshold's key.
        return int(np.searchsorted(-keys, -self._key(threshold), side="right")) - 1

    def at(self, threshold: float) -> Confusion:
        """Confusion counts at ``threshold`` (score units): one binary search."""
        k = self.index(threshold)
        tp = int(self.tp[k]) if k >= 0 else 0
        fp = int(self.fp[k]) if k >= 0 else 0
        return Confusion(float(threshold), tp, fp, self.negatives - fp, self.positives - tp)

    def accepts(self, scores: np.ndarray, threshold: float) -> np.ndarray:
        """Boolean "same" decision of ``scores`` at ``threshold``."""
        s = np.asarray(scores)
        return s >= threshold if self.higher_is_same else s <= threshold

    # operating points
    def best_f1(self) -> Confusion:
        """The threshold of maximal F1 (the strictest of ties)."""
        return self.at(float(self.thresholds[int(np.argmax(self.f1))]))

    def eer(self) -> tuple[float, float]:
        """``(EER, threshold)``: where FAR = FRR on the ROC.

        The rate is linearly interpolated between the two ROC points around the
        crossing; the threshold is the sweep point with the smallest |FAR - FRR|.
        """
        far = self.fp / max(self.negatives, 1)
        d = far - (self.positives - self.tp) / max(self.positives, 1)  # FAR - FRR, rising to >= 0
        k = int(np.argmax(d >= 0))
        # The point before k; before the first comes "accept nothing": FAR 0, FRR 1.
        far0, d0 = (far[k - 1], d[k - 1]) if k > 0 else (0.0, -1.0)
        d1 = d[k]
        t = d0 / (d0 - d1) if d1 != d0 else 0.0
        eer = float(far0 + t * (far[k] - far0))
        j = int(np.argmin(np.abs(d)))
        return eer, float(self.thresholds[j])

    def threshold_at_far(self, target: float) -> float | None:
        """The loosest threshold whose FAR is at most ``target`` (None if even the strictest exceeds it)."""
        if not 0 <= target <= 1:
            raise ValueError(f"target FAR must be within [0, 1], got {target}")
        ok = np.flatnonzero(self.far <= target + 1e-15)
        return float(self.thresholds[ok[-1]]) if len(ok) else None

    def tar_at_far(self, target: float) -> float:
        """Highest TAR with FAR at most ``target`` (0 if no threshold reaches it)."""
        t = self.threshold_at_far(target)
        return self.at(t).recall if t is not None else 0.0

    def table(self, max_rows: int | None = None) -> dict[str, np.ndarray]:
        """Every threshold's counts and rates (evenly thinned to ``max_rows`` if given)."""
        idx = np.arange(len(self.thresholds))
        if max_rows is not None and len(idx) > max_rows:
            idx = np.unique(np.linspace(0, len(idx) - 1, max_rows).round().astype(int))
        return {
            "threshold": self.thresholds[idx],
            "tp": self.tp[idx],
            "fp": self.fp[idx],
            "tn": self.tn[idx],
            "fn": self.fn[idx],
            "precision": self.precision[idx],
            "recall": self.recall[idx],
            "f1": self.f1[idx],
            "accuracy": self.accuracy[idx],
            "far": self.far[idx],
            "frr": self.frr[idx],
        }


def sweep(scores: np.ndarray, same: np.ndarray, *, score: str = "cosine") -> Sweep:
    """Counts at every distinct threshold: one sort, two cumulative sums."""
    kind = score_kind(score)
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(same, dtype=bool)
    if s.ndim != 1 or s.shape != y.shape:
        raise ValueError(
            f"scores and same must be 1-D of equal length, got {s.shape} and {y.shape}"
        )
    if len(s) == 0:
        raise ValueError("no pairs to sweep")
    if not np.isfinite(s).all():
        raise ValueError(f"{int((~np.isfinite(s)).sum())} scores are not finite")
    key = s if kind.higher_is_same else -s
    # Sort each class on its own (plain sorts, no index), then merge the two sorted runs
    # with a stable argsort (timsort merges runs in linear time): the merged position
    # says the class. About twice as fast as one argsort of every pair.
    neg_key = -key
    gen, imp = np.sort(neg_key[y]), np.sort(neg_key[~y])
    merged = np.concatenate([gen, imp])
    pos = np.argsort(merged, kind="stable")
    last, tps, fps = _curve(merged[pos], pos < len(gen), None)
    thresholds = -merged[pos[last]]
    if not kind.higher_is_same:
        thresholds = -thresholds
    return Sweep(
        score=kind.id,
        higher_is_same=kind.higher_is_same,
        thresholds=thresholds,
        tp=tps,
        fp=fps,
        positives=len(gen),
        negatives=len(imp),
        key=key,
    )
