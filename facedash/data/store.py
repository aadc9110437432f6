"""The embedding store: one SQLite file in the asset folder.

Two tables, both keyed by the image's content hash and the settings that
produced the row, so that reopening a set recomputes nothing and a run killed
half-way keeps every batch committed before the kill:

- ``detections``: (image hash, detector settings) -> size, every face found
  (box, landmarks, confidence) and a small preview of the photo;
- ``embeddings``: (image hash, detector settings, alignment settings, model
  key, face index) -> the embedding and the aligned-face thumbnail. The model
  key carries the precision: ``facenet`` for the fp32 reference (and OpenVINO
  fp32, which agrees with it), ``facenet@bf16`` otherwise, and for int8 its
  quantisation recipe too (``facenet@int8-<recipe hash>``), so embeddings of
  different precisions or int8 builds are never read together.

The file is created readable by its owner only. A file that is not a facedash
store, or is corrupt, is moved aside (``*.corrupt-<time>``) and rebuilt; the
``recovered`` attribute then says so. SQLite's ``quick_check`` reads the whole
file, so it runs on open only for stores up to ``FULL_CHECK_BYTES`` (a store of
100,000 faces is gigabytes: 36 s per open from a cold disk at 2.1 GB); a larger
one is checked by its header and schema, and a damaged page found later raises
a ``FacedashError`` naming the file and what to do, instead of setting gigabytes
of embeddings aside without asking.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facedash.errors import FacedashError
from facedash.faces.types import Face
from facedash.paths import ensure_private_dir, home

APP_ID = 0x46414345  # "FACE": PRAGMA application_id of a facedash store
SCHEMA_VERSION = 1
_CHUNK = 500
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS detections(
    image_hash TEXT NOT NULL,
    det_key TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    faces TEXT NOT NULL,
    preview BLOB,
    created REAL NOT NULL,
    PRIMARY KEY(image_hash, det_key)
);
CREATE TABLE IF NOT EXISTS embeddings(
    image_hash TEXT NOT NULL,
    det_key TEXT NOT NULL,
    align_key TEXT NOT NULL,
    model_id TEXT NOT NULL,
    face_index INTEGER NOT NULL,
    vector BLOB NOT NULL,
    thumb BLOB,
    created REAL NOT NULL,
    PRIMARY KEY(image_hash, det_key, align_key, model_id, face_index)
);
"""


@dataclass(frozen=True)
class Detection:
    """Everything the detector said about one photo."""

    image_hash: str
    width: int
    height: int
    faces: tuple[Face, ...]
    preview: bytes | None = None


@dataclass(frozen=True)
class StoredEmbedding:
    """One face's embedding and aligned-face thumbnail (JPEG bytes)."""

    vector: np.ndarray
    thumb: bytes | None


def default_path() -> Path:
    """``$FACEDASH_HOME/embeddings.sqlite3``."""
    return home() / "embeddings.sqlite3"


def _faces_json(faces: Sequence[Face]) -> str:
    return json.dumps(
        [
            {"box": list(f.box), "landmarks": f.landmarks.tolist(), "confidence": f.confidence}
            for f in faces
        ]
    )


def _faces_from_json(text: str) -> tuple[Face, ...]:
    return tuple(
        Face(
            box=tuple(d["box"]),
            landmarks=np.asarray(d["landmarks"], dtype=np.float64),
            confidence=d["confidence"],
        )
        for d in json.loads(text)
    )


FULL_CHECK_BYTES = 256 * 2**20
"""Stores up to this size get SQLite's ``quick_check`` (which reads every page) on open."""
BUSY_TIMEOUT_S = 30.0
"""How long an open waits for another process's write lock before it gives up (the file untouched)."""
_TABLES = {"meta", "detections", "embeddings"}


class _Unusable(sqlite3.DatabaseError):
    """A file that is no facedash store, or fails its integrity check: it is set aside."""


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    """Whether an error on open means the file itself is bad (set it aside), not busy or locked."""
    return isinstance(exc, _Unusable) or getattr(exc, "sqlite_errorname", "") in (
        "SQLITE_CORRUPT",
        "SQLITE_NOTADB",
    )


