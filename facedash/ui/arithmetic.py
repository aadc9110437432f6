"""Arithmetic & search: the attribute view of a set, a photo's embedding, the triplet head.

The attribute view (for synthetic conditions: every face transformed and embedded
again) is held in this session per (set, model, alignment, attribute) and its
embeddings go through the store, so a second visit computes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from facedash import search
from facedash.conditions import attribute_view
from facedash.datasets import load_uploads
from facedash.detect import DetectorSettings
from facedash.pipeline import embed_dataset
from facedash.ui import cache, state
from facedash.ui.keys import set_key

PAGE = "arithmetic"


def view(result: Any, pattern: str) -> Any:
    """The set seen through one attribute (``attribute_view``), held in this session."""
    key = (set_key(result), pattern)
    held = st.session_state.get(f"{PAGE}_view_cache")
    if held is not None and held[0] == key:
        return held[1]
    with st.spinner(
        "Embedding the transformed faces with the real model (stored for next time) ..."
    ):
        out = attribute_view(
            result, pattern, store=cache.store(), get_model=lambda: cache.model(result.model_id)
        )
    st.session_state[f"{PAGE}_view_cache"] = (key, out)
    return out


def embed_photo(name: str, data: bytes) -> tuple[np.ndarray | None, str]:
    """The embedding of the largest face in a photo (None and the reason when there is none)."""
    model_id, align = state.settings()
    det = DetectorSettings()
    probe = embed_dataset(
        load_uploads([(name, data)], name="search query"),
        model_id=model_id,
        store=cache.store(),
        align_settings=align,
        detector_settings=det,
        get_detector=lambda: cache.detector(det),
        get_model=lambda: cache.model(model_id),
    )
    if not len(probe.rows):
        return None, probe.failures[0].reason if probe.failures else "no face found"
    return probe.embeddings[0], ""


def nearest(
    embeddings: np.ndarray, query: np.ndarray, k: int, exclude: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` faces most cosine-similar to ``query`` (face ``exclude`` left out): ids, similarities."""
    found = search.ExactIndex(embeddings).search(query, k + 1)
    ids, sims = found.ids[0], found.similarity[0]
    keep = ids != exclude
    return ids[keep][:k], sims[keep][:k]


def train_head(
    v: Any, method: str, epochs: int, progress: Callable[[int, int, float], None]
) -> Any:
    """Train the triplet head on ~70% of the photos and score the arithmetic on the rest."""
    from facedash.triplet import compare_head

    return compare_head(
        v.result.embeddings,
        v.persons,
        v.values,
        v.sources,
        method=method,
        epochs=epochs,
        progress=progress,
    )
