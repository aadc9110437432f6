import sqlite3
import stat

import numpy as np
import pytest

from facedash.data.store import Detection, Store
from facedash.errors import FacedashError
from facedash.faces.types import Face


def _det(h, n=1):
    faces = tuple(
        Face((1.0, 2.0, 30.0, 40.0), np.arange(10, dtype=float).reshape(5, 2), 0.9)
        for _ in range(n)
    )
    return Detection(h, 100, 80, faces, b"jpeg")


def test_hits_and_misses(tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    store.put_detections([_det("a"), _det("b", 0)], "det1")
    got = store.get_detections(["a", "b", "c"], "det1")
    assert (
        set(got) == {"a", "b"}
        and got["b"].faces == ()
        and got["a"].faces[0].box == (1.0, 2.0, 30.0, 40.0)
    )
    assert np.array_equal(got["a"].faces[0].landmarks, np.arange(10).reshape(5, 2))
    assert store.get_detections(["a"], "det2") == {}  # other detector settings: a miss
    vec = np.linspace(-1, 1, 128).astype(np.float32)
    store.put_embeddings([("a", 0, vec, b"t")], det_key="det1", align_key="al", model_id="m")
    hit = store.get_embeddings([("a", 0), ("a", 1)], det_key="det1", align_key="al", model_id="m")
    assert (
        list(hit) == [("a", 0)]
        and np.array_equal(hit[("a", 0)].vector, vec)
        and hit[("a", 0)].thumb == b"t"
    )
    assert store.get_embeddings([("a", 0)], det_key="det1", align_key="al", model_id="other") == {}
    assert store.get_embeddings([("a", 0)], det_key="det1", align_key="al2", model_id="m") == {}
    assert store.counts() == {"detections": 2, "embeddings": 1}
    assert store.forget(["a"]) == 2
    assert store.counts() == {"detections": 1, "embeddings": 0}


def test_many_keys_are_chunked(tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    store.put_detections([_det(f"h{i}") for i in range(1200)], "d")
    assert len(store.get_detections([f"h{i}" for i in range(1300)], "d")) == 1200


def test_private_permissions(tmp_path):
    store = Store(tmp_path / "sub" / "s.sqlite3")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


def test_corrupt_and_foreign_files_are_set_aside_and_rebuilt(tmp_path):
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    store = Store(bad)
    assert store.recovered and "moved to" in store.recovered
    assert store.counts() == {"detections": 0, "embeddings": 0}
    assert list(tmp_path.glob("bad.sqlite3.corrupt-*"))

    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE people(name TEXT)")
    store = Store(foreign)
    assert store.recovered and "foreign" in store.recovered
    store.put_detections([_det("x")], "d")
    assert Store(foreign).recovered is None  # a good store opens cleanly


def test_a_damaged_page_is_found_on_open_below_the_full_check_size(tmp_path, monkeypatch):
    """A store with a good header but a damaged page is set aside when it is small enough to
    check in full; above ``FULL_CHECK_BYTES`` it is opened (its header and schema are
    good), and reading the damaged page says the store is damaged and what to do; nothing
    is moved aside."""
    import facedash.data.store as store_module

    path = tmp_path / "s.sqlite3"
    store = Store(path)
    store.put_detections([_det(f"h{i}") for i in range(400)], "d")
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    data[len(data) - 2 * page : len(data) - page] = b"\xa5" * page  # a table page, not the header
    path.write_bytes(bytes(data))

    monkeypatch.setattr(store_module, "FULL_CHECK_BYTES", len(data) - 1)
    opened = Store(path)
    assert opened.recovered is None
    with pytest.raises(FacedashError, match=r"s\.sqlite3 is damaged .*\.recover"):
        opened.get_detections([f"h{i}" for i in range(400)], "d")
    opened.close()

    monkeypatch.setattr(store_module, "FULL_CHECK_BYTES", len(data))
    rebuilt = Store(path)
    assert rebuilt.recovered and "moved to" in rebuilt.recovered
    assert list(tmp_path.glob("s.sqlite3.corrupt-*"))


def _one_row(path):
    store = Store(path)
    store.put_embeddings(
        [("h" * 64, 0, np.ones(4, np.float32), None)], det_key="d", align_key="a", model_id="m"
    )
    store.close()


def _rows(path):
    return Store(path).get_embeddings([("h" * 64, 0)], det_key="d", align_key="a", model_id="m")


def test_a_store_opens_while_another_process_writes_to_it(tmp_path):
    """Opening reads only: another connection's write transaction neither blocks nor breaks it."""
    path = tmp_path / "s.sqlite3"
    _one_row(path)
    writer = sqlite3.connect(path, timeout=0.1)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO meta VALUES('busy', 'yes')")
    try:
        store = Store(path)
        assert store.recovered is None
        assert (
            len(store.get_embeddings([("h" * 64, 0)], det_key="d", align_key="a", model_id="m"))
            == 1
        )
    finally:
        writer.rollback()
        writer.close()
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_a_locked_store_is_an_error_and_never_set_aside(tmp_path, monkeypatch):
    """'database is locked' is not damage: the file and its rows stay (they were moved aside before)."""
    import facedash.data.store as S

    path = tmp_path / "s.sqlite3"
    _one_row(path)
    monkeypatch.setattr(S, "BUSY_TIMEOUT_S", 0.2)
    with sqlite3.connect(path) as db:  # a table to make: this open must write
        db.execute("DROP TABLE detections")
    writer = sqlite3.connect(path, timeout=0.1)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO meta VALUES('busy', 'yes')")
    try:
        with pytest.raises(FacedashError, match="could not be opened .*locked.*left as it is"):
            Store(path)
    finally:
        writer.rollback()
        writer.close()
    assert not list(tmp_path.glob("*.corrupt-*"))
    assert len(_rows(path)) == 1  # opened once the lock is gone: the rows are all there
