"""What a verification report says about one model on one face set (the numbers; HTML is figures/report.py).

For each model: its card, the ROC and DET sweep over the set's pairs, the threshold table
(the published default, EER, max F1, the threshold for a target FMR, and where the set has
a split attribute, a threshold chosen on one split and reported on another with its
interval over people), the subgroup table at the EER threshold, and the worst false accepts
and rejects at that threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facedash.models.cards import spec
from facedash.verification.intervals import subgroups
from facedash.verification.pairs import Pairs, sample_pairs
from facedash.verification.protocol import Criterion, dev_eval
from facedash.verification.report import failing_pairs
from facedash.verification.scores import pair_scores
from facedash.verification.sweep import Sweep, sweep

TARGET_FMR = 0.01
WORST = 6


@dataclass
class ModelReport:
    """One model's numbers for the report."""

    model: str
    card: dict[str, Any]
    score: str
    pairs: Pairs
    scores: np.ndarray = field(repr=False)
    sweep: Sweep = field(repr=False)
    thresholds: list[dict[str, Any]]
    dev_eval: dict[str, Any] | None
    subgroups: list[dict[str, Any]]
    subgroup_attribute: str | None
    worst: dict[str, list[int]]  # "false_accept" / "false_reject": indices into ``pairs``


def _row(name: str, sw: Sweep, threshold: float | None, note: str = "") -> dict[str, Any]:
    if threshold is None:
        return {
            "threshold": name,
            "value": None,
            "fmr": None,
            "fnmr": None,
            "f1": None,
            "note": note,
        }
    c = sw.at(threshold)
    return {
        "threshold": name,
        "value": threshold,
        "fmr": c.far,
        "fnmr": c.frr,
        "f1": c.f1,
        "note": note,
    }


def model_report(
    result: Any,
    *,
    max_pairs: int = 200_000,
    seed: int = 0,
    target_fmr: float = TARGET_FMR,
    split: str = "split",
    subgroup_attribute: str | None = None,
) -> ModelReport:
    """The report's numbers for the set ``result`` (an EmbeddingSet) under its own model."""
    card = spec(result.model_id)
    score = card.metric
    pairs = sample_pairs(result.people, max_pairs, seed=seed)
    scores = pair_scores(result, pairs, score)
    sw = sweep(scores, pairs.same, score=score)
    eer, eer_t = sw.eer()
    default = card.default_thresholds.get(score)
    rows = [
        _row("published default", sw, default, card.threshold_source or "none on the card"),
        _row("EER", sw, eer_t, f"EER {eer:.2%}"),
        _row("max F1", sw, sw.best_f1().threshold),
        _row(f"FMR ≤ {target_fmr:g}", sw, sw.threshold_at_far(target_fmr)),
    ]
    de_record = None
    groups = [r.attributes.get(split, "") for r in result.rows]
    values = sorted({g for g in groups if g})
    if split in result.attribute_names and len(values) >= 2:
        dev, evaluation = ("train", "val") if {"train", "val"} <= set(values) else values[:2]
        try:
            de = dev_eval(
                result, result.people, groups, dev, evaluation, Criterion("eer"),
                attribute=split, score=score, max_pairs=max_pairs, seed=seed,
            )  # fmt: skip
        except ValueError:
            de = None
        if de is not None:
            iv = de.interval
            de_record = {
                "attribute": split,
                "dev": dev,
                "eval": evaluation,
                "threshold": de.threshold,
                "reported": {"fmr": de.reported.far, "fnmr": de.reported.frr, "f1": de.reported.f1},
                "in_sample_threshold": de.in_sample_threshold,
                "interval": (
                    None
                    if iv is None
                    else {k: [iv.rates[k].low, iv.rates[k].high] for k in ("far", "frr")}
                    | {"level": iv.level}
                ),
            }
    subs: list[dict[str, Any]] = []
    if subgroup_attribute and subgroup_attribute in result.attribute_names:
        labels = [r.attributes.get(subgroup_attribute, "") for r in result.rows]
        subs = [g.as_dict() for g in subgroups(scores, pairs, labels, eer_t, score=score)]
    worst = {
        kind: failing_pairs(scores, pairs, eer_t, score=score, kind=kind, limit=WORST).tolist()
        for kind in ("false_accept", "false_reject")
    }
    return ModelReport(
        model=result.model_id,
        card=card.as_dict(),
        score=score,
        pairs=pairs,
        scores=scores,
        sweep=sw,
        thresholds=rows,
        dev_eval=de_record,
        subgroups=subs,
        subgroup_attribute=subgroup_attribute if subs else None,
        worst=worst,
    )


def set_summary(result: Any) -> dict[str, Any]:
    """The report's first line: the set, its photos (with the faceless ones), faces, people, who made it when."""
    import datetime as dt
    from importlib.metadata import version

    return {
        "set": result.dataset,
        "photos": len({r.image_hash for r in result.rows})
        + len(getattr(result, "no_face", []) or []),
        "faces": len(result.rows),
        "people": len(set(result.people.tolist())),
        "version": version("facedash"),
        "made": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
