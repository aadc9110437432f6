"""Projection, clustering metrics, neighbours, exports and the embedding-map figures."""

from __future__ import annotations

import io
import itertools
import re
import zipfile

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from PIL import Image

from facedash import projection as P
from facedash.data import exports, thumbnails
from facedash.figures import embedding_map as F


# -- metrics on hand-computed cases ---------------------------------------------------------
def test_confusion_and_hungarian_hand_case():
    people = np.array(["a", "a", "b", "b", "c"])
    labels = np.array([1, 1, 0, 2, 2])
    matrix, rows, cols = P.confusion(people, labels)
    assert rows == ["a", "b", "c"] and cols == [0, 1, 2]
    np.testing.assert_array_equal(matrix, [[0, 2, 0], [1, 0, 1], [0, 0, 1]])
    # a->1 (2 faces), b->0 (1), c->2 (1): 4 of 5 faces on the matched diagonal.
    acc, r, c = P.hungarian_match(matrix)
    assert acc == pytest.approx(0.8)
    assert dict(zip(r.tolist(), c.tolist(), strict=True)) == {0: 1, 1: 0, 2: 2}
    m = P.cluster_metrics(people, labels)
    assert m.matching == {1: "a", 0: "b", 2: "c"}
    # Columns reordered so the matched clusters sit on the diagonal.
    assert m.clusters == [1, 0, 2]
    np.testing.assert_array_equal(np.diag(m.confusion), [2, 1, 1])


def test_ari_and_nmi_hand_cases():
    people = np.array(["a", "a", "b", "b"])
    # Contingency [[2,0],[1,1]]: sum C(n_ij,2)=1, rows 2, cols 3, C(4,2)=6 -> expected 1, max 2.5 -> ARI 0.
    m = P.cluster_metrics(people, np.array([0, 0, 0, 1]))
    assert m.ari == pytest.approx(0.0, abs=1e-12)
    assert m.accuracy == pytest.approx(0.75)
    perfect = P.cluster_metrics(people, np.array([7, 7, 3, 3]))
    assert (perfect.accuracy, perfect.ari, perfect.nmi) == (1.0, 1.0, pytest.approx(1.0))
    # Clusters independent of people: zero mutual information.
    independent = P.cluster_metrics(people, np.array([0, 1, 0, 1]))
    assert independent.nmi == pytest.approx(0.0, abs=1e-12)
    assert independent.accuracy == pytest.approx(0.5)


def _brute_accuracy(matrix: np.ndarray) -> float:
    r, c = matrix.shape
    best = 0
    if r <= c:
        for perm in itertools.permutations(range(c), r):
            best = max(best, sum(matrix[i, perm[i]] for i in range(r)))
    else:
        for perm in itertools.permutations(range(r), c):
            best = max(best, sum(matrix[perm[j], j] for j in range(c)))
    return best / matrix.sum()


@pytest.mark.parametrize("shape", [(3, 3), (4, 4), (3, 5), (5, 3), (2, 6)])
def test_hungarian_matches_brute_force(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(10):
        matrix = rng.integers(0, 9, size=shape)
        matrix[0, 0] += 1
        acc, _, _ = P.hungarian_match(matrix)
        assert acc == pytest.approx(_brute_accuracy(matrix))


def test_silhouette_matches_brute_force():
    rng = np.random.default_rng(3)
    x = np.vstack([rng.normal(0, 1, (6, 2)), rng.normal(5, 1, (7, 2))])
    labels = np.array([0] * 6 + [1] * 7)
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    s = []
    for i in range(len(x)):
        same = (labels == labels[i]) & (np.arange(len(x)) != i)
        a = d[i, same].mean()
        b = d[i, labels != labels[i]].mean()
        s.append((b - a) / max(a, b))
    m = P.cluster_metrics(np.array(["p"] * 6 + ["q"] * 7), labels, x)
    assert m.silhouette == pytest.approx(np.mean(s))
    one = P.cluster_metrics(np.array(["p"] * 13), np.zeros(13, int), x)
    assert one.silhouette is None


def test_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        P.confusion(np.array(["a", "b"]), np.array([0]))


# -- projection -----------------------------------------------------------------------------
def test_pca_is_the_linear_map_it_reports():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 10))
    proj = P.project(x, "pca", dims=3)
    assert proj.coords.shape == (40, 3) and proj.linear
    np.testing.assert_allclose(proj.coords, (x - proj.mean) @ proj.components.T, atol=1e-10)
    assert np.all(np.diff(proj.explained_variance_ratio) <= 0)


