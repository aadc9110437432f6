"""The Embedding map's cached computations: projections, thumbnails, exports, variances.

``cluster``, ``thumb_uris`` and ``downloads`` are keyed on the set's content key
(``keys.set_key``) plus their parameters, so a rerun (a click, a lasso, a new
search) recomputes none of them; UMAP's numba compilation is paid once per server.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from facedash import exports, thumbnails
from facedash import projection as P
from facedash.pipeline import EmbeddingSet
from facedash.ui import pfe as pfe_ui
from facedash.ui.keys import set_key

THUMB_SIDE = 48

__all__ = ["THUMB_SIDE", "cluster", "downloads", "set_key", "thumb_uris", "variances", "warm_umap"]


@st.cache_resource(show_spinner="Compiling UMAP (numba, once per server; about 20 s) ...")
def warm_umap() -> float:
    """UMAP's one-off compilation, paid once per server process."""
    return P.warm_umap()


@st.cache_data(show_spinner="Projecting ...", max_entries=32)
def cluster(
    key: str,
    _embeddings: np.ndarray,
    people: tuple[str, ...],
    method: str,
    dims: int,
    k: int,
    space: str,
    seed: int,
    n_neighbors: int,
    min_dist: float,
    perplexity: float,
) -> P.ClusterMap:
    """Projection + KMeans + metrics, cached per face set and parameters."""
    return P.cluster_map(
        _embeddings,
        np.asarray(people),
        method=method,
        dims=dims,
        k=k,
        space=space,
        seed=seed,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        perplexity=perplexity,
    )


@st.cache_data(show_spinner="Encoding thumbnails (once per face set) ...", max_entries=8)
def thumb_uris(key: str, _thumbs: list[bytes | None], side: int) -> list[str]:
    """Thumbnails as data URIs, encoded once per face set and shared by every rerun."""
    return thumbnails.data_uris(_thumbs, side)


@st.cache_data(show_spinner="Preparing downloads ...", max_entries=8)
def downloads(key: str, _result: EmbeddingSet) -> dict[str, bytes]:
    """CSV, Parquet and the Embedding Projector bundle, built once per face set."""
    meta = _result.frame()
    files = exports.projector_files(
        _result.embeddings,
        meta[["path", "person"]],
        _result.thumbs,
        tensor_name=_result.dataset,
        root=_result.root or None,
    )
    return {
        "csv": exports.csv_bytes(_result.embeddings, meta),
        "parquet": exports.parquet_bytes(_result.embeddings, meta),
        "projector": exports.projector_zip(files),
    }


def variances(result: EmbeddingSet) -> np.ndarray | None:
    """Per-face embedding variances from the saved uncertainty head (None when none is trained)."""
    sigma2 = pfe_ui.current_sigma2(result)
    if sigma2 is not None and sigma2.shape == result.embeddings.shape:
        return sigma2
    return None


def selection_counts(people: np.ndarray, picked: list[int]) -> dict[str, int]:
    """How many of the selected faces belong to each person."""
    names, counts = np.unique(people[picked], return_counts=True)
    return {str(p): int(c) for p, c in zip(names, counts, strict=True)}
