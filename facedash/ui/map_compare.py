"""Two models' maps side by side on the Embedding map page (the sidebar's "Compare with").

The second model embeds the same set (same detector and face settings); both are projected
with the page's settings, and the second map is turned onto the first by orthogonal
Procrustes over the faces both embedded (``facedash.projection.align``), so a person sits in
the same place on both. Selecting faces on either map (a click, a box or a lasso) marks them
on both; Streamlit sends selections back, not hovers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from facedash import projection as P
from facedash.figures import embedding_map as F
from facedash.i18n import _
from facedash.ui import embedding_map as UM
from facedash.ui import state
from facedash.ui.compare import NONE
from facedash.verification.compare import face_keys, shared_rows


def section(result: Any, first: P.Projection, opts: dict[str, Any], params: list[Any]) -> None:
    """The two maps, when the sidebar names a second model (nothing otherwise)."""
    second = state.compare_model()
    if second == NONE or second == result.model_id:
        return
    st.subheader(_("{a} beside {b}").format(a=result.model_id, b=second))
    other = state.embedding_set(second, slot="map_other")
    if other is None:
        return
    ia, ib = shared_rows(face_keys(result), face_keys(other))
    if len(ia) < 5:
        st.info(_("The two models share fewer than five faces of this set: no second map."))
        return
    try:
        proj = UM.projection(UM.set_key(other) + ":shared", other.embeddings[ib], *params)
    except ValueError as exc:
        st.error(str(exc))
        return
    dims = opts["dims"]
    turned = P.procrustes(first.coords[ia, :dims], proj.coords[:, :dims])
    names, people = result.names[ia], result.people[ia]
    picked = set()
    for chart in ("embedding_map_cmp_a", "embedding_map_cmp_b"):
        picked.update(P.selected_indices(st.session_state.get(chart), len(ia)))
    marks = sorted(picked)
    maps = (first.coords[ia, :dims], turned.coords)
    titles = (
        result.model_id,
        _("{model}, turned onto {first}").format(model=second, first=result.model_id),
    )
    for col, xy, title, chart in zip(
        st.columns(2), maps, titles, ("embedding_map_cmp_a", "embedding_map_cmp_b"), strict=True
    ):
        fig = F.face_map(
            np.asarray(xy),
            names=names,
            people=people,
            selected=marks,
            method=opts["method"],
            title=title,
        )
        col.plotly_chart(
            fig, key=chart, on_select="rerun", selection_mode=("points", "box", "lasso")
        )
    st.caption(
        _(
            "{n} faces both models embedded. The second map is rotated (or mirrored), scaled and "
            "shifted to fit the first as closely as it can (orthogonal Procrustes); the distance "
            "left is {d:.0%} of the first map's spread. Faces selected on either map are marked on "
            "both."
        ).format(n=len(ia), d=turned.disparity)
    )
