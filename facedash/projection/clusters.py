"""KMeans on a projection (or the full embedding) and how well its clusters match people.

``kmeans`` clusters, ``cluster_metrics`` scores clusters against people (confusion
matrix, Hungarian accuracy, ARI, NMI, silhouette), and ``cluster_map`` does the
whole job: project, cluster, score::

    result = cluster_map(embeddings, people, method="pca", dims=2, k=5)
    result.metrics.accuracy, result.metrics.ari, result.metrics.nmi
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from facedash.projection.reduce import Projection, check_points, project

Space = Literal["projected", "full"]
SPACES: tuple[str, ...] = ("projected", "full")
SINGLE_THREAD_MAX = 20_000  # KMeans runs single-threaded up to this many faces
# The silhouette compares every face with every other (O(n^2) time); past this many
# faces it is computed on a seeded sample of this size (sklearn's ``sample_size``).
SILHOUETTE_SAMPLE = 5_000


@dataclass(frozen=True)
class Clustering:
    """KMeans labels of every face, and where it ran."""

    labels: np.ndarray = field(repr=False)
    k: int
    space: str
    centres: np.ndarray = field(repr=False)
    inertia: float
    seed: int


def kmeans(points: np.ndarray, k: int, *, seed: int = 0, space: str = "projected") -> Clustering:
    """KMeans with ``k`` clusters (k-means++, 10 restarts, seeded) on ``points`` (N x d)."""
    x = check_points(points, name="points")
    if not 1 <= k <= x.shape[0]:
        raise ValueError(f"k must be between 1 and the number of faces ({x.shape[0]}), got {k}")
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    # Measured on a 2-core VM: for a few thousand points one OpenMP thread is 7-30x
    # faster than the default pool (thread start-up and contention dominate).
    with threadpool_limits(1 if x.shape[0] <= SINGLE_THREAD_MAX else None):
        model = KMeans(n_clusters=int(k), n_init=10, random_state=int(seed)).fit(x)
    return Clustering(
        model.labels_.astype(np.int64),
        int(k),
        space,
        model.cluster_centers_,
        float(model.inertia_),
        int(seed),
    )


def confusion(people: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[str], list[int]]:
    """Counts of faces per (person, cluster): the matrix, its row people and its column clusters."""
    people = np.asarray(people).astype(str)
    labels = np.asarray(labels)
    if people.shape != labels.shape or people.ndim != 1:
        raise ValueError(
            f"people and labels must be 1-D and the same length, got {people.shape} and {labels.shape}"
        )
    row_names, rows = np.unique(people, return_inverse=True)
    col_names, cols = np.unique(labels, return_inverse=True)
    matrix = np.zeros((len(row_names), len(col_names)), dtype=np.int64)
    np.add.at(matrix, (rows, cols), 1)
    return matrix, row_names.tolist(), [int(c) for c in col_names]


def hungarian_match(matrix: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The one-to-one person <-> cluster matching that maximises the faces on the diagonal.

    Returns the accuracy (matched faces / all faces) and the matched row and
    column indices (``scipy.optimize.linear_sum_assignment``; with more clusters
    than people, or fewer, the extra ones stay unmatched and count as errors).
    """
    from scipy.optimize import linear_sum_assignment

    m = np.asarray(matrix)
    total = m.sum()
    if total == 0:
        raise ValueError("the confusion matrix is empty")
    rows, cols = linear_sum_assignment(m, maximize=True)
    return float(m[rows, cols].sum() / total), rows, cols


@dataclass(frozen=True)
class ClusterMetrics:
    """How well clusters match people.

    ``confusion`` is people x clusters, with columns ordered so that each
    person's matched cluster comes first in the person's row order (matched
    clusters on the diagonal, unmatched ones at the right).
    """

    confusion: np.ndarray
    people: list[str]
    clusters: list[int]
    accuracy: float
    ari: float
    nmi: float
    silhouette: float | None
    matching: dict[int, str]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "accuracy": self.accuracy,
            "ari": self.ari,
            "nmi": self.nmi,
            "silhouette": self.silhouette,
            "confusion": self.confusion.tolist(),
            "people": list(self.people),
            "clusters": list(self.clusters),
        }


