"""The Embedding map's cached computations: projections, thumbnails, exports, variances.

``projection``, ``cluster``, ``thumb_uris``, ``picture_uris`` and ``export`` are
keyed on the set's content key (``keys.set_key``) plus their parameters, so a
rerun (a click, a lasso, a new search) recomputes none of them; UMAP's numba
compilation is paid once per server. Projections are kept once per server for
every session: UMAP runs in the page behind a note of how long it takes, t-SNE
in a separate process behind a progress bar, stopped when a setting changes.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import streamlit as st

from facedash import projection as P
from facedash.data import exports, thumbnails
from facedash.faces.pipeline import EmbeddingSet
from facedash.figures import embedding_map as F
from facedash.i18n import N_, _, ngettext
from facedash.ui import cache, jobs, widgets
from facedash.ui import pfe as pfe_ui
from facedash.ui.keys import set_key

THUMB_SIDE = 48
PICTURE_GAP = 1.5  # sample cells this many times a picture's width
SELECTED_PICTURES = 50  # selected faces that get a picture on a large map
PANEL_FACES = 30  # selected faces shown in the panel beside the map
PROJECTIONS_KEPT = 16  # finished projections kept per server (a 10k-face one is 160 KB)
SLOW_S = 3.0  # projections expected to take longer get a note (UMAP) or a progress bar (t-SNE)

__all__ = [
    "THUMB_SIDE",
    "cluster",
    "deferred",
    "export",
    "faces_panel",
    "pictured",
    "picture_uris",
    "projection",
    "sample_note",
    "set_key",
    "thumb_uris",
    "variances",
    "warm_umap",
]


class _Warming:
    """UMAP's one-off numba compilation in its own thread, once per server and kind.

    Sessions that ask while it runs wait for the same thread instead of compiling again.
    (Starting it in the background before UMAP is asked for was tried: it held the
    interpreter for up to a minute, and every rerun of every page slowed meanwhile.)
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.threads: dict[bool, threading.Thread] = {}

    def start(self, large: bool) -> threading.Thread:
        with self.lock:
            thread = self.threads.get(large)
            if thread is None:
                thread = threading.Thread(
                    target=P.warm_umap, args=(large,), daemon=True, name="facedash-umap-warm"
                )
                thread.start()
                self.threads[large] = thread
            return thread


@st.cache_resource
def _warming() -> _Warming:
    return _Warming()


def warm_umap(n: int) -> None:
    """Wait for UMAP's compilation (once per server), behind a note of how long it takes."""
    large = n > P.UMAP_EXACT_KNN_MAX
    thread = _warming().start(large)
    if thread.is_alive():
        note = (
            _(
                "Compiling UMAP (numba, once per server: about 20 s, and a minute more for its "
                "neighbour search past 30,000 faces) ..."
            )
            if large
            else _("Compiling UMAP (numba, once per server: about 20 s) ...")
        )
        with st.spinner(note):
            thread.join()


