"""What a verification run reports: the summary record, the worst errors, JSON and CSV text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from facedash.verification.pairs import Pairs
from facedash.verification.scores import score_kind
from facedash.verification.sweep import Sweep

TARGET_FARS = (0.1, 0.01, 0.001)


def summary(sw: Sweep, *, model: str = "", threshold: float | None = None) -> dict[str, Any]:
    """The ``facedash verify --json`` record of a sweep."""
    eer, eer_t = sw.eer()
    best = sw.best_f1()
    out: dict[str, Any] = {
        "model": model,
        "score": sw.score,
        "pairs": {"genuine": sw.positives, "impostor": sw.negatives},
        "auc": sw.auc,
        "eer": eer,
        "eer_threshold": eer_t,
        "best_f1": {
            "threshold": best.threshold,
            "f1": best.f1,
            "precision": best.precision,
            "recall": best.recall,
        },
        "tar_at_far": {str(f): sw.tar_at_far(f) for f in TARGET_FARS},
        "threshold_at_far": {str(f): sw.threshold_at_far(f) for f in TARGET_FARS},
    }
    if threshold is not None:
        out["at_threshold"] = sw.at(threshold).as_dict()
    return out


def failing_pairs(
    scores: np.ndarray,
    pairs: Pairs,
    threshold: float,
    *,
    score: str = "cosine",
    kind: Literal["false_accept", "false_reject"] = "false_accept",
    limit: int = 20,
) -> np.ndarray:
    """Indices (into ``pairs``) of the errors at ``threshold``, worst first.

    False accepts (impostors accepted) are worst when they look most alike; false
    rejects (genuine pairs rejected) when they look least alike.
    """
    higher = score_kind(score).higher_is_same
    s = np.asarray(scores)
    accepted = s >= threshold if higher else s <= threshold
    if kind == "false_accept":
        idx = np.flatnonzero(accepted & ~pairs.same)
        sameness = s[idx] if higher else -s[idx]
        worst = np.argsort(-sameness, kind="stable")
    elif kind == "false_reject":
        idx = np.flatnonzero(~accepted & pairs.same)
        sameness = s[idx] if higher else -s[idx]
        worst = np.argsort(sameness, kind="stable")
    else:
        raise ValueError(f"kind must be 'false_accept' or 'false_reject', got {kind!r}")
    return idx[worst[:limit]]


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean(obj: Any) -> Any:
    """NaN and infinities as None, numpy scalars as Python numbers (strict JSON)."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def report_json(record: Mapping[str, Any]) -> str:
    """A report record as strict JSON text."""
    return json.dumps(_clean(dict(record)), indent=2, default=_json_default)


def report_csv(sw: Sweep, *, max_rows: int | None = None) -> str:
    """Every threshold's counts and rates as CSV text."""
    table = sw.table(max_rows)
    buf = io.StringIO()
    writer = csv.writer(buf)
    cols = list(table)
    writer.writerow(cols)
    writer.writerows(zip(*(table[c].tolist() for c in cols), strict=True))
    return buf.getvalue()
