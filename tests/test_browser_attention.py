"""The Attention page in headless Chromium, with a screenshot."""

import pytest

from tests.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.browser


def test_attention_page_shows_maps_regions_and_deletion(page, app_url):
    page.set_viewport_size({"width": 1400, "height": 1500})
    page.goto(app_url + "/attention")
    wait_for_app(page, "Deletion AUC")
    page.get_by_text("Where the map's mass is").first.wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stImage] img').length >= 2"
    )
    # the plotly charts have drawn their bars and lines
    page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot .bars path').length >= 4"
    )
    page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot .scatterlayer .trace').length >= 2"
    )
    path = screenshot(page, "attention_page")
    assert path.stat().st_size > 50_000


def test_attention_page_explains_an_uploaded_photo(page, app_url, demo_dataset):
    page.set_viewport_size({"width": 1400, "height": 1500})
    page.goto(app_url + "/attention")
    wait_for_app(page, "Deletion AUC")
    page.get_by_text("Or explain a photo of your own").click()
    photo = demo_dataset.items[40].path
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(photo))
    wait_for_app(page, "nearest person")
    page.get_by_text("Deletion AUC").first.wait_for()
    page.wait_for_function(
        "() => { const im = [...document.querySelectorAll('[data-testid=stImage] img')];"
        " return im.length >= 2 && im.every(i => i.complete && i.naturalWidth > 0); }"
    )
    wait_for_app(page, "nearest person")
    path = screenshot(page, "attention_upload")
    assert path.stat().st_size > 50_000
