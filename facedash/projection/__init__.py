"""Project embeddings to 2-D or 3-D, cluster them, and find faces on the map; one module per job.

- ``reduce``: PCA / UMAP / t-SNE (``project``, ``warm_umap``) and the PFE
  uncertainty ellipses a linear projection carries (``project_covariances``);
- ``clusters``: KMeans and how well clusters match people (``kmeans``,
  ``cluster_metrics``), and the whole job, ``cluster_map``;
- ``neighbours``: the nearest faces to one (``nearest``), faces by file name,
  faces picked in a chart selection.

Every function is pure: arrays in, a frozen result dataclass out, and importing
loads neither scikit-learn nor umap. Every name is re-exported here, so
``from facedash import projection as P`` then ``P.cluster_map(...)`` works as before::

    result = cluster_map(embeddings, people, method="pca", dims=2, k=5)
    result.metrics.accuracy, result.metrics.ari, result.metrics.nmi
"""

from __future__ import annotations

from facedash.projection.align import Alignment, procrustes
from facedash.projection.clusters import (
    SINGLE_THREAD_MAX,
    SPACES,
    Clustering,
    ClusterMap,
    ClusterMetrics,
    Space,
    cluster_map,
    cluster_metrics,
    confusion,
    hungarian_match,
    kmeans,
)
from facedash.projection.neighbours import Neighbours, find_by_name, nearest, selected_indices
from facedash.projection.reduce import (
    METHOD_NAMES,
    METHODS,
    TSNE_MAX,
    UMAP_EXACT_KNN_MAX,
    UMAP_NNDESCENT_FROM,
    Method,
    Projection,
    check_points,
    check_size,
    ellipse_outline,
    estimate_seconds,
    exact_knn,
    project,
    project_covariances,
    warm_umap,
)

__all__ = [
    "Alignment",
    "procrustes",
    "METHODS",
    "METHOD_NAMES",
    "SINGLE_THREAD_MAX",
    "SPACES",
    "TSNE_MAX",
    "UMAP_EXACT_KNN_MAX",
    "UMAP_NNDESCENT_FROM",
    "ClusterMap",
    "ClusterMetrics",
    "Clustering",
    "Method",
    "Neighbours",
    "Projection",
    "Space",
    "check_points",
    "check_size",
    "cluster_map",
    "cluster_metrics",
    "confusion",
    "ellipse_outline",
    "estimate_seconds",
    "exact_knn",
    "find_by_name",
    "hungarian_match",
    "kmeans",
    "nearest",
    "project",
    "project_covariances",
    "selected_indices",
    "warm_umap",
]
