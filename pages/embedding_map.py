"""Embedding map page: PCA / UMAP / t-SNE with face thumbnails, KMeans, and how clusters match people."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from facedash import exports, thumbnails
from facedash import projection as P
from facedash.figures import embedding_map as F
from facedash.pipeline import EmbeddingSet
from facedash.ui import pfe as pfe_ui
from facedash.ui import state

HOW_TO_READ = r"""
**What this page computes.** Every face is a point $x_i \in \mathbb{R}^{128}$ (its FaceNet
embedding, $\lVert x_i \rVert = 1$). The map squeezes the 128 dimensions into 2 or 3:

- **PCA** keeps the directions of largest variance: $y_i = W (x_i - \bar x)$, where the rows of
  $W$ are the top eigenvectors of the covariance matrix. It is linear, so distances along
  the axes are honest, but most of the 128 dimensions are dropped (the axis titles say how
  much variance is kept).
- **UMAP** builds a graph of each face's $n$ nearest neighbours and lays it out so that
  neighbours stay close; *neighbours* trades local for global structure, *min-dist* sets
  how tightly points may pack.
- **t-SNE** matches neighbour probabilities $p_{j|i} \propto \exp(-\lVert x_i - x_j\rVert^2 / 2\sigma_i^2)$
  in 128-d with Student-t probabilities in the plot; *perplexity* is roughly the number of
  neighbours each face attends to.

UMAP and t-SNE keep neighbourhoods, not distances: the size of a cluster and the gap
between two clusters mean little.

**KMeans** with $k$ clusters minimises $\sum_i \lVert z_i - \mu_{c(i)} \rVert^2$, either on the
projected points $z_i = y_i$ (what a PCA-then-KMeans tutorial does) or on the full
embeddings $z_i = x_i$. KMeans never sees the names; we then compare its clusters to the people:

- **Accuracy after matching**: each cluster is paired with at most one person so that the
  most faces agree (the Hungarian algorithm on the confusion matrix); accuracy is the share
  of faces on the matched diagonal.
- **ARI** (adjusted Rand index): agreement over all pairs of faces, 1 = same partition,
  about 0 = chance.
- **NMI**: $I(C;P) / \tfrac12 (H(C) + H(P))$, 1 = clusters determine people exactly.
- **Silhouette** (where KMeans ran): mean of $(b_i - a_i)/\max(a_i, b_i)$, with $a_i$ the mean
  distance to the face's own cluster and $b_i$ to the nearest other one.

**Uncertainty ellipses** (PCA only): a face with Gaussian embedding $N(x_i, \mathrm{diag}(\sigma_i^2))$
lands at $N(y_i, W\,\mathrm{diag}(\sigma_i^2)\,W^\top)$ in the plot; the ellipse is its 1-sigma contour.

