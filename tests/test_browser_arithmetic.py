"""The Arithmetic & search page in headless Chromium, with a screenshot."""

import pytest

from tests.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.browser


def test_arithmetic_page_shows_queries_and_search(page, app_url):
    page.goto(app_url + "/arithmetic")
    wait_for_app(page, "Every person × attribute")
    page.get_by_text("Rank-1", exact=True).first.wait_for()
    # The neighbour figures draw the face thumbnails as images inside plotly.
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 5")
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot image').length >= 10")
    assert page.get_by_text("synthetic photographic conditions").count() >= 1
    path = screenshot(page, "arithmetic_page")
    assert path.stat().st_size > 100_000
