"""Face verification: pairs, scores, one vectorised threshold sweep, and what follows from it.

Pairs are index arrays ``(i, j, same)`` into an ``EmbeddingSet``, never Python
lists of pairs: every pair of a set (``np.triu_indices``), a seeded balanced
random sample past a size the caller sets (drawn by linear index, so a set of a
million faces never materialises its half-trillion pairs), or the pairs of an
LFW ``pairs.txt`` file.

A score is one entry of ``SCORES``: a function of the set and the pair indices,
and whether a higher value means "same person". Cosine similarity (higher is
same) and Euclidean distance (lower is same) are built in; another issue adds
``mls`` with one more entry. The sweep works internally on a "higher is same"
key (the distance negated) and reports every threshold in the score's own
units, with the decision rule ``score >= t`` for similarities and
``score <= t`` for distances.

``sweep`` sorts the scores once and takes cumulative sums (as scikit-learn's
``_binary_clf_curve``), giving TP, FP, TN, FN and every rate at every distinct
threshold with no loop over thresholds. A threshold from a slider is then a
binary search into those arrays (``Sweep.at``).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from facedash.errors import FacedashError

TARGET_FARS = (0.1, 0.01, 0.001)


class PairsFileError(FacedashError):
    """A pairs file that cannot be read; the message names the line and what is wrong."""


class HasEmbeddings(Protocol):
    """Anything with an ``(N, d)`` embedding matrix (an ``EmbeddingSet``)."""

    embeddings: np.ndarray


# -- pairs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pairs:
    """Pairs of faces as index arrays: ``i[k] < j[k]`` index the set's rows; ``same[k]`` is the truth."""

    i: np.ndarray
    j: np.ndarray
    same: np.ndarray
    source: str = "all pairs"
    dropped: int = 0  # pairs of a file whose faces are not in the set

    def __post_init__(self) -> None:
        if not (len(self.i) == len(self.j) == len(self.same)):
            raise ValueError("i, j and same must have the same length")

    def __len__(self) -> int:
        return len(self.i)

    @property
    def genuine(self) -> int:
        """Number of same-person pairs."""
        return int(np.count_nonzero(self.same))

    @property
    def impostor(self) -> int:
        """Number of different-person pairs."""
        return len(self) - self.genuine


def _codes(people: Sequence[str] | np.ndarray) -> np.ndarray:
    """Integer code per face: equal codes mean the same person."""
    _, codes = np.unique(np.asarray(people, dtype=object).astype(str), return_inverse=True)
    return codes.astype(np.int64)


def all_pairs(people: Sequence[str] | np.ndarray) -> Pairs:
    """Every unordered pair of distinct faces, ``i < j`` (``np.triu_indices``)."""
    codes = _codes(people)
    i, j = np.triu_indices(len(codes), k=1)
    return Pairs(i.astype(np.int64), j.astype(np.int64), codes[i] == codes[j])