def test_projection_arguments_are_checked():
    x = np.random.default_rng(0).normal(size=(20, 5))
    with pytest.raises(ValueError, match="unknown projection"):
        P.project(x, "mds")
    with pytest.raises(ValueError, match="dims"):
        P.project(x, "pca", dims=4)
    with pytest.raises(ValueError, match="perplexity"):
        P.project(x, "tsne", perplexity=25)
    with pytest.raises(ValueError, match="n_neighbors"):
        P.project(x, "umap", n_neighbors=30)
    with pytest.raises(ValueError, match="k must be"):
        P.kmeans(x, 0)
    with pytest.raises(ValueError, match="space"):
        P.cluster_map(x, np.array(["a"] * 20), space="moon")


def test_seeded_projections_and_kmeans_are_deterministic(demo):
    x = demo.embeddings[:60]
    a = P.project(x, "tsne", seed=1, perplexity=10)
    b = P.project(x, "tsne", seed=1, perplexity=10)
    np.testing.assert_array_equal(a.coords, b.coords)
    u1 = P.project(x, "umap", seed=3, n_neighbors=10)
    u2 = P.project(x, "umap", seed=3, n_neighbors=10)
    np.testing.assert_array_equal(u1.coords, u2.coords)
    u3 = P.project(x, "umap", seed=4, n_neighbors=10)
    assert not np.allclose(u1.coords, u3.coords)
    k1, k2 = P.kmeans(a.coords, 5, seed=4), P.kmeans(a.coords, 5, seed=4)
    np.testing.assert_array_equal(k1.labels, k2.labels)


def test_uncertainty_covariances_under_pca():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 6))
    var = rng.uniform(0.01, 0.2, size=(30, 6))
    proj = P.project(x, "pca", dims=2)
    cov = P.project_covariances(proj, var)
    w = proj.components
    for i in range(30):
        np.testing.assert_allclose(cov[i], w @ np.diag(var[i]) @ w.T, atol=1e-12)
    # Points of the ellipse lie at Mahalanobis distance n_std from the centre.
    outline = P.ellipse_outline(proj.coords[0], cov[0], n_std=2.0)
    d = outline - proj.coords[0]
    maha = np.sqrt(np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov[0]), d))
    np.testing.assert_allclose(maha, 2.0, rtol=1e-9)
    # Monte Carlo: samples of N(x, diag(var)) projected have the predicted covariance.
    samples = x[0] + rng.normal(size=(20000, 6)) * np.sqrt(var[0])
    np.testing.assert_allclose(np.cov(((samples - proj.mean) @ w.T).T), cov[0], atol=3e-3)
    tsne = P.Projection("tsne", 2, proj.coords, {}, 0.0)
    with pytest.raises(ValueError, match="linear"):
        P.project_covariances(tsne, var)
    with pytest.raises(ValueError, match="shape"):
        P.project_covariances(proj, var[:, :3])


# -- the demo set ---------------------------------------------------------------------------
# Spike reference (117 faces): PCA-2D + KMeans 96.6 %, full 128-d 100 %, UMAP-2D 100 %.
@pytest.mark.parametrize(
    ("method", "space", "floor"),
    [("pca", "projected", 0.90), ("pca", "full", 0.97), ("umap", "projected", 0.97)],
)
def test_demo_set_clusters_match_people(demo, method, space, floor):
    result = P.cluster_map(demo.embeddings, demo.people, method=method, space=space, seed=0)
    m = result.metrics
    assert result.clustering.k == 5
    assert m.accuracy >= floor
    assert m.ari >= floor - 0.1 and m.nmi >= floor - 0.1
    assert m.confusion.sum() == len(demo.rows)
    assert np.trace(m.confusion) == round(m.accuracy * len(demo.rows))
    summary = result.summary()
    assert {
        "projection",
        "dims",
        "k",
        "space",
        "accuracy",
        "ari",
        "nmi",
        "silhouette",
        "confusion",
    } <= set(summary)


