"""The pipelined embed (facedash.faces.lanes): the plain loop's results, chunk by chunk commits, resumable.

Real demo faces, the real detector and the default backend's model; 30 photos in
chunks of 6, so a run has several steps with all three lanes busy.
"""

import numpy as np
import pytest

from facedash.data.datasets import load_uploads
from facedash.data.store import Store
from facedash.faces.detect import Detector, DetectorSettings
from facedash.faces.lanes import Lanes, first_error
from facedash.faces.pipeline import embed_dataset
from tests.corpus import encode, noise_image

CHUNK = 6


class Boom(RuntimeError):
    """The failure injected in the middle of a run."""


@pytest.fixture(scope="module")
def photos(demo_dataset):
    """26 demo photos, two bad files, and two exact copies of photos of the chunk before (other names)."""
    good = [(f"{i.person}_{n:04d}.jpg", i.read()) for n, i in enumerate(demo_dataset.items[:26])]
    bad = [
        ("notes.jpg", b"just some text, not a photo\n"),
        ("noface_0001.png", encode(noise_image((320, 240), seed=3), "PNG")),
    ]
    copies = [(f"copy_{name}", data) for name, data in (good[4], good[9])]
    files = good[:8] + [bad[0]] + good[8:13] + copies + good[13:20] + [bad[1]] + good[20:]
    return load_uploads(files)


@pytest.fixture(scope="module")
def detector():
    return Detector(DetectorSettings())


def _run(store, photos, embedder, detector, **kwargs):
    kwargs.setdefault("get_detector", lambda: detector)
    return embed_dataset(
        photos,
        store=store,
        get_model=lambda: embedder,
        backend=embedder.backend,
        precision=embedder.precision,
        chunk=CHUNK,
        **kwargs,
    )


@pytest.fixture(scope="module")
def plain(tmp_path_factory, photos, embedder, detector):
    """The same steps on the calling thread alone: the reference."""
    store = Store(tmp_path_factory.mktemp("plain") / "s.sqlite3")
    return _run(store, photos, embedder, detector, pipelined=False)


def _rows(result):
    return [(r.name, r.image_hash, r.face_index, r.box, r.confidence) for r in result.rows]


def test_the_pipeline_gives_the_plain_loops_rows_and_embeddings(
    tmp_path, photos, embedder, detector, plain
):
    seen = []
    store = Store(tmp_path / "s.sqlite3")
    result = _run(
        store,
        photos,
        embedder,
        detector,
        progress=lambda *a: seen.append(a),
    )
    assert _rows(result) == _rows(plain) and len(result.rows) == 28
    assert np.array_equal(result.embeddings, plain.embeddings)  # the same batches: bitwise
    assert result.thumbs == plain.thumbs and result.previews == plain.previews
    assert [(f.file, f.reason) for f in result.failures] == [
        (f.file, f.reason) for f in plain.failures
    ]
    assert {f.file for f in result.failures} == {"notes.jpg", "noface_0001.png"}
    assert result.computed == plain.computed == 28  # rows; the two copies are embedded once:
    assert store.counts()["embeddings"] == 26
    # The progress contract: (done, total, message), done never goes back, ends at total.
    done = [d for d, _, _ in seen]
    assert done == sorted(done) and done[-1] == len(photos.items) == 30
    assert {m.split(" ")[0] for _, _, m in seen} <= {"Finding", "Embedding", "Stored"}


def test_chunks_of_one_find_the_same_faces(tmp_path, photos, embedder, detector, plain):
    """Other batches: the same faces, within float rounding of MTCNN's batched convolutions.

    MTCNN's boxes are not bitwise independent of the batch: one demo photo's box
    moves 0.37 px (a landmark 0.77 px) between a batch of six and a batch of one,
    which moves its embedding to cosine 0.993. The chunk size is therefore fixed
    (``CHUNK``); the pipeline keeps the plain loop's batches exactly.
    """
    one = embed_dataset(
        photos,
        store=Store(tmp_path / "s.sqlite3"),
        get_detector=lambda: detector,
        get_model=lambda: embedder,
        backend=embedder.backend,
        precision=embedder.precision,
        chunk=1,
    )
    assert [(r.name, r.face_index) for r in one.rows] == [
        (r.name, r.face_index) for r in plain.rows
    ]
    boxes = np.array([r.box for r in one.rows]) - np.array([r.box for r in plain.rows])
    assert np.abs(boxes).max() < 1.0
    cosines = (one.embeddings * plain.embeddings).sum(1)
    assert cosines.min() >= 0.99 and np.median(cosines) >= 0.9999


class _FailingDetector:
    """The real detector, raising on its ``fail_on``-th batch."""

    def __init__(self, real, fail_on):
        self.real, self.fail_on, self.calls = real, fail_on, 0

    def detect(self, images):
        self.calls += 1
        if self.calls == self.fail_on:
            raise Boom("the detector failed on this batch")
        return self.real.detect(images)


def test_a_failure_mid_run_keeps_the_finished_chunks_and_the_rerun_does_the_rest(
    tmp_path, photos, embedder, detector, plain
):
    store = Store(tmp_path / "s.sqlite3")
    failing = _FailingDetector(detector, fail_on=3)
    with pytest.raises(Boom):
        _run(store, photos, embedder, detector, get_detector=lambda: failing)
    # The first two chunks were detected and embedded (the second one's embedding ran beside
    # the third one's failed detection, and was committed before the failure was raised).
    kept = store.counts()["embeddings"]
    names = {i.name for i in photos.items[: 2 * CHUNK]}
    first_two = {(r.image_hash, r.face_index) for r in plain.rows if r.name in names}
    assert kept == len(first_two) > 0

    again = _run(store, photos, embedder, detector)
    # Rows: both copies are of photos in the first two chunks, read from the store too.
    assert again.cached == kept + 2 and again.computed == 26 - kept
    assert _rows(again) == _rows(plain)
    assert np.array_equal(again.embeddings, plain.embeddings)


def test_a_progress_callback_that_raises_stops_the_run_after_committing(
    tmp_path, photos, embedder, detector, plain
):
    store = Store(tmp_path / "s.sqlite3")

    def stop_after_two(done, total, message):
        if message == "Stored" and done >= 2 * CHUNK:
            raise Boom("stopped by the user")

    with pytest.raises(Boom):
        _run(store, photos, embedder, detector, progress=stop_after_two)
    kept = store.counts()["embeddings"]
    assert 0 < kept < 26
    refused = _run(store, photos, embedder, detector)
    assert refused.computed == 26 - kept and store.counts()["embeddings"] == 26
    assert np.array_equal(refused.embeddings, plain.embeddings)
    finished = _run(store, photos, embedder, detector, get_detector=_refuse)
    assert finished.computed == 0 and np.array_equal(finished.embeddings, plain.embeddings)


def _refuse():
    raise AssertionError("nothing should be detected again")


def test_lanes_hand_back_each_outcome_at_the_barrier():
    for inline in (False, True):
        with Lanes(inline=inline) as lanes:
            lanes.map("decode", lambda x: 1 / x, [1, 0, 2])
            lanes.run("detect", lambda: "found")
            lanes.run("embed", lambda: (_ for _ in ()).throw(Boom("no")))
            done = lanes.wait()
        assert done["detect"] == "found" and isinstance(done["embed"], Boom)
        assert done["decode"][0] == 1.0 and isinstance(done["decode"][1], ZeroDivisionError)
        assert isinstance(first_error(done["decode"]), ZeroDivisionError)
        assert lanes.wait() == {}
