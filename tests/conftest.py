"""Shared fixtures: the real model, the real demo faces, a running app and a headless browser.

The model and the demo set's embeddings are built once per test session. The
demo set is embedded through the default store in ``$FACEDASH_HOME``, so a second
test run (and the app) reuse it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import CHROMIUM, CHROMIUM_ARGS, stop, wait_healthy
from tests.servers import free_port as _free_port

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
# Every page of the app, in its navigation order (app.py).
PAGES = [
    "pages/data.py",
    "pages/attention.py",
    "pages/live.py",
    "pages/embedding_map.py",
    "pages/verification.py",
    "pages/uncertainty.py",
    "pages/arithmetic.py",
]
__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "PAGES", "ROOT", "_free_port", "run_app"]


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def demo_dataset():
    from facedash.data.datasets import load_demo

    return load_demo()


@pytest.fixture(scope="session")
def facenet():
    from facedash.models import get_model

    return get_model("facenet")


@pytest.fixture(scope="session")
def embedder():
    """FaceNet on the default backend ($FACEDASH_BACKEND, else auto: OpenVINO on a CPU when installed)."""
    from facedash.faces.probe import demo_probe
    from facedash.models import get_embedder

    return get_embedder("facenet", probe=demo_probe())


@pytest.fixture(scope="session")
def demo(demo_dataset, embedder):
    """The demo set's EmbeddingSet (FaceNet on the default backend, default settings), via the default store.

    Same backend and precision as the CLI's and the app's default, so they find it in the store.
    """
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset

    return embed_dataset(demo_dataset, store=Store())  # the default backend: ``embedder``


@pytest.fixture(scope="session")
def saved_head(demo, facenet):
    """The PFE head in $FACEDASH_HOME/pfe; a short one is trained there when none exists."""
    from facedash.pfe import train

    if train.read_record() is None:
        train.train(demo, embedder=facenet, epochs=20)
    return train.read_record()


@pytest.fixture
def app_py(monkeypatch):
    """Run ``app.py`` on every rerun, as the server does for a browser.

    AppTest builds a new ``PagesManager`` for each run; with a ``pages/`` folder beside
    ``app.py`` it then serves a rerun of the page it finished on as a bare legacy
    ``pages/`` script, without ``app.py`` (no sidebar, no language picker, its widgets
    dropped). A browser's reruns go through ``app.py``
    (``tests/test_browser.py::test_switching_the_face_set_keeps_the_sidebar``).
    """
    from streamlit.runtime.pages_manager import PagesManager

    init = PagesManager.__init__

    def entry_first(self, *args, **kwargs):
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", entry_first)


@contextlib.contextmanager
def run_app(*extra: str, log_name: str = "streamlit.log") -> Iterator[str]:
    """Run ``streamlit run app.py`` on a free loopback port; yield its URL; stop it afterwards."""
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / log_name).open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
            *extra,
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        why = wait_healthy(url, 60, proc)
        if why:
            pytest.fail(f"streamlit: {why}")
        yield url
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="session")
def app_url(demo) -> Iterator[str]:
    """A running app on a free loopback port (the demo set pre-embedded in the store)."""
    with run_app() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's chromium (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_url):
    """A fresh browser tab (1400 x 1000) on the app."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    yield tab
    context.close()


def screenshot(tab, name: str) -> Path:
    """Save a full-page screenshot under artifacts/screenshots/ and return its path."""
    out = ARTIFACTS / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path


def wait_for_app(tab, text: str, timeout: float = 120_000) -> None:
    """Wait until the app has finished running and ``text`` is visible."""
    tab.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
    tab.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout
    )
