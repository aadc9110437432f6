"""Attention page: where the model looks, for one face or a pair, with a faithfulness check beside every map."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from facedash.errors import FacedashError
from facedash.explain import DEFAULT_LAYER, DEFAULT_METHOD, METHODS, REFERENCE_LAYER, parse_target
from facedash.explain.analysis import Analysis, analyse, set_average
from facedash.explain.crops import aligned_crops, face_from_photo
from facedash.explain.faithfulness import RANDOMIZATION_BOUND, randomized_copy, spearman
from facedash.explain.methods import DEFAULT_TARGET, blocks
from facedash.explain.overlay import overlay, png_bytes
from facedash.explain.regions import aligned_landmarks
from facedash.figures import attention as figs
from facedash.ui import cache, state

TARGETS = {
    "centroid": "Similarity to the person's centroid",
    "reference": "Similarity to a second face",
    "top-channel": "Top channel, argmax |embedding| (the blog's reference)",
    "channel": "A channel I pick",
}
HOW_TO_READ = r"""
**What is explained.** FaceNet maps an aligned face $x$ to a unit vector $e = f(x) \in \mathbb{R}^{128}$.
Every target here is a score linear in $e$: one channel $s = e_c$ (the channel with the largest
$|e_c|$ is the blog's reference), or a cosine similarity $s = e \cdot r / \lVert r \rVert$ to a
second face or to the person's mean embedding. The similarity of a face to *itself* cannot be
explained: $e$ is L2-normalised, so $\nabla_x\, e \cdot e = \nabla_x 1 = 0$.

**Methods.** With $A^k$ the $k$-th feature map of the chosen layer and $g^k = \partial s / \partial A^k$:
- Grad-CAM: $\sum_k \alpha_k A^k$ with $\alpha_k = \frac{1}{Z}\sum_{ij} g^k_{ij}$
  (tf-explain's version keeps only $g>0$ where $A>0$, and no ReLU; it is the reference);
- Grad-CAM++: $\alpha_k = \sum_{ij} a^k_{ij}\,\mathrm{relu}(g^k_{ij})$, $a = \frac{g^2}{2g^2 + \sum A\, g^3}$;
- HiResCAM: $\mathrm{relu}(\sum_k g^k \odot A^k)$; LayerCAM: $\mathrm{relu}(\sum_k \mathrm{relu}(g^k) \odot A^k)$;
- Occlusion: the drop $s(x) - s(x_{\text{patch greyed}})$, averaged over the patches covering a pixel;
- SmoothGrad: $\sum_c |\frac{1}{n}\sum_i \nabla s(x + \varepsilon_i)|$; Integrated Gradients:
  $|\sum_c x_c \cdot \frac{1}{m}\sum_k \nabla s(\tfrac{k}{m} x)|$ from the mean-grey image.

Deep layers (Block8, 3×3) are coarse; earlier ones (Block17 8×8, Block35 17×17) are finer.

**How to read the charts.** The heat is min-max scaled (red = most). *Regions*: the share of the
map's mass on the eyes, nose and mouth (discs and capsules around the five landmarks) and the rest
of the crop, beside each region's share of the area: a region matters if its mass share is well
above its area share. *Deletion curve*: pixels are greyed out most-salient first; if the map is
faithful the score falls faster than for a random order, so its area under the curve (AUC) is
smaller. *Randomization check*: the top blocks of the network are shuffled; a map that explains
the model must change (Spearman rank correlation below the bound).
"""


def _init() -> None:
    defaults = {
        "attention_method": DEFAULT_METHOD,
        "attention_layer": DEFAULT_LAYER,
        "attention_target": DEFAULT_TARGET,
        "attention_channel": 0,
        "attention_opacity": 0.5,
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def _reference_configuration() -> None:
    st.session_state["attention_method"] = "gradcam"
    st.session_state["attention_layer"] = REFERENCE_LAYER
    st.session_state["attention_target"] = "top-channel"


@st.cache_data(show_spinner=False, max_entries=4)
def _crops(key: tuple, _dataset: Any, _rows: list, margin: float, rotate: bool) -> np.ndarray:
    from facedash.detect import AlignSettings

    return aligned_crops(_dataset, _rows, AlignSettings(margin=margin, rotate=rotate))


@st.cache_data(show_spinner=False, max_entries=64)
def _analyse(
    model_id: str,
    faces: np.ndarray,
    landmarks: np.ndarray,
    method: str,
    layer: str | None,
    target: str,
    reference: np.ndarray | None,
    deletion: bool = True,
) -> Analysis:
    model = cache.model(model_id).model  # type: ignore[attr-defined]
    tgt = parse_target(target, reference=reference, centroid=reference)
    return analyse(
        model, faces, landmarks, method=method, layer=layer, target=tgt, deletion=deletion
    )


@st.cache_data(show_spinner="Finding the face ...", max_entries=8)
def _own_face(
    data: bytes, model_id: str, margin: float, rotate: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from facedash.detect import AlignSettings, DetectorSettings

    settings = AlignSettings(margin=margin, rotate=rotate)
    _, face, crop = face_from_photo(data, cache.detector(DetectorSettings()), settings)
    lms = aligned_landmarks(face, crop.shape[0], margin=margin, rotate=rotate)
    return crop, lms, cache.model(model_id).embed(crop[None])[0]


@st.cache_resource(show_spinner="Shuffling the top blocks of a copy of the model ...")
def _randomized(model_id: str) -> Any:
    return randomized_copy(cache.model(model_id).model, top_blocks=4)  # type: ignore[attr-defined]


def _label(result: Any, i: int) -> str:
    row = result.rows[i]
    return f"{row.person} · {row.name}"


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


def main() -> None:
    result = state.page_start(
        "pages/attention.py",
        "Attention",
        HOW_TO_READ,
        min_faces=2,
        too_few="The Attention page needs at least two faces in the set.",
    )
    if result is None:
        return
    dataset = state.current_dataset()
    model_id, align = state.settings()
    _init()
    model = cache.model(model_id).model  # type: ignore[attr-defined]
    people = result.people
    n = len(result.rows)

    # -- pickers ----------------------------------------------------------------------------
    c1, c2, c3 = st.columns([2, 2, 1])
    face = c1.selectbox(
        "Face", range(n), format_func=lambda i: _label(result, i), key="attention_face"
    )
    target = c2.selectbox("Explain", list(TARGETS), format_func=TARGETS.get, key="attention_target")
    c3.button(
        "Reference configuration",
        on_click=_reference_configuration,
        key="attention_reference",
        help="Grad-CAM (tf-explain's), layer Block8_6_Conv2d_1x1, top channel: the blog's set-up.",
    )
    faces_idx = [face]
    spec = target
    if target == "reference":
        other = st.selectbox(
            "Second face",
            range(n),
            index=(face + 1) % n,
            format_func=lambda i: _label(result, i),
            key="attention_second",
        )
        faces_idx = [face, other]
    elif target == "channel":
        ch = st.number_input("Channel", 0, result.embeddings.shape[1] - 1, key="attention_channel")
        spec = f"channel:{int(ch)}"
    with st.expander("Or explain a photo of your own (replaces the face above)"):
        upload = st.file_uploader(
            "A photo with a face (the largest is explained)",
            type=["jpg", "jpeg", "png", "webp", "bmp"],
            key="attention_upload",
        )
    m1, m2, m3 = st.columns([1, 2, 1])
    method = m1.selectbox(
        "Method", list(METHODS), format_func=lambda m: METHODS[m].label, key="attention_method"
    )
    layer_list = blocks(model)
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

    # -- the maps ---------------------------------------------------------------------------
    crops = _crops(
        (dataset.fingerprint(), result.align_key), dataset, result.rows, align.margin, align.rotate
    )
    faces = crops[faces_idx]
    lms = np.stack(
        [
            aligned_landmarks(
                result.rows[i], crops.shape[1], margin=align.margin, rotate=align.rotate
            )
            for i in faces_idx
        ]
    )
    embs = result.embeddings[faces_idx]
    titles = [_label(result, i) for i in faces_idx]
    persons = [people[i] for i in faces_idx]
    if upload is not None:
        try:
            own = _own_face(upload.getvalue(), model_id, align.margin, align.rotate)
        except FacedashError as exc:
            st.error(f"{upload.name}: {exc}")
            return
        faces, lms, embs = faces.copy(), lms.copy(), embs.copy()
        faces[0], lms[0], embs[0] = own
        centroids = {p: result.embeddings[people == p].mean(axis=0) for p in set(people)}
        persons[0] = max(centroids, key=lambda p: float(centroids[p] @ own[2]))
        titles[0] = f"{upload.name} (nearest person: {persons[0]})"
    reference: np.ndarray | None = None
    if target == "reference":
        reference = embs[::-1]
    elif target == "centroid":
        reference = np.stack([result.embeddings[people == p].mean(axis=0) for p in persons])
    try:
        with st.spinner("Explaining ..."):
            a = _analyse(
                model_id, faces, lms, method, layer if uses_layer else None, spec, reference
            )
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
        _face_panel(titles[j], faces[j], a, j, opacity)
    records = pd.DataFrame(a.records(titles))
    curves = a.curves
    st.download_button(
        "Region shares and deletion figures (CSV)",
        records.to_csv(index=False).encode(),
        file_name="attention_regions.csv",
        mime="text/csv",
        key="attention_csv",
    )
    if curves is not None:
        long = pd.DataFrame(
            [
                {"face": titles[j], "fraction_deleted": f, "order": order, "score": s}
                for j in range(len(titles))
                for order, ys in (
                    ("salient", curves.scores[j]),
                    ("random", curves.random_scores[j]),
                )
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

    # -- sanity check -----------------------------------------------------------------------
    st.subheader("Sanity check: model randomization")
    st.caption(
        "Shuffles the weights of the top 4 blocks (Bottleneck, Block8_6, Block8_5, Block8_4) of a "
        "copy of the model and explains the same faces again. A map that explains the model must "
        f"change: Spearman rank correlation below {RANDOMIZATION_BOUND:g}."
    )
    if st.button("Run the randomization check", key="attention_randomize"):
        rmodel = _randomized(model_id)
        tgt = parse_target(spec, reference=reference, centroid=reference)
        from facedash.explain.analysis import heat_of
        from facedash.explain.methods import make

        with st.spinner("Explaining with the randomized model ..."):
            er = make(method, rmodel, layer=layer if uses_layer else None).explain(faces, tgt)
        rho = spearman(a.heat, heat_of(er.maps))
        st.session_state["attention_random_result"] = (heat_of(er.maps), rho)
    held = st.session_state.get("attention_random_result")
    if held is not None and len(held[1]) == len(faces_idx):
        rheat, rho = held
        rc = st.columns(len(faces_idx) + 1)
        for j in range(len(faces_idx)):
            rc[j].image(
                overlay(faces[j], rheat[j], opacity=opacity),
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

    # -- whole set --------------------------------------------------------------------------
    st.subheader("Whole set: average map, all faces and per person")
    if METHODS[method].heavy:
        st.info(
            "The whole-set view uses the gradient methods only (this one is too slow for every face)."
        )
        return
    set_key = (dataset.fingerprint(), result.align_key, method, layer, target, spec)
    if st.button("Average over every face", key="attention_set_run"):
        all_lms = np.stack(
            [
                aligned_landmarks(r, crops.shape[1], margin=align.margin, rotate=align.rotate)
                for r in result.rows
            ]
        )
        if target == "reference":
            st.info("With 'a second face' each face is compared with its nearest other face.")
            sims = result.embeddings @ result.embeddings.T
            np.fill_diagonal(sims, -np.inf)
            ref = result.embeddings[sims.argmax(axis=1)]
        elif target == "centroid":
            ref = np.stack([result.embeddings[people == p].mean(axis=0) for p in people])
        else:
            ref = None
        with st.spinner(f"Explaining {n} faces ..."):
            try:
                s = _analyse(
                    model_id,
                    crops,
                    all_lms,
                    method,
                    layer if uses_layer else None,
                    spec,
                    ref,
                    deletion=False,
                )
            except ValueError as exc:
                st.warning(str(exc))
                return
        st.session_state["attention_set"] = (
            set_key,
            set_average(s.heat, all_lms, people),
            s.records(list(result.names)),
        )
    held_set = st.session_state.get("attention_set")
    if held_set is not None and held_set[0] == set_key:
        avg, recs = held_set[1], held_set[2]
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
    else:
        st.caption("Press the button to explain every face with the settings above.")


if __name__ == "__main__":
    state.run_page(main)
