"""Large sets stay bounded: the Data page pages, the map draws WebGL points and a sample of pictures.

The set here has 600 faces (past the map's WebGL threshold) made from the real demo
faces: each file is a demo photo's bytes with a unique trailer (a new content hash),
and its store rows are the demo face's detection, preview and thumbnail with the
embedding slightly perturbed. Rows are written to the default store (where the app
looks) and deleted afterwards. 250 text files and 30 photos without a face give the
failures table more than one page.
"""

from __future__ import annotations

import base64
import json
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from facedash.figures import embedding_map as F
from facedash.ui import data as UD
from facedash.ui.state import FOLDER

ROOT = Path(__file__).resolve().parents[1]
FACES, NO_FACE, TEXT_FILES = 600, 30, 250


@pytest.fixture(scope="module")
def big_set(tmp_path_factory, demo, demo_dataset):
    from facedash.data.images import content_hash
    from facedash.data.store import Detection, Store

    folder = tmp_path_factory.mktemp("big") / "big_set"
    store = Store()
    rng = np.random.default_rng(0)
    by_name = {item.name: item for item in demo_dataset.items}
    detections, embeddings, hashes = [], [], []
    for j in range(FACES + NO_FACE):
        k = j % len(demo.rows)
        row = demo.rows[k]
        data = by_name[row.name].read() + f"\nfacedash-synthetic-{j}".encode()
        path = folder / row.person / f"s{j:04d}_{Path(row.name).name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        h = content_hash(data)
        hashes.append(h)
        faces = () if j >= FACES else (_face(row),)
        detections.append(Detection(h, row.width, row.height, faces, demo.previews[row.image_hash]))
        if faces:
            v = demo.embeddings[k] + rng.normal(0, 0.02, demo.embeddings.shape[1])
            embeddings.append((h, 0, (v / np.linalg.norm(v)).astype(np.float32), demo.thumbs[k]))
    notes = folder / "notes"
    notes.mkdir()
    for j in range(TEXT_FILES):
        (notes / f"n{j:03d}.txt").write_text("not a photo")
    store.put_detections(detections, demo.det_key)
    store.put_embeddings(
        embeddings, det_key=demo.det_key, align_key=demo.align_key, model_id=demo.model_key
    )
    yield folder
    store.forget(hashes)


def _face(row):
    from facedash.faces.types import Face

    return Face(tuple(row.box), np.asarray(row.landmarks), float(row.confidence))


def _app(folder: Path) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.session_state["fd_source"] = FOLDER
    at.session_state["fd_folder"] = str(folder)
    return at.run()


def _metrics(at):
    return {m.label: m.value for m in at.metric}


def _shown_names(at) -> list[str]:
    """The file names of the gallery's faces (each caption's help holds the full name)."""
    return [c.proto.help for c in at.caption if "/s" in c.proto.help]


# -- paging (pure) ---------------------------------------------------------------------------
def test_page_arithmetic():
    assert UD.page_count(0, 48) == 1 and UD.page_count(48, 48) == 1 and UD.page_count(49, 48) == 2
    items = list(range(100))
    assert list(UD.page_slice(items, 1, 48)) == items[:48]
    assert list(UD.page_slice(items, 3, 48)) == items[96:]
    assert list(UD.page_slice(items, 9, 48)) == items[96:]  # past the end: the last page
    assert list(UD.page_slice(items, 0, 48)) == items[:48]
    with pytest.raises(ValueError, match="page size"):
        UD.page_count(10, 0)


