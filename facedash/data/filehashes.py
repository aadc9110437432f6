"""Content hashes of files on disk, remembered by (path, size, modification time).

Opening a set that is already in the store should cost a listing and one read
of the store, not a read and a SHA-256 of every photo: a 10,000-photo set of
camera JPEGs is tens of gigabytes. The first time a file is read its hash is
kept in the store's ``file_hashes`` table under its absolute path, size and
``mtime_ns``; later the same (path, size, mtime_ns) gives the hash without
opening the file. A file rewritten in place changes its modification time (and
usually its size), so its old hash is never used for the new content.

The table belongs to this module (created on first use through
``Store.transaction``); stores in memory (private uploads) work the same.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from facedash.data.datasets import ImageItem
    from facedash.data.store import Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS file_hashes(
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    image_hash TEXT NOT NULL,
    seen REAL NOT NULL
)
"""
_CHUNK = 500  # paths per query (SQLite's variable limit is 999 on old builds)
_READY: weakref.WeakSet[Store] = weakref.WeakSet()  # stores whose table exists


def _ensure(store: Store) -> None:
    if store in _READY:
        return
    with store.transaction() as conn:
        conn.execute(_SCHEMA)
    _READY.add(store)


def known(store: Store, items: Sequence[ImageItem]) -> dict[int, str]:
    """``{item index: content hash}`` for the files whose (path, size, mtime_ns) the store knows.

    Only items listed from a folder (with a path and a listing stat) are asked for;
    bytes in memory are always hashed.
    """
    _ensure(store)
    wanted = {
        str(item.path): (i, item.listed)
        for i, item in enumerate(items)
        if item.path is not None and item.data is None and item.listed is not None
    }
    paths = list(wanted)
    found: dict[int, str] = {}
    for start in range(0, len(paths), _CHUNK):
        chunk = paths[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = store.query(
            f"SELECT path, size, mtime_ns, image_hash FROM file_hashes WHERE path IN ({marks})",
            chunk,
        )
        for path, size, mtime_ns, image_hash in rows:
            i, listed = wanted[path]
            if listed == (size, mtime_ns):
                found[i] = image_hash
    return found


def remember(store: Store, entries: Iterable[tuple[ImageItem, tuple[int, int], str]]) -> None:
    """Keep ``(item, (size, mtime_ns) read, content hash)`` for files that were read (one transaction)."""
    now = time.time()
    rows = [
        (str(item.path), size, mtime_ns, image_hash, now)
        for item, (size, mtime_ns), image_hash in entries
        if item.path is not None and item.data is None
    ]
    if not rows:
        return
    _ensure(store)
    with store.transaction() as conn:
        conn.executemany("INSERT OR REPLACE INTO file_hashes VALUES(?,?,?,?,?)", rows)
