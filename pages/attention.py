"""Attention page: where the model looks, for one face or a pair, with a faithfulness check beside every map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from facedash.errors import FacedashError
from facedash.explain import DEFAULT_LAYER, DEFAULT_METHOD, METHODS, REFERENCE_LAYER
from facedash.explain.analysis import Analysis
from facedash.explain.faithfulness import RANDOMIZATION_BOUND
from facedash.explain.methods import DEFAULT_TARGET, blocks
from facedash.explain.overlay import overlay, png_bytes
from facedash.figures import attention as figs
from facedash.ui import attention as UA
from facedash.ui import camera as CAM
from facedash.ui import howto, state

TARGETS = {
    "centroid": "Similarity to the person's centroid",
    "reference": "Similarity to a second face",
    "top-channel": "Top channel, argmax |embedding| (the blog's reference)",
    "channel": "A channel I pick",
}
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
    st.markdown(f"**{title}** · {e.target} score {e.scores[j]:.3f}")
    c_face, c_map, c_regions, c_deletion = st.columns([1, 1, 1.4, 1.6])
    c_face.image(face, caption="aligned face", width="stretch")
    over = overlay(face, a.heat[j], opacity=opacity)
    c_map.image(over, caption=f"{METHODS[e.method].label}", width="stretch")
    c_map.download_button(
        "Map as PNG",
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
        verdict = (
            "faster than random: faithful"
            if c.auc[j] < c.random_auc[j]
            else "not faster than random: do not trust this map"
        )
        c_deletion.caption(
            f"Deletion AUC {c.auc[j]:.3f} vs random {c.random_auc[j]:.3f}: {verdict}."
        )


def _pickers(result, n: int) -> tuple[list[int], str, str, object]:
    """Face, target (and second face or channel) and an optional photo of one's own."""
    c1, c2, c3 = st.columns([2, 2, 1])
    face = c1.selectbox(
        "Face", range(n), format_func=lambda i: UA.label(result, i), key="attention_face"
    )
    target = c2.selectbox("Explain", list(TARGETS), format_func=TARGETS.get, key="attention_target")
    c3.button(
        "Reference configuration",
        on_click=_reference_configuration,
        key="attention_reference",
        help="Grad-CAM (tf-explain's), layer Block8_6_Conv2d_1x1, top channel: the blog's set-up.",
    )
    faces_idx, spec = [face], target
    if target == "reference":
        other = st.selectbox(
            "Second face",
            range(n),
            index=(face + 1) % n,
            format_func=lambda i: UA.label(result, i),
            key="attention_second",
        )
        faces_idx = [face, other]
    elif target == "channel":
        ch = st.number_input("Channel", 0, result.embeddings.shape[1] - 1, key="attention_channel")
        spec = f"channel:{int(ch)}"
    with CAM.expander("Or explain a photo of your own (replaces the face above)", "attention"):
        upload = CAM.attention_photo(target, "A photo with a face (the largest is explained)")
    return faces_idx, target, spec, upload


def _method_pickers(model_id: str) -> tuple[str, str | None, float]:
    m1, m2, m3 = st.columns([1, 2, 1])
    method = m1.selectbox(
        "Method", list(METHODS), format_func=lambda m: METHODS[m].label, key="attention_method"
    )
    layer_list = blocks(UA.gradient_model(model_id))
    names = [b.name for b in layer_list]
    if st.session_state.get("attention_layer") not in names:
        st.session_state["attention_layer"] = DEFAULT_LAYER
    uses_layer = METHODS[method].uses_layer
    layer = m2.selectbox(
        "Layer",
        names,
        format_func=lambda nm: layer_list[names.index(nm)].label,
        key="attention_layer",
        disabled=not uses_layer,
        help="The network's blocks, input to output, with their output size.",
    )
    opacity = m3.slider("Opacity", 0.0, 1.0, step=0.05, key="attention_opacity")
    if METHODS[method].heavy:
        st.caption("This method runs many model passes per face: allow a few seconds to a minute.")
    return method, layer if uses_layer else None, opacity


