"""Figures of the Embedding map page: the face scatter and the cluster-vs-person confusion matrix.

Pure builders: arrays in, a plotly figure out. Every scatter point carries its
face index as ``customdata``, so a chart selection maps back to faces
(``facedash.projection.selected_indices``).

Past ``WEBGL_FROM`` faces the points are WebGL (``Scattergl``) and pictures are
drawn for a bounded sample only (``spread_sample``: one face per cell of a grid
as fine as a thumbnail, so the pictures never pile up), plus the faces a caller
names (the selected ones); a figure of 10,000 faces then carries a few hundred
small pictures, not 10,000.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from facedash.i18n import N_, _
from facedash.projection import Neighbours, ellipse_outline

PALETTE: list[str] = list(qualitative.Plotly) + list(qualitative.D3) + list(qualitative.Alphabet)
HIGHLIGHT = "#e4002b"
AXIS = {1: "x", 2: "y", 3: "z"}
WEBGL_FROM = 500  # more faces than this: WebGL points, pictures for a sample only
MAX_PICTURES = 300  # pictures drawn by spread_sample at most
# The legend's title for each ``colour_by`` key, shown through _().
COLOUR_BY_TITLES = {"person": N_("person"), "cluster": N_("cluster")}


def colour(i: int) -> str:
    """The i-th group colour."""
    return PALETTE[i % len(PALETTE)]


def _groups(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    names, inverse = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return names.tolist(), inverse


def _axis_titles(method: str, dims: int) -> list[str]:
    label = {"pca": "PC", "umap": "UMAP", "tsne": "t-SNE"}.get(method, method)
    return [f"{label} {i + 1}" for i in range(dims)]


def spread_sample(
    coords: np.ndarray, thumb_size: float, *, limit: int = MAX_PICTURES
) -> np.ndarray:
    """Faces to draw as pictures: one per occupied cell of a grid of thumbnail-sized cells.

    The grid's cells are ``thumb_size`` of the larger axis span wide (the size a
    picture is drawn at), and each occupied cell gives the face nearest its centre,
    so pictures barely overlap. Past ``limit`` cells, the most populated cells win
    (ties: lower cell number). Deterministic: the same coordinates give the same faces.
    Returns sorted face indices.
    """
    xy = np.asarray(coords, dtype=np.float64)[:, :2]
    n = len(xy)
    if n == 0 or limit <= 0:
        return np.zeros(0, dtype=np.int64)
    if not 0.0 < thumb_size <= 0.5:
        raise ValueError(f"thumb_size must be in (0, 0.5], got {thumb_size}")
    lo = xy.min(axis=0)
    side = max(float(np.ptp(xy, axis=0).max()), 1e-12) * thumb_size
    cell = np.floor((xy - lo) / side).astype(np.int64)
    cells = int(cell.max()) + 1
    cell_id = cell[:, 0] * cells + cell[:, 1]
    dist = (((xy - lo) / side - (cell + 0.5)) ** 2).sum(axis=1)
    order = np.lexsort((np.arange(n), dist, cell_id))  # per cell, nearest its centre first
    sorted_ids = cell_id[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    chosen = order[starts]
    if len(chosen) > limit:
        counts = np.diff(np.r_[starts, n])
        keep = np.lexsort((sorted_ids[starts], -counts))[:limit]
        chosen = chosen[keep]
    return np.sort(chosen).astype(np.int64)


def face_map(
    coords: np.ndarray,
    *,
    names: Sequence[str],
    people: Sequence[str],
    labels: np.ndarray | None = None,
    colour_by: str = "person",
    thumbs: Sequence[str] | None = None,
    thumb_index: Sequence[int] | None = None,
    webgl: bool | None = None,
    thumb_size: float = 0.05,
    highlight: Sequence[int] = (),
    selected: Sequence[int] = (),
    neighbours: Neighbours | None = None,
    covariances: np.ndarray | None = None,
    n_std: float = 1.0,
    method: str = "pca",
    title: str | None = None,
) -> go.Figure:
    """The embedding map: one point per face, coloured by person or by cluster.

    In 2-D, ``thumbs`` (data URIs, one per face) draws each face's thumbnail at its
    point, ``thumb_size`` wide as a fraction of the larger axis span, framed in its
    group's colour (3-D scenes cannot hold pictures: points only). With
    ``thumb_index``, ``thumbs[k]`` is the picture of face ``thumb_index[k]`` and
    only those faces get one. ``webgl`` (default: more than ``WEBGL_FROM`` faces)
    draws the points with ``Scattergl``, visible under the pictures. ``highlight``
    rings faces found by a search, ``selected`` marks faces picked in the chart,
    ``neighbours`` links a face to its nearest faces, and ``covariances``
    (N x 2 x 2, PCA only) draws each face's ``n_std``-sigma uncertainty ellipse.
    """
    xy = np.asarray(coords, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] not in (2, 3):
        raise ValueError(f"coords must be N x 2 or N x 3, got shape {xy.shape}")
    n, dims = xy.shape
    if len(names) != n or len(people) != n:
        raise ValueError(f"{len(names)} names and {len(people)} people for {n} points")
    if colour_by not in ("person", "cluster"):
        raise ValueError(f"colour_by must be 'person' or 'cluster', got {colour_by!r}")
    if colour_by == "cluster" and (labels is None or len(labels) != n):
        raise ValueError("colouring by cluster needs one cluster label per point")
    pictured = np.arange(n) if thumb_index is None else np.asarray(thumb_index, dtype=np.int64)
    if thumbs is not None and len(thumbs) != len(pictured):
        raise ValueError(f"{len(thumbs)} thumbnails for {len(pictured)} points")
    if len(pictured) and (pictured.min() < 0 or pictured.max() >= n):
        raise ValueError(f"thumb_index must index the {n} points")
    gl = n > WEBGL_FROM if webgl is None else bool(webgl)
    if not 0.0 < thumb_size <= 0.5:
        raise ValueError(f"thumb_size must be in (0, 0.5], got {thumb_size}")
    people_a = np.asarray(people).astype(str)
    names_a = np.asarray(names).astype(str)
    cluster_a = np.asarray(labels).astype(int) if labels is not None else np.full(n, -1, dtype=int)
    if colour_by == "person":
        group_names, group_of = _groups(people_a)
        legend = group_names
    else:
        uniq, group_of = np.unique(cluster_a, return_inverse=True)
        group_names = [str(c) for c in uniq]
        cluster_label = _("cluster {c}")
        legend = [cluster_label.format(c=c) for c in uniq]
    show_thumbs = thumbs is not None and dims == 2
    span = float(np.ptp(xy[:, :2], axis=0).max()) if n > 1 else 1.0
    side = max(span, 1e-9) * thumb_size
    hover = (
        _("%{customdata[1]}<br>person: %{customdata[2]}<br>cluster: %{customdata[3]}")
        + "<extra></extra>"
    )
    short = [_short(v, 40) for v in names_a]
    if gl:
        # Thousands of points: the face index alone as numeric customdata (sent as a
        # typed array, copied as one block) and one short hover string per point; the
        # trace's own name (the person, or the cluster) is shown beside it, not repeated.
        custom: np.ndarray = np.arange(n, dtype=np.int32)
        other = cluster_a.tolist() if colour_by == "person" else people_a.tolist()
        label_other = _("cluster {c}") if colour_by == "person" else "{c}"
        texts = np.array(
            [f"{s_}<br>" + label_other.format(c=o) for s_, o in zip(short, other, strict=True)]
        )
        hover = "%{hovertext}<extra>%{fullData.name}</extra>"
    else:
        custom = np.empty((n, 4), dtype=object)
        custom[:, 0] = np.arange(n)
        custom[:, 1] = short
        custom[:, 2] = people_a
        custom[:, 3] = cluster_a

    every_face = show_thumbs and not gl and thumb_index is None
    in_picture = np.zeros(n, dtype=bool)
    in_picture[pictured] = True
    fig = go.Figure()
    for g, label in enumerate(legend):
        idx = np.flatnonzero(group_of == g)
        col = colour(g)
        marker: dict[str, object] = {
            "color": col,
            "size": (5 if gl else 7) if dims == 2 else 4,
            "line": {"width": 0},
        }
        if every_face:
            # Invisible points over the pictures keep hover, click and lasso working.
            marker = {"color": col, "size": max(6.0, 400 * thumb_size), "opacity": 0.0}
        if show_thumbs and in_picture[idx].any():
            fig.add_trace(_frames(xy[idx[in_picture[idx]]], side, col, label, legend=every_face))
        common = {
            "mode": "markers",
            "name": label,
            "legendgroup": label,
            "marker": marker,
            "customdata": custom[idx],
            "hovertemplate": hover,
            "showlegend": not every_face,
        }
        if gl:
            common["hovertext"] = texts[idx]
        if every_face:  # keep the points invisible when a selection dims the others
            common["selected"] = {"marker": {"opacity": 0.0}}
            common["unselected"] = {"marker": {"opacity": 0.0}}
        if dims == 2:
            scatter = go.Scattergl if gl else go.Scatter
            # WebGL draws in single precision anyway: send 4-byte coordinates.
            pts = xy[idx].astype(np.float32) if gl else xy[idx]
            fig.add_trace(scatter(x=pts[:, 0], y=pts[:, 1], **common))
        else:
            fig.add_trace(go.Scatter3d(x=xy[idx, 0], y=xy[idx, 1], z=xy[idx, 2], **common))

    if covariances is not None:
        fig.add_trace(_ellipses(xy, covariances, n_std))
    if neighbours is not None:
        _add_neighbours(fig, xy, neighbours, names_a)
    if len(selected):
        _add_rings(fig, xy, np.asarray(selected, dtype=int), _("selected"), "#222222", 16, 2)
    if len(highlight):
        hl = np.asarray(highlight, dtype=int)
        _add_rings(fig, xy, hl, _("search"), HIGHLIGHT, 30, 4)
        if dims == 2:
            for i in hl[:5]:
                fig.add_annotation(
                    x=xy[i, 0],
                    y=xy[i, 1],
                    text=_short(names_a[i]),
                    showarrow=True,
                    arrowcolor=HIGHLIGHT,
                    font={"color": HIGHLIGHT},
                    bgcolor="rgba(255,255,255,0.85)",
                    ax=40,
                    ay=-40,
                )

    axes = _axis_titles(method, dims)
    fig.update_layout(
        title=title,
        height=640,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        legend={
            "itemsizing": "constant",
            "title": _(COLOUR_BY_TITLES[colour_by]),
            "orientation": "h",
            "yanchor": "top",
            "y": -0.08 if dims == 2 else 0.0,
        },
        hovermode="closest",
        uirevision="embedding_map",
    )
    if dims == 2:
        # Equal units on both axes (square pictures, honest PCA distances); the plot
        # area shrinks to fit instead of padding one axis with empty range.
        fig.update_xaxes(title=axes[0], zeroline=False, constrain="domain")
        fig.update_yaxes(
            title=axes[1], zeroline=False, scaleanchor="x", scaleratio=1, constrain="domain"
        )
        if show_thumbs:
            assert thumbs is not None
            # Over a WebGL cloud the sampled pictures go above the points (hover still
            # reaches the points: layout images take no mouse events).
            layer = "below" if every_face else "above"
            fig.update_layout(images=_images(xy[pictured], thumbs, side, layer=layer))
    else:
        fig.update_layout(
            scene={
                "xaxis_title": axes[0],
                "yaxis_title": axes[1],
                "zaxis_title": axes[2],
                "aspectmode": "data",
            }
        )
    return fig


def _frames(
    points: np.ndarray, side: float, col: str, label: str, *, legend: bool = True
) -> go.Scatter:
    """Square outlines around pictures, all in one line trace (None between squares)."""
    h = side / 2
    corners = np.array([[-h, -h], [h, -h], [h, h], [-h, h], [-h, -h], [np.nan, np.nan]])
    path = (points[:, None, :2] + corners[None]).reshape(-1, 2)
    return go.Scatter(
        x=path[:, 0],
        y=path[:, 1],
        mode="lines",
        line={"color": col, "width": 2},
        name=label,
        legendgroup=label,
        hoverinfo="skip",
        showlegend=legend,
        connectgaps=False,
    )


def _images(
    points: np.ndarray, thumbs: Sequence[str], side: float, *, layer: str = "below"
) -> list[dict]:
    return [
        {
            "source": uri,
            "x": float(x),
            "y": float(y),
            "xref": "x",
            "yref": "y",
            "sizex": side,
            "sizey": side,
            "xanchor": "center",
            "yanchor": "middle",
            "sizing": "stretch",
            "layer": layer,
        }
        for (x, y), uri in zip(points[:, :2].tolist(), thumbs, strict=True)
    ]


def _ellipses(xy: np.ndarray, covariances: np.ndarray, n_std: float) -> go.Scatter:
    cov = np.asarray(covariances, dtype=np.float64)
    if xy.shape[1] != 2:
        raise ValueError("uncertainty ellipses are drawn in 2-D only")
    if cov.shape != (xy.shape[0], 2, 2):
        raise ValueError(f"covariances must be N x 2 x 2, got {cov.shape}")
    outlines = [
        np.vstack([ellipse_outline(c, s, n_std=n_std, points=40), [np.nan, np.nan]])
        for c, s in zip(xy, cov, strict=True)
    ]
    path = np.vstack(outlines)
    return go.Scatter(
        x=path[:, 0],
        y=path[:, 1],
        mode="lines",
        line={"color": "rgba(80,80,80,0.55)", "width": 1},
        name=_("{n:g}-sigma uncertainty").format(n=n_std),
        hoverinfo="skip",
    )


def _add_rings(
    fig: go.Figure, xy: np.ndarray, idx: np.ndarray, name: str, col: str, size: float, width: float
) -> None:
    marker = {"symbol": "circle-open", "size": size, "color": col, "line": {"width": width}}
    if xy.shape[1] == 2:
        fig.add_trace(
            go.Scatter(
                x=xy[idx, 0],
                y=xy[idx, 1],
                mode="markers",
                marker=marker,
                name=name,
                hoverinfo="skip",
            )
        )
    else:
        fig.add_trace(
            go.Scatter3d(
                x=xy[idx, 0],
                y=xy[idx, 1],
                z=xy[idx, 2],
                mode="markers",
                marker={"size": size / 3, "color": col, "symbol": "circle-open"},
                name=name,
                hoverinfo="skip",
            )
        )


def _add_neighbours(fig: go.Figure, xy: np.ndarray, nb: Neighbours, names: np.ndarray) -> None:
    dims = xy.shape[1]
    q = xy[nb.query]
    segs = np.full((3 * len(nb.indices), dims), np.nan)
    segs[0::3] = q
    segs[1::3] = xy[nb.indices]
    distance = _("distance {d:.3f}")
    text = [
        f"{names[i]}<br>" + distance.format(d=d)
        for i, d in zip(nb.indices, nb.distances, strict=True)
    ]
    if dims == 2:
        fig.add_trace(
            go.Scatter(
                x=segs[:, 0],
                y=segs[:, 1],
                mode="lines",
                line={"color": "#444", "width": 1.5, "dash": "dot"},
                name=_("nearest faces"),
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=xy[nb.indices, 0],
                y=xy[nb.indices, 1],
                mode="markers",
                marker={"symbol": "circle-open", "size": 20, "color": "#444", "line": {"width": 2}},
                text=text,
                hovertemplate="%{text}<extra></extra>",
                showlegend=False,
            )
        )
    else:
        fig.add_trace(
            go.Scatter3d(
                x=segs[:, 0],
                y=segs[:, 1],
                z=segs[:, 2],
                mode="lines",
                line={"color": "#444", "width": 3},
                name=_("nearest faces"),
                hoverinfo="skip",
            )
        )
    _add_rings(fig, xy, np.array([nb.query]), _("clicked face"), "#111", 26, 3)


def confusion_heatmap(
    matrix: np.ndarray, people: Sequence[str], clusters: Sequence[int], *, title: str | None = None
) -> go.Figure:
    """Faces per (person, cluster) as an annotated heatmap; matched clusters on the diagonal."""
    m = np.asarray(matrix)
    if m.shape != (len(people), len(clusters)):
        raise ValueError(
            f"matrix shape {m.shape} does not match {len(people)} people x {len(clusters)} clusters"
        )
    fig = go.Figure(
        go.Heatmap(
            z=m,
            x=[_("cluster {c}").format(c=c) for c in clusters],
            y=list(people),
            colorscale="Blues",
            texttemplate="%{z}",
            hovertemplate=_("%{y} in %{x}: %{z} faces") + "<extra></extra>",
            showscale=False,
        )
    )
    fig.update_layout(
        title=title,
        height=max(260, 40 * len(people) + 120),
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        xaxis={"side": "top", "title": _("KMeans cluster")},
        yaxis={"autorange": "reversed", "title": _("person")},
    )
    return fig


def _short(name: str, limit: int = 28) -> str:
    """A file name's last part, shortened for a label."""
    base = name.rsplit("/", 1)[-1]
    return base if len(base) <= limit else base[: limit - 3] + "..."