# -- neighbours, search, selection ----------------------------------------------------------
def test_nearest_matches_brute_force(demo):
    x = demo.embeddings
    nb = P.nearest(x, 10, k=6)
    d = np.linalg.norm(x - x[10], axis=1)
    d[10] = np.inf
    np.testing.assert_array_equal(nb.indices, np.argsort(d, kind="stable")[:6])
    np.testing.assert_allclose(nb.distances, np.sort(d)[:6], rtol=1e-6)
    # L2-normalised embeddings: euclidean^2 = 2 * cosine distance.
    np.testing.assert_allclose(nb.distances**2, 2 * nb.cosine, atol=1e-5)
    assert 10 not in nb.indices
    with pytest.raises(ValueError, match="out of range"):
        P.nearest(x, len(x))


def test_find_by_name():
    names = ["train/ben/a1.jpg", "train/ben/a10.jpg", "val/madonna/A1.jpg", "x/b.png"]
    assert P.find_by_name(names, "a1.jpg").tolist() == [0, 2]
    assert P.find_by_name(names, "A1").tolist() == [0, 1, 2]
    assert P.find_by_name(names, "madonna").tolist() == [2]
    assert P.find_by_name(names, "  ").tolist() == []
    assert P.find_by_name(names, "nobody").tolist() == []


def test_selected_indices_reads_customdata():
    event = {
        "selection": {
            "points": [
                {"customdata": [4, "n", "p", 1]},
                {"customdata": [2, "n", "p", 0]},
                {"customdata": [4, "n", "p", 1]},
                {"x": 0.1},
                {"customdata": [99, "n", "p", 0]},
            ]
        }
    }
    assert P.selected_indices(event, 10) == [4, 2]
    assert P.selected_indices(None, 10) == []
    assert P.selected_indices({"selection": {"points": []}}, 10) == []


# -- thumbnails and exports -----------------------------------------------------------------
def test_thumbnail_uris(demo):
    uris = thumbnails.data_uris(demo.thumbs[:3], side=32)
    assert all(u.startswith("data:image/jpeg;base64,") for u in uris)
    import base64

    image = Image.open(io.BytesIO(base64.b64decode(uris[0].split(",", 1)[1])))
    assert image.size == (32, 32)
    assert thumbnails.data_uri(None) == thumbnails.BLANK
    key = thumbnails.set_key(["h1", "h2"], [0, 1])
    assert (
        key == thumbnails.set_key(["h1", "h2"], [0, 1]) != thumbnails.set_key(["h1", "h2"], [0, 2])
    )


def test_csv_and_parquet_round_trip(demo):
    meta = demo.frame()
    frame = pd.read_csv(io.BytesIO(exports.csv_bytes(demo.embeddings, meta)))
    assert len(frame) == len(demo.rows)
    np.testing.assert_allclose(
        frame[[f"e{i}" for i in range(128)]].to_numpy(), demo.embeddings, rtol=1e-6
    )
    assert frame["person"].tolist() == demo.people.tolist()
    pq = pd.read_parquet(io.BytesIO(exports.parquet_bytes(demo.embeddings, meta)))
    np.testing.assert_array_equal(np.stack(pq["embedding"].to_numpy()), demo.embeddings)
    assert pq["path"].tolist() == demo.names.tolist()


