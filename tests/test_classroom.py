"""Classroom serving: the token, ``facedash serve``, the gate in the app, and what a class may change."""

from __future__ import annotations

import argparse
import contextlib
import io
import ipaddress
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from facedash import classroom
from facedash.commands import serve
from facedash.errors import FacedashError
from tests.conftest import ARTIFACTS, ROOT, _free_port
from tests.fresh_process import run
from tests.servers import stop, wait_healthy

TOKEN = "class-token-0123"
UPLOAD, FOLDER = "Upload photos or a zip", "Folder on this server"


# -- the token ------------------------------------------------------------------------------
def test_new_tokens_are_random_and_fit_in_a_link():
    tokens = {classroom.new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) >= 22  # 16 random bytes
        assert classroom.check_token_format(token) == token
        assert classroom.link("10.0.0.7", 8501, token).endswith(f":8501/?token={token}")


@pytest.mark.parametrize(
    "given, expected",
    [
        (TOKEN, True),
        (TOKEN + "x", False),
        (TOKEN[:-1], False),
        (TOKEN.upper(), False),
        ("", False),
        (None, False),
        (" " + TOKEN, False),
    ],
)
def test_token_matches_only_the_token(given, expected):
    assert classroom.token_matches(given, TOKEN) is expected


def test_an_empty_token_admits_nobody():
    assert not classroom.token_matches("", "")
    assert not classroom.token_matches(None, "")


def test_tokens_are_compared_in_constant_time_as_equal_length_digests(monkeypatch):
    seen: list[tuple[object, object]] = []
    real = classroom.hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(classroom.hmac, "compare_digest", spy)
    for given in ("", "x", TOKEN[:4], TOKEN, TOKEN * 40):
        classroom.token_matches(given, TOKEN)
    assert len(seen) == 5
    assert all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in seen)
    assert {(len(a), len(b)) for a, b in seen} == {(32, 32)}  # same length whatever was given


@pytest.mark.parametrize("bad", ["", "short", "has space in it", "tökentöken", "a/b?c=d&e#f"])
def test_a_token_that_does_not_fit_a_link_is_refused(bad):
    with pytest.raises(ValueError, match="8 to 200 letters"):
        classroom.check_token_format(bad)


def test_mode_travels_through_the_environment():
    mode = classroom.Mode(TOKEN, allow_saving=True, allow_folders=False, link="http://x/?token=t")
    env = classroom.env_for(mode)
    assert classroom.from_env(env) == mode
    assert classroom.from_env({}) is None
    assert classroom.from_env({classroom.TOKEN_ENV: ""}) is None


def test_lan_addresses_send_nothing(monkeypatch):
    calls: list[str] = []
    real_socket = socket.socket

    class Recording(real_socket):
        def connect(self, address):
            calls.append(f"connect {self.type!r}")
            return super().connect(address)

        def send(self, *a, **k):  # pragma: no cover - must not happen
            calls.append("send")
            raise AssertionError("sent a packet")

        def sendto(self, *a, **k):  # pragma: no cover - must not happen
            calls.append("sendto")
            raise AssertionError("sent a packet")

    monkeypatch.setattr(classroom.socket, "socket", Recording)
    found = classroom.lan_addresses()
    assert calls and all(c.startswith("connect") and "SOCK_DGRAM" in c for c in calls)
    for address in found:
        ip = ipaddress.ip_address(address)
        assert ip.version == 4 and not ip.is_loopback and not ip.is_unspecified
    assert len(found) == len(set(found))


