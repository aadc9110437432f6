"""One content key per face set, shared by every page's caches.

A set's key names its faces (content hash and face index of every row), the model,
the detector settings and the alignment settings: two sets with the same key hold
the same embeddings, so every ``st.cache_data`` entry keyed on it can be shared
between reruns, pages and sessions. It is computed once per set object per session.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from facedash.data import thumbnails

_SLOT = "fd_set_keys"


def set_key(result: Any) -> str:
    """The content key of an ``EmbeddingSet`` (memoised per set object in this session)."""
    held: dict[int, tuple[Any, str]] = st.session_state.setdefault(_SLOT, {})
    hit = held.get(id(result))
    if hit is not None and hit[0] is result:
        return hit[1]
    key = thumbnails.set_key(
        [r.image_hash for r in result.rows],
        [r.face_index for r in result.rows],
        result.model_id,
        result.det_key,
        result.align_key,
    )
    if len(held) >= 4:  # a session holds a set or two at a time: keep the memo small
        held.clear()
    held[id(result)] = (result, key)
    return key
