"""The Embedding map page in headless Chromium, thumbnails on, with a search and its neighbours."""

import pytest

from tests.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.browser


def test_embedding_map_draws_thumbnails_and_finds_a_face(page, app_url, demo):
    # Open the app first: a fresh server that is asked for a page URL before its
    # first st.navigation run can serve pages/ in legacy multipage mode.
    page.goto(app_url)
    wait_for_app(page, "Faces embedded")
    page.goto(app_url + "/embedding_map")
    wait_for_app(page, "Clusters vs people")
    # Every face is drawn as a picture in the map (plotly layout images are SVG <image>s).
    page.wait_for_function(
        f"() => document.querySelectorAll('.js-plotly-plot .imagelayer image').length >= {len(demo.rows)}",
        timeout=120_000,
    )
    assert page.get_by_text("Accuracy (matched)").count() == 1
    name = demo.names[30].rsplit("/", 1)[-1]
    box = page.get_by_label("Find an image by name")
    box.fill(name)
    box.press("Enter")
    wait_for_app(page, "Nearest faces to")
    page.get_by_text("d=").first.wait_for()
    page.wait_for_function(
        f"() => document.querySelectorAll('.js-plotly-plot .imagelayer image').length >= {len(demo.rows)}"
    )
    # Streamlit scrolls inside its own container: a tall viewport shows the whole page.
    page.set_viewport_size({"width": 1400, "height": 2000})
    page.wait_for_timeout(2000)
    path = screenshot(page, "embedding_map")
    assert path.stat().st_size > 100_000
