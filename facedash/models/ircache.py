"""Converted models on disk: one folder per key, written atomically, checked on every read.

A cache entry lives in ``$FACEDASH_HOME/models/<model>-<weights sha256[:16]>/
<backend>-<backend version>/<precision>/`` and holds the converted model's files
and ``meta.json``: the full key (weights SHA-256, backend, version, precision)
and the SHA-256 of every file. Each file is written under a temporary name and
renamed into place; ``meta.json`` is written last, so an entry without it, or
whose files do not match it, is incomplete or corrupt: it is rebuilt, never
used. Builders take a file lock, so two processes never build one entry at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facedash.paths import ensure_private_dir, home

META = "meta.json"


@dataclass(frozen=True)
class Entry:
    """Where one converted model lives and what it is keyed by."""

    folder: Path
    key: dict[str, str]

    def path(self, name: str) -> Path:
        """A file of this entry."""
        return self.folder / name


def entry(
    model_id: str,
    weights_sha256: str,
    backend: str,
    version: str,
    precision: str,
    root: Path | None = None,
) -> Entry:
    """The cache entry for this key (nothing is created)."""
    folder = (
        (root or home())
        / "models"
        / f"{model_id}-{weights_sha256[:16]}"
        / f"{backend}-{version}"
        / precision
    )
    key = {
        "model": model_id,
        "weights_sha256": weights_sha256,
        "backend": backend,
        "backend_version": version,
        "precision": precision,
    }
    return Entry(folder, key)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check(e: Entry) -> tuple[dict[str, Any] | None, str]:
    """``(meta, "")`` when the entry is complete and intact, else ``(None, why not)``."""
    meta_path = e.path(META)
    if not meta_path.is_file():
        return None, "not built yet"
    try:
        meta = json.loads(meta_path.read_text())
        files = meta["files"]
        if meta["key"] != e.key:
            return None, "its key does not match"
        for name, digest in files.items():
            p = e.path(name)
            if not p.is_file():
                return None, f"{name} is missing"
            if _sha256(p) != digest:
                return None, f"{name} does not match its recorded SHA-256"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"{META} is unreadable ({type(exc).__name__})"
    return meta, ""


def write(e: Entry, produce: Callable[[Path], None], extra: dict[str, Any]) -> dict[str, Any]:
    """Build the entry: ``produce(tmp)`` writes its files into a temporary folder beside it.

    Each file is then renamed into place, and ``meta.json`` (the key, every file's
    SHA-256 and ``extra``) is written last, under a temporary name and renamed too.
    Returns the meta record.
    """
    ensure_private_dir(e.folder)
    e.path(META).unlink(missing_ok=True)  # the entry is incomplete until meta is back
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=e.folder))
    try:
        produce(tmp)
        digests = {}
        for made in sorted(p for p in tmp.iterdir() if p.is_file()):
            digests[made.name] = _sha256(made)
            os.replace(made, e.path(made.name))
        meta = {"key": e.key, "files": digests, **extra}
        meta_tmp = tmp / META
        meta_tmp.write_text(json.dumps(meta, indent=1))
        os.replace(meta_tmp, e.path(META))
        return meta
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def building(e: Entry) -> Iterator[None]:
    """Hold the entry's build lock (other processes wait)."""
    ensure_private_dir(e.folder)
    with (e.folder / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
