"""Project embeddings to 2-D or 3-D, cluster them, and score clusters against people.

Every function is pure: arrays in, a frozen result dataclass out. Nothing is
imported from scikit-learn or umap at module level, so importing this module is
instant; ``warm_umap`` pays UMAP's one-off numba compilation when the caller
chooses (the app does it once per server process, behind a spinner).

Typical use::

    result = cluster_map(embeddings, people, method="pca", dims=2, k=5)
    result.metrics.accuracy, result.metrics.ari, result.metrics.nmi
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Method = Literal["pca", "umap", "tsne"]
Space = Literal["projected", "full"]
METHODS: tuple[str, ...] = ("pca", "umap", "tsne")
SPACES: tuple[str, ...] = ("projected", "full")
METHOD_NAMES = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
SINGLE_THREAD_MAX = 20_000  # KMeans runs single-threaded up to this many faces


# -- projection -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Projection:
    """Points projected to ``dims`` dimensions, and how they were made.

    For PCA, ``components`` (dims x D) and ``mean`` (D,) give the linear map
    ``coords = (x - mean) @ components.T``, so a Gaussian in the embedding space
    stays a Gaussian in the plot (see ``project_covariances``).
    """

    method: str
    dims: int
    coords: np.ndarray = field(repr=False)
    params: dict[str, Any]
    seconds: float
    components: np.ndarray | None = field(default=None, repr=False)
    mean: np.ndarray | None = field(default=None, repr=False)
    explained_variance_ratio: np.ndarray | None = None

    @property
    def linear(self) -> bool:
        """Whether the projection is a linear map (PCA)."""
        return self.components is not None


def _check_points(x: np.ndarray, *, name: str = "embeddings") -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (faces x dimensions), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contain NaN or infinite values")
    return x


def project(
    embeddings: np.ndarray,
    method: str = "pca",
    *,
    dims: int = 2,
    seed: int = 0,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    perplexity: float = 30.0,
) -> Projection:
    """Project ``embeddings`` (N x D) to ``dims`` (2 or 3) dimensions with PCA, UMAP or t-SNE.

    ``n_neighbors`` and ``min_dist`` are UMAP's, ``perplexity`` is t-SNE's; ``seed``
    makes UMAP deterministic. PCA, and t-SNE started from the PCA layout, are
    deterministic whatever the seed.
    """
    x = _check_points(embeddings)
    n, d = x.shape
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; use one of {', '.join(METHODS)}")
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims}")
    if n < dims + 1:
        raise ValueError(f"need at least {dims + 1} faces to project to {dims}-D, got {n}")
    if d < dims:
        raise ValueError(f"embeddings have {d} dimensions, fewer than dims={dims}")
    t0 = time.perf_counter()
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=dims, svd_solver="full")
        coords = pca.fit_transform(x)
        return Projection(
            "pca",
            dims,
            coords,
            {},
            time.perf_counter() - t0,
            components=pca.components_.copy(),
            mean=pca.mean_.copy(),
            explained_variance_ratio=pca.explained_variance_ratio_.copy(),
        )
    if method == "umap":
        if not 2 <= n_neighbors < n:
            raise ValueError(
                f"UMAP n_neighbors must be between 2 and the number of faces - 1 ({n - 1}), got {n_neighbors}"
            )
        if not 0.0 <= min_dist <= 1.0:
            raise ValueError(f"UMAP min_dist must be in [0, 1], got {min_dist}")
        umap = _import_umap()
        reducer = umap.UMAP(
            n_components=dims,
            n_neighbors=int(n_neighbors),
            min_dist=float(min_dist),
            random_state=int(seed),
            n_jobs=1,
        )
        coords = reducer.fit_transform(x.astype(np.float32)).astype(np.float64)
        params = {"n_neighbors": int(n_neighbors), "min_dist": float(min_dist), "seed": int(seed)}
        return Projection("umap", dims, coords, params, time.perf_counter() - t0)
    if not 0 < perplexity < n:
        raise ValueError(
            f"t-SNE perplexity must be positive and below the number of faces ({n}), got {perplexity}"
        )
    from sklearn.manifold import TSNE

    tsne = TSNE(
        n_components=dims,
        perplexity=float(perplexity),
        random_state=int(seed),
        init="pca",
        learning_rate="auto",
    )
    coords = tsne.fit_transform(x)
    params = {"perplexity": float(perplexity), "seed": int(seed)}
    return Projection("tsne", dims, coords, params, time.perf_counter() - t0)


def _import_umap() -> Any:
    """Import umap without its ParametricUMAP, which would import TensorFlow (seconds, ~1 GB)."""
    import sys
    import warnings

    blocked = "tensorflow" not in sys.modules and "umap.parametric_umap" not in sys.modules
    if blocked:
        sys.modules["umap.parametric_umap"] = None  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import umap
    finally:
        if blocked and sys.modules.get("umap.parametric_umap", 0) is None:
            del sys.modules["umap.parametric_umap"]
    return umap


def warm_umap() -> float:
    """Import UMAP and fit it once on tiny data, so numba compiles now; return the seconds taken.

    The first ``import umap`` and the first fit take tens of seconds (numba
    compilation); later fits in the same process take a fraction of a second.
    """
    import warnings

    t0 = time.perf_counter()
    umap = _import_umap()
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dims in (2, 3):
            umap.UMAP(n_components=dims, n_neighbors=5, random_state=0, n_jobs=1).fit_transform(
                rng.normal(size=(40, 8)).astype(np.float32)
            )
    return time.perf_counter() - t0


def project_covariances(projection: Projection, variances: np.ndarray) -> np.ndarray:
    """Each face's covariance in the PCA plot, ``W diag(sigma^2) W^T`` (N x dims x dims).

    ``variances`` holds per-face, per-dimension variances sigma^2 (N x D) of the
    embedding, e.g. from a probabilistic-embedding uncertainty head. Only a linear
    projection maps a Gaussian to a Gaussian, so this needs PCA.
    """
    if not projection.linear or projection.components is None:
        raise ValueError(
            f"uncertainty ellipses need a linear projection (PCA), not {projection.method}"
        )
    var = np.asarray(variances, dtype=np.float64)
    w = projection.components
    if var.ndim != 2 or var.shape != (projection.coords.shape[0], w.shape[1]):
        raise ValueError(
            f"variances must have shape {(projection.coords.shape[0], w.shape[1])} (faces x dimensions), got {var.shape}"
        )
    if np.any(var < 0) or not np.all(np.isfinite(var)):
        raise ValueError("variances must be finite and non-negative")
    return np.einsum("id,nd,jd->nij", w, var, w)


def ellipse_outline(
    centre: np.ndarray, covariance: np.ndarray, *, n_std: float = 1.0, points: int = 48
) -> np.ndarray:
    """Points (``points`` x 2) on the ``n_std``-sigma ellipse of a 2-D Gaussian."""
    vals, vecs = np.linalg.eigh(np.asarray(covariance, dtype=np.float64))
    radii = n_std * np.sqrt(np.clip(vals, 0.0, None))
    t = np.linspace(0.0, 2.0 * np.pi, points)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    return np.asarray(centre, dtype=np.float64) + (circle * radii) @ vecs.T


# -- clustering and metrics -----------------------------------------------------------------
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
    x = _check_points(points, name="points")
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
    None when it is undefined (a single cluster, or every face its own cluster).
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
        x = _check_points(points, name="points")
        if 2 <= n_clusters <= x.shape[0] - 1:
            sil = float(silhouette_score(x, labels))
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
    x = _check_points(embeddings)
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


# -- neighbours and search ------------------------------------------------------------------
@dataclass(frozen=True)
class Neighbours:
    """The nearest faces to one face, nearest first, with Euclidean and cosine distances."""

    query: int
    indices: np.ndarray
    distances: np.ndarray
    cosine: np.ndarray


def nearest(points: np.ndarray, index: int, k: int = 8) -> Neighbours:
    """The ``k`` nearest other faces to face ``index`` by Euclidean distance in ``points``.

    ``cosine`` is 1 - cosine similarity of the same pairs (for L2-normalised
    embeddings, ``euclidean**2 = 2 * cosine``).
    """
    x = _check_points(points, name="points")
    n = x.shape[0]
    if not 0 <= index < n:
        raise ValueError(f"face index {index} is out of range (0..{n - 1})")
    k = max(0, min(int(k), n - 1))
    diff = x - x[index]
    dist = np.sqrt(np.einsum("nd,nd->n", diff, diff))
    dist[index] = np.inf
    order = np.argsort(dist, kind="stable")[:k]
    norms = np.linalg.norm(x, axis=1)
    denom = np.maximum(norms[order] * norms[index], 1e-12)
    cos = 1.0 - (x[order] @ x[index]) / denom
    return Neighbours(int(index), order, dist[order], cos)


def find_by_name(names: np.ndarray | list[str], query: str) -> np.ndarray:
    """Indices of faces whose file name matches ``query`` (case-insensitive).

    Exact matches of the full name or its last path part come first; if there are
    none, every name containing the query. An empty query finds nothing.
    """
    q = query.strip().lower()
    if not q:
        return np.zeros(0, dtype=np.int64)
    lowered = [str(n).lower() for n in names]
    exact = [i for i, n in enumerate(lowered) if n == q or n.rsplit("/", 1)[-1] == q]
    if exact:
        return np.asarray(exact, dtype=np.int64)
    return np.asarray([i for i, n in enumerate(lowered) if q in n], dtype=np.int64)


def selected_indices(event: Any, n: int) -> list[int]:
    """Face indices picked in a plotly chart selection event (box, lasso or click).

    Reads ``customdata`` (the face index every point carries) of each selected
    point; points of traces without it (e.g. a highlight ring) are ignored.
    Accepts Streamlit's event object or its plain-dict form.
    """
    if event is None:
        return []
    selection = (
        event.get("selection") if isinstance(event, dict) else getattr(event, "selection", None)
    )
    if selection is None:
        return []
    points = (
        selection.get("points", [])
        if isinstance(selection, dict)
        else getattr(selection, "points", [])
    )
    found: list[int] = []
    for point in points or []:
        data = point.get("customdata") if isinstance(point, dict) else None
        if isinstance(data, list | tuple):
            data = data[0] if data else None
        if data is None:
            continue
        try:
            i = int(data)
        except (TypeError, ValueError):
            continue
        if 0 <= i < n and i not in found:
            found.append(i)
    return found