def decode_qr(image) -> str:
    """The text of the QR code in ``image`` (grey levels), read with OpenCV's detector.

    OpenCV's detector misses about 2 % of valid codes as drawn (11 of 600 terminal QR codes
    of links, 8 px a module), so softened and rescaled copies are read too: with them, none of
    1,200 links was missed.
    """
    import cv2

    image = np.asarray(image, np.uint8)

    def variants():
        yield image
        for sigma in (1.0, 2.0):
            yield cv2.GaussianBlur(image, (0, 0), sigma)
        for scale in (0.5, 0.75, 1.25):
            sized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            yield np.pad(sized, 32, constant_values=255)
            yield np.pad(cv2.GaussianBlur(sized, (0, 0), 1.0), 32, constant_values=255)

    detector = cv2.QRCodeDetector()
    return next((text for v in variants() if (text := detector.detectAndDecode(v)[0])), "")


def test_the_qr_png_reads_back_as_the_link():
    url = classroom.link("192.168.1.20", 8501, TOKEN)
    png = Image.open(io.BytesIO(classroom.qr_png(url)))
    assert png.format == "PNG" and png.width == png.height >= 200
    assert decode_qr(png.convert("L")) == url


def test_the_terminal_qr_reads_back_as_the_link():
    """Half blocks, light modules drawn (for a dark terminal): rebuilt as pixels, it decodes."""
    url = classroom.link("192.168.1.20", 8501, TOKEN)
    pairs = {"█": (255, 255), "▀": (255, 0), "▄": (0, 255), " ": (0, 0)}
    rows: list[tuple[int, ...]] = []
    for line in classroom.qr_text(url).splitlines():
        top, bottom = zip(*(pairs[c] for c in line), strict=True)
        rows += [top, bottom]
    pixels = np.kron(np.array(rows, np.uint8), np.ones((8, 8), np.uint8))
    assert decode_qr(np.pad(pixels, 32, constant_values=255)) == url


# -- facedash serve: the plan -------------------------------------------------------------
def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_serve_without_lan_is_make_app():
    port = _free_port()
    plan = serve.plan(_args("--port", str(port)), {classroom.TOKEN_ENV: "left-over", "HOME": "/h"})
    # Streamlit's command line, run by server.py beside app.py (the model warm-up starts first)
    assert plan.argv == [sys.executable, str(ROOT / "server.py"), "run", str(ROOT / "app.py")] + [
        "--server.port",
        str(port),
    ]
    assert classroom.from_env(plan.env) is None and plan.env["HOME"] == "/h"  # no token
    assert plan.lines == []


def test_serve_lan_binds_every_interface_and_prints_the_link():
    port = _free_port()
    plan = serve.plan(_args("--lan", "--port", str(port), "--token", TOKEN), {})
    argv = plan.argv
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0"
    assert argv[argv.index("--server.enableXsrfProtection") + 1] == "true"
    mode = classroom.from_env(plan.env)
    assert mode is not None and mode.token == TOKEN and not mode.allow_saving
    assert mode.link.endswith(f":{port}/?token={TOKEN}")
    links = [line for line in plan.lines if TOKEN in line]
    assert links and all(line.startswith("  Link: http://") for line in links)
    host = links[0].split("//")[1].split(":")[0]
    assert argv[argv.index("--browser.serverAddress") + 1] == host


def test_serve_lan_makes_a_token_when_none_is_given():
    a = classroom.from_env(serve.plan(_args("--lan", "--port", str(_free_port())), {}).env)
    b = classroom.from_env(serve.plan(_args("--lan", "--port", str(_free_port())), {}).env)
    assert a and b and a.token != b.token and len(a.token) >= 22


def test_serve_without_segno_still_prints_the_link(monkeypatch):
    monkeypatch.setitem(sys.modules, "segno", None)  # as if it were not installed
    plan = serve.plan(_args("--lan", "--port", str(_free_port()), "--token", TOKEN), {})
    assert any(line.startswith("  Link: ") for line in plan.lines)
    assert "  (no QR code: a QR code needs segno: pip install segno)" in plan.lines


