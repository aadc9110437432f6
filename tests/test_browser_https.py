"""``facedash serve --lan --https`` in headless Chromium, reached by a name that is not loopback.

A student's laptop opens the teacher's computer by its network address, and browsers give
the camera to such a page only over HTTPS. Chromium maps ``facedash.test`` to 127.0.0.1
(``--host-resolver-rules``), so the page is not on ``localhost`` (which browsers treat as
secure even over HTTP) while every packet stays on this computer. Over plain HTTP the camera
is refused and the page says why; over HTTPS, the certificate accepted by its SPKI hash only
(``--ignore-certificate-errors-spki-list``, as a student accepts it after comparing the
fingerprint), the fake camera takes a photo that the Attention page explains.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from facedash import classroom, paths
from tests.conftest import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    _free_port,
    screenshot,
    wait_for_app,
)
from tests.servers import stop, wait_healthy, wait_healthy_https
from tests.test_browser_camera import PHOTO, demo_frame, take_photo, write_y4m
from tests.test_classroom import TOKEN

pytestmark = pytest.mark.browser

NAME = "facedash.test"  # resolved to 127.0.0.1 by this browser only
SECURE = "() => [window.isSecureContext, typeof navigator.mediaDevices]"


def spki_sha256(cert_file: Path) -> str:
    """The base64 SHA-256 of a certificate's public key (what Chromium's SPKI list takes)."""
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def class_home(demo, tmp_path_factory) -> Path:
    """A FACEDASH_HOME with this machine's model, demo faces and store linked in, its tls/ its own."""
    root = tmp_path_factory.mktemp("https") / "home"
    root.mkdir()
    for entry in paths.home().iterdir():
        if entry.name != "tls":
            (root / entry.name).symlink_to(entry)
    return root


@pytest.fixture(scope="module")
def certificate(class_home) -> classroom.Certificate:
    """The self-signed certificate the server will find (and reuse): made here, before it starts."""
    return classroom.self_signed([NAME], ["127.0.0.1"], folder=class_home / "tls")


@pytest.fixture(scope="module")
def class_browser(browser, demo_dataset, certificate, tmp_path_factory):
    """Chromium with a fake camera showing a demo face, ``facedash.test`` mapped to 127.0.0.1,
    and only ``certificate``'s key accepted without a CA."""
    clip = write_y4m(demo_frame(demo_dataset), tmp_path_factory.mktemp("camera") / "face.y4m")
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
        f"--host-resolver-rules=MAP {NAME} 127.0.0.1",
        f"--ignore-certificate-errors-spki-list={spki_sha256(certificate.cert_file)}",
    ]
    chromium = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=args)
    yield chromium
    chromium.close()


@contextlib.contextmanager
def class_server(home: Path, *extra: str) -> Iterator[tuple[int, Path]]:
    """``facedash serve --lan --address 127.0.0.1`` (plus ``extra``) with FACEDASH_HOME=``home``."""
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"serve_https_{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "facedash.cli", "serve", "--lan", "--address", "127.0.0.1"]
            + ["--port", str(port), "--token", TOKEN, *extra],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "FACEDASH_HOME": str(home)},
        )
        try:
            if "--https" in extra:
                cafile = str(home / "tls" / "cert.pem")
                why = wait_healthy_https(f"https://127.0.0.1:{port}", 90, cafile, proc)
            else:
                why = wait_healthy(f"http://127.0.0.1:{port}", 90, proc)
            if why:
                pytest.fail(f"facedash serve: {why}\n{log_path.read_text()}")
            yield port, log_path
        finally:
            stop(proc, 15)


@contextlib.contextmanager
def student_tab(chromium, origin: str) -> Iterator:
    """A tab in a fresh context, the camera permission granted to ``origin`` where it can be.

    Chromium refuses to grant the camera to an ``http://`` origin that is not loopback (the
    fake UI would still say yes to a prompt, but such a page gets no camera API to ask with).
    """
    context = chromium.new_context(viewport={"width": 1400, "height": 1500})
    if origin.startswith("https://"):
        context.grant_permissions(["camera"], origin=origin)
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    try:
        yield tab
    finally:
        context.close()


