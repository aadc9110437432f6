"""AppTest of the Uncertainty page, driven by widget keys (uses the saved head, training a short one if none)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def demo_pfe(demo, facenet):
    """The demo's head and decoder as ``facedash assets fetch`` leaves them (trained here if missing)."""
    from facedash.pfe import demo as pfe_demo

    detector = None
    if "head" in pfe_demo.to_train():
        from facedash.faces.detect import Detector

        detector = Detector()
    return pfe_demo.ensure(demo, embedder=facenet, detector=detector)


@pytest.fixture(scope="module")
def app(demo_pfe, saved_head):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    at.switch_page("pages/uncertainty.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def open_tab(at, name):
    """Open the page's tab ``name`` (as a click on it does: the page reruns with it open)."""
    at.session_state["uncertainty_tab"] = name
    at.run()
    assert not at.exception, at.exception
    return at


def test_only_the_open_tab_runs(app):
    """A hidden tab draws nothing: a slider in the ranking does not redraw the decoder."""
    open_tab(app, "Ranking")
    assert any("**Most certain**" in m.value for m in app.markdown)
    assert "uncertainty_blur" not in [s.key for s in app.slider]
    assert "15 samples from N(μ, σ²)" not in {c for img in app.image for c in img.captions}
    open_tab(app, "Degradation explorer")
    assert "uncertainty_blur" in [s.key for s in app.slider]
    assert not any("**Most certain**" in m.value for m in app.markdown)
    open_tab(app, "Ranking")


def test_the_demo_opens_complete_without_training(app):
    """First render after the asset set-up: σ² views and decoder samples, no Train click."""
    open_tab(app, "Ranking")
    assert not [i.value for i in app.info if "trained yet" in i.value]
    assert any("**Most certain**" in m.value for m in app.markdown)  # the σ² ranking
    assert not app.button(key="uncertainty_train").value
    assert app.session_state["uncertainty_sigma2"][1].shape[1] == 128
    open_tab(app, "Degradation explorer")
    assert "mean σ²" in {m.label for m in app.metric}
    open_tab(app, "Decoder samples")
    assert "spread of the samples (mean pixel std)" in {m.label for m in app.metric}
    captions = {c for img in app.image for c in img.captions}
    assert {"decoded μ", "15 samples from N(μ, σ²)"} <= captions
    assert not [i.value for i in app.info if "trained yet" in i.value]
    assert "uncertainty_train_decoder" not in [b.key for b in app.button]


def test_a_class_without_allow_saving_cannot_train(demo_pfe, saved_head, monkeypatch):
    """Students must not overwrite the shared head or decoder unless the server allows saving."""
    from streamlit.testing.v1 import AppTest

    import facedash.pfe.decoder
    import facedash.ui.pfe
    from facedash import classroom

    monkeypatch.setenv(classroom.TOKEN_ENV, "class-token-123")
    monkeypatch.delenv(classroom.SAVING_ENV, raising=False)
    # No decoder (and no background training): both Train buttons are on the page.
    monkeypatch.setattr(facedash.pfe.decoder, "read_decoder_record", lambda root=None: None)
    monkeypatch.setattr(facedash.ui.pfe, "demo_training", lambda result: None)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.query_params["token"] = "class-token-123"
    at.run()
    at.switch_page("pages/uncertainty.py")
    at.run()
    open_tab(at, "Decoder samples")
    buttons = ("uncertainty_train", "uncertainty_train_decoder")
    assert all(at.button(key=k).disabled for k in buttons)
    assert any("--allow-saving" in c.value for c in at.caption)
    monkeypatch.setenv(classroom.SAVING_ENV, "1")
    at.run()
    assert not any(at.button(key=k).disabled for k in buttons)
    assert not any("--allow-saving" in c.value for c in at.caption)


def test_page_renders_every_section(app, saved_head, demo):
    assert app.title[0].value == "Uncertainty"
    open_tab(app, "Degradation explorer")
    assert "confidence" in {m.label for m in app.metric}
    open_tab(app, "Validity")
    labels = {m.label for m in app.metric}
    assert {"Spearman(strength, mean σ²)", "AUC MLS (clean vs degraded)"} <= labels
    assert (
        _metric(app, "Spearman(strength, mean σ²)")
        == f"{saved_head['heldout']['spearman_sigma_vs_degradation']:.2f}"
    )
    assert any("How to read" in e.label for e in app.expander)


def test_blur_slider_lowers_confidence_and_cosine(app):
    open_tab(app, "Degradation explorer")
    before_conf = float(_metric(app, "confidence"))
    assert float(_metric(app, "cosine to the clean face")) == pytest.approx(1.0, abs=1e-3)
    app.slider(key="uncertainty_blur").set_value(1.0).run()
    assert not app.exception
    assert float(_metric(app, "confidence")) < before_conf
    assert float(_metric(app, "cosine to the clean face")) < 0.9
    app.slider(key="uncertainty_blur").set_value(0.0).run()


def test_fusion_is_more_confident_than_its_photos(app):
    open_tab(app, "Fusion")
    app.multiselect(key="uncertainty_fuse_photos").select(
        app.multiselect(key="uncertainty_fuse_photos").options[3]
    ).run()
    assert not app.exception
    assert len(app.multiselect(key="uncertainty_fuse_photos").value) == 4
    assert float(_metric(app, "confidence, fused")) > float(
        _metric(app, "confidence, best single photo")
    )
    auc = _metric(app, "AUC, fused")
    assert 0.5 <= float(auc) <= 1.0


def test_dilemma_kind_and_far_change(app):
    open_tab(app, "Validity")
    app.selectbox(key="uncertainty_dilemma_kind").select("noise").run()
    app.select_slider(key="uncertainty_far").set_value(0.1).run()
    assert not app.exception


def test_face_check_panel_puts_non_faces_under_blurred_faces(app, saved_head):
    open_tab(app, "Degradation explorer")
    labels = {m.label for m in app.metric}
    assert {"lowest blurred face", "highest non-face", "faces clean > blurred > non-face"} <= labels
    ordered, tried = _metric(app, "faces clean > blurred > non-face").split("/")
    if saved_head.get("face_check"):  # a head trained with its face check (every new one)
        assert ordered == tried == "6"
        assert float(_metric(app, "highest non-face")) < float(_metric(app, "lowest blurred face"))
    else:  # an older head says how to get one
        assert any("no face check" in i.value for i in app.info)


def test_sigma2_is_kept_for_a_later_session(app, saved_head, demo):
    """A fresh session (a restarted server) reads σ² from FACEDASH_HOME: nothing is recomputed."""
    from streamlit.testing.v1 import AppTest

    import facedash.pfe

    kept = list((facedash.pfe.sigma2_cache_dir(demo) or ROOT).glob("sigma2-*.npz"))
    assert kept, "the first visit keeps σ² on disk"
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    at.session_state["uncertainty_sigma2"] = None
    real = facedash.pfe.sigma2_of_set

    def no_model(result, embedder, head, **kw):
        kw["get_extractor"] = lambda: (_ for _ in ()).throw(AssertionError("recomputed"))
        return real(result, embedder, head, **kw)

    facedash.pfe.sigma2_of_set = no_model
    try:
        at.switch_page("pages/uncertainty.py")
        at.run()
    finally:
        facedash.pfe.sigma2_of_set = real
    assert not at.exception, at.exception


def test_the_open_tab_survives_a_change_of_language(demo_pfe, saved_head, app_py):
    """Tabs are kept by their untranslated name: Fusion stays open in Japanese and back."""
    from streamlit.testing.v1 import AppTest

    from facedash import i18n

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    at.switch_page("pages/uncertainty.py").run()
    open_tab(at, "Fusion")
    at.selectbox(key="fd_lang").select("ja").run()
    assert not at.exception, at.exception
    with i18n.using("ja"):
        assert at.session_state["uncertainty_tab"] == i18n._("Fusion") != "Fusion"
        assert "uncertainty_fuse_photos" in [m.key for m in at.multiselect]
        assert not any("**Most certain**" in m.value for m in at.markdown)
        at.selectbox(key="fd_lang").select("en").run()
    assert at.session_state["uncertainty_tab"] == "Fusion"
    assert "uncertainty_fuse_photos" in [m.key for m in at.multiselect]


def _two_tabs():
    import streamlit as st

    from facedash import i18n
    from facedash.ui.widgets import lazy_tabs

    names = ("Fusion", "MLS")  # "MLS" reads the same in Japanese
    with i18n.using(st.session_state.get("lang", "en")):
        for name, tab in zip(names, lazy_tabs(names, key="t"), strict=True):
            if tab.open:
                with tab:
                    st.markdown(f"open: {name}")


def test_lazy_tabs_keep_a_tab_whose_label_reads_the_same_in_both_languages():
    """The labels are the tabs' identity: a change of language makes a new widget, and the
    open tab is put back even when its own label did not change."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_two_tabs).run()
    assert [m.value for m in at.markdown] == ["open: Fusion"]
    at.session_state["t"] = "MLS"
    at.run()
    assert [m.value for m in at.markdown] == ["open: MLS"]
    at.session_state["lang"] = "ja"
    at.run()
    assert not at.exception, at.exception
    assert [m.value for m in at.markdown] == ["open: MLS"]
    at.session_state["t"] = "融合"
    at.run()
    assert [m.value for m in at.markdown] == ["open: Fusion"]
