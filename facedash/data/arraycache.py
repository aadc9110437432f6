"""Arrays kept beside the store: ``.npz`` files named by content keys, written atomically.

Derived arrays that are costly to rebuild at scale (a set's condition view, its
feature vectors) live in a ``views/`` folder beside the SQLite store, so they share
its lifetime and privacy: a store in memory (a private upload) gets no folder, and
nothing of it reaches the disk. A file that cannot be read is removed and rebuilt.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from facedash.paths import ensure_private_dir


def view_cache_dir(store: Any) -> Path | None:
    """Where views and features of sets in ``store`` are kept: beside its file (None: in memory)."""
    if store is None or str(store.path) == ":memory:":
        return None
    return store.path.parent / "views"


def read_cached(folder: Path | None, name: str) -> dict[str, np.ndarray] | None:
    """The arrays of ``folder/name.npz``, or None (missing, no folder, or unreadable: removed)."""
    if folder is None:
        return None
    path = folder / f"{name}.npz"
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError):
        path.unlink(missing_ok=True)
        return None


def write_cached(folder: Path | None, name: str, arrays: dict[str, np.ndarray]) -> None:
    """Write ``folder/name.npz`` atomically (a temporary name, then a rename); no folder: nothing."""
    if folder is None:
        return
    ensure_private_dir(folder)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz.tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, folder / f"{name}.npz")
    finally:
        Path(tmp).unlink(missing_ok=True)