def test_projector_bundle_parses_and_lines_up(demo, tmp_path):
    meta = demo.frame()[["path", "person"]]
    files = exports.projector_files(demo.embeddings, meta, demo.thumbs)
    assert set(files) == {"tensors.tsv", "metadata.tsv", "sprite.png", "projector_config.pbtxt"}
    tensors = np.loadtxt(io.BytesIO(files["tensors.tsv"]), delimiter="\t")
    np.testing.assert_allclose(tensors, demo.embeddings, rtol=1e-6, atol=1e-7)
    lines = files["metadata.tsv"].decode().splitlines()
    assert lines[0] == "path\tperson"
    assert len(lines) == len(demo.rows) + 1
    assert [line.split("\t")[1] for line in lines[1:]] == demo.people.tolist()
    config = files["projector_config.pbtxt"].decode()
    dims = [int(v) for v in re.findall(r"single_image_dim: (\d+)", config)]
    sprite = Image.open(io.BytesIO(files["sprite.png"]))
    per_row = int(np.ceil(np.sqrt(len(demo.rows))))
    assert sprite.size == (per_row * dims[0], per_row * dims[1])
    assert max(sprite.size) <= exports.SPRITE_MAX
    assert re.findall(r"tensor_shape: (\d+)", config) == [str(len(demo.rows)), "128"]
    for name in ("tensors.tsv", "metadata.tsv", "sprite.png"):
        assert f'"{name}"' in config
    # Face 7 sits in cell 7 of the sprite, row-major.
    side = dims[0]
    cell = np.asarray(sprite)[
        (7 // per_row) * side : (7 // per_row + 1) * side,
        (7 % per_row) * side : (7 % per_row + 1) * side,
    ]
    from facedash.data.images import decode_jpeg

    small = np.asarray(Image.fromarray(decode_jpeg(demo.thumbs[7])).resize((side, side)))
    assert np.abs(cell.astype(int) - small.astype(int)).mean() < 12
    with zipfile.ZipFile(io.BytesIO(exports.projector_zip(files))) as zf:
        assert sorted(zf.namelist()) == sorted(files)
    out = exports.write_projector(files, tmp_path / "bundle")
    assert (out / "tensors.tsv").read_bytes() == files["tensors.tsv"]


def test_sprite_shrinks_to_stay_within_the_limit(demo, monkeypatch):
    monkeypatch.setattr(exports, "SPRITE_MAX", 100)
    png, side = exports.sprite(demo.thumbs[:30], thumb=64)
    assert side == 100 // 6
    assert max(Image.open(io.BytesIO(png)).size) <= 100


# -- figures --------------------------------------------------------------------------------
def test_face_map_2d_with_thumbnails(demo):
    result = P.cluster_map(demo.embeddings, demo.people)
    uris = thumbnails.data_uris(demo.thumbs, side=16)
    fig = F.face_map(
        result.projection.coords,
        names=demo.names,
        people=demo.people,
        labels=result.clustering.labels,
        colour_by="cluster",
        thumbs=uris,
        highlight=[3],
        neighbours=P.nearest(demo.embeddings, 3, 4),
    )
    assert isinstance(fig, go.Figure)
    assert len(fig.layout.images) == len(demo.rows)
    points = [t for t in fig.data if t.customdata is not None]
    assert len(points) == 5  # one selectable trace per cluster
    indices = sorted(int(i) for t in points for i in np.asarray(t.customdata)[:, 0])
    assert indices == list(range(len(demo.rows)))
    assert any(t.name == "search" for t in fig.data)
    assert any(t.name == "nearest faces" for t in fig.data)


def test_face_map_3d_and_person_colours(demo):
    proj = P.project(demo.embeddings, "pca", dims=3)
    fig = F.face_map(
        proj.coords, names=demo.names, people=demo.people, thumbs=["x"] * len(demo.rows)
    )
    assert all(isinstance(t, go.Scatter3d) for t in fig.data)
    assert len(fig.layout.images) == 0  # 3-D scenes hold no pictures
    assert sorted(t.name for t in fig.data) == sorted(set(demo.people.tolist()))


def test_face_map_uncertainty_ellipses(demo):
    proj = P.project(demo.embeddings, "pca", dims=2)
    var = np.full(demo.embeddings.shape, 1e-3)
    cov = P.project_covariances(proj, var)
    fig = F.face_map(proj.coords, names=demo.names, people=demo.people, covariances=cov)
    ellipse = [t for t in fig.data if "uncertainty" in (t.name or "")]
    assert len(ellipse) == 1
    assert np.isnan(np.asarray(ellipse[0].x, dtype=float)).sum() == len(demo.rows)


def test_face_map_rejects_bad_input(demo):
    coords = np.zeros((len(demo.rows), 2))
    with pytest.raises(ValueError, match="cluster label"):
        F.face_map(coords, names=demo.names, people=demo.people, colour_by="cluster")
    with pytest.raises(ValueError, match="thumbnails"):
        F.face_map(coords, names=demo.names, people=demo.people, thumbs=["x"])


def test_confusion_heatmap(demo):
    m = P.cluster_map(demo.embeddings, demo.people, space="full").metrics
    fig = F.confusion_heatmap(m.confusion, m.people, m.clusters)
    assert isinstance(fig.data[0], go.Heatmap)
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), m.confusion)
    assert list(fig.data[0].y) == m.people
