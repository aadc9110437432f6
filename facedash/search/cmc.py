"""Face search over a set: leave-one-out rank of the first same-person face, and the CMC curve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facedash.search.index import Labels, normalise


@dataclass(frozen=True)
class Identification:
    """Leave-one-out face search over a set: the rank of the first same-person face."""

    ranks: np.ndarray  # (Q,) 1-based rank of the best same-person face, per usable query
    queries: np.ndarray  # (Q,) index of each usable query face
    cmc: np.ndarray  # cmc[r-1] = share of queries with a same-person face within rank r

    @property
    def rank1(self) -> float:
        """Share of queries whose nearest other face is the same person."""
        return float(self.cmc[0]) if len(self.cmc) else float("nan")

    @property
    def rank5(self) -> float:
        """Share of queries with a same-person face among the 5 nearest others."""
        return float(self.cmc[min(4, len(self.cmc) - 1)]) if len(self.cmc) else float("nan")


def identification(embeddings: np.ndarray, persons: Labels, *, chunk: int = 512) -> Identification:
    """CMC of leave-one-out search: each face is a probe, every other face the gallery.

    The rank of a probe is 1 + the number of other-person faces more similar than
    its most similar same-person face (ties counted against it). Faces whose
    person has no other face are left out.
    """
    emb = normalise(embeddings)
    people = np.asarray(persons, dtype=object).astype(str)
    _, inv, counts = np.unique(people, return_inverse=True, return_counts=True)
    usable = np.flatnonzero(counts[inv] > 1)
    ranks = np.empty(len(usable), dtype=np.int64)
    for start in range(0, len(usable), chunk):
        q = usable[start : start + chunk]
        s = emb[q] @ emb.T
        s[np.arange(len(q)), q] = -np.inf  # never match oneself
        same = inv[q][:, None] == inv[None, :]
        best_mate = np.where(same, s, -np.inf).max(axis=1)
        ranks[start : start + len(q)] = 1 + (np.where(~same, s, -np.inf) >= best_mate[:, None]).sum(
            axis=1
        )
    n_gallery = max(len(emb) - 1, 1)
    cmc = (
        np.cumsum(np.bincount(ranks, minlength=n_gallery + 1)[1 : n_gallery + 1]) / len(ranks)
        if len(ranks)
        else np.zeros(0)
    )
    return Identification(ranks=ranks, queries=usable, cmc=cmc)