class _Kept:
    """Finished projections, shared by every session of this server (bounded, thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: OrderedDict[tuple, P.Projection] = OrderedDict()

    def get(self, key: tuple) -> P.Projection | None:
        with self.lock:
            hit = self.items.get(key)
            if hit is not None:
                self.items.move_to_end(key)
            return hit

    def put(self, key: tuple, value: P.Projection) -> None:
        with self.lock:
            self.items[key] = value
            while len(self.items) > PROJECTIONS_KEPT:
                self.items.popitem(last=False)


@st.cache_resource
def _kept() -> _Kept:
    return _Kept()


def _params(method: str, seed: int, n_neighbors: int, min_dist: float, perplexity: float) -> tuple:
    """The parameters a method reads (PCA none, UMAP neighbours/min-dist/seed, t-SNE perplexity/seed)."""
    if method == "umap":
        return (seed, n_neighbors, min_dist)
    if method == "tsne":
        return (seed, perplexity)
    return ()


def projection(
    key: str,
    embeddings: np.ndarray,
    method: str,
    dims: int,
    seed: int,
    n_neighbors: int,
    min_dist: float,
    perplexity: float,
) -> P.Projection:
    """The set projected with ``method``: computed once per server, then shared.

    Too large for the method: ``ValueError`` saying what to use instead. A slow
    UMAP says how long it takes; a slow t-SNE runs in a separate process with a
    progress bar and stops when the page reruns (a setting changed).
    """
    n = len(embeddings)
    check_size(method, n)
    wanted = (key, method, dims, _params(method, seed, n_neighbors, min_dist, perplexity))
    kept = _kept()
    hit = kept.get(wanted)
    if hit is not None:
        return hit
    args = (embeddings, method, dims, seed, n_neighbors, min_dist, perplexity)
    estimate = P.estimate_seconds(method, n)
    name = P.METHOD_NAMES[method]
    if method == "tsne" and estimate > SLOW_S:
        result = jobs.run_in_process(
            _project,
            args,
            label=_(
                "t-SNE of {n:,} faces, once per set and setting; change a setting to stop it"
            ).format(n=n),
            estimate_s=estimate,
        )
    else:
        note = (
            _(
                "{method} of {n:,} faces: about {seconds:.0f} s, once per set and setting "
                "(then cached) ..."
            ).format(method=name, n=n, seconds=estimate)
            if estimate > SLOW_S
            else f"{name} ..."
        )
        with st.spinner(note):
            result = _project(*args)
    kept.put(wanted, result)
    return result


def _project(
    embeddings: np.ndarray,
    method: str,
    dims: int,
    seed: int,
    n_neighbors: int,
    min_dist: float,
    perplexity: float,
) -> P.Projection:
    """``P.project`` with positional arguments (what a worker process is handed)."""
    return P.project(
        embeddings,
        method,
        dims=dims,
        seed=seed,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        perplexity=perplexity,
    )


def check_size(method: str, n: int) -> None:
    """``P.check_size`` with its message in the page's language."""
    try:
        P.check_size(method, n)
    except ValueError as exc:
        if method != "tsne":
            raise
        raise ValueError(
            _(
                "t-SNE on {n:,} faces would take about {minutes:.0f} minutes here and is limited "
                "to {limit:,} faces: use UMAP (same kind of neighbour map, about {umap:.0f} "
                "minutes) or PCA (instant), or a sample of the set."
            ).format(
                n=n,
                minutes=P.estimate_seconds("tsne", n) / 60,
                limit=P.TSNE_MAX,
                umap=P.estimate_seconds("umap", n) / 60,
            )
        ) from exc


@st.cache_data(show_spinner=False, max_entries=32)
def _cluster(
    key: str,
    _embeddings: np.ndarray,
    _people: np.ndarray,
    people_key: str,
    method: str,
    dims: int,
    k: int,
    space: str,
    seed: int,
    n_neighbors: int,
    min_dist: float,
    perplexity: float,
    _projection: P.Projection,
) -> P.ClusterMap:
    """KMeans + metrics on ``_projection`` (from ``projection``, same parameters), cached per set and parameters.

    ``people_key`` (``people_key(people)``) stands for the labels in the cache key, so
    a rerun hashes one short string instead of 10,000 names.
    """
    return P.cluster_map(
        _embeddings, np.asarray(_people), k=k, space=space, seed=seed, projection=_projection
    )


# KMeans and its metrics (cached: ``_cluster``) behind a note while it runs.
cluster = cache.with_spinner(N_("Clustering ..."), _cluster)


def people_key(people: np.ndarray) -> str:
    """A short digest of the person labels, in order."""
    return hashlib.sha1("\0".join(np.asarray(people).astype(str).tolist()).encode()).hexdigest()


def thumb_uris(key: str, thumbs: list[bytes | None], side: int) -> list[str]:
    """Thumbnails as data URIs, encoded once per face set and shared by every rerun."""
    with st.spinner(_("Encoding thumbnails (once per face set) ...")):
        return _thumb_uris(key, thumbs, side)


@st.cache_data(show_spinner=False, max_entries=8)
def _thumb_uris(key: str, _thumbs: list[bytes | None], side: int) -> list[str]:
    return thumbnails.data_uris(_thumbs, side)


