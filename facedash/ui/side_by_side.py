"""Attention with "Compare with": the same faces, method and target under the second model, beside the first.

Both models must give gradients (FaceNet, or a Keras model taking NHWC input); the second
model's layer is the first's where it has one of that name, else its own default. A second
model without gradients is pointed to the pair maps (CorrRISE), which draw both models.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from facedash.explain.overlay import overlay
from facedash.i18n import _
from facedash.ui import attention as UA
from facedash.ui import camera as CAM
from facedash.ui import state
from facedash.ui.compare import NONE


def panel(
    result: Any,
    faces_idx: list[int],
    choice: tuple,
    x: UA.Inputs,
    a: Any,
    opacity: float,
    upload: Any,
) -> None:
    """With "Compare with": the same faces, method and target under the second model, beside the first."""
    second = state.compare_model()
    if second in (NONE, result.model_id):
        return
    method, layer, target, spec = choice
    st.subheader(
        _("Side by side: {first} and {second}").format(first=result.model_id, second=second)
    )
    why_not = UA.unexplainable(second)
    if why_not:
        st.info(
            _(
                "{model} gives no gradients, so it cannot be shown with {method}: the pair maps "
                "below (CorrRISE) draw both models with one black-box method."
            ).format(model=second, method=UA.method_label(method))
        )
        return
    if upload is not None:
        st.info(_("A photo of your own is explained by the first model only."))
        return
    other = state.embedding_set(second, slot="attention_other")
    if other is None:
        return
    rows = UA.matched(result, other, faces_idx)
    other_spec = UA.compare_spec(spec, other.embeddings.shape[1])
    if rows is None or other_spec is None:
        st.info(
            _("{model} has not embedded these faces.").format(model=second)
            if rows is None
            else _("{model} has no such channel.").format(model=second)
        )
        return
    layer2 = UA.compare_layer(second, layer)
    x2 = UA.inputs(other, rows)
    with st.spinner(_("Explaining with {model} ...").format(model=second)):
        a2 = CAM.explain(x2, second, method, layer2, other_spec, UA.references(other, target, x2))
    st.caption(
        _(
            "One method ({method}), one target, the same faces. Layers: {first} for "
            "{first_model}, {second} for {second_model}. Where the two maps differ, the models "
            "rest their similarity on different parts of the face."
        ).format(
            method=UA.method_label(method),
            first=layer or "—",
            second=layer2 or "—",
            first_model=result.model_id,
            second_model=second,
        )
    )
    for j in range(len(faces_idx)):
        cols = st.columns(3)
        cols[0].image(x.faces[j], caption=x.titles[j], width="stretch")
        for col, (model, an, faces) in zip(
            cols[1:], ((result.model_id, a, x.faces), (second, a2, x2.faces)), strict=True
        ):
            col.image(
                overlay(faces[j], an.heat[j], opacity=opacity),
                caption=UA.compare_caption(model, an, j),
                width="stretch",
            )
