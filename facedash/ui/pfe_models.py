"""The Uncertainty page's per-model parts: which features a head reads, and σ² against σ².

Every model has its own head (``facedash.pfe.saved``). A model without one gets an info line
and the page's Train button trains one for it (FaceNet's stays). With "Compare with" set and
both models with heads, ``compare_section`` puts each face's confidence under one model
against the other's (``facedash.pfe.compare``; the figure ``facedash.figures.pfe_compare``);
when the compared model has none, one info line says so and offers to train it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from facedash.figures import pfe_compare
from facedash.i18n import _
from facedash.pfe.saved import FACENET
from facedash.ui import pfe as pfe_ui
from facedash.ui import state


def features_line(record: dict[str, Any]) -> str:
    """Which features the head reads, from its record (a record without ``features`` is FaceNet's)."""
    f = record.get("features") or {"kind": "pooled", "layer": "AvgPool", "dim": 1792}
    model, layer, dim = record.get("model_id", FACENET), f.get("layer", ""), f.get("dim", 0)
    if f["kind"] == "embedding":
        text = _(
            "The head reads {model}'s own embedding before L2 normalisation ({dim}-d): all this "
            "model shows of its inside (a model on ONNX Runtime, OpenVINO or TensorFlow is a black "
            "box here), plus ONet's face logit. Where the model normalises inside itself, the norm "
            "says nothing, and the head has less to go on than a head on pooled features."
        )
    elif f["kind"] == "dense-input":
        text = _(
            "The head reads the input of {model}'s last Dense layer {layer} ({dim}-d), plus "
            "ONet's face logit."
        )
    else:
        text = _(
            "The head reads {model}'s pooled features at {layer} ({dim}-d, the input of its "
            "embedding layers), plus ONet's face logit."
        )
    return text.format(model=model, layer=layer, dim=dim)


WEAK = 0.5  # held-out Spearman(degradation, mean σ²) under which a head is called weak


def head_notes(record: dict[str, Any]) -> None:
    """Under the head's summary: which features it reads, and a warning when its held-out σ² do not follow the degradations."""
    st.caption(features_line(record))
    rho = record.get("heldout", {}).get("spearman_sigma_vs_degradation", 1.0)
    if rho < WEAK:
        text = _(
            "On the people held out of its training, this head's σ² do not grow with the "
            "degradations (Spearman {rho}, Validity tab): its ranking says little about this "
            "model's faces."
        )
        st.warning(text.format(rho=f"{rho:.2f}"))


def no_head_note(result: Any, training: bool) -> None:
    """The info line of a model without a head (FaceNet's while the demo's trains: none)."""
    if result.model_id != FACENET:
        text = _(
            "{model} has no uncertainty head yet: train one for it here (a minute or two). "
            "FaceNet's head is kept."
        )
        st.info(text.format(model=result.model_id))
    elif not training:
        st.info(_("No uncertainty head is trained yet: train one here (about a minute)."))


def decoder_elsewhere(result: Any, record: dict[str, Any] | None) -> bool:
    """Say so and return True when the decoder (FaceNet's only) cannot decode this model's embeddings."""
    owner = (record or {}).get("model_id", FACENET)
    if owner == result.model_id:
        return False
    if record is None:
        st.info(_("The decoder is FaceNet's only: choose facenet as the Model to see its samples."))
    else:
        text = _("The decoder was trained on {owner}'s embeddings; it cannot decode {model}'s.")
        st.info(text.format(owner=owner, model=result.model_id))
    return True


@st.cache_data(max_entries=16, show_spinner=False)
def _agreement(keys: tuple, _a: Any, _b: Any, _s2a: Any, _s2b: Any) -> Any:
    from facedash.pfe.compare import agreement

    return agreement(_s2a, _s2b, _a, _b)


def agreement(result: Any, sigma2: np.ndarray, other: Any, sigma2_other: np.ndarray) -> Any:
    """``facedash.pfe.compare.agreement`` of two sets' σ², once per pair of sets and σ²."""
    held = (
        st.session_state.get("uncertainty_sigma2"),
        st.session_state.get("uncertainty_sigma2_other"),
    )
    keys = tuple(h[0] if h is not None else None for h in held)
    return _agreement(
        (pfe_ui.set_key(result), pfe_ui.set_key(other), keys), result, other, sigma2, sigma2_other
    )


def compare_section(
    result: Any, sigma2: np.ndarray, *, training: bool, allowed: bool, train: Callable
) -> None:
    """The "Compare with" model's confidence against this model's, face by face (see the module).

    ``train(other)`` trains the compared model's head (the page's progress bar).
    """
    second = state.compare_model()
    if second == state.NONE or second == result.model_id:
        return
    st.subheader(_("Confidence under {a} and {b}").format(a=result.model_id, b=second))
    other = state.embedding_set(second, slot="uncertainty_other")
    if other is None:
        return
    record = pfe_ui.head_record_for(other)
    if record is None:
        text = _("{model} has no uncertainty head yet, so its σ² cannot be set against {first}'s.")
        st.info(text.format(model=second, first=result.model_id))
        label = _("Train the uncertainty head for {model}").format(model=second)
        if st.button(label, key="uncertainty_train_compare", disabled=training or not allowed):
            train(other)
            st.rerun()
        return
    sigma2_b = pfe_ui.set_sigma2(
        pfe_ui.set_key(other), record["trained_at"], other, slot="uncertainty_sigma2_other"
    )
    agree = agreement(result, sigma2, other, sigma2_b)
    if len(agree) < 3:
        st.info(_("The two models share fewer than three faces of this set: nothing to compare."))
        return
    figure = pfe_compare.confidence_scatter(
        agree.a, agree.b, result.people[agree.ia], result.names[agree.ia], result.model_id, second
    )
    st.plotly_chart(figure, key="uncertainty_compare_fig")
    rho = _("n/a") if agree.spearman != agree.spearman else f"{agree.spearman:.2f}"
    st.caption(
        _(
            "{n} faces both models embedded, each face's confidence (1 / harmonic mean of σ²) "
            "under each model's own head. Spearman's rank correlation: {rho}."
        ).format(n=len(agree), rho=rho)
    )
    with st.expander(_("How to read this")):
        st.markdown(
            _(
                "- Each point is one face. The two heads have their own scales, in their own "
                "embedding spaces: read the order, not the values.\n"
                "- Points along a rising line (Spearman near 1): both models find the same "
                "faces hard. That is the photo itself: blur, darkness, a small or turned face.\n"
                "- A point far from the others' line: one model is sure of a face the other "
                "doubts. That face is hard for one model only (its training data, its "
                "alignment): worth a look.\n"
                "- Spearman near 0: the two heads judge quality differently, and neither "
                "ranking should be trusted without checking it on the Validity tab."
            )
        )
