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


def test_click_a_face_then_lasso(page, app_url, demo):
    page.goto(app_url)
    wait_for_app(page, "Faces embedded")
    page.goto(app_url + "/embedding_map")
    wait_for_app(page, "Clusters vs people")
    points = page.locator(".js-plotly-plot .scatterlayer .trace .points path")
    points.nth(len(demo.rows) // 2).wait_for(state="attached")
    # Click (pan mode, Streamlit's default): one face selected -> its nearest faces.
    box = points.nth(len(demo.rows) // 2).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 4, y - 4)
    page.mouse.move(x, y, steps=3)
    page.mouse.click(x, y)
    wait_for_app(page, "Nearest faces to")
    # Lasso from the chart's toolbar around the lower-left part of the plot.
    chart = page.locator(".js-plotly-plot").first
    chart.hover()
    page.locator('.modebar-btn[data-val="lasso"]').first.click()
    area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    path = [(0.02, 0.02), (0.98, 0.02), (0.98, 0.98), (0.02, 0.98), (0.02, 0.03)]
    page.mouse.move(area["x"] + area["width"] * path[0][0], area["y"] + area["height"] * path[0][1])
    page.mouse.down()
    for fx, fy in path[1:]:
        page.mouse.move(area["x"] + area["width"] * fx, area["y"] + area["height"] * fy, steps=10)
    page.mouse.up()
    wait_for_app(page, "selected faces")
    assert page.get_by_text(f"{len(demo.rows)} selected faces").count() == 1
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.wait_for_timeout(2000)
    screenshot(page, "embedding_map_lasso")
