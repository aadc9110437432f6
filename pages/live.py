"""Live page: the webcam through the model, frame by frame: the face, its map, the nearest person, the decision."""

from dataclasses import replace

import streamlit as st

from facedash.explain.live import LiveSettings
from facedash.i18n import _
from facedash.ui import live as UL
from facedash.ui import state


def _settings(result) -> LiveSettings | None:
    """The person, layer and opacity pickers and the threshold (the method comes later)."""
    people = sorted(set(result.people.tolist()))
    c1, c2, c3 = st.columns([2, 3, 1])
    person = c1.selectbox(
        _("Score against"),
        people,
        key="live_person",
        help=_("The person of the set each frame's face is scored against (and explained for)."),
    )
    layer = UL.layer_picker(result.model_id, c2)
    if layer is None:
        return None
    opacity = c3.slider(_("Opacity"), 0.0, 1.0, 0.45, step=0.05, key="live_opacity")
    threshold, source = UL.threshold_for(result)
    st.caption(
        _(
            "Decision threshold {t}: {source}. The score is the mean cosine similarity to the "
            "person's faces in the set, the scale of the Verification page's pair scores."
        ).format(t=f"{threshold:.4f}", source=source)
    )
    method = st.session_state.get("live_method", "gradcam")
    return LiveSettings(person, threshold, method, layer, opacity)


def main() -> None:
    state.page_shell("pages/live.py")  # the language first: the texts below are made in it
    result = state.page_start(
        "pages/live.py",
        _("Live"),
        _(UL.HOWTO),
        min_faces=2,
        too_few=_("The Live page needs at least two faces in the set."),
    )
    if result is None:
        return
    settings = _settings(result)
    if settings is None:
        return
    proc = UL.processor(result, settings)
    measured = UL.rates(result.model_id, settings.layer, proc, result)
    method = UL.method_picker(measured)
    settings = replace(settings, method=method)
    proc.configure(settings)
    st.caption(UL.rates_note(measured, method))

    left, right = st.columns([3, 2])
    with left:
        ctx = UL.stream(proc)
        st.caption(_(UL.MEMORY_NOTE))
        st.caption(_(UL.ALLOW_HELP))
    with right:
        playing = ctx is not None and bool(ctx.state.playing)
        UL.readings(proc, settings.person, settings.threshold, playing)


if __name__ == "__main__":
    state.run_page(main)