def pair_counts(people: Sequence[str] | np.ndarray) -> tuple[int, int]:
    """``(genuine, impostor)`` pair counts of a set without building any pair."""
    codes = _codes(people)
    counts = np.bincount(codes) if len(codes) else np.zeros(0, np.int64)
    n = len(codes)
    genuine = int((counts * (counts - 1) // 2).sum())
    return genuine, n * (n - 1) // 2 - genuine


def _draw(counts: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``k`` distinct draws from rows holding ``counts`` items each: ``(row, offset in row)``."""
    total = int(counts.sum())
    picks = np.sort(rng.choice(total, size=k, replace=False)) if k < total else np.arange(total)
    ends = np.cumsum(counts)
    rows = np.searchsorted(ends, picks, side="right")
    offsets = picks - (ends[rows] - counts[rows])
    return rows, offsets


def sample_pairs(people: Sequence[str] | np.ndarray, max_pairs: int, *, seed: int = 0) -> Pairs:
    """All pairs if there are at most ``max_pairs``; else a seeded, balanced random sample.

    The sample holds ``min(genuine, max_pairs // 2)`` same-person pairs and as many
    different-person pairs as fill ``max_pairs``, each drawn uniformly without
    replacement. Faces are grouped by person and each face's later partners are
    counted (same person: the rest of its group; different person: every face after
    its group), so a pair is a linear index decoded with ``searchsorted``: memory is
    O(faces + max_pairs) whatever the set's size.
    """
    if max_pairs < 2:
        raise ValueError(f"max_pairs must be at least 2, got {max_pairs}")
    codes = _codes(people)
    n = len(codes)
    if n * (n - 1) // 2 <= max_pairs:
        return all_pairs(people)
    rng = np.random.default_rng(seed)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    # End (exclusive) of each face's person block in the sorted order.
    block_end = np.searchsorted(sorted_codes, sorted_codes, side="right")
    pos = np.arange(n)
    gen_counts = block_end - pos - 1
    imp_counts = n - block_end
    n_gen = min(int(gen_counts.sum()), max_pairs // 2)
    n_imp = min(int(imp_counts.sum()), max_pairs - n_gen)
    gr, go = _draw(gen_counts, n_gen, rng)
    ir, io_ = _draw(imp_counts, n_imp, rng)
    a = np.concatenate([gr, ir])
    b = np.concatenate([gr + 1 + go, block_end[ir] + io_])
    fa, fb = order[a], order[b]
    i, j = np.minimum(fa, fb), np.maximum(fa, fb)
    same = np.concatenate([np.ones(n_gen, bool), np.zeros(n_imp, bool)])
    return Pairs(
        i.astype(np.int64), j.astype(np.int64), same, source=f"balanced sample (seed {seed})"
    )


# -- LFW pairs.txt -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PairsFile:
    """The parsed lines of a pairs file: person names and 1-based image numbers."""

    name1: np.ndarray
    num1: np.ndarray
    name2: np.ndarray
    num2: np.ndarray
    same: np.ndarray
    folds: int | None = None


_INT = re.compile(r"^\d+$")


def parse_pairs(text: str | bytes) -> PairsFile:
    """Parse an LFW ``pairs.txt``: an optional header, then 3- and 4-field lines.

    ``name n1 n2`` is a same-person pair (images ``n1`` and ``n2`` of ``name``);
    ``name1 n1 name2 n2`` a different-person pair. The header is ``folds pairs``
    (``10 300``: ten folds, each of 300 same then 300 different pairs) or ``pairs``
    (``1100``: 1100 same then 1100 different); when present, the number of lines must
    match it. Fields are separated by tabs or spaces; blank lines are ignored.
    Raises ``PairsFileError`` naming the first bad line.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PairsFileError("pairs file is not UTF-8 text") from None
    lines = [(n, ln.split()) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if not lines:
        raise PairsFileError("pairs file is empty")
    folds: int | None = None
    expected: int | None = None
    first_no, first = lines[0]
    if 1 <= len(first) <= 2 and all(_INT.match(f) for f in first):
        numbers = [int(f) for f in first]
        if len(numbers) == 2:
            folds, expected = numbers[0], 2 * numbers[0] * numbers[1]
        else:
            expected = 2 * numbers[0]
        lines = lines[1:]
    name1: list[str] = []
    name2: list[str] = []
    num1: list[int] = []
    num2: list[int] = []
    same: list[bool] = []
    for line_no, fields in lines:
        if len(fields) == 3:
            n, a, b = fields
            m = n
        elif len(fields) == 4:
            n, a, m, b = fields
        else:
            raise PairsFileError(
                f"line {line_no}: expected 3 fields (name n1 n2) or 4 fields (name1 n1 name2 n2), "
                f"got {len(fields)}: {' '.join(fields)[:80]!r}"
            )
        if not (_INT.match(a) and _INT.match(b)) or int(a) < 1 or int(b) < 1:
            raise PairsFileError(
                f"line {line_no}: image numbers must be positive integers, got {a!r} and {b!r}"
            )
        if _INT.match(n) or _INT.match(m):
            raise PairsFileError(f"line {line_no}: a person name is a number: {' '.join(fields)!r}")
        if len(fields) == 3 and a == b:
            raise PairsFileError(f"line {line_no}: pairs image {a} of {n} with itself")
        name1.append(n)
        num1.append(int(a))
        name2.append(m)
        num2.append(int(b))
        same.append(len(fields) == 3)
    if not same:
        raise PairsFileError("pairs file has a header but no pairs")
    if expected is not None and expected != len(same):
        raise PairsFileError(
            f"line {first_no}: the header {' '.join(first)!r} announces {expected} pairs, "
            f"the file has {len(same)}"
        )
    return PairsFile(
        np.array(name1, dtype=object),
        np.array(num1, dtype=np.int64),
        np.array(name2, dtype=object),
        np.array(num2, dtype=np.int64),
        np.array(same, dtype=bool),
        folds,
    )


_LFW_STEM = re.compile(r"^(?P<person>.+)_(?P<num>\d{1,5})$")


def face_keys(people: Sequence[str], names: Sequence[str]) -> dict[tuple[str, int], int]:
    """``(person, image number) -> row``: how a pairs file's references find faces.

    A file named ``<person>_<NNNN>.<ext>`` (LFW) is image ``NNNN`` of its person;
    every face is also image ``k`` of its person when it is the ``k``-th of that
    person in file-name order (so a pairs file can address any set). Person names
    compare case-insensitively. The LFW name wins where both apply.
    """
    keys: dict[tuple[str, int], int] = {}
    by_person: dict[str, list[tuple[str, int]]] = {}
    for row, (person, name) in enumerate(zip(people, names, strict=True)):
        by_person.setdefault(str(person).lower(), []).append((str(name), row))
    for person, items in by_person.items():
        for k, (_, row) in enumerate(sorted(items), start=1):
            keys.setdefault((person, k), row)
    for row, (person, name) in enumerate(zip(people, names, strict=True)):
        stem = Path(str(name)).stem
        match = _LFW_STEM.match(stem)
        if match and match["person"].lower() == str(person).lower():
            keys[(str(person).lower(), int(match["num"]))] = row
    return keys


def pairs_from_file(
    parsed: PairsFile,
    people: Sequence[str],
    names: Sequence[str],
    *,
    on_missing: Literal["drop", "error"] = "drop",
) -> Pairs:
    """Resolve a parsed pairs file against a set's faces (``face_keys``).

    Pairs naming a face that is not in the set (not found, or no face detected)
    are dropped and counted, or raise ``PairsFileError`` with ``on_missing="error"``.
    The truth is the file's (3 fields: same), checked against the set's labels.
    """
    keys = face_keys(people, names)
    rows1 = np.array(
        [
            keys.get((str(n).lower(), int(k)), -1)
            for n, k in zip(parsed.name1, parsed.num1, strict=True)
        ],
        dtype=np.int64,
    )
    rows2 = np.array(
        [
            keys.get((str(n).lower(), int(k)), -1)
            for n, k in zip(parsed.name2, parsed.num2, strict=True)
        ],
        dtype=np.int64,
    )
    ok = (rows1 >= 0) & (rows2 >= 0) & (rows1 != rows2)
    missing = np.flatnonzero(~ok)
    if len(missing) and on_missing == "error":
        k = missing[0]
        raise PairsFileError(
            f"{len(missing)} pairs name faces not in the set, e.g. "
            f"{parsed.name1[k]} {parsed.num1[k]} / {parsed.name2[k]} {parsed.num2[k]}"
        )
    if not ok.any():
        known = sorted({p for p, _ in keys})[:5]
        raise PairsFileError(
            f"none of the {len(ok)} pairs names a face of this set (people here: {', '.join(known)}, ...)"
        )
    i, j = np.minimum(rows1[ok], rows2[ok]), np.maximum(rows1[ok], rows2[ok])
    same = parsed.same[ok]
    codes = _codes(people)
    wrong = np.flatnonzero((codes[i] == codes[j]) != same)
    if len(wrong):
        k = wrong[0]
        raise PairsFileError(
            f"{len(wrong)} pairs disagree with the set's people, e.g. rows {i[k]} and {j[k]} "
            f"are marked {'same' if same[k] else 'different'}"
        )
    return Pairs(i, j, same, source="pairs file", dropped=int(len(missing)))


def read_pairs_file(
    path_or_text: Path | str | bytes, people: Sequence[str], names: Sequence[str]
) -> Pairs:
    """``parse_pairs`` + ``pairs_from_file`` on a path, or on the file's text or bytes."""
    if isinstance(path_or_text, Path):
        try:
            path_or_text = path_or_text.read_bytes()
        except OSError as exc:
            raise PairsFileError(f"cannot read pairs file: {exc}") from None
    return pairs_from_file(parse_pairs(path_or_text), people, names)


# -- scores ------------------------------------------------------------------------------------
ScoreFn = Callable[[HasEmbeddings, np.ndarray, np.ndarray], np.ndarray]
_CHUNK = 1 << 16


def _pairwise(
    emb: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    op: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    out = np.empty(len(i), dtype=np.float64)
    for start in range(0, len(i), _CHUNK):
        sl = slice(start, start + _CHUNK)
        out[sl] = op(emb[i[sl]], emb[j[sl]])
    return out


def cosine(es: HasEmbeddings, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Cosine similarity of each pair (higher means same)."""
    emb = np.asarray(es.embeddings, dtype=np.float64)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    unit = emb / np.where(norms > 0, norms, 1.0)
    return _pairwise(unit, i, j, lambda a, b: np.einsum("ij,ij->i", a, b))


def euclidean(es: HasEmbeddings, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Euclidean distance of each pair (lower means same)."""
    emb = np.asarray(es.embeddings, dtype=np.float64)
    return _pairwise(emb, i, j, lambda a, b: np.sqrt(np.einsum("ij,ij->i", a - b, a - b)))


def mls(es: HasEmbeddings, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Mutual likelihood score of each pair (PFE; higher means same); needs a trained uncertainty head."""
    from facedash.errors import FacedashError
    from facedash.pfe import sigma2_for
    from facedash.pfe.mls import pairwise_mls_scores

    sigma2 = sigma2_for(es)
    if sigma2 is None:
        raise FacedashError(
            "the mls score needs a trained uncertainty (PFE) head for this model: run "
            "`facedash pfe train --demo` or train it on the Uncertainty page"
        )
    return np.asarray(
        pairwise_mls_scores(np.asarray(es.embeddings), sigma2, i, j), dtype=np.float64
    )


@dataclass(frozen=True)
class ScoreKind:
    """A pair score: how to compute it and which way it points."""

    id: str
    name: str
    higher_is_same: bool
    fn: ScoreFn
    unit: str = ""

    @property
    def rule(self) -> str:
        """The decision rule in words."""
        return "score ≥ t means same" if self.higher_is_same else "score ≤ t means same"


SCORES: dict[str, ScoreKind] = {
    "cosine": ScoreKind("cosine", "Cosine similarity", True, cosine, "similarity"),
    "euclidean": ScoreKind("euclidean", "Euclidean distance", False, euclidean, "distance"),
    "mls": ScoreKind("mls", "Mutual likelihood score (PFE)", True, mls, "log-likelihood"),
}


def score_kind(score: str) -> ScoreKind:
    """The registered score ``score``; ``ValueError`` names the known ones."""
    try:
        return SCORES[score]
    except KeyError:
        raise ValueError(f"unknown score {score!r}; known: {', '.join(SCORES)}") from None


def pair_scores(es: HasEmbeddings, pairs: Pairs, score: str = "cosine") -> np.ndarray:
    """The score of every pair (float64), in the score's own units."""
    return score_kind(score).fn(es, pairs.i, pairs.j)


# -- the sweep ---------------------------------------------------------------------------------
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


# -- bootstrap over people ----------------------------------------------------------------------
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


# -- failing pairs -----------------------------------------------------------------------------
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


# -- operating points in the store --------------------------------------------------------------
_OP_SCHEMA = """
CREATE TABLE IF NOT EXISTS operating_points(
    name TEXT NOT NULL,
    model_id TEXT NOT NULL,
    score TEXT NOT NULL,
    dataset TEXT NOT NULL,
    threshold REAL NOT NULL,
    figures TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY(name, model_id, score)
);
"""


@dataclass(frozen=True)
class OperatingPoint:
    """A named threshold for a model and score, with the figures it gave."""

    name: str
    model_id: str
    score: str
    dataset: str
    threshold: float
    figures: Mapping[str, Any]
    created: float = 0.0


class OperatingPoints:
    """Named operating points in the facedash SQLite store (table ``operating_points``).

    Goes through the store's ``transaction``/``query``, so it shares its file,
    its thread-safety and its recovery; the table is created on first use.
    """

    def __init__(self, store: Any) -> None:
        self._store = store
        with store.transaction() as conn:
            conn.executescript(_OP_SCHEMA)

    def save(self, point: OperatingPoint) -> OperatingPoint:
        """Insert or replace ``point`` (keyed by name, model and score)."""
        if not point.name.strip():
            raise ValueError("an operating point needs a name")
        saved = OperatingPoint(**{**asdict(point), "created": time.time()})
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO operating_points VALUES(?,?,?,?,?,?,?)",
                (
                    saved.name.strip(),
                    saved.model_id,
                    saved.score,
                    saved.dataset,
                    float(saved.threshold),
                    json.dumps(dict(saved.figures), default=_json_default),
                    saved.created,
                ),
            )
        return saved

    def list(self, model_id: str | None = None, score: str | None = None) -> list[OperatingPoint]:
        """Saved points (newest first), optionally for one model and score."""
        sql = "SELECT name, model_id, score, dataset, threshold, figures, created FROM operating_points"
        where, args = [], []
        if model_id is not None:
            where.append("model_id=?")
            args.append(model_id)
        if score is not None:
            where.append("score=?")
            args.append(score)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC"
        rows = self._store.query(sql, args)
        return [OperatingPoint(n, m, sc, d, t, json.loads(f), c) for n, m, sc, d, t, f, c in rows]

    def delete(self, name: str, model_id: str, score: str) -> bool:
        """Delete one point; True if it existed."""
        with self._store.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM operating_points WHERE name=? AND model_id=? AND score=?",
                (name, model_id, score),
            )
        return cur.rowcount > 0


# -- reports -----------------------------------------------------------------------------------
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
