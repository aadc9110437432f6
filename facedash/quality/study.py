"""A set's faces scored by every measure that applies, their pairs, and each measure's EDC.

``clean_table`` scores a set's faces as they are (their stored aligned crops);
``copy_table`` scores degraded copies of them (each keeps its face's person, photo and
box); ``concat`` puts tables together, so comparisons mix clean and degraded faces; and
``evaluate`` makes the pairs (every pair, or a balanced sample above ``max_pairs``; never a
face with its own copy: two crops of one photo are not two captures), scores them with the
model's metric, fixes the threshold (the EER's by default, or the one giving a starting
FNMR) and computes every measure's EDC with the oracle and random references.
``faces_csv`` and ``pairs_csv`` write what anyone needs to recompute a curve.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facedash import verification as V
from facedash.quality import edc
from facedash.quality.measures import NAMES, face_size, fill_unscored, pair_quality, sharpness

ALWAYS = ("face_size", "sharpness")


@dataclass
class FaceTable:
    """Faces (clean or degraded copies) with their embeddings and raw measure values (NaN: unscored)."""

    ids: list[str]
    source: np.ndarray  # the set row each face comes from
    kind: list[str]  # "clean" or a degradation kind
    people: np.ndarray
    embeddings: np.ndarray
    raw: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


def crops_of(result: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(rows with a stored crop, their crops (n, S, S, 3) uint8)`` of an ``EmbeddingSet``."""
    from facedash.data.images import decode_jpeg

    rows = np.array([n for n, t in enumerate(result.thumbs) if t is not None], dtype=np.int64)
    if not len(rows):
        return rows, np.zeros((0, 1, 1, 3), np.uint8)
    return rows, np.stack([decode_jpeg(result.thumbs[n]) for n in rows])


def _table(
    result: Any,
    scorer: Any,
    crops: np.ndarray,
    at: np.ndarray,
    kind: Sequence[str],
    source: np.ndarray,
    embeddings: np.ndarray | None,
) -> FaceTable:
    """Faces ``source`` of the set; face ``n``'s crop is ``crops[at[n]]`` (``at[n] = -1``: none)."""
    n = len(source)
    ok = at >= 0
    if len(crops):
        scored = scorer(crops)
        names, values = list(scored["measures"]), scored["measures"]
        values = {**values, "sharpness": sharpness(crops)}
    else:
        scored, names, values = {"embeddings": None}, scorer_measures(scorer), {}
    raw: dict[str, np.ndarray] = {}
    for name in [*names, "sharpness"]:
        v = np.full(n, np.nan)
        if name in values:
            v[ok] = values[name][at[ok]]
        raw[name] = v
    raw["face_size"] = face_size([result.rows[int(s)].box for s in source])
    if embeddings is None:
        embeddings = np.asarray(scored["embeddings"])[at]
    suffix = [("" if k == "clean" else f":{k}") for k in kind]
    return FaceTable(
        ids=[f"{int(s)}{x}" for s, x in zip(source, suffix, strict=True)],
        source=np.asarray(source, dtype=np.int64),
        kind=list(kind),
        people=np.asarray(result.people)[np.asarray(source, dtype=np.int64)],
        embeddings=np.asarray(embeddings, dtype=np.float32),
        raw=raw,
    )


def scorer_measures(scorer: Any) -> list[str]:
    """The model-dependent measures a scorer gives on crops (from a one-crop probe)."""
    size = int(scorer.spec.input_size)
    return list(scorer(np.zeros((1, size, size, 3), np.uint8))["measures"])


def sample(result: Any, limit: int | None, seed: int = 0) -> Any:
    """``result`` itself, or past ``limit`` faces with a crop a seeded per-person sample of them.

    The sample (``facedash.search.conditions.person_sample``) keeps every person, in
    proportion to their faces, in the set's order; faces without a crop are left out.
    """
    from dataclasses import replace

    from facedash.search.conditions import person_sample

    rows = [n for n, t in enumerate(result.thumbs) if t is not None]
    if limit is None or len(rows) <= limit:
        return result
    keep = person_sample(rows, np.asarray(result.people), limit, seed)
    return replace(
        result,
        rows=[result.rows[i] for i in keep],
        embeddings=np.asarray(result.embeddings)[np.asarray(keep, dtype=np.int64)],
        thumbs=[result.thumbs[i] for i in keep],
    )


def clean_table(result: Any, scorer: Any) -> FaceTable:
    """Every face of the set as it is: measures from its stored crop, its stored embedding."""
    rows, crops = crops_of(result)
    at = np.full(len(result.rows), -1, dtype=np.int64)
    at[rows] = np.arange(len(rows))
    source = np.arange(len(result.rows), dtype=np.int64)
    kind = ["clean"] * len(source)
    return _table(result, scorer, crops, at, kind, source, np.asarray(result.embeddings))


