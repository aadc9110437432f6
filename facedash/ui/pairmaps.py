"""The Attention page's pair maps of both signs (CorrRISE), for every model, gradients or not.

Two faces of the set; CorrRISE (``facedash.explain.corrrise``) covers both with random masks
and correlates each pixel's being kept with the pair's cosine. Four maps: what makes the pair
similar and what makes it dissimilar, on each face. For an impostor pair, the similar maps
show which regions still argue "same person". Computed once per pair, model and mask count
(cached for the server), with its deletion check beside it; with "Compare with", the second
model's four maps of the same two faces below.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from facedash.data.images import decode_jpeg
from facedash.explain.corrrise import corrrise, deletion_aucs
from facedash.explain.overlay import overlay
from facedash.i18n import _
from facedash.ui import cache, state
from facedash.ui.compare import NONE
from facedash.ui.keys import set_key
from facedash.verification.compare import face_keys, shared_rows

MASKS = (200, 300, 500)


@st.cache_data(show_spinner=False, max_entries=32)
def _maps(
    key: str, model_id: str, i: int, j: int, masks: int, _a: np.ndarray, _b: np.ndarray
) -> dict[str, Any]:
    embedder = cache.model(model_id)
    maps = corrrise(embedder.embed, _a, _b, n_masks=masks, seed=0)
    mine, random = deletion_aucs(embedder.embed, _a, _b, maps.similar)
    return {"maps": maps, "deletion": mine, "random": random}


def panel(result: Any, label: Any) -> None:
    """Pick a pair; draw its four CorrRISE maps and the deletion check."""
    st.subheader(_("Pair maps of both signs (CorrRISE)"))
    st.caption(
        _(
            "Black-box: only the model's forward passes are used, so every model gets these. Both "
            "faces are covered by random masks (the hidden parts blurred); a pixel's value is the "
            "correlation, over the draws, between its being kept and the pair's cosine. Red on a "
            "similar map: keeping that part makes the pair more alike; on a dissimilar map: less "
            "alike."
        )
    )
    n = len(result.rows)
    c1, c2, c3 = st.columns([3, 3, 1])
    i = c1.selectbox(
        _("Face A"), range(n), format_func=lambda k: label(result, k), key="pairmaps_a"
    )
    j = c2.selectbox(
        _("Face B"),
        range(n),
        index=min(1, n - 1),
        format_func=lambda k: label(result, k),
        key="pairmaps_b",
    )
    masks = c3.selectbox(_("Masks"), MASKS, key="pairmaps_masks")
    if i == j:
        st.info(_("Choose two different faces."))
        return
    if not st.toggle(
        _("Compute the pair maps"),
        key="pairmaps_on",
        help=_("Runs the model on every masked copy: a few seconds to a minute."),
    ):
        return
    _one_model(result, int(i), int(j), int(masks))
    second = state.compare_model()
    if second in (NONE, result.model_id):
        return
    other = state.embedding_set(second, slot="pairmaps_other")
    if other is None:
        return
    ia, ib = shared_rows(face_keys(result), face_keys(other))
    where = dict(zip(ia.tolist(), ib.tolist(), strict=True))
    oi, oj = where.get(int(i)), where.get(int(j))
    if oi is None or oj is None:
        st.info(_("{model} has not embedded both of these faces.").format(model=second))
        return
    _one_model(other, oi, oj, int(masks))


def _one_model(result: Any, i: int, j: int, masks: int) -> None:
    """The four maps of the pair (``i``, ``j``) under the set's model, and its deletion check."""
    a, b = decode_jpeg(result.thumbs[i]), decode_jpeg(result.thumbs[j])
    with st.spinner(_("CorrRISE: {n} masked pairs ...").format(n=masks)):
        out = _maps(set_key(result), result.model_id, i, j, masks, a, b)
    maps = out["maps"]
    same = result.people[i] == result.people[j]
    st.markdown(
        _("**{model}** · **{kind}**, cosine {score:.3f}, {n} masks, {s:.1f} s.").format(
            model=result.model_id,
            kind=_("Genuine") if same else _("Impostor"),
            score=maps.score,
            n=maps.masks,
            s=maps.seconds,
        )
    )
    cols = st.columns(4)
    shown = (
        (a, maps.similar[0], _("A: similar")),
        (b, maps.similar[1], _("B: similar")),
        (a, maps.dissimilar[0], _("A: dissimilar")),
        (b, maps.dissimilar[1], _("B: dissimilar")),
    )
    for col, (face, heat, caption) in zip(cols, shown, strict=True):
        col.image(overlay(face, heat, opacity=0.5), caption=caption, width="stretch")
    st.caption(
        _(
            "Deletion check: blurring each face's most similar pixels first, the pair's score "
            "(over its clean score) has area {mine:.3f} under the curve; in random orders {random:.3f}. "
            "Lower than random: the similar maps point at what the score depends on."
        ).format(mine=out["deletion"], random=out["random"])
    )
