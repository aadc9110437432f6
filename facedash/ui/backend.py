"""What the sidebar's model box says about where the model runs (backend, precision, agreement)."""

from __future__ import annotations

import streamlit as st

from facedash.errors import FacedashError
from facedash.models import backends
from facedash.models.registry import loaded, plan

LABELS = {
    "auto": "auto (best for this machine)",
    "tensorflow": "TensorFlow",
    "openvino": "OpenVINO",
}
NAMES = {"tensorflow": "TensorFlow", "openvino": "OpenVINO", "dlib": "dlib"}


def model_box_text(model_id: str, backend: str) -> tuple[str, str]:
    """``(caption, warning)`` for the model box: where ``model_id`` runs, or will run, and why.

    Loads nothing: before the model is loaded it says what the choice resolves to;
    afterwards, what loaded (device, agreement with the fp32 reference, a refusal).
    """
    try:
        choice = plan(model_id, backend)
    except FacedashError as exc:
        return "", str(exc)
    status = loaded(model_id, backend=backend)
    if status is None:
        caption = f"Runs on {NAMES.get(choice.backend, choice.backend)} {choice.precision}"
        caption += " (loaded when a face needs embedding)."
        return caption, choice.note
    caption = f"Runs on {NAMES.get(status['backend'], status['backend'])} {status['precision']}"
    caption += f" on {status['device']}"
    agreement = status["agreement"]
    if agreement is not None:
        caption += f"; min cosine to the fp32 reference {agreement['min_cosine']:.4f}"
        caption += f" on {agreement['faces']} demo faces"
    return caption + ".", status["note"]


def model_box(model_id: str, backend: str) -> None:
    """Write the caption (and a warning when a backend was refused) under the model selector."""
    caption, warning = model_box_text(model_id, backend)
    if caption:
        st.caption(caption)
    if warning:
        st.warning(warning)


def default_backend() -> str:
    """The backend the sidebar starts on: ``$FACEDASH_BACKEND``, else ``auto``."""
    try:
        return backends.requested()[0]
    except FacedashError:
        return "auto"
