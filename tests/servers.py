"""A local server and a headless Chromium, shared by the tests and the benchmarks.

``tests/conftest.py``, ``tests/test_classroom.py`` and ``bench/classroom.py`` start
``streamlit run`` / ``facedash serve`` on a free loopback port, wait for its health
endpoint and stop it; the browser tests and the load test launch Debian's Chromium with
the same arguments.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request

CHROMIUM = os.environ.get("FACEDASH_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, seconds: float, proc: subprocess.Popen | None = None) -> str | None:
    """Wait until ``url``'s ``/_stcore/health`` answers 200; None, or why it did not."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return f"the server stopped (exit {proc.returncode})"
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return None
        except OSError:
            time.sleep(0.3)
    return f"no answer from {url}/_stcore/health within {seconds:.0f} s"


def stop(proc: subprocess.Popen, seconds: float = 10) -> None:
    """Terminate a server, killing it if it does not stop within ``seconds``."""
    proc.terminate()
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_healthy_https(
    url: str, seconds: float, cafile: str, proc: subprocess.Popen | None = None
) -> str | None:
    """``wait_healthy`` for an ``https://`` URL, the server's certificate checked against ``cafile``.

    ``cafile`` is the server's own (self-signed) certificate, so the handshake also checks
    that it names the URL's host; it is read once it exists (the server may make it as it
    starts). None, or why there was no answer.
    """
    import ssl

    deadline = time.time() + seconds
    last = ""
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return f"the server stopped (exit {proc.returncode})"
        try:
            context = ssl.create_default_context(cafile=cafile)
            with urllib.request.urlopen(
                url + "/_stcore/health", timeout=2, context=context
            ) as resp:
                if resp.status == 200:
                    return None
        except OSError as exc:
            last = f" (last: {exc})"
            time.sleep(0.3)
    return f"no answer from {url}/_stcore/health within {seconds:.0f} s{last}"
