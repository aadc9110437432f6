"""Pairs of a set's faces as index arrays: every pair, the counts, and a seeded balanced sample.

Pairs are index arrays ``(i, j, same)`` into an ``EmbeddingSet``, never Python
lists of pairs: every pair of a set (``np.triu_indices``), or a seeded balanced
random sample past a size the caller sets (drawn by linear index, so a set of a
million faces never materialises its half-trillion pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


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
