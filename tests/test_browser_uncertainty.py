"""The Uncertainty page in headless Chromium, with screenshots (uses the saved head; trains a short one if none)."""

import pytest

from tests.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def saved_decoder(demo, facenet):
    """The decoder in $FACEDASH_HOME/pfe; a short one is trained there when none exists (fresh CI home)."""
    from facedash.pfe import decoder

    if decoder.read_decoder_record() is None:
        decoder.train_decoder(demo, embedder=facenet, epochs=4, copies=2)
    return decoder.read_decoder_record()


def test_uncertainty_page_ranks_faces_and_shows_validity(saved_head, saved_decoder, page, app_url):
    # A fresh server learns st.navigation from app.py's first run; before that, a direct link
    # to /uncertainty is served by Streamlit's legacy pages/ discovery (no shared sidebar).
    page.goto(app_url)
    wait_for_app(page, "Faces embedded")
    page.goto(app_url + "/uncertainty")
    wait_for_app(page, "Most certain", timeout=240_000)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stImage] img').length >= 16"
    )
    assert page.get_by_text("Least certain").count() == 1
    assert page.get_by_text("Face set").count() >= 1  # the shared sidebar ran (app.py)
    path = screenshot(page, "uncertainty_ranking")
    assert path.stat().st_size > 50_000

    page.get_by_role("tab", name="Degradation explorer").click()
    panel = page.get_by_role("tabpanel", name="Degradation explorer")
    thumb = panel.get_by_role("slider").first  # blur
    thumb.focus()
    thumb.press("End")
    # the cosine to the clean face drops once the fully blurred copy is scored
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid=stMetric]')].some(m => {
            const t = m.innerText.replace(/\\s+/g, ' ');
            const k = t.indexOf('cosine to the clean face');
            return k >= 0 && parseFloat(t.slice(k + 24)) < 0.95; })"""
    )
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
    page.wait_for_timeout(1000)
    screenshot(page, "uncertainty_explorer")

    page.get_by_role("tab", name="Validity").click()
    page.get_by_text("The dilemma: scores as both faces degrade").first.wait_for()
    page.wait_for_timeout(1500)  # let plotly draw
    assert page.locator(".js-plotly-plot").count() >= 4
    screenshot(page, "uncertainty_validity")

    page.get_by_role("tab", name="Decoder samples").click()
    page.get_by_text("15 samples", exact=False).first.wait_for()
    screenshot(page, "uncertainty_decoder")
