"""The nearest-neighbour index: exact (numpy) or NGT's graph, behind one small interface.

- ``ExactIndex``: brute force in numpy. Vectors are L2-normalised, so the inner
  product is the cosine similarity; queries go in batches, one matrix product
  each, and ``argpartition`` picks the ``k`` best before a sort of those ``k``. A
  batch holds at most ``BATCH_ELEMENTS`` similarities (fewer queries per batch on
  larger sets), so memory stays bounded whatever the set's size.
- ``NGTIndex``: the graph index of Yahoo Japan's NGT (``ngt`` on PyPI), the one the
  reference experiment used, with the ``Normalized Cosine`` distance.

Both return ``Neighbours``: ids ``(Q, k)`` and cosine similarities ``(Q, k)``, best
first. Cosine distance is ``1 - similarity``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facedash.errors import FacedashError

INDEX_KINDS = ("exact", "ngt")
Labels = Sequence[str] | np.ndarray  # one label per face
QUERY_BATCH = 1024
BATCH_ELEMENTS = 4_000_000  # similarities per batch at most (16 MB of float32)


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


@dataclass(frozen=True)
class Neighbours:
    """The ``k`` nearest items of each query: ids and cosine similarities, best first."""

    ids: np.ndarray
    similarity: np.ndarray

    @property
    def distance(self) -> np.ndarray:
        """Cosine distance ``1 - similarity``."""
        return 1.0 - self.similarity


class Index:
    """A nearest-neighbour index over L2-normalised vectors (cosine similarity)."""

    kind = "base"

    def __init__(self, vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) == 0:
            raise ValueError(f"vectors must be a non-empty (N, d) array, got {vectors.shape}")
        self.vectors = normalise(vectors)
        self.dim = vectors.shape[1]

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, queries: np.ndarray, k: int = 5) -> Neighbours:
        """The ``k`` nearest vectors of each query (a row or a ``(Q, d)`` array)."""
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None, :]
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries must have shape (Q, {self.dim}), got {queries.shape}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        k = min(int(k), len(self))
        return self._search(normalise(queries), k)

    def _search(self, queries: np.ndarray, k: int) -> Neighbours:  # pragma: no cover
        raise NotImplementedError


class ExactIndex(Index):
    """Brute force: one matrix product per batch of queries, ``argpartition`` for the top ``k``."""

    kind = "exact"

    def _search(self, queries: np.ndarray, k: int) -> Neighbours:
        n = len(self)
        ids = np.empty((len(queries), k), dtype=np.int64)
        sims = np.empty((len(queries), k), dtype=np.float32)
        batch = max(1, min(QUERY_BATCH, BATCH_ELEMENTS // n))
        for start in range(0, len(queries), batch):
            s = queries[start : start + batch] @ self.vectors.T
            top = (
                np.argpartition(s, n - k, axis=1)[:, n - k :]
                if k < n
                else np.tile(np.arange(n), (len(s), 1))
            )
            top_s = np.take_along_axis(s, top, axis=1)
            order = np.argsort(-top_s, axis=1, kind="stable")
            ids[start : start + len(s)] = np.take_along_axis(top, order, axis=1)
            sims[start : start + len(s)] = np.take_along_axis(top_s, order, axis=1)
        return Neighbours(ids, sims)


def ngt_available() -> bool:
    """Whether the ``ngt`` package (module ``ngtpy``) can be imported."""
    try:
        import ngtpy  # noqa: F401
    except ImportError:
        return False
    return True


class NGTIndex(Index):
    """NGT's ANNG graph index (``Normalized Cosine``), built in a temporary folder.

    ``epsilon`` widens the graph search (NGT's default is 0.1); 0.2 keeps recall@5
    above 0.99 on clustered 128-d sets of 20,000 vectors.
    """

    kind = "ngt"

    def __init__(
        self,
        vectors: np.ndarray,
        *,
        epsilon: float = 0.2,
        edge_size_for_creation: int = 10,
        edge_size_for_search: int = 40,
        threads: int = 2,
    ) -> None:
        super().__init__(vectors)
        try:
            import ngtpy
        except ImportError:
            raise FacedashError(
                "the NGT index needs the ngt package: pip install ngt==2.8.0.post1"
            ) from None
        self.epsilon = float(epsilon)
        self._lock = threading.Lock()  # an NGT index is not safe for concurrent searches
        folder = tempfile.mkdtemp(prefix="facedash-ngt-")
        try:
            path = str(Path(folder) / "index")
            ngtpy.create(
                path,
                self.dim,
                edge_size_for_creation=edge_size_for_creation,
                edge_size_for_search=edge_size_for_search,
                distance_type="Normalized Cosine",
                object_type="Float",
            )
            self._index = ngtpy.Index(path, log_disabled=True)
            self._index.batch_insert(self.vectors, num_threads=threads)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _search(self, queries: np.ndarray, k: int) -> Neighbours:
        ids = np.zeros((len(queries), k), dtype=np.int64)
        dist = np.full((len(queries), k), 2.0, dtype=np.float32)
        with self._lock:
            for q, vec in enumerate(queries):
                found = self._index.search(vec, k, epsilon=self.epsilon)
                if found:
                    got = np.asarray(found, dtype=np.float64)
                    ids[q, : len(got)] = got[:, 0].astype(np.int64)
                    dist[q, : len(got)] = got[:, 1]
        return Neighbours(ids, (1.0 - dist).astype(np.float32))


def make_index(vectors: np.ndarray, kind: str = "exact", **options: Any) -> Index:
    """An index of ``kind`` ("exact" or "ngt") over ``vectors``."""
    if kind == "exact":
        return ExactIndex(vectors)
    if kind == "ngt":
        return NGTIndex(vectors, **options)
    raise ValueError(f"unknown index kind {kind!r}; use one of {', '.join(INDEX_KINDS)}")


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the true ``k`` nearest ids that ``found`` holds (both ``(Q, k)``)."""
    found, truth = np.asarray(found), np.asarray(truth)
    if found.shape != truth.shape:
        raise ValueError(f"shapes differ: {found.shape} vs {truth.shape}")
    hits = (found[:, :, None] == truth[:, None, :]).any(axis=1)
    return float(hits.mean())
