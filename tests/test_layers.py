"""The house rules, checked on the source: thin pages, small modules, Streamlit only in ``facedash/ui``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sources import imported_modules

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]
LIBRARY = sorted((ROOT / "facedash").rglob("*.py"))
NOT_FOR_PAGES = ("facedash.detect", "facedash.pipeline", "facedash.models", "facedash.cascade")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_pages_are_thin(page):
    text = page.read_text()
    assert len(text.splitlines()) <= 300, "a page (or app.py) over 300 lines"
    assert "cache_data" not in text and "cache_resource" not in text, "caches live in facedash/ui/"
    bad = {n for n in imported_modules(page) if n.startswith(NOT_FOR_PAGES)}
    assert not bad, f"pages ask facedash/ui/ instead of importing {sorted(bad)}"


def test_library_modules_stay_small_and_streamlit_free():
    long = [_rel(m) for m in LIBRARY if len(m.read_text().splitlines()) > 450]
    assert not long, f"facedash/ modules over 450 lines: {long}"
    outside_ui = [m for m in LIBRARY if "ui" not in m.relative_to(ROOT / "facedash").parts]
    streamlit = [
        _rel(m)
        for m in outside_ui
        if any(n.split(".")[0] == "streamlit" for n in imported_modules(m))
    ]
    assert not streamlit, f"Streamlit imported outside facedash/ui/: {streamlit}"


def test_every_page_is_listed_in_the_navigation():
    app = (ROOT / "app.py").read_text()
    for page in (ROOT / "pages").glob("*.py"):
        assert f'"pages/{page.name}"' in app, page.name
