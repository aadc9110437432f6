"""The app in Japanese in headless Chromium: the browser's language, page changes, the picker.

A browser context whose language is Japanese (``ja-JP``: ``navigator.language`` and
``Accept-Language``) opens the app without ``?lang=``: the Data page comes in Japanese,
the language survives a change to the Verification page, and the sidebar's picker turns
it back to English. The screenshots (artifacts/screenshots/*_ja.png) are for a person to
look at: Japanese glyphs drawn with a CJK font, not boxes.
"""

from __future__ import annotations

import subprocess

import pytest

from facedash import i18n
from facedash.i18n import _
from tests.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.browser


def ja(message: str) -> str:
    with i18n.using("ja"):
        return _(message)


@pytest.fixture
def ja_page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ja-JP")
    tab = context.new_page()
    tab.set_default_timeout(120_000)
    yield tab
    context.close()


def test_a_cjk_font_is_installed():
    found = subprocess.run(["fc-list", ":lang=ja"], capture_output=True, text=True).stdout
    assert found.strip(), "no Japanese font: apt-get install fonts-noto-cjk (.ci/run does)"


def test_japanese_browser_gets_japanese_pages(ja_page, app_url):
    tab = ja_page
    tab.goto(app_url)
    wait_for_app(tab, ja("Faces embedded"))
    assert tab.get_by_text("Faces embedded").count() == 0
    screenshot(tab, "data_page_ja")

    # Another page keeps the language (the nav link is in Japanese too).
    tab.get_by_role("link", name=ja("Verification")).first.click()
    wait_for_app(tab, ja("Verification"))
    tab.locator("[data-testid=stPlotlyChart]").first.wait_for()
    tab.wait_for_timeout(1500)  # let plotly finish drawing its titles
    assert "lang=en" not in tab.url
    screenshot(tab, "verification_page_ja")

    # The picker turns it English, and says so in the address bar.
    sidebar = tab.locator("[data-testid=stSidebar]")
    sidebar.get_by_test_id("stSelectbox").filter(has_text="Language / 言語").click()
    tab.get_by_role("option", name="English").click()
    wait_for_app(tab, "Verification")
    tab.wait_for_function("() => location.search.includes('lang=en')")
    screenshot(tab, "verification_page_en")
