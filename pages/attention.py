"""Attention page: where the model looks, for one face or a pair, with a faithfulness check beside every map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from facedash.errors import FacedashError
from facedash.explain import DEFAULT_LAYER, DEFAULT_METHOD, METHODS, REFERENCE_LAYER
from facedash.explain.analysis import Analysis
from facedash.explain.faithfulness import RANDOMIZATION_BOUND
from facedash.explain.methods import DEFAULT_TARGET
from facedash.explain.overlay import overlay, png_bytes
from facedash.figures import attention as figs
from facedash.i18n import _
from facedash.ui import attention as UA
from facedash.ui import camera as CAM
from facedash.ui import howto, state
from facedash.ui import pairmaps as UPM
from facedash.ui import side_by_side as UAS

TARGETS = UA.TARGETS
DEFAULTS = {
    "attention_method": DEFAULT_METHOD,
    "attention_layer": DEFAULT_LAYER,
    "attention_target": DEFAULT_TARGET,
    "attention_channel": 0,
    "attention_opacity": 0.5,
}


def _reference_configuration() -> None:
    st.session_state["attention_method"] = "gradcam"
    st.session_state["attention_layer"] = REFERENCE_LAYER
    st.session_state["attention_target"] = "top-channel"


def _face_panel(title: str, face: np.ndarray, a: Analysis, j: int, opacity: float) -> None:
    """One row: the face, its map, the region shares and the deletion curve side by side."""
    e = a.explanation
    st.markdown(UA.panel_heading(title, e.target, e.scores[j]))
    c_face, c_map, c_regions, c_deletion = st.columns([1, 1, 1.4, 1.6])
    c_face.image(face, caption=_("aligned face"), width="stretch")
    over = overlay(face, a.heat[j], opacity=opacity)
    c_map.image(over, caption=UA.method_label(e.method), width="stretch")
    c_map.download_button(
        _("Map as PNG"),
        png_bytes(over),
        file_name=f"attention_{j + 1}.png",
        mime="image/png",
        key=f"attention_png_{j}",
    )
    c_regions.plotly_chart(
        figs.region_figure(a.shares[j], a.areas[j]), key=f"attention_regions_{j}"
    )
    if a.curves is not None:
        c = a.curves
        c_deletion.plotly_chart(
            figs.deletion_figure(
                c.fractions,
                c.scores[j],
                c.random_scores[j],
                c.auc[j],
                c.random_auc[j],
                score_label=e.target,
            ),
            key=f"attention_deletion_{j}",
        )
        c_deletion.caption(UA.deletion_note(c.auc[j], c.random_auc[j]))


def _pickers(result, n: int) -> tuple[list[int], str, str, object]:
    """Face, target (and second face or channel) and an optional photo of one's own."""
    c1, c2, c3 = st.columns([2, 2, 1])
    face = c1.selectbox(
        _("Face"), range(n), format_func=lambda i: UA.label(result, i), key="attention_face"
    )
    target = c2.selectbox(
        _("Explain"), list(TARGETS), format_func=lambda t: _(TARGETS[t]), key="attention_target"
    )
    c3.button(
        _("Reference configuration"),
        on_click=_reference_configuration,
        key="attention_reference",
        help=_(
            "Grad-CAM (tf-explain's), layer Block8_6_Conv2d_1x1, top channel: the blog's set-up."
        ),
    )
    faces_idx, spec = [face], target
    if target == "reference":
        other = st.selectbox(
            _("Second face"),
            range(n),
            index=(face + 1) % n,
            format_func=lambda i: UA.label(result, i),
            key="attention_second",
        )
        faces_idx = [face, other]
    elif target == "channel":
        ch = st.number_input(
            _("Channel"), 0, result.embeddings.shape[1] - 1, key="attention_channel"
        )
        spec = f"channel:{int(ch)}"
    with CAM.expander(_("Or explain a photo of your own (it replaces a face above)"), "attention"):
        upload = CAM.attention_photo(target, _("A photo with a face (the largest is explained)"))
    return faces_idx, target, spec, upload


def _method_pickers(model_id: str) -> tuple[str, str | None, float]:
    m1, m2, m3 = st.columns([1, 2, 1])
    method = m1.selectbox(
        _("Method"), list(METHODS), format_func=UA.method_label, key="attention_method"
    )
    layer_list, default = UA.layer_names(model_id)
    names = [b.name for b in layer_list]
    if st.session_state.get("attention_layer") not in names:
        st.session_state["attention_layer"] = default
    uses_layer = METHODS[method].uses_layer
    layer = m2.selectbox(
        _("Layer"),
        names,
        format_func=lambda nm: layer_list[names.index(nm)].label,
        key="attention_layer",
        disabled=not uses_layer,
        help=_("The network's blocks, input to output, with their output size."),
    )
    opacity = m3.slider(_("Opacity"), 0.0, 1.0, step=0.05, key="attention_opacity")
    if METHODS[method].heavy:
        st.caption(
            _("This method runs many model passes per face: allow a few seconds to a minute.")
        )
    return method, layer if uses_layer else None, opacity


def _downloads(a: Analysis, titles: list[str]) -> None:
    st.download_button(
        _("Region shares and deletion figures (CSV)"),
        pd.DataFrame(a.records(titles)).to_csv(index=False).encode(),
        file_name="attention_regions.csv",
        mime="text/csv",
        key="attention_csv",
    )
    curves = a.curves
    if curves is None:
        return
    st.download_button(
        _("Deletion curves (CSV)"),
        UA.deletion_csv(curves, titles),
        file_name="attention_deletion.csv",
        mime="text/csv",
        key="attention_curves_csv",
    )


