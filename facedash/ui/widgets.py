"""Widgets more than one page draws: face grids, pair galleries, a threshold slider, lazy tabs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import streamlit as st

from facedash.i18n import _


def face_grid(
    result: Any, indices: Sequence[int], captions: Sequence[str], per_row: int = 10
) -> None:
    """The faces ``indices`` of ``result`` as rows of thumbnails, each with its caption."""
    for start in range(0, len(indices), per_row):
        cols = st.columns(per_row)
        chunk = indices[start : start + per_row]
        for col, i, text in zip(cols, chunk, captions[start : start + per_row], strict=False):
            thumb = result.thumbs[i]
            if thumb:
                col.image(thumb, width="stretch")
            col.caption(text)


def pair_gallery(
    result: Any, i: np.ndarray, j: np.ndarray, scores: np.ndarray, idx: np.ndarray, per_row: int = 4
) -> None:
    """The pairs ``idx`` (faces ``i[k]``, ``j[k]``) side by side with their score and people."""
    if not len(idx):
        st.caption(_("None at this threshold."))
        return
    for start in range(0, len(idx), per_row):
        cols = st.columns(per_row)
        for col, k in zip(cols, idx[start : start + per_row], strict=False):
            a, b = int(i[k]), int(j[k])
            box = col.container(border=True)
            left, right = box.columns(2)
            for side, face in ((left, a), (right, b)):
                thumb = result.thumbs[face]
                if thumb:
                    side.image(thumb, width="stretch")
            box.caption(
                _("score **{score}** · {a} / {b}").format(
                    score=f"{scores[k]:.4f}", a=result.rows[a].person, b=result.rows[b].person
                ),
                help=f"{result.rows[a].name}\n\n{result.rows[b].name}",
            )


def set_value(key: str, value: float | None) -> None:
    """A button callback: put ``value`` into the widget ``key`` (nothing when None)."""
    if value is not None:
        st.session_state[key] = float(value)


def threshold_slider(
    label: str, key: str, thresholds: np.ndarray, ctx: tuple, start: float
) -> float:
    """A threshold slider over the range of ``thresholds``; reset to ``start`` when ``ctx`` changes."""
    lo, hi = float(thresholds.min()), float(thresholds.max())
    pad = max((hi - lo) * 0.02, 1e-6)
    lo, hi = lo - pad, hi + pad
    if st.session_state.get(key + "_ctx") != ctx or key not in st.session_state:
        st.session_state[key + "_ctx"] = ctx
        st.session_state[key] = float(start)
    st.session_state[key] = float(np.clip(st.session_state[key], lo, hi))
    return st.slider(label, lo, hi, step=(hi - lo) / 1000, format="%.4f", key=key)


def lazy_tabs(names: Sequence[str], key: str) -> Sequence[Any]:
    """Tabs of which only the open one's content needs to run: each container's ``.open``.

    ``names`` are untranslated (``N_``) and shown in the session's language. Streamlit's
    tabs usually run every tab on every rerun; these rerun the page when another tab is
    picked, so a page draws only the open tab (a slider in one tab does not redraw the
    others). The open tab is kept by its untranslated name, so a change of language
    keeps it open.
    """
    shown = [_(n) for n in names]
    kept = st.session_state.get(f"{key}_name")
    # The labels are part of the widget's identity: when they change language the widget is
    # a new one (even where one label reads the same), so the kept tab is put back.
    moved = st.session_state.get(f"{key}_labels", shown) != shown
    if (
        isinstance(kept, str)
        and kept in names
        and (moved or st.session_state.get(key) not in shown)
    ):
        st.session_state[key] = _(kept)
    st.session_state[f"{key}_labels"] = shown
    # No ``default``: it is part of the widget's identity, which must not move with the tab.
    tabs = st.tabs(shown, key=key, on_change="rerun")
    for name, tab in zip(names, tabs, strict=True):
        if tab.open:
            st.session_state[f"{key}_name"] = name
    return tabs