def test_serve_allow_saving_and_address():
    port = _free_port()
    plan = serve.plan(
        _args("--lan", "--port", str(port), "--allow-saving", "--address", "127.0.0.1"), {}
    )
    mode = classroom.from_env(plan.env)
    assert mode and mode.allow_saving and not mode.allow_folders
    assert mode.link.startswith(f"http://127.0.0.1:{port}/?token=")
    assert plan.argv[plan.argv.index("--server.address") + 1] == "127.0.0.1"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--token", TOKEN], "--token: only with --lan"),
        (["--allow-saving"], "--allow-saving: only with --lan"),
        (["--lan", "--token", "abc"], "8 to 200 letters"),
        (["--lan", "--token", ""], "8 to 200 letters"),
        (["--port", "70000"], "between 1 and 65535"),
    ],
)
def test_serve_bad_options_say_what_is_wrong(argv, message):
    with pytest.raises(FacedashError, match=message):
        serve.plan(_args(*argv), {})


def test_serve_on_a_busy_port_says_so(capsys):
    from facedash.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("facedash: error: cannot listen on 127.0.0.1") and "\n" not in err


# -- the gate in the app ------------------------------------------------------------------
@pytest.fixture
def class_env(monkeypatch):
    monkeypatch.setenv(classroom.TOKEN_ENV, TOKEN)
    monkeypatch.setenv(classroom.LINK_ENV, classroom.link("192.168.1.20", 8501, TOKEN))
    monkeypatch.delenv(classroom.SAVING_ENV, raising=False)
    monkeypatch.delenv(classroom.FOLDERS_ENV, raising=False)


