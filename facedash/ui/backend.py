"""What the sidebar's model box says about where the model runs (backend, precision, agreement)."""

from __future__ import annotations

import streamlit as st

from facedash.errors import FacedashError
from facedash.explain import warm
from facedash.i18n import N_, _
from facedash.models import backends
from facedash.models.registry import loaded, plan
from facedash.ui.data import reason as say

LABELS = {
    "auto": N_("auto (best for this machine)"),
    "tensorflow": "TensorFlow",
    "openvino": "OpenVINO",
}
NAMES = {
    "tensorflow": "TensorFlow",
    "openvino": "OpenVINO",
    "onnxruntime": "ONNX Runtime",
    "dlib": "dlib",
}


def model_box_text(model_id: str, backend: str) -> tuple[str, str]:
    """``(caption, warning)`` for the model box: where ``model_id`` runs, or will run, and why.

    Loads nothing: before the model is loaded it says what the choice resolves to;
    afterwards, what loaded (device, agreement with the fp32 reference, a refusal).
    Both are in the session's language (the library's notes translated where known).
    """
    try:
        choice = plan(model_id, backend)
    except FacedashError as exc:
        return "", say(str(exc))
    status = loaded(model_id, backend=backend)
    if status is None:
        caption = _("Runs on {backend} {precision} (loaded when a face needs embedding).").format(
            backend=NAMES.get(choice.backend, choice.backend), precision=choice.precision
        )
        return caption, say(choice.note)
    names = {
        "backend": NAMES.get(status["backend"], status["backend"]),
        "precision": status["precision"],
        "device": status["device"],
    }
    agreement = status["agreement"]
    if agreement is None:
        caption = _("Runs on {backend} {precision} on {device}.").format(**names)
    else:
        caption = _(
            "Runs on {backend} {precision} on {device}; min cosine to the fp32 reference "
            "{cosine} on {n} demo faces."
        ).format(**names, cosine=f"{agreement['min_cosine']:.4f}", n=agreement["faces"])
    return caption, say(status["note"])


WARMING = N_(
    "Warming up: the server is loading the models in the background (once per server); a "
    "page that needs them waits for it ..."
)


WATCH_S = 3.0  # how often a session opened while warming looks again


def warming_text() -> str:
    """The sidebar's line while the server's warm-up runs (``facedash.explain.warm``), else ""."""
    return _(WARMING) if warm.status().warming else ""


@st.fragment(run_every=WATCH_S)
def _warming_line() -> None:
    """The line, redrawn every few seconds; once the warm-up is done, one full rerun without it."""
    line = warming_text()
    if line:
        st.caption(line)
    else:
        st.rerun()  # the whole app: the sidebar is drawn again, without this fragment


def model_box(model_id: str, backend: str) -> None:
    """Write the caption (and a warning when a backend was refused) under the model selector.

    While the server warms up, a line says so first (and goes when it is done).
    """
    if warm.status().warming:
        _warming_line()
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