**How to read the chart.** Each picture (or dot) is one face, framed in its person's or
cluster's colour. Click a face to list its nearest faces in the full 128-d space, with
distances ($\lVert x_i - x_j \rVert^2 = 2(1 - \cos\theta)$); or pick the lasso or box tool
(chart toolbar, top right) and drag over the map to see those faces below. Type a file
name to ring it in red.
"""

METHOD_LABELS = {"PCA": "pca", "UMAP": "umap", "t-SNE": "tsne"}
SPACE_LABELS = {"the projection": "projected", "the full embedding": "full"}
THUMB_SIDE = 48


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
        _result.embeddings, meta[["path", "person"]], _result.thumbs, tensor_name=_result.dataset
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


def face_grid(
    result: EmbeddingSet, indices: list[int], labels: np.ndarray, per_row: int = 10
) -> None:
    """The chosen faces as a grid of thumbnails with person and cluster."""
    for start in range(0, len(indices), per_row):
        cols = st.columns(per_row)
        for col, i in zip(cols, indices[start : start + per_row], strict=False):
            thumb = result.thumbs[i]
            if thumb:
                col.image(thumb, width="stretch")
            col.caption(f"{result.rows[i].person} · c{labels[i]}")


def controls(n: int, n_people: int) -> dict[str, Any]:
    """The map's widgets; returns the chosen parameters."""
    c1, c2, c3, c4 = st.columns([2, 1, 2, 1])
    method = METHOD_LABELS[
        c1.selectbox("Projection", list(METHOD_LABELS), key="embedding_map_method")
    ]
    dims = c2.radio("Dimensions", [2, 3], horizontal=True, key="embedding_map_dims")
    k_max = max(2, min(20, n - 1))
    k = c3.slider(
        "KMeans clusters k", 2, k_max, min(max(2, n_people), k_max), key="embedding_map_k"
    )
    seed = int(c4.number_input("Seed", 0, 10_000, 0, key="embedding_map_seed"))
    n_neighbors, min_dist, perplexity = 15, 0.1, 30.0
    if method == "umap":
        p1, p2 = st.columns(2)
        n_neighbors = p1.slider(
            "UMAP neighbours",
            2,
            max(3, min(100, n - 1)),
            min(15, n - 1),
            key="embedding_map_neighbors",
        )
        min_dist = p2.slider("UMAP min-dist", 0.0, 1.0, 0.1, 0.05, key="embedding_map_min_dist")
    elif method == "tsne":
        top = max(2.0, min(100.0, float(n - 1)))
        perplexity = st.slider(
            "t-SNE perplexity", 2.0, top, min(30.0, top), 1.0, key="embedding_map_perplexity"
        )
    c5, c6, c7, c8 = st.columns([2, 2, 1, 2])
    space = SPACE_LABELS[
        c5.radio("Run KMeans on", list(SPACE_LABELS), horizontal=True, key="embedding_map_space")
    ]
    colour_by = c6.radio(
        "Colour by", ["person", "cluster"], horizontal=True, key="embedding_map_colour"
    )
    show_thumbs = c7.toggle("Thumbnails", value=True, key="embedding_map_thumbs")
    size = c8.slider(
        "Thumbnail size (% of the plot)",
        1,
        15,
        6,
        key="embedding_map_thumb_size",
        disabled=not show_thumbs or dims == 3,
    )
    return {
        "method": method,
        "dims": int(dims),
        "k": int(k),
        "seed": seed,
        "n_neighbors": int(n_neighbors),
        "min_dist": float(min_dist),
        "perplexity": float(perplexity),
        "space": space,
        "colour_by": colour_by,
        "thumbs": bool(show_thumbs),
        "thumb_size": size / 100.0,
    }