def copy_table(
    result: Any, scorer: Any, rows: np.ndarray, crops: np.ndarray, kind: Sequence[str]
) -> FaceTable:
    """Degraded copies ``crops`` of set rows ``rows`` (one kind each): measured and embedded anew."""
    rows = np.asarray(rows, dtype=np.int64)
    return _table(result, scorer, crops, np.arange(len(rows)), kind, rows, None)


def concat(tables: Sequence[FaceTable]) -> FaceTable:
    """Tables one after another; only the measures every table has are kept."""
    names = set.intersection(*(set(t.raw) for t in tables))
    return FaceTable(
        ids=[i for t in tables for i in t.ids],
        source=np.concatenate([t.source for t in tables]),
        kind=[k for t in tables for k in t.kind],
        people=np.concatenate([t.people for t in tables]),
        embeddings=np.concatenate([t.embeddings for t in tables]),
        raw={n: np.concatenate([t.raw[n] for t in tables]) for n in names},
    )


@dataclass
class Evaluation:
    """The pairs, the filled measures and every curve of one face table."""

    table: FaceTable
    measures: list[str]
    quality: dict[str, np.ndarray]
    unscored: dict[str, int]
    i: np.ndarray
    j: np.ndarray
    genuine: np.ndarray
    scores: np.ndarray
    record: dict[str, Any]
    curves: dict[str, edc.Curve]


class _Embeddings:
    def __init__(self, embeddings: np.ndarray) -> None:
        self.embeddings = embeddings


def evaluate(
    table: FaceTable,
    *,
    metric: str = "cosine",
    form: str = "fixed",
    start_fnmr: float | None = None,
    max_pairs: int = 1_000_000,
    seed: int = 0,
) -> Evaluation:
    """Pairs of ``table``'s faces and the EDC of every measure, the oracle and random orders."""
    if form not in edc.FORMS:
        raise ValueError(f"unknown EDC form {form!r}; known: {', '.join(edc.FORMS)}")
    measures = [n for n in NAMES if n in table.raw]
    quality, unscored = {}, {}
    for name in measures:
        quality[name], unscored[name] = fill_unscored(table.raw[name])
    pairs = V.sample_pairs(table.people, max_pairs, seed=seed)
    distinct = table.source[pairs.i] != table.source[pairs.j]
    i, j, genuine = pairs.i[distinct], pairs.j[distinct], pairs.same[distinct]
    if not genuine.any() or genuine.all():
        raise ValueError(
            f"the EDC needs same-person and different-person pairs; got {int(genuine.sum())} "
            f"and {int((~genuine).sum())}"
        )
    kind = V.score_kind(metric)
    scores = kind.fn(_Embeddings(table.embeddings), i, j)
    sign = 1.0 if kind.higher_is_same else -1.0
    key = sign * scores
    if start_fnmr is None:
        _, threshold = V.sweep(scores, genuine, score=metric).eer()
        start = "eer"
    else:
        threshold = sign * edc.threshold_for_fnmr(key[genuine], start_fnmr)
        start = "fnmr"
    t_key = sign * threshold
    curves = {
        name: edc.curve(pair_quality(quality[name], i, j), key, genuine, t_key, form=form)
        for name in measures
    }
    curves["oracle"] = edc.oracle(key, genuine, t_key, form=form)
    curves["random"] = edc.random_curve(key, genuine, t_key, form=form, seed=seed)
    record = {
        "measures": measures,
        "edc": {name: c.as_dict() for name, c in curves.items()},
        "threshold": float(threshold),
        "start_fnmr": float(np.mean(key[genuine] < t_key)),
        "start_fmr": float(np.mean(key[~genuine] >= t_key)),
        "start": start,
        "form": form,
        "score": metric,
        "higher_is_same": bool(kind.higher_is_same),
        "pauc_upto": edc.PAUC_UPTO,
        "random_orders": edc.RANDOM_ORDERS,
        "unscored": unscored,
        "pairs": {
            "genuine": int(genuine.sum()),
            "impostor": int((~genuine).sum()),
            "source": pairs.source,
            "left_out_same_photo": int((~distinct).sum()),
        },
        "faces": {k: table.kind.count(k) for k in dict.fromkeys(table.kind)},
    }
    return Evaluation(table, measures, quality, unscored, i, j, genuine, scores, record, curves)


def faces_csv(ev: Evaluation) -> str:
    """``face`` and one column per measure (higher = better quality), full precision."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["face", *ev.measures])
    for n, face in enumerate(ev.table.ids):
        w.writerow([face, *(repr(float(ev.quality[m][n])) for m in ev.measures)])
    return out.getvalue()


def pairs_csv(ev: Evaluation) -> str:
    """``face_a``, ``face_b``, ``genuine`` (0/1), ``score`` (the metric's own units), full precision."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["face_a", "face_b", "genuine", "score"])
    ids = ev.table.ids
    for a, b, g, s in zip(ev.i, ev.j, ev.genuine, ev.scores, strict=True):
        w.writerow([ids[int(a)], ids[int(b)], int(bool(g)), repr(float(s))])
    return out.getvalue()