def _sanity_check(model_id, method, layer, spec, reference, x: UA.Inputs, a: Analysis, opacity):
    st.subheader(_("Sanity check: model randomization"))
    st.caption(UA.randomization_note())
    if st.button(_("Run the randomization check"), key="attention_randomize"):
        with st.spinner(_("Explaining with the randomized model ...")):
            st.session_state["attention_random_result"] = UA.randomization(
                model_id, method, layer, spec, reference, x.faces, a.heat
            )
    held = st.session_state.get("attention_random_result")
    if held is None or len(held[1]) != len(x.faces):
        return
    rheat, rho = held
    rc = st.columns(len(x.faces) + 1)
    for j in range(len(x.faces)):
        rc[j].image(
            overlay(x.faces[j], rheat[j], opacity=opacity),
            caption=_("randomized model: ρ = {rho:.2f}").format(rho=rho[j]),
            width="stretch",
        )
    ok = bool(np.all(rho < RANDOMIZATION_BOUND))
    rc[-1].metric(
        _("Spearman ρ (max)"),
        f"{rho.max():.2f}",
        help=_("bound {bound:g}").format(bound=RANDOMIZATION_BOUND),
    )
    (rc[-1].success if ok else rc[-1].error)(
        _("The map changed: it depends on the model.")
        if ok
        else _("The map barely changed: it may show the image more than the model.")
    )


def _whole_set(result, method: str, layer: str | None, target: str, spec: str) -> None:
    st.subheader(_("Whole set: average map, all faces and per person"))
    if METHODS[method].heavy:
        st.info(
            _(
                "The whole-set view uses the gradient methods only (this one is too slow for "
                "every face)."
            )
        )
        return
    set_key = (UA.set_crops_key(result), method, layer, target, spec)
    what, note = UA.whole_set_words(len(result.rows))
    if st.button(_("Average over {what}").format(what=what), key="attention_set_run"):
        if target == "reference":
            st.info(_("With 'a second face' each face is compared with its nearest other face."))
        try:
            avg, recs, faces = UA.whole_set_with_progress(result, method, layer, target, spec)
        except ValueError as exc:
            st.warning(UA.error_text(exc))
            return
        st.session_state["attention_set"] = (set_key, avg, recs, len(faces))
    held = st.session_state.get("attention_set")
    if held is None or held[0] != set_key:
        st.caption(
            _("Press the button to explain {what} with the settings above{note}").format(
                what=what, note=note
            )
        )
        return
    avg, recs = held[1], held[2]
    st.caption(
        _("Averaged over {done} of the set's {n:,} faces{note}").format(
            done=held[3], n=len(result.rows), note=note
        )
    )
    names = UA.group_names(avg["names"])
    st.plotly_chart(
        figs.average_maps_figure(names, avg["maps"], avg["counts"]),
        key="attention_set_maps",
    )
    st.plotly_chart(figs.average_regions_figure(names, avg["shares"]), key="attention_set_regions")
    st.dataframe(
        UA.shares_table(names, avg["shares"]).round(3), hide_index=True, key="attention_set_table"
    )
    st.download_button(
        _("Per-face region shares (CSV)"),
        pd.DataFrame(recs).to_csv(index=False).encode(),
        file_name="attention_set_regions.csv",
        mime="text/csv",
        key="attention_set_csv",
    )


def main() -> None:
    state.page_shell("pages/attention.py")  # the language first: the texts below are made in it
    result = state.page_start(
        "pages/attention.py",
        _("Attention"),
        howto.ATTENTION,
        min_faces=2,
        too_few=_("The Attention page needs at least two faces in the set."),
    )
    if result is None:
        return
    why_not = UA.unexplainable(result.model_id)
    if why_not:
        st.info(why_not)
        UPM.panel(result, UA.label)
        UPM.study_panel(result)
        return
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)
    faces_idx, target, spec, upload = _pickers(result, len(result.rows))
    method, layer, opacity = _method_pickers(result.model_id)
    try:
        x = CAM.attention_inputs(result, faces_idx, upload)
    except FacedashError as exc:
        st.error(f"{upload.name}: {UA.error_text(exc)}")
        return
    reference = UA.references(result, target, x)
    try:
        with st.spinner(_("Explaining ...")):
            a = CAM.explain(x, result.model_id, method, layer, spec, reference)
    except ValueError as exc:
        st.warning(UA.error_text(exc))
        return
    st.session_state["attention_last"] = {
        "method": a.explanation.method,
        "layer": a.explanation.layer,
        "target": a.explanation.target,
        "faces": list(faces_idx),
        "scores": [float(v) for v in a.explanation.scores],
        "shares": a.shares.tolist(),
    }
    for j in range(len(faces_idx)):
        _face_panel(x.titles[j], x.faces[j], a, j, opacity)
    UAS.panel(result, faces_idx, (method, layer, target, spec), x, a, opacity, upload)
    _downloads(a, x.titles)
    _sanity_check(result.model_id, method, layer, spec, reference, x, a, opacity)
    _whole_set(result, method, layer, target, spec)
    UPM.panel(result, UA.label)
    UPM.study_panel(result)


if __name__ == "__main__":
    state.run_page(main)