def main() -> None:
    result = state.page_start("pages/embedding_map.py", "Embedding map", HOW_TO_READ, min_faces=5)
    if result is None:
        return
    n = len(result.rows)
    people = sorted(set(result.people.tolist()))
    key = thumbnails.set_key(
        [r.image_hash for r in result.rows],
        [r.face_index for r in result.rows],
        result.model_id,
        result.align_key,
    )
    opts = controls(n, len(people))
    if opts["method"] == "umap":
        warm_umap()
    try:
        cmap = cluster(
            key,
            result.embeddings,
            tuple(result.people.tolist()),
            opts["method"],
            opts["dims"],
            opts["k"],
            opts["space"],
            opts["seed"],
            opts["n_neighbors"],
            opts["min_dist"],
            opts["perplexity"],
        )
    except ValueError as exc:
        st.error(str(exc))
        return
    coords, labels = cmap.projection.coords, cmap.clustering.labels

    s1, s2 = st.columns([3, 2])
    query = s1.text_input(
        "Find an image by name",
        key="embedding_map_search",
        placeholder="e.g. madonna or a file name",
    )
    hits = P.find_by_name(result.names, query) if query else np.zeros(0, dtype=np.int64)
    if query and len(hits) == 0:
        s1.warning(f"No face's file name contains {query!r}.")
    head_ready = pfe_ui.head_record_for(result) is not None
    ellipse_ok = opts["method"] == "pca" and opts["dims"] == 2 and head_ready
    show_ellipses = s2.checkbox(
        "Uncertainty ellipses (PCA 2-D)",
        key="embedding_map_ellipses",
        disabled=not ellipse_ok,
        help="Per-face variances from the uncertainty head. The first tick runs the model and "
        "the head over the set once (the map itself needs no model).",
    )
    if not head_ready:
        s2.caption(
            "Ellipses need per-face variances from the uncertainty head, not available for this "
            "set yet: train the head on the Uncertainty page."
        )
    var = variances(result) if show_ellipses and ellipse_ok else None

    picked = P.selected_indices(st.session_state.get("embedding_map_chart"), n)
    clicked = picked[0] if len(picked) == 1 else (int(hits[0]) if len(hits) == 1 else None)
    neighbours = P.nearest(result.embeddings, clicked, k=8) if clicked is not None else None
    uris = (
        thumb_uris(key, result.thumbs, THUMB_SIDE) if opts["thumbs"] and opts["dims"] == 2 else None
    )
    covariances = P.project_covariances(cmap.projection, var) if var is not None else None
    fig = F.face_map(
        coords,
        names=result.names,
        people=result.people,
        labels=labels,
        colour_by=opts["colour_by"],
        thumbs=uris,
        thumb_size=opts["thumb_size"],
        highlight=hits.tolist()[:20],
        selected=picked if len(picked) > 1 else (),
        neighbours=neighbours,
        covariances=covariances,
        method=opts["method"],
    )

    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(
            fig,
            key="embedding_map_chart",
            on_select="rerun",
            selection_mode=("points", "box", "lasso"),
            width="stretch",
        )
        ratio = cmap.projection.explained_variance_ratio
        note = f" · variance kept {ratio.sum():.0%}" if ratio is not None else ""
        st.caption(
            f"{n} faces · {opts['method'].upper()} {opts['dims']}-D in {cmap.projection.seconds:.2f} s{note}"
            + (
                " · 3-D shows points only (no thumbnails)"
                if opts["dims"] == 3 and opts["thumbs"]
                else ""
            )
        )
    m = cmap.metrics
    with right:
        st.subheader("Clusters vs people")
        a, b = st.columns(2)
        a.metric("Accuracy (matched)", f"{m.accuracy:.1%}")
        b.metric("ARI", f"{m.ari:.3f}")
        a.metric("NMI", f"{m.nmi:.3f}")
        b.metric("Silhouette", "n/a" if m.silhouette is None else f"{m.silhouette:.3f}")
        st.plotly_chart(
            F.confusion_heatmap(m.confusion, m.people, m.clusters),
            key="embedding_map_confusion",
            width="stretch",
        )
        st.caption(
            f"KMeans k={cmap.clustering.k} on {'the projection' if opts['space'] == 'projected' else 'the full 128-d embedding'}; "
            "each cluster matched to at most one person (Hungarian)."
        )

    if neighbours is not None and clicked is not None:
        st.subheader(f"Nearest faces to {result.names[clicked]}")
        cols = st.columns(len(neighbours.indices) + 1)
        if result.thumbs[clicked]:
            cols[0].image(result.thumbs[clicked], width="stretch")
        cols[0].caption(f"**{result.rows[clicked].person}** (this face)")
        for col, i, d, c in zip(
            cols[1:], neighbours.indices, neighbours.distances, neighbours.cosine, strict=True
        ):
            if result.thumbs[i]:
                col.image(result.thumbs[i], width="stretch")
            col.caption(f"{result.rows[i].person} · d={d:.3f} · cos={1 - c:.3f}")
    if len(picked) > 1:
        st.subheader(f"{len(picked)} selected faces")
        counts = {
            p: int(v)
            for p, v in zip(*np.unique(result.people[picked], return_counts=True), strict=True)
        }
        st.caption(" · ".join(f"{p}: {c}" for p, c in counts.items()))
        face_grid(result, picked[:100], labels)
        if len(picked) > 100:
            st.caption(f"First 100 of {len(picked)} shown.")
    elif neighbours is None:
        st.caption(
            "Click a face for its nearest faces; pick the lasso or box tool in the chart's toolbar "
            "and drag over the map to see those faces here."
        )

    with st.expander("Export embeddings"):
        files = downloads(key, result)
        d1, d2, d3 = st.columns(3)
        d1.download_button(
            "CSV", files["csv"], "embeddings.csv", "text/csv", key="embedding_map_csv"
        )
        d2.download_button(
            "Parquet",
            files["parquet"],
            "embeddings.parquet",
            "application/octet-stream",
            key="embedding_map_parquet",
        )
        d3.download_button(
            "Embedding Projector bundle (zip)",
            files["projector"],
            "projector.zip",
            "application/zip",
            key="embedding_map_projector",
        )
        st.caption(
            "Unzip the bundle and load tensors.tsv and metadata.tsv at projector.tensorflow.org, "
            "or point TensorBoard's projector at the folder (projector_config.pbtxt names the sprite)."
        )


if __name__ == "__main__":
    state.run_page(main)