def _guarded(method):
    """A store method whose damaged-file errors become one ``FacedashError`` naming the file."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
                raise
            raise FacedashError(
                f"the embedding store {self.path} is damaged ({exc}): move it aside (a new, "
                "empty store is made on the next start) or put back a copy; "
                f"`sqlite3 {self.path.name} .recover` can save the rows it still holds"
            ) from exc

    return wrapper


class Store:
    """SQLite store of detections and embeddings; safe to share between threads."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.recovered: str | None = None
        self._lock = threading.RLock()
        self._conn = self._open()

    # -- opening, checking, recovering -------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if str(self.path) != ":memory:":
            ensure_private_dir(self.path.parent)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _check(self, conn: sqlite3.Connection) -> None:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app_id == 0 and not tables:  # a new, empty file: make it ours
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA application_id={APP_ID}")
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            conn.commit()
            return
        if app_id != APP_ID:
            raise _Unusable("not a facedash store (foreign SQLite file)")
        if self._size() <= FULL_CHECK_BYTES:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise _Unusable("integrity check failed")
        # No write on open when the tables are there: another process may hold the write lock.
        if not _TABLES <= tables:
            conn.executescript(_SCHEMA)

    def _size(self) -> int:
        """Bytes of the file and its write-ahead log (0 for a store in memory)."""
        if str(self.path) == ":memory:":
            return 0
        wal = Path(f"{self.path}-wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    def _open(self) -> sqlite3.Connection:
        try:
            conn = self._connect()
            self._check(conn)
            return conn
        except sqlite3.DatabaseError as exc:
            if str(self.path) == ":memory:":
                raise
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - the connection may never have opened
                pass
            if not _damaged(exc):  # busy or locked: another process is writing; never set aside
                raise FacedashError(
                    f"the embedding store {self.path} could not be opened ({exc}); it is left as "
                    "it is. Another facedash process may be writing to it: try again"
                ) from exc
            aside = self.path.with_name(
                f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
            )
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            self.recovered = (
                f"{self.path.name} was unusable ({exc}); moved to {aside.name} and rebuilt"
            )
            conn = self._connect()
            self._check(conn)
            return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection under the store's lock, committed on success: for tables other modules own."""
        with self._lock, self._conn:
            yield self._conn

    @_guarded
    def query(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        """Rows of a read-only query, under the store's lock."""
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    # -- detections ---------------------------------------------------------------------
    @_guarded
    def get_detections(self, hashes: Iterable[str], det_key: str) -> dict[str, Detection]:
        """Stored detections among ``hashes`` for ``det_key``."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, Detection] = {}
        with self._lock:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT image_hash, width, height, faces, preview FROM detections "
                    f"WHERE det_key=? AND image_hash IN ({marks})",
                    [det_key, *chunk],
                )
                for h, w, ht, faces, preview in rows:
                    found[h] = Detection(h, w, ht, _faces_from_json(faces), preview)
        return found

    @_guarded
    def put_detections(self, detections: Iterable[Detection], det_key: str) -> None:
        """Store detections (one transaction)."""
        now = time.time()
        rows = [
            (d.image_hash, det_key, d.width, d.height, _faces_json(d.faces), d.preview, now)
            for d in detections
        ]
        with self._lock, self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO detections VALUES(?,?,?,?,?,?,?)", rows)

    # -- embeddings ---------------------------------------------------------------------
    @_guarded
    def get_embeddings(
        self, keys: Iterable[tuple[str, int]], *, det_key: str, align_key: str, model_id: str
    ) -> dict[tuple[str, int], StoredEmbedding]:
        """Stored embeddings among ``(image hash, face index)`` keys."""
        wanted = list(dict.fromkeys(keys))
        hashes = list(dict.fromkeys(h for h, _ in wanted))
        wanted_set = set(wanted)
        found: dict[tuple[str, int], StoredEmbedding] = {}
        with self._lock:
            for start in range(0, len(hashes), _CHUNK):
                chunk = hashes[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT image_hash, face_index, vector, thumb FROM embeddings WHERE det_key=? "
                    f"AND align_key=? AND model_id=? AND image_hash IN ({marks})",
                    [det_key, align_key, model_id, *chunk],
                )
                for h, idx, vec, thumb in rows:
                    if (h, idx) in wanted_set:
                        found[(h, idx)] = StoredEmbedding(
                            np.frombuffer(vec, dtype=np.float32), thumb
                        )
        return found

    @_guarded
    def put_embeddings(
        self,
        rows: Iterable[tuple[str, int, np.ndarray, bytes | None]],
        *,
        det_key: str,
        align_key: str,
        model_id: str,
    ) -> None:
        """Store ``(image hash, face index, vector, thumb)`` rows (one transaction)."""
        now = time.time()
        values = [
            (
                h,
                det_key,
                align_key,
                model_id,
                int(i),
                np.asarray(v, dtype=np.float32).tobytes(),
                t,
                now,
            )
            for h, i, v, t in rows
        ]
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES(?,?,?,?,?,?,?,?)", values
            )

    # -- housekeeping -------------------------------------------------------------------
    @_guarded
    def counts(self) -> dict[str, int]:
        """Rows per table."""
        with self._lock:
            return {
                "detections": self._conn.execute("SELECT COUNT(*) FROM detections").fetchone()[0],
                "embeddings": self._conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0],
            }

    @_guarded
    def model_keys(self) -> dict[str, int]:
        """Embeddings per model key (``facenet``, ``facenet@bf16`` ...): each precision apart."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT model_id, COUNT(*) FROM embeddings GROUP BY model_id ORDER BY model_id"
            ).fetchall()
        return {key: int(n) for key, n in rows}

    @_guarded
    def forget(self, hashes: Iterable[str]) -> int:
        """Delete every row (detections, embeddings, thumbnails) of these images; return rows deleted."""
        wanted = list(dict.fromkeys(hashes))
        deleted = 0
        with self._lock, self._conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for table in ("detections", "embeddings"):
                    cur = self._conn.execute(
                        f"DELETE FROM {table} WHERE image_hash IN ({marks})", chunk
                    )
                    deleted += cur.rowcount
        return deleted