def test_data_page_pages_the_gallery_and_the_failures(big_set):
    at = _app(big_set)
    assert not at.exception, at.exception
    m = _metrics(at)
    assert m["Photos"] == str(FACES + NO_FACE) and m["Faces embedded"] == str(FACES)
    assert m["Files not used"] == str(NO_FACE + TEXT_FILES)
    assert m["From the store"] == f"{FACES}/{FACES}"  # nothing computed: no model was needed
    first = _shown_names(at)
    assert len(first) == 48  # one page of the default size, not 600 faces
    assert any("Faces 1–48 of 600" in c.value for c in at.caption)
    # The failures table: a page of 200 rows of 280, the no-face photos a page of 24.
    table = at.dataframe[0]
    assert len(table.value) == UD.TABLE_PAGE
    assert at.number_input(key="data_failures_page").max == 2  # (280 rows)
    at.number_input(key="data_failures_page").set_value(2).run()
    assert len(at.dataframe[0].value) == NO_FACE + TEXT_FILES - UD.TABLE_PAGE
    # Page 2 of the gallery shows the next faces; a bigger page size shows more.
    at.number_input(key="data_page").set_value(2).run()
    second = _shown_names(at)
    assert len(second) == 48 and not set(second) & set(first)
    assert any("Faces 49–96 of 600" in c.value for c in at.caption)
    at.selectbox(key="data_page_size").select(192).run()
    assert not at.exception, at.exception
    assert len(_shown_names(at)) == 192
    # A person filter keeps the page within that person's faces.
    at.number_input(key="data_page").set_value(4).run()
    at.selectbox(key="data_person").select("madonna").run()
    assert not at.exception, at.exception
    madonna = [p for p in (big_set / "madonna").glob("*.jpg") if int(p.name[1:5]) < FACES]
    shown = _shown_names(at)
    assert shown and all(name.startswith("madonna/") for name in shown)
    assert any(c.value.endswith(f"of {len(madonna)}") for c in at.caption)


# -- the map ---------------------------------------------------------------------------------
def test_spread_sample_is_bounded_deterministic_and_spread():
    rng = np.random.default_rng(1)
    coords = np.concatenate([rng.normal(0, 1, (5000, 2)), rng.normal(8, 0.1, (5000, 2))])
    a = F.spread_sample(coords, 0.05)
    assert np.array_equal(a, F.spread_sample(coords, 0.05))
    assert 0 < len(a) <= F.MAX_PICTURES and len(set(a.tolist())) == len(a)
    # One picture per thumbnail-sized cell: no two chosen faces share a cell.
    side = np.ptp(coords, axis=0).max() * 0.05
    cells = {tuple(c) for c in np.floor((coords[a] - coords.min(axis=0)) / side).astype(int)}
    assert len(cells) == len(a)
    # The dense blob (half of the faces) does not take half of the pictures.
    assert (coords[a, 0] > 6).sum() < len(a) / 4
    assert len(F.spread_sample(coords, 0.05, limit=10)) == 10
    assert len(F.spread_sample(coords, 0.5)) <= 9


def test_large_face_map_is_webgl_with_a_bounded_sample(demo):
    n = 2000
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(n, 2))
    people = np.asarray(demo.people)[np.arange(n) % len(demo.rows)]
    names = [f"f{i}.jpg" for i in range(n)]
    sample = F.spread_sample(coords, 0.06)
    fig = F.face_map(
        coords,
        names=names,
        people=people,
        thumbs=["data:x"] * len(sample),
        thumb_index=sample,
        thumb_size=0.06,
    )
    points = [t for t in fig.data if t.customdata is not None]
    assert points and all(t.type == "scattergl" for t in points)
    # One number per point (the face index) and one hover string: cheap to build and send.
    assert sorted(int(i) for t in points for i in np.asarray(t.customdata)) == list(range(n))
    assert all(len(t.hovertext) == len(t.customdata) for t in points)
    assert len(fig.layout.images) == len(sample) < n
    assert all(im.layer == "above" for im in fig.layout.images)
    small = F.face_map(coords[:100], names=names[:100], people=people[:100])
    assert all(t.type == "scatter" for t in small.data)
    with pytest.raises(ValueError, match="thumbnails"):
        F.face_map(coords, names=names, people=people, thumbs=["x"], thumb_index=[0, 1])


def test_tsne_past_its_limit_says_what_to_use():
    from facedash import projection as P

    with pytest.raises(ValueError, match="use UMAP"):
        P.check_size("tsne", P.TSNE_MAX + 1)
    P.check_size("tsne", P.TSNE_MAX)
    P.check_size("umap", 10 * P.TSNE_MAX)


