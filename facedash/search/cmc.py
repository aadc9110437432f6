"""Face search over a set: leave-one-out rank of the first same-person face, and the CMC curve.

Linear in the number of faces ``n``: at most ``PROBE_SAMPLE`` probes (a seeded sample
when the set has more), each compared with the whole gallery in blocks of ``chunk``
probes, so at most ``chunk x n`` similarities exist at once, never an ``n x n`` matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facedash.search.index import Labels, normalise

PROBE_SAMPLE = 2000  # leave-one-out probes scored at most (a seeded sample above that)


@dataclass(frozen=True)
class Identification:
    """Leave-one-out face search over a set: the rank of the first same-person face."""

    ranks: np.ndarray  # (Q,) 1-based rank of the best same-person face, per probe scored
    queries: np.ndarray  # (Q,) index of each probe scored
    cmc: np.ndarray  # cmc[r-1] = share of probes with a same-person face within rank r
    usable: int = -1  # faces that could be probes (their person has another face); -1: = Q

    @property
    def probes_total(self) -> int:
        """How many faces could have been probes (``len(queries)`` when none was left out)."""
        return len(self.queries) if self.usable < 0 else self.usable

    @property
    def rank1(self) -> float:
        """Share of queries whose nearest other face is the same person."""
        return float(self.cmc[0]) if len(self.cmc) else float("nan")

    @property
    def rank5(self) -> float:
        """Share of queries with a same-person face among the 5 nearest others."""
        return float(self.cmc[min(4, len(self.cmc) - 1)]) if len(self.cmc) else float("nan")


def identification(
    embeddings: np.ndarray,
    persons: Labels,
    *,
    chunk: int | None = None,
    max_probes: int | None = PROBE_SAMPLE,
    seed: int = 0,
) -> Identification:
    """CMC of leave-one-out search: each probe against every other face of the set.

    The rank of a probe is 1 + the number of other-person faces more similar than
    its most similar same-person face (ties counted against it). Faces whose
    person has no other face are left out. With more than ``max_probes`` usable
    faces, a seeded sample of ``max_probes`` is scored (``None`` or 0: every face);
    the gallery is always the whole set. ``chunk`` probes are scored at a time
    (default: as many as keep a block under 4 million similarities, at most 512).
    """
    emb = normalise(embeddings)
    people = np.asarray(persons, dtype=object).astype(str)
    _, inv, counts = np.unique(people, return_inverse=True, return_counts=True)
    usable = np.flatnonzero(counts[inv] > 1)
    probes = usable
    if max_probes and len(usable) > max_probes:
        pick = np.random.default_rng(seed).choice(len(usable), size=int(max_probes), replace=False)
        probes = usable[np.sort(pick)]
    ranks = np.empty(len(probes), dtype=np.int64)
    chunk = chunk or max(1, min(512, 4_000_000 // max(len(emb), 1)))
    for start in range(0, len(probes), chunk):
        q = probes[start : start + chunk]
        s = emb[q] @ emb.T
        s[np.arange(len(q)), q] = -np.inf  # never match oneself
        same = inv[q][:, None] == inv[None, :]
        best_mate = np.where(same, s, -np.inf).max(axis=1)
        s[same] = -np.inf  # only other-person faces count against the probe
        ranks[start : start + len(q)] = 1 + (s >= best_mate[:, None]).sum(axis=1)
    n_gallery = max(len(emb) - 1, 1)
    cmc = (
        np.cumsum(np.bincount(ranks, minlength=n_gallery + 1)[1 : n_gallery + 1]) / len(ranks)
        if len(ranks)
        else np.zeros(0)
    )
    return Identification(ranks=ranks, queries=probes, cmc=cmc, usable=len(usable))
