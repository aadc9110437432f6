"""Project embeddings to 2-D or 3-D (PCA, UMAP, t-SNE), and carry uncertainty through PCA.

Every function is pure: arrays in, a frozen ``Projection`` out. Nothing is
imported from scikit-learn or umap at module level, so importing this module is
instant; ``warm_umap`` pays UMAP's one-off numba compilation when the caller
chooses (the app does it once per server process, behind a spinner).
``project_covariances`` maps per-face Gaussians through PCA's linear map and
``ellipse_outline`` draws them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Method = Literal["pca", "umap", "tsne"]
METHODS: tuple[str, ...] = ("pca", "umap", "tsne")
METHOD_NAMES = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
TSNE_MAX = 20_000  # t-SNE refuses more faces than this (minutes to hours): use UMAP or PCA
# Seconds per face * log2(faces) measured on a 2-core VM (UMAP after its numba
# compilation; t-SNE Barnes-Hut), for the progress notes of long projections.
_SECONDS_PER_N_LOG_N = {"pca": 2e-7, "umap": 1.7e-4, "tsne": 9e-4}


def estimate_seconds(method: str, n: int) -> float:
    """A rough time for projecting ``n`` faces with ``method`` on a small machine (progress notes)."""
    rate = _SECONDS_PER_N_LOG_N.get(method, 1e-3)
    return rate * n * float(np.log2(max(n, 2)))


def check_size(method: str, n: int) -> None:
    """``ValueError`` with what to use instead when ``method`` is too slow for ``n`` faces."""
    if method == "tsne" and n > TSNE_MAX:
        minutes = estimate_seconds("tsne", n) / 60
        raise ValueError(
            f"t-SNE on {n:,} faces would take about {minutes:.0f} minutes here and is limited to "
            f"{TSNE_MAX:,} faces: use UMAP (same kind of neighbour map, about "
            f"{estimate_seconds('umap', n) / 60:.0f} minutes) or PCA (instant), or a sample of the set."
        )


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


def check_points(x: np.ndarray, *, name: str = "embeddings") -> np.ndarray:
    """``x`` as a finite float64 (faces x dimensions) array, or a ``ValueError`` naming it."""
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
    x = check_points(embeddings)
    n, d = x.shape
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; use one of {', '.join(METHODS)}")
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims}")
    if n < dims + 1:
        raise ValueError(f"need at least {dims + 1} faces to project to {dims}-D, got {n}")
    if d < dims:
        raise ValueError(f"embeddings have {d} dimensions, fewer than dims={dims}")
    check_size(method, n)
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
        x32 = x.astype(np.float32)
        extra: dict[str, Any] = {}
        if UMAP_NNDESCENT_FROM <= n <= UMAP_EXACT_KNN_MAX:
            # UMAP would search neighbours approximately (pynndescent: a minute of numba
            # compilation here); the exact ones take seconds in blocks of matrix products.
            extra["precomputed_knn"] = exact_knn(x32, int(n_neighbors))
        reducer = umap.UMAP(
            n_components=dims,
            n_neighbors=int(n_neighbors),
            min_dist=float(min_dist),
            random_state=int(seed),
            n_jobs=1,
            **extra,
        )
        import warnings

        with warnings.catch_warnings():  # "no search index": only transform() needs one
            warnings.simplefilter("ignore")
            coords = reducer.fit_transform(x32).astype(np.float64)
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


UMAP_NNDESCENT_FROM = 4_097  # UMAP finds neighbours approximately (pynndescent) past 4,096 faces
UMAP_EXACT_KNN_MAX = 30_000  # up to here UMAP is handed exact neighbours (O(n^2 d) in blocks)


def exact_knn(
    x: np.ndarray, k: int, *, block_bytes: int = 1 << 27
) -> tuple[np.ndarray, np.ndarray]:
    """Each point's ``k`` nearest points (itself first) and Euclidean distances, exactly.

    UMAP's ``precomputed_knn`` format. Squared distances come from blocks of rows
    against all points (``|a|^2 - 2 a.b + |b|^2``), at most ``block_bytes`` at a
    time, so memory stays O(n) whatever the set's size; time is O(n^2 d).
    """
    x = np.asarray(x, dtype=np.float32)
    n = len(x)
    k = min(int(k), n)
    sq = np.einsum("nd,nd->n", x, x)
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k), dtype=np.float32)
    block = max(1, min(n, block_bytes // max(1, 4 * n)))
    for start in range(0, n, block):
        d2 = sq[start : start + block, None] - 2.0 * (x[start : start + block] @ x.T) + sq[None]
        rows = np.arange(len(d2))
        d2[rows, start + rows] = -1.0  # each point is its own first neighbour
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        near = np.take_along_axis(d2, part, axis=1)
        order = np.argsort(near, axis=1, kind="stable")
        idx[start : start + block] = np.take_along_axis(part, order, axis=1)
        near = np.take_along_axis(near, order, axis=1)
        near[:, 0] = 0.0
        dist[start : start + block] = np.sqrt(np.maximum(near, 0.0))
    return idx, dist


def warm_umap(large: bool = False) -> float:
    """Import UMAP and fit it once on small data, so numba compiles now; return the seconds taken.

    The first ``import umap`` and the first fit take tens of seconds (numba
    compilation); later fits in the same process are fast. ``large`` also
    compiles the approximate neighbour search UMAP uses past ``UMAP_EXACT_KNN_MAX``
    faces (about a minute more here; without it the first fit of such a set pays it).
    """
    import warnings

    t0 = time.perf_counter()
    umap = _import_umap()
    rng = np.random.default_rng(0)
    sizes = (40, UMAP_NNDESCENT_FROM) if large else (40,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in sizes:
            for dims in (2, 3):
                umap.UMAP(
                    n_components=dims, n_neighbors=5, random_state=0, n_jobs=1, n_epochs=5
                ).fit_transform(rng.normal(size=(n, 8)).astype(np.float32))
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