def _downloads(a: Analysis, titles: list[str]) -> None:
    st.download_button(
        "Region shares and deletion figures (CSV)",
        pd.DataFrame(a.records(titles)).to_csv(index=False).encode(),
        file_name="attention_regions.csv",
        mime="text/csv",
        key="attention_csv",
    )
    curves = a.curves
    if curves is None:
        return
    long = pd.DataFrame(
        [
            {"face": titles[j], "fraction_deleted": f, "order": order, "score": s}
            for j in range(len(titles))
            for order, ys in (("salient", curves.scores[j]), ("random", curves.random_scores[j]))
            for f, s in zip(curves.fractions, ys, strict=True)
        ]
    )
    st.download_button(
        "Deletion curves (CSV)",
        long.to_csv(index=False).encode(),
        file_name="attention_deletion.csv",
        mime="text/csv",
        key="attention_curves_csv",
    )


def _sanity_check(model_id, method, layer, spec, reference, x: UA.Inputs, a: Analysis, opacity):
    st.subheader("Sanity check: model randomization")
    st.caption(
        f"Shuffles the weights of the top {UA.TOP_BLOCKS} blocks (Bottleneck, Block8_6, Block8_5, "
        "Block8_4) of a copy of the model and explains the same faces again. A map that explains "
        f"the model must change: Spearman rank correlation below {RANDOMIZATION_BOUND:g}."
    )
    if st.button("Run the randomization check", key="attention_randomize"):
        with st.spinner("Explaining with the randomized model ..."):
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
            caption=f"randomized model: ρ = {rho[j]:.2f}",
            width="stretch",
        )
    ok = bool(np.all(rho < RANDOMIZATION_BOUND))
    rc[-1].metric("Spearman ρ (max)", f"{rho.max():.2f}", help=f"bound {RANDOMIZATION_BOUND:g}")
    (rc[-1].success if ok else rc[-1].error)(
        "The map changed: it depends on the model."
        if ok
        else "The map barely changed: it may show the image more than the model."
    )


def _whole_set(result, method: str, layer: str | None, target: str, spec: str) -> None:
    st.subheader("Whole set: average map, all faces and per person")
    if METHODS[method].heavy:
        st.info(
            "The whole-set view uses the gradient methods only (this one is too slow for every face)."
        )
        return
    set_key = (UA.set_crops_key(result), method, layer, target, spec)
    what, note = UA.whole_set_words(len(result.rows))
    if st.button(f"Average over {what}", key="attention_set_run"):
        if target == "reference":
            st.info("With 'a second face' each face is compared with its nearest other face.")
        try:
            avg, recs, faces = UA.whole_set_with_progress(result, method, layer, target, spec)
        except ValueError as exc:
            st.warning(str(exc))
            return
        st.session_state["attention_set"] = (set_key, avg, recs, len(faces))
    held = st.session_state.get("attention_set")
    if held is None or held[0] != set_key:
        st.caption(f"Press the button to explain {what} with the settings above{note}")
        return
    avg, recs = held[1], held[2]
    st.caption(f"Averaged over {held[3]} of the set's {len(result.rows):,} faces{note}")
    st.plotly_chart(
        figs.average_maps_figure(avg["names"], avg["maps"], avg["counts"]),
        key="attention_set_maps",
    )
    st.plotly_chart(
        figs.average_regions_figure(avg["names"], avg["shares"]), key="attention_set_regions"
    )
    table = pd.DataFrame(avg["shares"], columns=["eyes", "nose", "mouth", "other"])
    table.insert(0, "group", avg["names"])
    st.dataframe(table.round(3), hide_index=True, key="attention_set_table")
    st.download_button(
        "Per-face region shares (CSV)",
        pd.DataFrame(recs).to_csv(index=False).encode(),
        file_name="attention_set_regions.csv",
        mime="text/csv",
        key="attention_set_csv",
    )


def main() -> None:
    result = state.page_start(
        "pages/attention.py",
        "Attention",
        howto.ATTENTION,
        min_faces=2,
        too_few="The Attention page needs at least two faces in the set.",
    )
    if result is None:
        return
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)
    faces_idx, target, spec, upload = _pickers(result, len(result.rows))
    method, layer, opacity = _method_pickers(result.model_id)
    try:
        x = CAM.attention_inputs(result, faces_idx, upload)
    except FacedashError as exc:
        st.error(f"{upload.name}: {exc}")
        return
    reference = UA.references(result, target, x)
    try:
        with st.spinner("Explaining ..."):
            a = CAM.explain(x, result.model_id, method, layer, spec, reference)
    except ValueError as exc:
        st.warning(str(exc))
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
    _downloads(a, x.titles)
    _sanity_check(result.model_id, method, layer, spec, reference, x, a, opacity)
    _whole_set(result, method, layer, target, spec)


if __name__ == "__main__":
    state.run_page(main)
