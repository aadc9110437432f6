"""Development → evaluation: a threshold chosen on one split and reported on another.

A threshold read off the same pairs it is scored on (the page's max-F1 optimum, its
EER threshold) is an **in-sample** figure: it is as good as that threshold will ever
look. Biometric evaluation (bob.measure, ISO/IEC 19795-1) chooses the threshold on a
**development** set and reports the error rates it gives on an **evaluation** set.

Here a split is one value of a face attribute (the demo set: ``split`` = ``train`` /
``val``). The development pairs are the pairs whose two faces both carry the
development value, the evaluation pairs those whose two faces both carry the
evaluation value (pairs across splits are left out); each split's pairs are all its
pairs, or past ``max_pairs`` a seeded balanced sample (``sample_pairs``).

Criteria (``Criterion``), each applied to the development sweep only:

* ``target_fmr``: the most lenient threshold whose development FMR does not exceed
  the target (when even the strictest exceeds it: a threshold that accepts nothing);
* ``eer``: the threshold where development FMR and FNMR cross (``Sweep.eer``);
* ``f1``: the threshold of maximal development F1 (``Sweep.best_f1``);
* ``cost``: the threshold minimising ``cost · FMR + FNMR``, where ``cost`` is what one
  false match costs in false non-matches (accepting nothing, cost 1, is a candidate).

The decision rule is ``score >= t`` for similarities, ``score <= t`` for distances.
The evaluation figures come with a bootstrap interval over the evaluation set's
people (``intervals.bootstrap``), and beside them the evaluation set's own in-sample
optimum under the same criterion: the gap between the two is what choosing and
scoring on the same pairs hides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from facedash.verification.intervals import Bootstrap, bootstrap
from facedash.verification.pairs import Pairs, sample_pairs
from facedash.verification.scores import HasEmbeddings, pair_scores
from facedash.verification.sweep import Confusion, Sweep, sweep

CRITERIA = {
    "target_fmr": "target FMR",
    "eer": "EER (FMR = FNMR)",
    "f1": "max F1",
    "cost": "min cost",
}
DEFAULT_COST = 10.0


@dataclass(frozen=True)
class Criterion:
    """How a threshold is chosen on development pairs (see the module docstring)."""

    name: str = "eer"
    target_fmr: float | None = None
    cost: float = DEFAULT_COST

    def __post_init__(self) -> None:
        if self.name not in CRITERIA:
            raise ValueError(f"unknown criterion {self.name!r}; known: {', '.join(CRITERIA)}")
        if self.name == "target_fmr":
            if self.target_fmr is None or not 0 <= self.target_fmr <= 1:
                raise ValueError(f"a target FMR must be within [0, 1], got {self.target_fmr}")
        if self.name == "cost" and not (np.isfinite(self.cost) and self.cost > 0):
            raise ValueError(f"the cost of a false match must be positive, got {self.cost}")

    @property
    def label(self) -> str:
        """The criterion in words (``FMR ≤ 1%``, ``EER``, ``max F1``, ``min 10·FMR + FNMR``)."""
        if self.name == "target_fmr":
            return f"FMR ≤ {self.target_fmr:.4g}"
        if self.name == "cost":
            return f"min {self.cost:g}·FMR + FNMR"
        return CRITERIA[self.name]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: the name and its parameter."""
        return {
            "criterion": self.name,
            "target_fmr": self.target_fmr if self.name == "target_fmr" else None,
            "cost": self.cost if self.name == "cost" else None,
        }


def accept_nothing(sw: Sweep) -> float:
    """A threshold that accepts no pair of ``sw`` (just past its strictest score)."""
    strictest = float(sw.thresholds[0])
    return float(np.nextafter(strictest, np.inf if sw.higher_is_same else -np.inf))


def choose_threshold(sw: Sweep, criterion: Criterion) -> float:
    """The threshold ``criterion`` picks on ``sw`` (score units)."""
    if criterion.name == "target_fmr":
        assert criterion.target_fmr is not None  # checked in Criterion
        t = sw.threshold_at_far(criterion.target_fmr)
        return accept_nothing(sw) if t is None else t
    if criterion.name == "eer":
        return sw.eer()[1]
    if criterion.name == "f1":
        return sw.best_f1().threshold
    cost = criterion.cost * sw.far + sw.frr  # at every sweep point, strictest first
    k = int(np.argmin(cost))
    return accept_nothing(sw) if cost[k] > 1.0 else float(sw.thresholds[k])


@dataclass(frozen=True)
class Split:
    """One split's faces, pairs, scores and sweep.

    ``index`` are the split's rows of the set; ``pairs`` index into ``index`` (so a
    bootstrap draws only this split's people); ``global_pairs`` index the set itself.
    """

    attribute: str
    value: str
    index: np.ndarray
    people: np.ndarray
    pairs: Pairs
    scores: np.ndarray
    sweep: Sweep

    @property
    def global_pairs(self) -> Pairs:
        """The split's pairs as indices into the whole set."""
        p = self.pairs
        return Pairs(self.index[p.i], self.index[p.j], p.same, source=p.source)

    def counts(self) -> dict[str, int]:
        """``{"genuine", "impostor"}`` pair counts."""
        return {"genuine": self.pairs.genuine, "impostor": self.pairs.impostor}


