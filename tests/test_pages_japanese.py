"""Every page in Japanese (``?lang=ja``): no exception, and no catalog message left in English.

Every string the page sends to the browser (texts, labels, help, options, captions, metric
labels, tab and expander names, and every string of every plotly figure's spec) is checked
against the catalog: a message whose Japanese differs from its English must not be shown in
English, whole or formatted (``{n} faces`` matches ``118 faces``).
"""

from __future__ import annotations

import json
import re
from functools import cache

import pytest
from babel.messages.pofile import read_po
from google.protobuf.json_format import MessageToDict
from streamlit.testing.v1 import AppTest

from facedash import i18n
from tests.conftest import PAGES, ROOT

PO = ROOT / "facedash/locale/ja/LC_MESSAGES/facedash.po"


@cache
def english_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """One pattern per catalog message whose Japanese differs from its English."""
    with open(PO, "rb") as f:
        catalog = read_po(f, locale="ja")
    out = []
    for m in catalog:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strs = m.string if isinstance(m.string, tuple) else (m.string,)
        for msgid in ids:
            if msgid in strs or len(msgid) < 3:
                continue
            parts = re.split(r"(\{[A-Za-z_][\w.\[\]]*(?:![rsa])?(?::[^{}]*)?\})", msgid)
            body = "".join(
                ".+?" if p.startswith("{") and p.endswith("}") else re.escape(p) for p in parts
            )
            out.append((msgid, re.compile(rf"^{body}$", re.S)))
    return out


# The keys of a plotly figure whose strings a reader sees (its settings, such as
# ``boxmode: "group"`` or ``boxpoints: "all"``, are not text).
SHOWN_IN_FIGURES = {
    "name",
    "text",
    "hovertext",
    "hovertemplate",
    "texttemplate",
    "ticktext",
    "x",
    "y",
    "labels",
}


def _figure_strings(value, key: str | None = None) -> list[str]:
    if isinstance(value, str):
        return [value] if key in SHOWN_IN_FIGURES else []
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _figure_strings(v, k)]
    if isinstance(value, list):
        return [s for v in value for s in _figure_strings(v, key)]
    return []


def _strings(value, key: str | None = None) -> list[str]:
    if isinstance(value, str):
        if key == "spec" and value[:1] == "{":
            try:
                return _figure_strings(json.loads(value))
            except ValueError:
                pass
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, k)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, key)]
    return []


def shown_strings(at: AppTest) -> list[str]:
    """Every string of every element of the page and the sidebar."""
    out: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.extend(_strings(MessageToDict(proto)))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def english_left(at: AppTest) -> list[str]:
    """The catalog messages the page still shows in English."""
    left = set()
    for s in set(shown_strings(at)):
        s = s.strip()
        for msgid, pattern in english_patterns():
            if pattern.match(s):
                left.add(msgid)
    return sorted(left)


def japanese_app(page: str) -> AppTest:
    """The app on ``page`` in Japanese.

    AppTest calls widgets' ``format_func`` in the test's own thread (to match the options it
    keeps), so that thread speaks Japanese too while the app is driven.
    """
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.query_params["lang"] = "ja"
    at.run()
    if page != PAGES[0]:
        at.switch_page(page)
        at.run()
    return at


@pytest.fixture
def in_japanese():
    with i18n.using("ja"):
        yield


@pytest.mark.parametrize("page", PAGES, ids=[p.split("/")[1][:-3] for p in PAGES])
def test_page_in_japanese(demo, in_japanese, page):
    at = japanese_app(page)
    assert not at.exception, at.exception
    left = english_left(at)
    assert not left, f"{page} shows {len(left)} catalog messages in English: {left[:12]}"
    # The page says something in Japanese (kana or kanji), not only numbers.
    assert any(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", s) for s in shown_strings(at))


def test_every_uncertainty_tab_in_japanese(demo, in_japanese):
    """The Uncertainty page draws only its open tab: each tab opened in turn, in Japanese."""
    from facedash.ui.pfe import TABS

    at = japanese_app("pages/uncertainty.py")
    for name in TABS[1:]:
        at.session_state["uncertainty_tab"] = i18n._(name)
        at.run()
        assert not at.exception, (name, at.exception)
        assert at.session_state["uncertainty_tab_name"] == name  # that tab is the one drawn
        left = english_left(at)
        assert not left, f"the {name} tab shows catalog messages in English: {left[:12]}"
