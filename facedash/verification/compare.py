"""Two models on the same pairs: what each needs, and where they disagree.

Two embeddings of one face set are compared on the faces both embedded (matched by photo
and face index) and on the same pairs of them. ``operating_table`` gives each model's AUC,
EER, and the threshold and TAR it needs for the same FMR: thresholds of two models are on
different scales, so the fair comparison is at an equal false match rate. ``disagreements``
lists the pairs one model decides right and the other wrong, at each model's threshold, the
wrong model's worst first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from facedash.verification.pairs import Pairs, all_pairs, sample_pairs
from facedash.verification.scores import pair_scores, score_kind
from facedash.verification.sweep import Sweep, sweep


def face_keys(result: Any) -> list[tuple[str, int]]:
    """Each face of a set by photo and face index: how two models' sets of one photo set line up."""
    return [(r.image_hash, r.face_index) for r in result.rows]


def shared_rows(keys_a: Sequence[Any], keys_b: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(ia, ib)`` of the faces both sets hold, in set A's order."""
    where_b = {k: n for n, k in enumerate(keys_b)}
    pairs = [(n, where_b[k]) for n, k in enumerate(keys_a) if k in where_b]
    if not pairs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ia, ib = zip(*pairs, strict=True)
    return np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)


@dataclass
class _Rows:
    embeddings: np.ndarray


@dataclass
class Paired:
    """The same pairs scored by two models: pairs over set A's rows, each model's scores and sweep."""

    pairs: Pairs  # indices into set A's rows
    scores: tuple[np.ndarray, np.ndarray]
    sweeps: tuple[Sweep, Sweep]
    kinds: tuple[str, str]


def paired(
    emb_a: np.ndarray,
    emb_b: np.ndarray,
    people: Sequence[str],
    rows: tuple[np.ndarray, np.ndarray],
    kinds: tuple[str, str],
    *,
    max_pairs: int | None = None,
    seed: int = 0,
) -> Paired:
    """Score the same pairs of the shared faces with both models (``kinds``: each one's score)."""
    ia, ib = rows
    shared_people = np.asarray(people)[ia]
    local = (
        sample_pairs(shared_people, max_pairs, seed=seed)
        if max_pairs is not None
        else all_pairs(shared_people)
    )
    sa = pair_scores(_Rows(np.asarray(emb_a)[ia]), local, kinds[0])
    sb = pair_scores(_Rows(np.asarray(emb_b)[ib]), local, kinds[1])
    over_a = Pairs(ia[local.i], ia[local.j], local.same)
    return Paired(
        over_a,
        (sa, sb),
        (sweep(sa, local.same, score=kinds[0]), sweep(sb, local.same, score=kinds[1])),
        kinds,
    )


def operating_table(
    labels: Sequence[str], sweeps: Sequence[Sweep], target_fmr: float
) -> list[dict[str, Any]]:
    """Per model: AUC, EER and its threshold, and the threshold and TAR at ``target_fmr``."""
    rows = []
    for label, sw in zip(labels, sweeps, strict=True):
        eer, eer_threshold = sw.eer()
        rows.append(
            {
                "model": label,
                "score": sw.score,
                "auc": sw.auc,
                "eer": eer,
                "eer_threshold": eer_threshold,
                "fmr": target_fmr,
                "threshold_at_fmr": sw.threshold_at_far(target_fmr),
                "tar_at_fmr": sw.tar_at_far(target_fmr),
            }
        )
    return rows


def disagreements(
    p: Paired, thresholds: tuple[float, float], limit: int = 12
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (indices into ``p.pairs``) model A decides right and B wrong, and the reverse; worst first.

    "Worst" is the wrong model's margin past its own threshold, in its own score's units.
    """
    right = []
    margin = []
    for scores, kind, threshold in zip(p.scores, p.kinds, thresholds, strict=True):
        higher = score_kind(kind).higher_is_same
        accepted = scores >= threshold if higher else scores <= threshold
        right.append(accepted == p.pairs.same)
        margin.append(np.abs(scores - threshold))
    out = []
    for good, bad in ((0, 1), (1, 0)):
        idx = np.flatnonzero(right[good] & ~right[bad])
        out.append(idx[np.argsort(-margin[bad][idx], kind="stable")][:limit])
    return out[0], out[1]
