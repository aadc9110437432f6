"""Uncertainty and breakdowns of a sweep: bootstrap intervals over people, and subgroups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facedash.verification.pairs import Pairs, _codes
from facedash.verification.sweep import Confusion, Sweep, _auc, sweep


@dataclass(frozen=True)
class Interval:
    """A bootstrap estimate: the full-data value and a percentile interval."""

    value: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Bootstrap:
    """Percentile intervals for the AUC and for the rates at one threshold."""

    auc: Interval
    rates: dict[str, Interval]
    threshold: float
    replicates: int
    valid: int  # replicates with both genuine and impostor pairs
    level: float
    seed: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "auc": self.auc.as_dict(),
            "rates": {k: v.as_dict() for k, v in self.rates.items()},
            "threshold": self.threshold,
            "replicates": self.replicates,
            "valid": self.valid,
            "level": self.level,
            "seed": self.seed,
        }


_RATES = ("tar", "far", "frr", "precision", "f1", "accuracy")


def _weighted_rates(tp: float, fp: float, pos: float, neg: float) -> dict[str, float]:
    fn, tn = pos - tp, neg - fp
    return {
        "tar": tp / pos if pos else np.nan,
        "far": fp / neg if neg else np.nan,
        "frr": fn / pos if pos else np.nan,
        "precision": tp / (tp + fp) if tp + fp else np.nan,
        "f1": 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else np.nan,
        "accuracy": (tp + tn) / (pos + neg) if pos + neg else np.nan,
    }


def bootstrap(
    sw: Sweep,
    pairs: Pairs,
    people: Sequence[str] | np.ndarray,
    threshold: float,
    *,
    replicates: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> Bootstrap:
    """Seeded bootstrap over PEOPLE: intervals for the AUC and the rates at ``threshold``.

    Each replicate draws the people with replacement; a pair counts ``m_a * m_b`` times,
    where ``m`` is how often each of its two people was drawn (0 leaves it out). The
    pairs are sorted once, so a replicate is two weighted cumulative
    sums. Replicates without genuine or without impostor pairs are skipped (``valid``).
    """
    if replicates < 1:
        raise ValueError(f"replicates must be positive, got {replicates}")
    if not 0 < level < 1:
        raise ValueError(f"level must be within (0, 1), got {level}")
    codes = _codes(people)
    n_people = int(codes.max()) + 1 if len(codes) else 0
    order, last = sw.order()
    pa, pb = codes[pairs.i][order], codes[pairs.j][order]
    y = np.asarray(pairs.same, bool)[order]
    k = sw.index(threshold)
    accepted = (np.arange(len(y)) <= last[k]) if k >= 0 else np.zeros(len(y), bool)
    rng = np.random.default_rng(seed)
    aucs = np.full(replicates, np.nan)
    rates = {r: np.full(replicates, np.nan) for r in _RATES}
    for b in range(replicates):
        m = np.bincount(rng.integers(0, n_people, n_people), minlength=n_people).astype(np.float64)
        w = m[pa] * m[pb]
        tps = np.cumsum(w * y)[last]
        fps = np.cumsum(w * ~y)[last]
        pos, neg = tps[-1], fps[-1]
        if pos <= 0 or neg <= 0:
            continue
        aucs[b] = _auc(fps, tps)
        got = _weighted_rates(
            float((w * y)[accepted].sum()), float((w * ~y)[accepted].sum()), pos, neg
        )
        for r in _RATES:
            rates[r][b] = got[r]
    alpha = (1 - level) / 2
    valid = int(np.isfinite(aucs).sum())
    point = sw.at(threshold)
    full = _weighted_rates(point.tp, point.fp, sw.positives, sw.negatives)

    def interval(values: np.ndarray, value: float) -> Interval:
        v = values[np.isfinite(values)]
        if not len(v):
            return Interval(value, np.nan, np.nan)
        lo, hi = np.quantile(v, [alpha, 1 - alpha])
        return Interval(float(value), float(lo), float(hi))

    return Bootstrap(
        auc=interval(aucs, sw.auc),
        rates={r: interval(rates[r], full[r]) for r in _RATES},
        threshold=float(threshold),
        replicates=replicates,
        valid=valid,
        level=level,
        seed=seed,
    )


# -- subgroups ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Subgroup:
    """One group's ROC, AUC and error rates at the shared threshold."""

    group: str
    genuine: int
    impostor: int
    auc: float
    fpr: np.ndarray = field(repr=False)
    tpr: np.ndarray = field(repr=False)
    at: Confusion | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no curve)."""
        return {
            "group": self.group,
            "genuine": self.genuine,
            "impostor": self.impostor,
            "auc": self.auc,
            "far": self.at.far if self.at else None,
            "frr": self.at.frr if self.at else None,
        }


def subgroup_sweeps(
    scores: np.ndarray,
    pairs: Pairs,
    groups: Sequence[str] | np.ndarray,
    *,
    score: str = "cosine",
) -> dict[str, Sweep]:
    """One sweep per group (computed once; ``subgroups_at`` then reads any threshold).

    A pair belongs to group ``g`` when both of its faces carry ``g`` (pairs across
    groups are left out); groups without any pair are omitted.
    """
    g = np.asarray(groups, dtype=object).astype(str)
    ga, gb = g[pairs.i], g[pairs.j]
    same_group = ga == gb
    out: dict[str, Sweep] = {}
    for name in np.unique(g):
        mask = same_group & (ga == name)
        if mask.any():
            out[str(name)] = sweep(np.asarray(scores)[mask], pairs.same[mask], score=score)
    return out


def subgroups_at(sweeps: Mapping[str, Sweep], threshold: float) -> list[Subgroup]:
    """Each group's ROC, AUC, FAR and FRR at the shared ``threshold`` (AUC NaN without both classes)."""
    out = []
    for name, sw in sweeps.items():
        if sw.positives and sw.negatives:
            fpr, tpr, _ = sw.roc()
        else:
            fpr, tpr = np.zeros(1), np.zeros(1)
        out.append(Subgroup(name, sw.positives, sw.negatives, sw.auc, fpr, tpr, sw.at(threshold)))
    return out


def subgroups(
    scores: np.ndarray,
    pairs: Pairs,
    groups: Sequence[str] | np.ndarray,
    threshold: float,
    *,
    score: str = "cosine",
) -> list[Subgroup]:
    """Per-group ROC, AUC, FAR and FRR at the shared ``threshold`` (see ``subgroup_sweeps``)."""
    return subgroups_at(subgroup_sweeps(scores, pairs, groups, score=score), threshold)