def cluster_metrics(
    people: np.ndarray, labels: np.ndarray, points: np.ndarray | None = None
) -> ClusterMetrics:
    """Confusion matrix, Hungarian accuracy, ARI, NMI and (given ``points``) the silhouette.

    The silhouette is computed on ``points`` (where the clustering ran) and is
    None when it is undefined (a single cluster, or every face its own cluster);
    past ``SILHOUETTE_SAMPLE`` faces, on a seeded sample of that many faces.
    """
    from sklearn.metrics import (
        adjusted_rand_score,
        normalized_mutual_info_score,
        silhouette_score,
    )

    matrix, row_names, col_names = confusion(people, labels)
    accuracy, rows, cols = hungarian_match(matrix)
    order = sorted(range(len(rows)), key=lambda i: rows[i])
    matched_cols = [int(cols[i]) for i in order]
    rest = [c for c in range(len(col_names)) if c not in set(matched_cols)]
    col_order = matched_cols + rest
    people_s = np.asarray(people).astype(str)
    ari = float(adjusted_rand_score(people_s, labels))
    nmi = float(normalized_mutual_info_score(people_s, labels))
    sil: float | None = None
    n_clusters = len(col_names)
    if points is not None:
        x = check_points(points, name="points")
        if 2 <= n_clusters <= x.shape[0] - 1:
            sample = SILHOUETTE_SAMPLE if x.shape[0] > SILHOUETTE_SAMPLE else None
            try:
                sil = float(silhouette_score(x, labels, sample_size=sample, random_state=0))
            except ValueError:  # the sample drew a single cluster: undefined there
                sil = None
    return ClusterMetrics(
        confusion=matrix[:, col_order],
        people=row_names,
        clusters=[col_names[c] for c in col_order],
        accuracy=accuracy,
        ari=ari,
        nmi=nmi,
        silhouette=sil,
        matching={col_names[c]: row_names[r] for r, c in zip(rows, cols, strict=True)},
    )


@dataclass(frozen=True)
class ClusterMap:
    """A projection, a KMeans clustering (on the projection or the full embedding) and its scores."""

    projection: Projection
    clustering: Clustering
    metrics: ClusterMetrics

    def summary(self) -> dict[str, Any]:
        """The ``facedash cluster --json`` record."""
        return {
            "projection": self.projection.method,
            "dims": self.projection.dims,
            "k": self.clustering.k,
            "space": self.clustering.space,
            "seed": self.clustering.seed,
            "params": self.projection.params,
            **self.metrics.as_dict(),
        }


def cluster_map(
    embeddings: np.ndarray,
    people: np.ndarray,
    *,
    method: str = "pca",
    dims: int = 2,
    k: int | None = None,
    space: str = "projected",
    seed: int = 0,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    perplexity: float = 30.0,
    projection: Projection | None = None,
) -> ClusterMap:
    """Project, run KMeans (``k`` defaults to the number of people) and score against ``people``.

    ``space="projected"`` clusters the 2-D/3-D points (what a PCA-then-KMeans
    tutorial does); ``space="full"`` clusters the original embeddings. Pass a
    ready ``projection`` to skip projecting again.
    """
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}; use one of {', '.join(SPACES)}")
    x = check_points(embeddings)
    if len(people) != x.shape[0]:
        raise ValueError(f"{len(people)} people labels for {x.shape[0]} faces")
    if projection is None:
        projection = project(
            x,
            method,
            dims=dims,
            seed=seed,
            n_neighbors=n_neighbors,
            min_dist=min_dist,
            perplexity=perplexity,
        )
    elif projection.coords.shape[0] != x.shape[0]:
        raise ValueError("the projection does not have one point per face")
    k = len(set(np.asarray(people).astype(str).tolist())) if k is None else int(k)
    points = projection.coords if space == "projected" else x
    clustering = kmeans(points, k, seed=seed, space=space)
    metrics = cluster_metrics(people, clustering.labels, points)
    return ClusterMap(projection, clustering, metrics)
