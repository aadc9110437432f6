"""``facedash serve --lan`` in headless Chromium: the token page, then the Data page with the link's QR code."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.conftest import screenshot, wait_for_app
from tests.test_classroom import TOKEN, decode_qr, serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(demo):
    with serving() as (url, log):
        yield url, log


def test_the_token_page_then_the_data_page_with_its_qr_code(browser, served):
    class_url, log = served
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    try:
        tab.goto(class_url)
        wait_for_app(tab, "This dashboard needs its access token")
        screenshot(tab, "classroom_token_page")
        # Nothing behind the gate shows: no sidebar, no page list, no image, no set name.
        assert tab.locator("[data-testid=stSidebar]").count() == 0
        assert tab.locator("[data-testid=stImage]").count() == 0
        body = tab.locator("body").inner_text()
        for hidden in ("Attention", "Embedding map", "Demo", "ben_afflek", "Photos"):
            assert hidden not in body

        field = tab.get_by_label("Access token")
        field.fill("not-the-token")
        field.press("Enter")
        expect(field).to_have_value("", timeout=30_000)  # the same page again, the field cleared
        wait_for_app(tab, "This dashboard needs its access token")
        assert tab.locator("[data-testid=stSidebar]").count() == 0

        tab.goto(f"{class_url}/?token={TOKEN}")
        wait_for_app(tab, "Faces embedded")
        tab.get_by_text("Link for the class").first.wait_for()
        tab.get_by_text("Scan to open").first.wait_for()
        assert "token=" not in tab.url  # taken out of the address bar once accepted
        qr = tab.locator("[data-testid=stImage] img").first
        box = qr.bounding_box()
        assert box is not None and abs(box["width"] - box["height"]) < 2 and box["width"] >= 150
        assert tab.get_by_text(f"?token={TOKEN}").count() >= 1  # the link beside the code
        tab.wait_for_function(
            "() => document.querySelectorAll('[data-testid=stImage] img').length > 20"
        )
        screenshot(tab, "classroom_data_page")
        # The code on the page, as a phone's camera would see it (the image itself, scrolled
        # into view and fully drawn, with a quiet margin), opens the link.
        qr.scroll_into_view_if_needed()
        tab.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 0", arg=qr.element_handle()
        )
        code = Image.open(io.BytesIO(qr.screenshot())).convert("L")
        framed = Image.new("L", (code.width + 80, code.height + 80), 255)
        framed.paste(code, (40, 40))
        link = decode_qr(framed)
        assert link.startswith("http://") and link.endswith(f"/?token={TOKEN}")

        # The session keeps the token: another page opens without asking again.
        tab.get_by_role("link", name="Embedding map").click()
        wait_for_app(tab, "Embedding map")
        assert tab.get_by_text("This dashboard needs its access token").count() == 0
    finally:
        context.close()
    # Opened with the token, and tried with a wrong one: the log names the token in its link only.
    lines = [line for line in log.read_text().splitlines() if TOKEN in line]
    assert len(lines) == 1 and lines[0].startswith("  Link: ")
