"""The server's warm-up (``facedash.explain.warm``): one load, shared with the pages; the sidebar's line.

The timing it buys (a page opened 60 s after ``facedash serve`` started) is measured by
``bench/warm.py``, not asserted here.
"""

from __future__ import annotations

import threading
import time

import pytest

from facedash.explain import warm
from facedash.models import registry
from tests.conftest import ROOT


@pytest.fixture
def fresh(monkeypatch):
    """Empty process-wide caches and a warm-up that never ran; ``calls`` counts model loads."""
    from facedash.ui import cache

    calls: list[str] = []
    load = registry.load_model

    def counted(model_id, root=None):
        calls.append(model_id)
        return load(model_id, root)

    monkeypatch.setattr(registry, "load_model", counted)
    monkeypatch.setattr(registry, "_cache", {})
    monkeypatch.setattr(registry, "_embedders", {})
    monkeypatch.setattr(warm, "_detectors", {})
    cache._model.clear()
    cache._embedder.clear()
    cache._detector.clear()
    warm.reset()
    yield calls
    warm.wait(120)
    warm.reset()
    cache._model.clear()
    cache._embedder.clear()
    cache._detector.clear()


def _page_script() -> None:
    """What the Attention page asks the model layer for, as a tiny page."""
    import streamlit as st

    from facedash.ui import cache

    model = cache.model("facenet")
    detector = cache.detector(__import__("facedash.faces.detect").faces.detect.DetectorSettings())
    st.write(f"model {id(model)} detector {id(detector)}")


def test_a_page_opened_while_warming_waits_for_the_same_load(fresh, demo):
    from streamlit.testing.v1 import AppTest

    assert warm.status().state == "idle"
    assert warm.start(log=False)
    assert not warm.start(log=False)  # once per process
    assert warm.status().warming
    at = AppTest.from_function(_page_script, default_timeout=180)
    opened_while = warm.status().state
    t0 = time.perf_counter()
    at.run()
    waited = time.perf_counter() - t0
    assert not at.exception, at.exception
    assert opened_while == "warming"  # the page did open before the warm-up ended
    done = warm.status()
    assert done.state == "ready", done
    assert set(done.steps) == {"embedder", "detector", "explanation"} and done.seconds
    # One load of the reference, by the warm-up; the page got that object, and its detector.
    assert fresh == ["facenet"], fresh
    model = next(iter(registry._cache.values()))
    shown = at.markdown[0].value
    assert f"model {id(model)} " in shown and f"detector {id(warm.detector())}" in shown
    # The default Grad-CAM-family function is traced: one more explanation is quick.
    assert waited > 0.5 and done.steps["explanation"] > 0


def test_a_failed_warm_up_says_why_and_pages_load_on_demand(fresh, monkeypatch):
    def broken(root):
        raise RuntimeError("no weights here\nsecond line")

    monkeypatch.setattr(warm, "_warm_embedder", broken)
    status = warm.run_now()
    assert status.state == "failed" and status.reason == "embedder: no weights here"
    assert warm.wait(0).state == "failed"  # never blocks once done
    assert fresh == []  # nothing loaded: the pages load what they need, as without it


def test_warm_switch():
    assert warm.enabled({}) and warm.enabled({"FACEDASH_WARM": "1"})
    assert not any(warm.enabled({"FACEDASH_WARM": v}) for v in ("0", "off", "false", "No"))


def test_wait_without_a_warm_up_returns_at_once():
    warm.reset()
    t0 = time.perf_counter()
    assert warm.wait().state == "idle"
    assert time.perf_counter() - t0 < 0.1


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "Warming up: the server is loading the models"), ("ja", "ウォームアップ中")],
)
def test_the_sidebar_says_warming_up_until_ready(demo, app_py, monkeypatch, lang, words):
    from streamlit.testing.v1 import AppTest

    warm.reset()
    monkeypatch.setattr(warm, "_status", warm.Status("warming", step="explanation"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.sidebar.caption]
    assert any(words in c for c in captions), captions
    # Ready: a session opened now has no such line.
    monkeypatch.setattr(warm, "_status", warm.Status("ready", seconds=1.0))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    assert not any(words in c.value for c in at.sidebar.caption)


def test_the_server_module_starts_the_warm_up_before_streamlit(monkeypatch):
    """``python -m facedash.ui.server run ...`` starts the thread, then hands over to Streamlit's CLI."""
    import streamlit.web.cli as cli

    from facedash.ui import server

    seen: list[tuple[list[str], str, bool]] = []
    monkeypatch.setattr(warm, "start", lambda: seen.append(([], "start", True)) or True)
    monkeypatch.setattr(cli, "main", lambda args, prog_name: seen.append((args, prog_name, False)))
    monkeypatch.setenv("FACEDASH_WARM", "1")
    server.main(["run", "app.py", "--server.port", "8501"])
    assert seen == [
        ([], "start", True),
        (["run", "app.py", "--server.port", "8501"], "streamlit", False),
    ]
    seen.clear()
    monkeypatch.setenv("FACEDASH_WARM", "0")
    server.main(["run", "app.py"])
    assert seen == [(["run", "app.py"], "streamlit", False)]
    assert threading.active_count() >= 1


def test_streamlit_keeps_the_keras_session_between_runs():
    """Streamlit's after-run ``keras.backend.clear_session()`` would clear TensorFlow's kernel
    cache (every warmed function re-instantiated on its next call); app.py turns it off."""
    from streamlit.runtime.scriptrunner import script_runner

    from facedash.ui import server

    server.keep_keras_session()
    assert script_runner._clean_problem_modules is server._clean_matplotlib_only
    script_runner._clean_problem_modules()  # closes pyplot's figures only; never raises
    assert "keep_keras_session()" in (ROOT / "app.py").read_text()
