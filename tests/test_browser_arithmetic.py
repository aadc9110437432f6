"""The Arithmetic & search page in headless Chromium, with a screenshot."""

import pytest

from tests.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.browser


def test_arithmetic_page_shows_queries_training_and_search(page, app_url):
    # Open the root first: when the very first request after start-up is a deep link,
    # Streamlit runs it in its legacy pages/ folder mode, without app.py's sidebar.
    page.goto(app_url)
    wait_for_app(page, "Faces embedded")
    page.goto(app_url + "/arithmetic")
    wait_for_app(page, "Every person × attribute")
    page.get_by_text("Rank-1", exact=True).first.wait_for()
    assert page.get_by_text("Face set").count() >= 1  # the shared sidebar: app.py ran
    # The neighbour figures draw the face thumbnails as images inside plotly.
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 5")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot image').length >= 10")
    assert page.get_by_text("synthetic photographic conditions").count() >= 1
    page.get_by_role("button", name="Train the triplet head").click()
    page.get_by_text("Triplet loss while training the head").first.wait_for(timeout=180_000)
    wait_for_app(page, "Person + attribute accuracy on held-out faces")
    # Face search with an uploaded photo: a demo photo, found first with similarity ~1.
    from facedash.data.datasets import load_demo

    photo = load_demo().items[0].path
    page.locator("input[type=file]").first.set_input_files(str(photo))
    page.get_by_text(f"most similar to your photo {photo.name}").first.wait_for(timeout=180_000)
    wait_for_app(page, "CMC: a same-person face")
    page.get_by_text("cosine 1.000").first.wait_for()
    page.set_viewport_size({"width": 1400, "height": 4600})  # the whole page in one picture
    page.evaluate("document.querySelector('[data-testid=stMain]')?.scrollTo(0, 0)")
    page.wait_for_timeout(1500)
    path = screenshot(page, "arithmetic_page")
    assert path.stat().st_size > 100_000