def open_camera_on_attention(tab) -> None:
    """From the Data page to Attention's own photo, the camera chosen."""
    tab.get_by_role("link", name="Attention").click()
    wait_for_app(tab, "Deletion AUC")
    tab.get_by_text("Or explain a photo of your own").click()
    tab.get_by_text("Take a photo with the camera").click()
    tab.get_by_text("stay in this browser session's memory only").wait_for()


def test_over_plain_http_the_camera_is_refused_and_the_page_says_why(class_browser, class_home):
    with class_server(class_home) as (port, _log):
        origin = f"http://{NAME}:{port}"
        with student_tab(class_browser, origin) as tab:
            tab.goto(f"{origin}/?token={TOKEN}")
            wait_for_app(tab, "Faces embedded")
            assert tab.evaluate(SECURE) == [False, "undefined"]  # no camera API at all
            open_camera_on_attention(tab)
            tab.get_by_text("This app would like to use your camera").wait_for()  # Streamlit's
            tab.get_by_text("Browsers give the camera to https:// pages only").wait_for()
            assert tab.get_by_role("button", name="Take Photo").is_disabled()
            assert not tab.evaluate("() => document.querySelector('video')?.readyState >= 2")
            tab.get_by_role("button", name="Use an upload instead").scroll_into_view_if_needed()
            screenshot(tab, "https_camera_refused_over_http")


def test_over_https_the_camera_takes_a_photo(class_browser, class_home, certificate, demo_dataset):
    with class_server(class_home, "--https", "--tls-name", NAME) as (port, log_path):
        text = log_path.read_text()
        assert f"  SHA-256 fingerprint: {certificate.fingerprint}" in text.splitlines()
        assert "  Certificate: self-signed, reused, valid until " in text  # the one made above
        assert f"  Link: https://{NAME}:{port}/?token={TOKEN}" in text.splitlines()
        origin = f"https://{NAME}:{port}"
        with student_tab(class_browser, origin) as tab:
            tab.goto(f"{origin}/?token={TOKEN}")
            wait_for_app(tab, "Faces embedded")
            assert tab.evaluate(SECURE) == [True, "object"]
            # The Data page's link for the class: the https link, and the fingerprint beside it.
            tab.get_by_text("Link for the class").first.wait_for()
            tab.get_by_text(f"https://127.0.0.1:{port}/?token={TOKEN}").first.wait_for()
            tab.get_by_text("SHA-256 fingerprint: when a browser warns").wait_for()
            tab.get_by_text(certificate.fingerprint).first.wait_for()
            tab.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=stImage] img')]"
                ".slice(0, 1).every(i => i.complete && i.naturalWidth > 0)"
            )
            screenshot(tab, "https_data_page_link")

            open_camera_on_attention(tab)
            take_photo(tab)
            person = demo_dataset.items[PHOTO].person
            wait_for_app(tab, f"camera photo (nearest person: {person})")
            tab.get_by_text("Deletion AUC").first.wait_for()
            tab.wait_for_function(
                "() => { const im = [...document.querySelectorAll('[data-testid=stImage] img')];"
                " return im.length >= 2 && im.every(i => i.complete && i.naturalWidth > 0); }"
            )
            assert tab.get_by_text("no face found", exact=False).count() == 0
            assert screenshot(tab, "https_camera_attention").stat().st_size > 50_000


def test_only_that_certificate_is_accepted(class_browser, tmp_path):
    """The browser is not told to accept any certificate: another one for the same name is refused."""
    other = classroom.self_signed([NAME], ["127.0.0.1"], folder=tmp_path / "other")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(other.cert_file, other.key_file)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    page = class_browser.new_page()
    try:
        with pytest.raises(Exception, match="ERR_CERT_AUTHORITY_INVALID"):
            page.goto(f"https://{NAME}:{server.server_address[1]}/", timeout=30_000)
    finally:
        page.close()
        server.shutdown()
        server.server_close()