class _Uris:
    """Each face's data URI, encoded once per set and side and shared by every sample (bounded)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sets: OrderedDict[tuple[str, int], dict[int, str]] = OrderedDict()

    def get(
        self, key: str, side: int, thumbs: list[bytes | None], indices: Sequence[int]
    ) -> list[str]:
        with self.lock:
            done = self.sets.setdefault((key, side), {})
            self.sets.move_to_end((key, side))
            while len(self.sets) > 8:
                self.sets.popitem(last=False)
        missing = [i for i in indices if i not in done]
        done.update(
            zip(missing, thumbnails.data_uris([thumbs[i] for i in missing], side), strict=True)
        )
        return [done[i] for i in indices]


@st.cache_resource
def _uris() -> _Uris:
    return _Uris()


def picture_uris(
    key: str, thumbs: list[bytes | None], indices: tuple[int, ...], side: int
) -> list[str]:
    """Data URIs of the faces ``indices`` only (a large set's sample); each face encoded once per set."""
    return _uris().get(key, side, thumbs, indices)


@st.cache_data(show_spinner=False, max_entries=8)
def export(key: str, fmt: str, _result: EmbeddingSet) -> bytes:
    """One download (``csv``, ``parquet`` or ``projector``), built once per face set on first click."""
    meta = _result.frame()
    if fmt == "csv":
        return exports.csv_bytes(_result.embeddings, meta)
    if fmt == "parquet":
        return exports.parquet_bytes(_result.embeddings, meta)
    files = exports.projector_files(
        _result.embeddings,
        meta[["path", "person"]],
        _result.thumbs,
        tensor_name=_result.dataset,
        root=_result.root or None,
    )
    return exports.projector_zip(files)


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


def deferred(key: str, fmt: str, result: EmbeddingSet) -> Callable[[], bytes]:
    """A download's data as a callable: built when the button is pressed, not on every rerun."""
    return functools.partial(export, key, fmt, result)


def pictured(
    coords: np.ndarray,
    thumb_size: float,
    picked: Sequence[int],
    neighbours: P.Neighbours | None,
    hits: np.ndarray,
) -> list[int]:
    """Faces drawn as pictures on a large map: the spread sample plus the selected, clicked and found ones."""
    # Cells half as wide again as a picture: gaps between pictures show the points.
    chosen = set(F.spread_sample(coords, min(0.5, thumb_size * PICTURE_GAP)).tolist())
    chosen.update(int(i) for i in list(picked)[:SELECTED_PICTURES])
    chosen.update(int(i) for i in np.asarray(hits)[:20])
    if neighbours is not None:
        chosen.update([neighbours.query, *(int(i) for i in neighbours.indices)])
    return sorted(chosen)


def sample_note(n: int, shown: int) -> str:
    """What a large map draws, and why not every face."""
    return _(
        "{n:,} faces are WebGL points; {shown} of them are drawn as pictures: one per cell "
        "of a grid a little wider than a picture, so pictures never pile up, plus the faces you "
        "selected, clicked or searched. Zooming in does not add pictures (the chart does not "
        "tell the server its zoom): click, box or lasso faces to see them beside the map."
    ).format(n=n, shown=shown)


def faces_panel(
    result: EmbeddingSet,
    clicked: int | None,
    neighbours: P.Neighbours | None,
    picked: list[int],
    labels: np.ndarray,
) -> None:
    """Beside the map: the clicked face and its nearest faces, or the selected faces."""
    if neighbours is not None and clicked is not None:
        st.subheader(_("Nearest faces to {name}").format(name=result.names[clicked]))
        faces = [clicked, *(int(i) for i in neighbours.indices)]
        captions = [_("**{person}** (this face)").format(person=result.rows[clicked].person)] + [
            f"{result.rows[i].person} · d={d:.3f} · cos={1 - c:.3f}"
            for i, d, c in zip(
                neighbours.indices, neighbours.distances, neighbours.cosine, strict=True
            )
        ]
        widgets.face_grid(result, faces, captions, per_row=3)
    elif len(picked) > 1:
        st.subheader(
            ngettext("{n} selected face", "{n} selected faces", len(picked)).format(n=len(picked))
        )
        counts = selection_counts(result.people, picked)
        st.caption(" · ".join(f"{p}: {c}" for p, c in counts.items()))
        shown = picked[:PANEL_FACES]
        widgets.face_grid(
            result, shown, [f"{result.rows[i].person} · c{labels[i]}" for i in shown], per_row=5
        )
        if len(picked) > PANEL_FACES:
            st.caption(_("First {shown} of {n} shown.").format(shown=PANEL_FACES, n=len(picked)))
    else:
        st.caption(
            _(
                "Click a face for its nearest faces; pick the lasso or box tool in the chart's "
                "toolbar and drag over the map to see those faces here."
            )
        )