def split_of(
    es: HasEmbeddings,
    people: Sequence[str] | np.ndarray,
    groups: Sequence[str] | np.ndarray,
    attribute: str,
    value: str,
    *,
    score: str = "cosine",
    max_pairs: int = 1_000_000,
    seed: int = 0,
) -> Split:
    """The pairs within one split (both faces with ``groups == value``), scored and swept."""
    g = np.asarray(groups, dtype=object).astype(str)
    index = np.flatnonzero(g == value)
    if len(index) == 0:
        known = ", ".join(sorted(set(g.tolist()))) or "none"
        raise ValueError(f"no face has {attribute} = {value!r}; values: {known}")
    split_people = np.asarray(people, dtype=object)[index]
    if len(index) < 2:
        raise ValueError(f"{attribute} = {value!r} has one face: no pairs to score")
    local = sample_pairs(split_people, max_pairs, seed=seed)
    if local.genuine == 0 or local.impostor == 0:
        raise ValueError(
            f"{attribute} = {value!r} needs both same-person and different-person pairs, "
            f"got {local.genuine} and {local.impostor}"
        )
    scores = pair_scores(es, Pairs(index[local.i], index[local.j], local.same), score)
    sw = sweep(scores, local.same, score=score)
    return Split(attribute, value, index, split_people, local, scores, sw)


def error_rates(c: Confusion) -> dict[str, float]:
    """FMR, FNMR, precision, F1 and accuracy of one confusion matrix."""
    return {
        "fmr": c.far,
        "fnmr": c.frr,
        "precision": c.precision,
        "f1": c.f1,
        "accuracy": c.accuracy,
    }


_BOOT_NAMES = {
    "far": "fmr",
    "frr": "fnmr",
    "precision": "precision",
    "f1": "f1",
    "accuracy": "accuracy",
}


@dataclass(frozen=True)
class DevEval:
    """A threshold chosen on ``dev`` and the figures it gives on ``eval``."""

    criterion: Criterion
    dev: Split
    eval: Split
    threshold: float  # chosen on dev
    in_sample_threshold: float  # the same criterion on eval's own pairs
    interval: Bootstrap | None  # over eval's people, at ``threshold``

    @property
    def chosen(self) -> Confusion:
        """The development figures at the chosen threshold."""
        return self.dev.sweep.at(self.threshold)

    @property
    def reported(self) -> Confusion:
        """The evaluation figures at the threshold chosen on development."""
        return self.eval.sweep.at(self.threshold)

    @property
    def in_sample(self) -> Confusion:
        """The evaluation figures at eval's own optimum (in-sample, optimistic)."""
        return self.eval.sweep.at(self.in_sample_threshold)

    def interval_record(self) -> dict[str, Any] | None:
        """The bootstrap over eval's people: FMR, FNMR, precision, F1, accuracy intervals."""
        b = self.interval
        if b is None:
            return None
        out: dict[str, Any] = {"level": b.level, "replicates": b.replicates, "valid": b.valid}
        out["seed"] = b.seed
        for name, key in _BOOT_NAMES.items():
            out[key] = b.rates[name].as_dict()
        return out

    def choose_record(self) -> dict[str, Any]:
        """``{"split", "criterion", "threshold", "fmr", "fnmr", "pairs"}`` (``facedash verify``)."""
        c = self.chosen
        return {
            "split": self.dev.value,
            "criterion": self.criterion.name,
            "threshold": self.threshold,
            "fmr": c.far,
            "fnmr": c.frr,
            "pairs": self.dev.counts(),
        }

    def report_record(self) -> dict[str, Any]:
        """``{"split", "threshold", "fmr", "fnmr", "precision", "f1", "accuracy", "pairs", "interval"}``."""
        return {
            "split": self.eval.value,
            "threshold": self.threshold,
            **error_rates(self.reported),
            "pairs": self.eval.counts(),
            "interval": self.interval_record(),
        }

    def in_sample_record(self) -> dict[str, Any]:
        """Eval's own optimum under the same criterion: what the in-sample reading would say."""
        return {
            "split": self.eval.value,
            "criterion": self.criterion.name,
            "threshold": self.in_sample_threshold,
            **error_rates(self.in_sample),
        }


def dev_eval(
    es: HasEmbeddings,
    people: Sequence[str] | np.ndarray,
    groups: Sequence[str] | np.ndarray,
    dev: str,
    evaluation: str,
    criterion: Criterion,
    *,
    attribute: str = "split",
    score: str = "cosine",
    max_pairs: int = 1_000_000,
    seed: int = 0,
    replicates: int = 200,
    boot_seed: int = 0,
    level: float = 0.95,
) -> DevEval:
    """Choose a threshold on the ``dev`` split's pairs, report it on the ``evaluation`` split's.

    ``groups`` is each face's value of ``attribute``. ``replicates`` of 0 skips the
    bootstrap interval.
    """
    d, e = (
        split_of(es, people, groups, attribute, v, score=score, max_pairs=max_pairs, seed=seed)
        for v in (dev, evaluation)
    )
    threshold = choose_threshold(d.sweep, criterion)
    interval = (
        bootstrap(
            e.sweep,
            e.pairs,
            e.people,
            threshold,
            replicates=replicates,
            seed=boot_seed,
            level=level,
        )
        if replicates > 0
        else None
    )
    return DevEval(criterion, d, e, threshold, choose_threshold(e.sweep, criterion), interval)
