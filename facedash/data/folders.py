"""Folders on disk, listed in one pass: every entry's relative path, kind, size and time.

``load_folder`` lists a face set with ``scan``; ``Dataset.changes_since_listed``
scans again to see what changed while the set was being read.
"""

from __future__ import annotations

import os
from pathlib import Path


def scan(folder: Path) -> list[tuple[tuple[str, ...], str, tuple[int, int] | None]]:
    """``(relative path parts, "file" | "link", (size, mtime_ns))`` of every entry, sorted.

    One ``os.scandir`` pass: hidden entries (a name starting with ".") are skipped
    with everything below them, symbolic links are listed but never followed, and
    each file's size and modification time come from one ``stat`` (no reads).
    """
    found: list[tuple[tuple[str, ...], str, tuple[int, int] | None]] = []
    stack: list[tuple[str, tuple[str, ...]]] = [(str(folder), ())]
    while stack:
        path, parts = stack.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                rel = (*parts, entry.name)
                if entry.is_symlink():
                    found.append((rel, "link", None))
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel))
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    found.append((rel, "file", (st.st_size, st.st_mtime_ns)))
    found.sort(key=lambda f: f[0])  # the order of sorted(Path objects): part by part
    return found