def _spec(at) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def _array(value) -> np.ndarray:
    """A plotly JSON array: a list, or plotly 6's typed array ``{"dtype", "bdata"}``."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value)


def test_embedding_map_on_600_faces_draws_webgl_points_and_a_sample(big_set):
    at = _app(big_set)
    at.switch_page("pages/embedding_map.py")
    at.run()
    assert not at.exception, at.exception
    spec = _spec(at)
    points = [t for t in spec["data"] if t.get("customdata")]
    assert {t["type"] for t in points} == {"scattergl"}
    assert sum(len(_array(t["customdata"])) for t in points) == FACES
    images = spec["layout"].get("images", [])
    assert 0 < len(images) < FACES  # a sample, not every face
    assert any("drawn as pictures" in c.value for c in at.caption)
    # A lasso's faces appear beside the map, and get pictures on it.
    chosen = [3, 50, 51, 400]
    at.session_state["embedding_map_chart"] = {
        "selection": {
            "points": [{"customdata": i} for i in chosen],  # what a WebGL point sends
            "point_indices": [],
            "box": [],
            "lasso": [],
        }
    }
    at.run()
    assert not at.exception, at.exception
    assert any(s.value == "4 selected faces" for s in at.subheader)
    pictured = {(round(im["x"], 4), round(im["y"], 4)) for im in _spec(at)["layout"]["images"]}
    xy = {
        (round(float(x), 4), round(float(y), 4))
        for t in _spec(at)["data"]
        if t.get("customdata")
        for x, y, c in zip(_array(t["x"]), _array(t["y"]), _array(t["customdata"]), strict=True)
        if c in chosen
    }
    assert xy <= pictured
    # 3-D, find-by-name and the exports (built only when pressed) keep working.
    at.text_input(key="embedding_map_search").input("s0007_").run()
    assert any(s.value.startswith("Nearest faces to") for s in at.subheader)
    at.radio(key="embedding_map_dims").set_value(3).run()
    assert not at.exception, at.exception
    assert {t["type"] for t in _spec(at)["data"] if t.get("customdata")} == {"scatter3d"}


def test_tsne_runs_in_a_worker_process_with_a_progress_bar(big_set):
    at = _app(big_set)
    at.switch_page("pages/embedding_map.py")
    at.run()
    at.selectbox(key="embedding_map_method").select("t-SNE").run()
    assert not at.exception, at.exception
    assert any("T-SNE 2-D" in c.value or "TSNE 2-D" in c.value for c in at.caption)
    assert not mp.active_children()  # the worker is gone once the map is drawn


# -- a job stopped half-way ------------------------------------------------------------------
class _Stop(Exception):
    pass


def test_an_interrupted_job_terminates_its_worker(monkeypatch):
    import streamlit as st

    from facedash.ui import jobs

    calls = {"n": 0}

    class Bar:
        def progress(self, *a, **k):
            calls["n"] += 1
            if calls["n"] >= 2:  # what Streamlit does when a widget changes: raise in the script
                raise _Stop

        def empty(self):
            pass

    monkeypatch.setattr(st, "progress", lambda *a, **k: Bar())
    t0 = time.monotonic()
    with pytest.raises(_Stop):
        jobs.run_in_process(time.sleep, (60,), label="sleeping", estimate_s=60, poll_s=0.2)
    assert time.monotonic() - t0 < 30
    assert not mp.active_children()
    monkeypatch.undo()
    from facedash.projection import project

    with pytest.raises(ValueError, match="perplexity"):  # the worker's ValueError, as itself
        jobs.run_in_process(project, (np.zeros((10, 4)), "tsne"), label="t-SNE", estimate_s=5)


# -- attention -------------------------------------------------------------------------------
def test_whole_set_sample_is_seeded_and_bounded():
    from facedash.ui import attention as UA

    a = UA.whole_set_sample(10_000, 300)
    assert len(a) == 300 == len(set(a.tolist())) and np.all(np.diff(a) > 0)
    assert np.array_equal(a, UA.whole_set_sample(10_000, 300))
    assert np.array_equal(UA.whole_set_sample(50, 300), np.arange(50))


def test_attention_whole_set_view_explains_a_seeded_sample(big_set, monkeypatch):
    from facedash.ui import attention as UA

    monkeypatch.setattr(UA, "WHOLE_SET_MAX", 12)  # a few faces keep the test fast
    at = _app(big_set)
    at.switch_page("pages/attention.py")
    at.run()
    assert not at.exception, at.exception
    button = at.button(key="attention_set_run")
    assert button.label == "Average over a sample of 12 faces"
    button.click().run()
    assert not at.exception, at.exception
    assert any(c.value.startswith("Averaged over 12 of the set's 600 faces") for c in at.caption)
    assert at.get("plotly_chart")  # the average maps and region bars


# -- opening a stored set, and a folder that changes while it is read -------------------------
def _no_model():
    raise AssertionError("every face is in the store: no detector or model may load")


def _embed(folder: Path, demo, **kw):
    from facedash.data.datasets import load_folder
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset

    return embed_dataset(
        load_folder(folder),
        store=Store(),
        get_model=_no_model,
        get_detector=_no_model,
        backend=demo.backend,
        precision=demo.precision,
        **kw,
    )


def test_a_stored_set_opens_without_opening_its_files(big_set, demo, monkeypatch):
    import os

    from facedash.data.datasets import ImageItem

    _embed(big_set, demo)  # remembers every file's hash (if no earlier test did)
    reads: list[str] = []
    real = ImageItem.read
    monkeypatch.setattr(ImageItem, "read", lambda self: reads.append(self.name) or real(self))
    again = _embed(big_set, demo)
    assert reads == [] and again.computed == 0 and again.cached == FACES
    assert again.changes == ""
    touched = next(p for p in sorted(big_set.rglob("*.jpg")) if int(p.name[1:5]) < FACES)
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same bytes, a new time
    third = _embed(big_set, demo)
    assert reads == [touched.relative_to(big_set).as_posix()]  # only that file is read again
    assert third.cached == FACES


def test_a_folder_that_changes_while_it_is_read_is_reported(big_set, demo, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(big_set, folder)  # new paths: no remembered hashes, every file is read
    faces = [p for p in sorted(folder.rglob("*.jpg")) if int(p.name[1:5]) < FACES]
    victim, rewritten, source = faces[-1], faces[-2], faces[0]
    added = folder / "madonna" / "zz_added.jpg"
    done = []

    def meddle(n: int, total: int, message: str) -> None:
        if message == "Stored" and not done:  # after the first chunk of 32 photos
            done.append(n)
            victim.unlink()
            rewritten.write_bytes(source.read_bytes())  # content the store already holds
            added.write_bytes(faces[1].read_bytes())

    result = _embed(folder, demo, progress=meddle)
    assert done
    reasons = {f.file: f.reason for f in result.failures}
    assert reasons[victim.relative_to(folder).as_posix()] == "removed while the set was being read"
    for words in ("1 photo(s) rewritten", "1 removed", "1 added", "everything embedded is kept"):
        assert words in result.changes
    assert result.changes in result.note  # the CLI prints the note, the sidebar shows it
    assert len(result.rows) == FACES - 1  # every other face, the rewritten one as it is now
    reopened = _embed(folder, demo)
    assert reopened.changes == "" and len(reopened.rows) == FACES  # the added photo, none lost
    assert reopened.computed == 0


def test_reruns_reuse_the_listing_until_the_folder_changes(big_set, monkeypatch):
    from facedash.ui import listing

    calls: list[str] = []
    real = listing.load_path
    monkeypatch.setattr(listing, "load_path", lambda p: calls.append(p) or real(p))
    at = _app(big_set)
    at.run()
    at.run()
    assert len(calls) == 1  # reruns: one stat per folder, no new listing
    copy = big_set / "madonna" / "zz_copy.jpg"
    copy.write_bytes(next((big_set / "madonna").glob("s0*.jpg")).read_bytes())
    try:
        at.run()
        assert len(calls) == 2  # a photo added: its folder changed, so the set is listed again
        assert _metrics(at)["Photos"] == str(FACES + NO_FACE + 1)
    finally:
        copy.unlink()


def test_exact_knn_matches_brute_force():
    from sklearn.neighbors import NearestNeighbors

    from facedash.projection import exact_knn

    x = np.random.default_rng(3).normal(size=(700, 16)).astype(np.float32)
    idx, dist = exact_knn(x, 10, block_bytes=4 * 700 * 64)  # 64 rows a block: many blocks
    ref_d, ref_i = NearestNeighbors(n_neighbors=10).fit(x).kneighbors(x)
    assert np.array_equal(idx[:, 0], np.arange(700))  # itself first, at distance 0
    assert np.array_equal(idx, ref_i)
    np.testing.assert_allclose(dist, ref_d, atol=1e-3)
