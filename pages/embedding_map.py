"""Embedding map page: PCA / UMAP / t-SNE with face thumbnails, KMeans, and how clusters match people."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from facedash import projection as P
from facedash.figures import embedding_map as F
from facedash.i18n import N_, _, ngettext
from facedash.ui import embedding_map as UM
from facedash.ui import howto, state
from facedash.ui import map_compare as MC
from facedash.ui import pfe as pfe_ui

# The pickers' values (English, language-free keys), shown through _().
METHOD_LABELS = {"PCA": "pca", "UMAP": "umap", "t-SNE": "tsne"}
SPACE_LABELS = {N_("the projection"): "projected", N_("the full embedding"): "full"}
COLOUR_LABELS = {"person": N_("person"), "cluster": N_("cluster")}


def controls(n: int, n_people: int) -> dict[str, Any]:
    """The map's widgets; returns the chosen parameters."""
    c1, c2, c3, c4 = st.columns([2, 1, 2, 1])
    method = METHOD_LABELS[
        c1.selectbox(_("Projection"), list(METHOD_LABELS), key="embedding_map_method")
    ]
    dims = c2.radio(_("Dimensions"), [2, 3], horizontal=True, key="embedding_map_dims")
    k_max = max(2, min(20, n - 1))
    k = c3.slider(
        _("KMeans clusters k"), 2, k_max, min(max(2, n_people), k_max), key="embedding_map_k"
    )
    seed = int(c4.number_input(_("Seed"), 0, 10_000, 0, key="embedding_map_seed"))
    n_neighbors, min_dist, perplexity = 15, 0.1, 30.0
    if method == "umap":
        p1, p2 = st.columns(2)
        n_neighbors = p1.slider(
            _("UMAP neighbours"),
            2,
            max(3, min(100, n - 1)),
            min(15, n - 1),
            key="embedding_map_neighbors",
        )
        min_dist = p2.slider(_("UMAP min-dist"), 0.0, 1.0, 0.1, 0.05, key="embedding_map_min_dist")
    elif method == "tsne":
        top = max(2.0, min(100.0, float(n - 1)))
        perplexity = st.slider(
            _("t-SNE perplexity"), 2.0, top, min(30.0, top), 1.0, key="embedding_map_perplexity"
        )
    c5, c6, c7, c8 = st.columns([2, 2, 1, 2])
    space = SPACE_LABELS[
        c5.radio(
            _("Run KMeans on"),
            list(SPACE_LABELS),
            format_func=_,
            horizontal=True,
            key="embedding_map_space",
        )
    ]
    colour_by = c6.radio(
        _("Colour by"),
        list(COLOUR_LABELS),
        format_func=lambda c: _(COLOUR_LABELS[c]),
        horizontal=True,
        key="embedding_map_colour",
    )
    show_thumbs = c7.toggle(_("Thumbnails"), value=True, key="embedding_map_thumbs")
    size = c8.slider(
        _("Thumbnail size (% of the plot)"),
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
    state.page_shell("pages/embedding_map.py")  # the language first: the texts below are made in it
    result = state.page_start(
        "pages/embedding_map.py", _("Embedding map"), howto.EMBEDDING_MAP, min_faces=5
    )
    if result is None:
        return
    n = len(result.rows)
    people = sorted(set(result.people.tolist()))
    key = UM.set_key(result)
    opts = controls(n, len(people))
    if opts["method"] == "umap":
        UM.warm_umap(n)
    params = [opts[p] for p in ("method", "dims", "seed", "n_neighbors", "min_dist", "perplexity")]
    try:
        proj = UM.projection(key, result.embeddings, *params)
        cmap = UM.cluster(
            key,
            result.embeddings,
            result.people,
            UM.people_key(result.people),
            opts["method"],
            opts["dims"],
            opts["k"],
            opts["space"],
            opts["seed"],
            opts["n_neighbors"],
            opts["min_dist"],
            opts["perplexity"],
            proj,
        )
    except ValueError as exc:
        st.error(str(exc))
        return
    except UM.jobs.JobFailed as exc:
        st.error(_("The projection failed: {error}").format(error=exc))
        return
    coords, labels = cmap.projection.coords, cmap.clustering.labels

    s1, s2 = st.columns([3, 2])
    query = s1.text_input(
        _("Find an image by name"),
        key="embedding_map_search",
        placeholder=_("e.g. madonna or a file name"),
    )
    hits = P.find_by_name(result.names, query) if query else np.zeros(0, dtype=np.int64)
    if query and len(hits) == 0:
        s1.warning(_("No face's file name contains {query!r}.").format(query=query))
    head_ready = pfe_ui.head_record_for(result) is not None
    ellipse_ok = opts["method"] == "pca" and opts["dims"] == 2 and head_ready
    show_ellipses = s2.checkbox(
        _("Uncertainty ellipses (PCA 2-D)"),
        key="embedding_map_ellipses",
        disabled=not ellipse_ok,
        help=_(
            "Per-face variances from the uncertainty head. The first tick runs the model and "
            "the head over the set once (the map itself needs no model)."
        ),
    )
    if not head_ready:
        s2.caption(
            _(
                "Ellipses need per-face variances from the uncertainty head, not available for "
                "this set yet: train the head on the Uncertainty page."
            )
        )
    var = UM.variances(result) if show_ellipses and ellipse_ok else None

    picked = P.selected_indices(st.session_state.get("embedding_map_chart"), n)
    clicked = picked[0] if len(picked) == 1 else (int(hits[0]) if len(hits) == 1 else None)
    neighbours = P.nearest(result.embeddings, clicked, k=8) if clicked is not None else None
    large = n > F.WEBGL_FROM
    pictured: list[int] | None = None
    uris = None
    if opts["thumbs"] and opts["dims"] == 2 and not large:
        uris = UM.thumb_uris(key, result.thumbs, UM.THUMB_SIDE)
    elif opts["thumbs"] and opts["dims"] == 2:
        pictured = UM.pictured(coords, opts["thumb_size"], picked, neighbours, hits)
        uris = UM.picture_uris(key, result.thumbs, tuple(pictured), UM.THUMB_SIDE)
    covariances = P.project_covariances(cmap.projection, var) if var is not None else None
    fig = F.face_map(
        coords,
        names=result.names,
        people=result.people,
        labels=labels,
        colour_by=opts["colour_by"],
        thumbs=uris,
        thumb_index=pictured,
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
        parts = [
            ngettext(
                "{n} face · {method} {dims}-D in {seconds:.2f} s",
                "{n} faces · {method} {dims}-D in {seconds:.2f} s",
                n,
            ).format(
                n=n,
                method=opts["method"].upper(),
                dims=opts["dims"],
                seconds=cmap.projection.seconds,
            )
        ]
        if ratio is not None:
            parts.append(_("variance kept {ratio:.0%}").format(ratio=ratio.sum()))
        if opts["dims"] == 3 and opts["thumbs"]:
            parts.append(_("3-D shows points only (no thumbnails)"))
        st.caption(" · ".join(parts))
        if pictured is not None:
            st.caption(UM.sample_note(n, len(pictured)))
    m = cmap.metrics
    with right:
        UM.faces_panel(result, clicked, neighbours, picked, labels)
        st.subheader(_("Clusters vs people"))
        a, b = st.columns(2)
        a.metric(_("Accuracy (matched)"), f"{m.accuracy:.1%}")
        b.metric("ARI", f"{m.ari:.3f}")
        a.metric("NMI", f"{m.nmi:.3f}")
        b.metric(_("Silhouette"), _("n/a") if m.silhouette is None else f"{m.silhouette:.3f}")
        st.plotly_chart(
            F.confusion_heatmap(m.confusion, m.people, m.clusters),
            key="embedding_map_confusion",
            width="stretch",
        )
        st.caption(
            (
                _(
                    "KMeans k={k} on the projection; each cluster matched to at most one person "
                    "(Hungarian)."
                )
                if opts["space"] == "projected"
                else _(
                    "KMeans k={k} on the full 128-d embedding; each cluster matched to at most "
                    "one person (Hungarian)."
                )
            ).format(k=cmap.clustering.k)
        )

    MC.section(result, cmap.projection, opts, params)

    with st.expander(_("Export embeddings")):
        d1, d2, d3 = st.columns(3)
        d1.download_button(
            "CSV",
            UM.deferred(key, "csv", result),
            "embeddings.csv",
            "text/csv",
            key="embedding_map_csv",
        )
        d2.download_button(
            "Parquet",
            UM.deferred(key, "parquet", result),
            "embeddings.parquet",
            "application/octet-stream",
            key="embedding_map_parquet",
        )
        d3.download_button(
            _("Embedding Projector bundle (zip)"),
            UM.deferred(key, "projector", result),
            "projector.zip",
            "application/zip",
            key="embedding_map_projector",
        )
        st.caption(
            _(
                "Each file is built when its button is pressed (once per set). Unzip the bundle "
                "and load tensors.tsv and metadata.tsv at projector.tensorflow.org, or point "
                "TensorBoard's projector at the folder (projector_config.pbtxt names the sprite)."
            )
        )


if __name__ == "__main__":
    state.run_page(main)
