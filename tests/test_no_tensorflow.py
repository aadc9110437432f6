"""Work that needs no model never imports TensorFlow once the embeddings are stored.

Each check runs in a fresh Python process (this test process has TensorFlow loaded
already) and reports which heavy modules that process imported.
"""

from __future__ import annotations

import json

import pytest

from tests.fresh_process import run

HEAVY = ("tensorflow", "keras", "mtcnn")

_REPORT = f"""
import json, sys
print("@@" + json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["embed", "--demo", "--json"],
        ["verify", "--demo", "--json"],
        ["cluster", "--demo", "--json"],
    ],
    ids=lambda a: a[0],
)
def test_cli_jobs_on_a_stored_set_do_not_load_tensorflow(demo, argv):
    code = (
        "import contextlib, io\n"
        "from facedash.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        f"    rc = main({argv!r})\n"
        "assert rc == 0, rc\n"
        "print(buf.getvalue())\n"
    )
    loaded, out = run(code + _REPORT)
    assert loaded == dict.fromkeys(HEAVY, False), loaded
    if argv[0] == "embed":
        result = json.loads(out)
        # Everything came from the store, nothing was computed.
        assert result["computed"] == 0 and result["cached"] == result["faces"] >= 117


def test_pages_that_need_no_model_do_not_load_tensorflow(demo, saved_head):
    """Even with an uncertainty head saved: the Embedding map runs it only when ellipses are asked for."""
    code = (
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('app.py', default_timeout=300)\n"
        "at.run()\n"
        "assert not at.exception, at.exception\n"
        "assert any(m.label == 'Photos' and m.value == '118' for m in at.metric)\n"
        "for page in ('pages/embedding_map.py', 'pages/verification.py'):\n"
        "    at.switch_page(page)\n"
        "    at.run()\n"
        "    assert not at.exception, (page, at.exception)\n"
        "    assert at.title and at.title[0].value != 'Data', page\n"
    )
    loaded, _ = run(code + _REPORT)
    assert loaded == dict.fromkeys(HEAVY, False), loaded
