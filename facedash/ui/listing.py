"""A folder set's listing, kept for this session's reruns while its folders are unchanged.

Every rerun (a slider, a click) asks for the current set. Listing 10,000 photos
is a directory scan and a ``stat`` per file, a fifth of a second here: more than
a slider rerun may cost. So the listing is kept in the session and reused while
none of the set's folders has changed (adding, removing or renaming a photo
changes its folder's modification time: one ``stat`` per folder, not per file),
and at most ``TTL_S`` seconds, after which the folder is listed again (a photo
rewritten in place changes no folder).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import streamlit as st

from facedash.data.datasets import Dataset, load_path

TTL_S = 30.0
_SLOT = "fd_listing"


def _stamp(folders: tuple[str, ...]) -> tuple[int, ...]:
    """Each folder's modification time (-1 for one that is gone)."""
    out = []
    for folder in folders:
        try:
            out.append(os.stat(folder).st_mtime_ns)
        except OSError:
            out.append(-1)
    return tuple(out)


def _folders(dataset: Dataset) -> tuple[str, ...]:
    """The set's root and every folder below it that holds a photo or a listed problem."""
    assert dataset.root is not None
    root = dataset.root
    names = [item.name for item in dataset.items] + [p.file for p in dataset.problems]
    below = {str(root / name).rsplit("/", 1)[0] for name in names}
    return tuple(sorted({str(root), *below}))


def folder_set(path: str) -> Dataset:
    """``load_path(path)``, reused for this session's reruns while its folders are unchanged."""
    held = st.session_state.get(_SLOT)
    now = time.monotonic()
    if (
        held is not None
        and held["path"] == path
        and now - held["at"] < TTL_S
        and _stamp(held["folders"]) == held["stamp"]
    ):
        return held["dataset"]
    started = time.time_ns()
    dataset = load_path(path)
    st.session_state.pop(_SLOT, None)
    if dataset.kind != "folder" or dataset.root is None or not Path(path).expanduser().is_dir():
        return dataset  # zips, manifests and single files: listed each time
    folders = _folders(dataset)
    stamp = _stamp(folders)
    if any(t < 0 or t >= started for t in stamp):  # changed while it was listed: list again
        return dataset
    st.session_state[_SLOT] = {
        "path": path,
        "at": now,
        "folders": folders,
        "stamp": stamp,
        "dataset": dataset,
    }
    return dataset
