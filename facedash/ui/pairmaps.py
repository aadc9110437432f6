"""The Attention page's pair maps of both signs (CorrRISE, xSSAB), and their yardsticks over many pairs.

Two faces of the set. CorrRISE (``facedash.explain.corrrise``, every model) covers both with
random masks and correlates each pixel's being kept with the pair's cosine; xSSAB
(``facedash.explain.pairs``, models with gradients) backpropagates the cosine's positive and
negative arguments. Four maps: what makes the pair similar and what makes it dissimilar, on
each face. For an impostor pair, the similar maps show which regions still argue "same
person". Computed once per pair, method, model and mask count (cached for the server), with
its deletion check beside it; with "Compare with", the second model's four maps of the same
two faces below.

``study_panel`` judges the methods over a seeded sample of the set's pairs: decision flips at
the threshold, deletion and insertion areas, ms per pair and the randomization check
(``facedash.explain.flips``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from facedash.data.images import decode_jpeg
from facedash.explain.corrrise import deletion_aucs
from facedash.explain.overlay import overlay
from facedash.explain.pairs import pair_maps
from facedash.i18n import _
from facedash.ui import cache, state
from facedash.ui.compare import NONE
from facedash.ui.keys import set_key
from facedash.verification.compare import face_keys, shared_rows

MASKS = (200, 300, 500)
METHOD_NAMES = {"corrrise": "CorrRISE", "xssab": "xSSAB"}


def methods_for(model_id: str) -> list[str]:
    """The pair methods a model allows: CorrRISE always, xSSAB where it gives gradients."""
    from facedash.ui.attention import unexplainable

    return ["corrrise"] + (["xssab"] if unexplainable(model_id) is None else [])


@st.cache_data(show_spinner=False, max_entries=32)
def _maps(
    key: str,
    model_id: str,
    method: str,
    i: int,
    j: int,
    masks: int,
    _a: np.ndarray,
    _b: np.ndarray,
) -> dict[str, Any]:
    embedder = cache.model(model_id)
    maps = pair_maps(
        method, _a, _b, embed=embedder.embed, model=getattr(embedder, "model", None), masks=masks
    )
    mine, random = deletion_aucs(embedder.embed, _a, _b, maps.similar)
    return {"maps": maps, "deletion": mine, "random": random}


def panel(result: Any, label: Any) -> None:
    """Pick a pair and a method; draw its four maps and the deletion check."""
    st.subheader(_("Pair maps of both signs (CorrRISE, xSSAB)"))
    st.caption(
        _(
            "CorrRISE is black-box: only the model's forward passes are used, so every model gets "
            "it. Both faces are covered by random masks (the hidden parts blurred); a pixel's value "
            "is the correlation, over the draws, between its being kept and the pair's cosine. "
            "xSSAB, for models with gradients, splits the cosine into the dimensions that argue "
            '"same person" and those that argue "different people", and backpropagates each '
            "sum to the faces. Red on a similar map: keeping that part makes the pair more alike; "
            "on a dissimilar map: less alike."
        )
    )
    n = len(result.rows)
    c1, c2, c3, c4 = st.columns([3, 3, 1, 1])
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
    masks = c3.selectbox(
        _("Masks"),
        MASKS,
        key="pairmaps_masks",
        disabled=st.session_state.get("pairmaps_method") == "xssab",  # CorrRISE's only
    )
    allowed = methods_for(result.model_id)
    if st.session_state.get("pairmaps_method") not in allowed:
        st.session_state["pairmaps_method"] = allowed[0]
    method: str = c4.selectbox(
        _("Method"),
        allowed,
        format_func=lambda m: METHOD_NAMES[m],
        key="pairmaps_method",
        help=_("xSSAB needs the model's gradients; CorrRISE only its forward passes."),
    )
    if i == j:
        st.info(_("Choose two different faces."))
        return
    if not st.toggle(
        _("Compute the pair maps"),
        key="pairmaps_on",
        help=_("Runs the model on every masked copy: a few seconds to a minute."),
    ):
        return
    _one_model(result, str(method), int(i), int(j), int(masks))
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
    other_method = method if method in methods_for(second) else "corrrise"
    _one_model(other, other_method, oi, oj, int(masks))


def _one_model(result: Any, method: str, i: int, j: int, masks: int) -> None:
    """The four maps of the pair (``i``, ``j``) under the set's model, and its deletion check."""
    a, b = decode_jpeg(result.thumbs[i]), decode_jpeg(result.thumbs[j])
    with st.spinner(
        _("{method}: {n} masked pairs ...").format(method=METHOD_NAMES[method], n=masks)
    ):
        out = _maps(set_key(result), result.model_id, method, i, j, masks, a, b)
    maps = out["maps"]
    same = result.people[i] == result.people[j]
    how = (
        _("{n} masks").format(n=maps.masks)
        if method == "corrrise"
        else _("its positive and negative arguments backpropagated")
    )
    st.markdown(
        _("**{model}** · {method} · **{kind}**, cosine {score:.3f}, {how}, {s:.1f} s.").format(
            model=result.model_id,
            method=METHOD_NAMES[method],
            kind=_("Genuine") if same else _("Impostor"),
            score=maps.score,
            how=how,
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
        shown_heat = np.clip(heat, 0, None)  # xSSAB's maps keep their sign: the part that argues
        col.image(overlay(face, shown_heat, opacity=0.5), caption=caption, width="stretch")
    st.caption(
        _(
            "Deletion check: blurring each face's most similar pixels first, the pair's score "
            "(over its clean score) has area {mine:.3f} under the curve; in random orders {random:.3f}. "
            "Lower than random: the similar maps point at what the score depends on."
        ).format(mine=out["deletion"], random=out["random"])
    )


STUDY_METHODS = {"xssab": "xSSAB", "gradcam": "Grad-CAM", "corrrise": "CorrRISE"}
STUDY_SAMPLES = (5, 10, 20, 50)


def study_panel(result: Any) -> None:
    """The pair methods judged over a seeded sample of the set's pairs (``facedash.explain.flips``)."""
    from facedash.explain.faithfulness import RANDOMIZATION_BOUND
    from facedash.explain.flips import KS, study
    from facedash.ui.attention import randomized, unexplainable
    from facedash.ui.live import threshold_for

    st.subheader(_("Are the pair maps faithful to the decision? (decision flips)"))
    st.markdown(
        _(
            "For each pair of a seeded sample, the top $k$ % of each face's own map is replaced "
            "by the blurred face. A **flip**: a genuine pair accepted before ($s \\ge t$) is "
            "rejected after (with the similar maps), or an impostor pair rejected before is "
            "accepted after (with the dissimilar maps). Random pixels are the reference: a map "
            "that flips decisions faster than random pixels points at what the *decision* rests "
            "on, not only at what moves the score. **Deletion** blurs each face's pixels most "
            "important first and takes the area under the pair's score, over its own clean "
            "score (lower is better); **insertion** restores them into the blurred faces "
            "(higher is better). The randomization check compares each method's maps with those "
            "of a copy of the model whose top blocks are shuffled: ρ below {bound:g} means the "
            "maps depend on what the model learned."
        ).format(bound=RANDOMIZATION_BOUND)
    )
    gradients = unexplainable(result.model_id) is None
    offered = [m for m in STUDY_METHODS if gradients or m == "corrrise"]
    c1, c2 = st.columns([3, 1])
    methods = c1.multiselect(
        _("Methods"),
        offered,
        default=offered,
        format_func=lambda m: STUDY_METHODS[m],
        key="pairstudy_methods",
    )
    sample = c2.selectbox(_("Pairs of each kind"), STUDY_SAMPLES, index=1, key="pairstudy_sample")
    threshold, source = threshold_for(result)
    st.caption(_("Threshold {t:.4f}: {source}.").format(t=threshold, source=source))
    run_key = (set_key(result), tuple(methods), int(sample), round(threshold, 6))
    if st.button(_("Measure the methods"), key="pairstudy_run", disabled=not methods):
        bar = st.progress(0.0)

        def report(method: str, done: int, total: int) -> None:
            bar.progress(
                done / max(total, 1),
                text=_("{method}: {done}/{total} pairs").format(
                    method=STUDY_METHODS[method], done=done, total=total
                ),
            )

        out = study(
            result,
            methods,
            cache.model(result.model_id),
            sample=int(sample),
            threshold=threshold,
            masks=MASKS[0],
            randomized=randomized(result.model_id) if gradients else None,
            progress=report,
        )
        bar.empty()
        st.session_state["pairstudy"] = (run_key, out)
    held = st.session_state.get("pairstudy")
    if held is None or held[0] != run_key:
        return
    out = held[1]
    rows = []
    for name, f in out.methods.items():
        rho = f.randomization
        rows.append(
            {
                _("method"): STUDY_METHODS[name],
                _("flips at 10 %"): f"{f.flip['10']:.2f} ({f.random_flip['10']:.2f})",
                _("flips at 20 %"): f"{f.flip['20']:.2f} ({f.random_flip['20']:.2f})",
                _("impostor flips at 20 %"): (
                    f"{f.impostor_flip['20']:.2f} ({f.random_impostor_flip['20']:.2f})"
                    if f.impostor_flip
                    else "—"
                ),
                _("deletion AUC"): f"{f.deletion_auc:.3f} ({f.random_deletion_auc:.3f})",
                _("insertion AUC"): round(f.insertion_auc, 3),
                _("ms per pair"): round(f.ms_per_pair),
                _("randomization ρ"): "—" if rho is None else f"{rho:.2f}",
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="pairstudy_table")
    st.caption(
        _(
            "{genuine} genuine and {impostor} impostor pairs (seed {seed}); random pixels in "
            "brackets; flips at every k ({ks} %) in the JSON of `facedash explain-pairs`."
        ).format(
            genuine=out.genuine,
            impostor=out.impostor,
            seed=out.seed,
            ks=", ".join(str(k) for k in KS),
        )
    )