def _app(token: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    if token is not None:
        at.query_params["token"] = token
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _is_token_page(at: AppTest) -> bool:
    return (
        not at.exception
        and [t.value for t in at.title] == ["facedash"]
        and [t.label for t in at.text_input] == ["Access token"]
        and not at.metric
        and not at.get("image")
        and not at.sidebar.children
        and "fd_source" not in at.session_state
    )


def test_without_the_token_only_the_token_page(class_env, demo):
    assert _is_token_page(_app())


def test_a_wrong_token_gets_the_same_page(class_env, demo):
    at = _app(token="not-the-token")
    assert _is_token_page(at)
    assert "token" not in at.query_params  # not left in the address bar either
    at.text_input(key="fd_token_typed").input("still-not-it").run()
    assert _is_token_page(at)
    assert at.text_input(key="fd_token_typed").value == ""  # cleared: the page starts afresh


def test_the_token_in_the_link_opens_the_data_page(class_env, demo):
    at = _app(token=TOKEN)
    assert not at.exception
    assert at.title[0].value == "Data"
    assert {m.label: m.value for m in at.metric}["Photos"] == "118"
    assert "token" not in at.query_params  # taken out of the address bar once accepted
    assert any(c.value == classroom.link("192.168.1.20", 8501, TOKEN) for c in at.code)
    assert at.get("image")  # the QR code and the faces
    assert not at.get("popover") or all("Forget" not in p.label for p in at.get("popover"))


def test_typing_the_token_opens_the_app(class_env, demo):
    at = _app()
    at.text_input(key="fd_token_typed").input(TOKEN).run()
    assert not at.exception
    assert at.title[0].value == "Data"


def test_saving_and_folders_are_off_in_a_class(class_env, demo):
    at = _app(token=TOKEN, fd_source=UPLOAD, fd_keep_uploads=True)
    box = at.sidebar.checkbox(key="fd_keep_uploads")
    assert box.disabled and box.value is False
    assert FOLDER not in at.sidebar.radio(key="fd_source").options


def test_allow_saving_and_folders_turn_them_back_on(class_env, demo, monkeypatch):
    monkeypatch.setenv(classroom.SAVING_ENV, "1")
    monkeypatch.setenv(classroom.FOLDERS_ENV, "1")
    at = _app(token=TOKEN, fd_source=UPLOAD)
    assert not at.sidebar.checkbox(key="fd_keep_uploads").disabled
    assert FOLDER in at.sidebar.radio(key="fd_source").options


def test_outside_a_class_nothing_changes(demo, monkeypatch):
    monkeypatch.delenv(classroom.TOKEN_ENV, raising=False)
    at = _app(fd_source=UPLOAD)
    assert not at.exception
    assert not at.sidebar.checkbox(key="fd_keep_uploads").disabled
    assert FOLDER in at.sidebar.radio(key="fd_source").options
    assert not at.code  # no link panel


def test_a_students_operating_point_stays_in_their_session(class_env, demo):
    from facedash import verification as V
    from facedash.data.store import Store

    name = f"student point {uuid.uuid4().hex[:8]}"
    at = _app(token=TOKEN)
    at.switch_page("pages/verification.py").run()
    assert not at.exception
    at.text_input(key="verification_op_name").input(name).run()
    at.button(key="verification_op_save").click().run()
    assert not at.exception
    assert any(name in s.value for s in at.success)
    assert any(name in o for o in at.selectbox(key="verification_op_pick").options)
    shared = [p.name for p in V.OperatingPoints(Store()).list()]
    assert name not in shared


HEAVY = (
    "facedash.models",
    "facedash.faces.pipeline",
    "facedash.data.store",
    "facedash.data.datasets",
    "tensorflow",
    "keras",
    "mtcnn",
    "openvino",
)


def test_a_session_without_the_token_loads_nothing(demo):
    """In a fresh server process, the token page imports no data layer and no model."""
    code = f"""
import json, sys
from streamlit.testing.v1 import AppTest

def report(at):
    return {{
        "titles": [t.value for t in at.title],
        "metrics": len(at.metric),
        "sidebar": len(at.sidebar.children),
        "loaded": {{m: m in sys.modules for m in {HEAVY!r}}},
    }}

at = AppTest.from_file("app.py", default_timeout=300)
at.run()
gated = report(at)
at = AppTest.from_file("app.py", default_timeout=300)
at.query_params["token"] = {TOKEN!r}
at.run()
print("@@" + json.dumps({{"gated": gated, "admitted": report(at)}}))
"""
    got, _ = run(code, env={classroom.TOKEN_ENV: TOKEN})
    gated, admitted = got["gated"], got["admitted"]
    assert gated["titles"] == ["facedash"] and gated["metrics"] == 0 and gated["sidebar"] == 0
    assert gated["loaded"] == dict.fromkeys(HEAVY, False), gated["loaded"]
    # The same process with the token: the data layer loads, so the check above can fail.
    assert admitted["titles"] == ["Data"] and admitted["metrics"] == 5
    assert admitted["loaded"]["facedash.data.store"] and admitted["loaded"]["facedash.models"]


# -- a real server -------------------------------------------------------------------------
@contextlib.contextmanager
def serving(*extra: str, token: str = TOKEN) -> Iterator[tuple[str, Path]]:
    """Run ``facedash serve --lan`` on a free port; yield (loopback URL, its log); stop it after.

    It binds every interface, as in class; every request goes to 127.0.0.1.
    """
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"serve_{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "facedash.cli", "serve", "--lan", "--port", str(port)]
            + ["--token", token, *extra],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            why = wait_healthy(url, 90, proc)
            if why:
                pytest.fail(f"facedash serve: {why}\n{log_path.read_text()}")
            yield url, log_path
        finally:
            stop(proc, 15)


def test_facedash_serve_lan_answers_and_prints_the_link():
    with serving() as (url, log_path):
        port = url.rsplit(":", 1)[1]
        with urllib.request.urlopen(url + "/", timeout=10) as resp:
            assert resp.status == 200 and b"<html" in resp.read().lower()
        text = log_path.read_text()
    links = [line for line in text.splitlines() if line.startswith("  Link: ")]
    assert links and all(line.endswith(f":{port}/?token={TOKEN}") for line in links)
    # The token appears in the link lines only (Streamlit's own banner names no token).
    assert [line for line in text.splitlines() if TOKEN in line] == links
    assert "You can now view your Streamlit app" in text
