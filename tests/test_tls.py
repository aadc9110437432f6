"""``facedash serve --https``: the certificate (made, reused, renewed, or the teacher's own) and the server.

The certificates are real (made with ``cryptography``), read back independently (the
``ssl`` module and ``cryptography``'s parser), and the server test talks TLS to a real
``facedash serve --lan --https`` on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import re
import socket
import ssl
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from facedash import classroom
from facedash.errors import FacedashError
from tests.conftest import ROOT, _free_port
from tests.servers import stop, wait_healthy_https
from tests.test_classroom import TOKEN, _args, decode_qr

FINGERPRINT_RE = re.compile(r"^  SHA-256 fingerprint: ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})$", re.M)


def _sha256_colons(der: bytes) -> str:
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def _der(cert_file: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert_file.read_text())


def _sans(cert_file: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), {
        str(a) for a in san.get_values_for_type(x509.IPAddress)
    }


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty FACEDASH_HOME: the self-signed certificate goes to its tls/ folder."""
    monkeypatch.setenv("FACEDASH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


# -- the self-signed certificate ---------------------------------------------------------------
def test_a_self_signed_certificate_is_made_for_the_names_with_a_private_key(home):
    cert = classroom.self_signed(["facedash.test"], ["192.168.1.20"])
    assert cert.made and cert.self_signed
    assert cert.cert_file == home / "tls" / "cert.pem" and cert.key_file == home / "tls" / "key.pem"
    assert stat.S_IMODE(cert.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "tls").stat().st_mode) == 0o700
    assert _sans(cert.cert_file) == ({"localhost", "facedash.test"}, {"127.0.0.1", "192.168.1.20"})
    assert cert.fingerprint == _sha256_colons(_der(cert.cert_file))  # as a browser shows it
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", cert.fingerprint)
    parsed = x509.load_pem_x509_certificate(cert.cert_file.read_bytes())
    assert parsed.issuer == parsed.subject  # self-signed
    life = parsed.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert (
        dt.timedelta(days=classroom.VALID_DAYS - 1)
        < life
        <= dt.timedelta(days=classroom.VALID_DAYS)
    )
    assert not parsed.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # The key is the certificate's own, and unencrypted (Streamlit reads it as is).
    key = serialization.load_pem_private_key(cert.key_file.read_bytes(), password=None)
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.public_key().public_bytes(*spki) == parsed.public_key().public_bytes(*spki)


def test_the_certificate_is_reused_on_later_starts(home):
    first = classroom.self_signed(["facedash.test"], ["192.168.1.20"])
    before = first.cert_file.read_bytes(), first.key_file.read_bytes()
    again = classroom.self_signed(["facedash.test"], ["192.168.1.20"])
    fewer = classroom.self_signed([], ["192.168.1.20"])  # names it already has: reused too
    assert not again.made and not fewer.made
    assert again.fingerprint == fewer.fingerprint == first.fingerprint
    assert (first.cert_file.read_bytes(), first.key_file.read_bytes()) == before


def test_it_is_renewed_when_fewer_than_30_days_are_left(home):
    first = classroom.self_signed(["facedash.test"])
    now = dt.datetime.now(dt.UTC)
    later = classroom.self_signed(["facedash.test"], now=now + dt.timedelta(days=300))
    assert not later.made and later.fingerprint == first.fingerprint  # 65 days left
    near = now + dt.timedelta(days=classroom.VALID_DAYS - classroom.RENEW_DAYS + 1)
    renewed = classroom.self_signed(["facedash.test"], now=near)  # 29 days left
    assert renewed.made and renewed.fingerprint != first.fingerprint
    assert renewed.not_after > first.not_after + dt.timedelta(days=300)
    assert _sans(renewed.cert_file)[0] == {"localhost", "facedash.test"}


def test_it_is_renewed_for_a_name_or_address_it_does_not_have(home):
    first = classroom.self_signed(["facedash.test"], ["192.168.1.20"])
    named = classroom.self_signed(["class.example"], ["192.168.1.20"])
    assert named.made and named.fingerprint != first.fingerprint
    assert _sans(named.cert_file) == ({"localhost", "class.example"}, {"127.0.0.1", "192.168.1.20"})
    moved = classroom.self_signed(["class.example"], ["10.0.0.5"])  # another network
    assert moved.made and "10.0.0.5" in _sans(moved.cert_file)[1]


def test_a_damaged_certificate_is_made_again_and_the_key_kept_private(home):
    first = classroom.self_signed()
    first.key_file.chmod(0o644)
    again = classroom.self_signed()
    assert not again.made and stat.S_IMODE(again.key_file.stat().st_mode) == 0o600
    first.cert_file.write_text("not a certificate")
    remade = classroom.self_signed()
    assert remade.made and remade.fingerprint != first.fingerprint


@pytest.mark.parametrize(
    "given, dns, ips",
    [
        (["Facedash.Test."], ["facedash.test"], []),
        (["teacher-laptop.local", "10.1.2.3"], ["teacher-laptop.local"], ["10.1.2.3"]),
    ],
)
def test_tls_names_are_host_names_or_addresses(given, dns, ips):
    assert classroom.split_names(given) == (dns, ips)


@pytest.mark.parametrize("bad", ["has space", "a_b.test", "-x.test", "http://x.test", ""])
def test_a_tls_name_that_is_no_host_name_is_refused(bad):
    with pytest.raises(ValueError, match="a host name is letters, digits"):
        classroom.split_names([bad])


# -- the teacher's own certificate ---------------------------------------------------------------
def test_a_certificate_and_its_key_are_taken(tmp_path):
    own = classroom.self_signed(["school.example"], folder=tmp_path / "own")
    taken = classroom.load_pair(own.cert_file, own.key_file)
    assert not taken.self_signed and not taken.made
    assert taken.fingerprint == own.fingerprint and taken.covers("school.example")
    assert not taken.covers("192.168.1.20")


def _pairs(tmp_path: Path) -> tuple[classroom.Certificate, classroom.Certificate]:
    return (
        classroom.self_signed(["a.example"], folder=tmp_path / "a"),
        classroom.self_signed(["b.example"], folder=tmp_path / "b"),
    )


def test_a_wrong_missing_or_unreadable_pair_says_what_is_wrong(tmp_path):
    a, b = _pairs(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    encrypted = tmp_path / "encrypted.pem"
    key = serialization.load_pem_private_key(a.key_file.read_bytes(), password=None)
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    cases = [
        ((a.cert_file, b.key_file), "is not the key of --cert"),
        ((tmp_path / "none.pem", a.key_file), "--cert .*none.pem: no such file"),
        ((a.cert_file, tmp_path / "none.pem"), "--key .*none.pem: no such file"),
        ((garbage, a.key_file), "not a PEM certificate"),
        ((a.cert_file, garbage), "not a PEM private key"),
        ((a.cert_file, encrypted), "the key is encrypted"),
        ((a.key_file, a.cert_file), "not a PEM certificate"),  # swapped
    ]
    for (cert_file, key_file), message in cases:
        with pytest.raises(ValueError, match=message) as got:
            classroom.load_pair(cert_file, key_file)
        assert "\n" not in str(got.value)


# -- facedash serve: the plan ---------------------------------------------------------------------
def test_serve_lan_https_uses_the_certificate_and_prints_its_fingerprint(home):
    port = _free_port()
    plan = _plan(
        "--lan", "--https", "--address", "127.0.0.1", "--tls-name", "facedash.test", port=port
    )
    cert = classroom.self_signed(["facedash.test"], ["127.0.0.1"])  # the one the plan made
    assert not cert.made
    argv = plan.argv
    assert argv[argv.index("--server.sslCertFile") + 1] == str(home / "tls" / "cert.pem")
    assert argv[argv.index("--server.sslKeyFile") + 1] == str(home / "tls" / "key.pem")
    assert argv[argv.index("--server.enableXsrfProtection") + 1] == "true"
    links = [line for line in plan.lines if line.startswith("  Link: ")]
    assert links == [
        f"  Link: https://127.0.0.1:{port}/?token={TOKEN}",
        f"  Link: https://facedash.test:{port}/?token={TOKEN}",
    ]
    assert FINGERPRINT_RE.findall("\n".join(plan.lines)) == [cert.fingerprint]
    # The fingerprint right after the link and its QR code, which opens the https link.
    at = plan.lines.index(f"  SHA-256 fingerprint: {cert.fingerprint}")
    assert plan.lines[at - 1].startswith(("█", "▀", "▄", " ")) and "Link" not in plan.lines[at - 1]
    mode = classroom.from_env(plan.env)
    assert mode and mode.link == f"https://127.0.0.1:{port}/?token={TOKEN}"
    assert mode.fingerprint == cert.fingerprint
    assert (
        plan.lines[0]
        == "facedash: serving the dashboard to this network over HTTPS (Ctrl+C stops it)."
    )


def _plan(*argv: str, port: int | None = None):
    """``serve.plan`` with the test's token on a free port (``--token`` only with ``--lan``)."""
    from facedash.commands import serve

    token = ["--token", TOKEN] if "--lan" in argv else []
    return serve.plan(_args(*argv, *token, "--port", str(port or _free_port())), {})


def test_the_qr_code_opens_the_https_link(home):
    import numpy as np

    plan = _plan("--lan", "--https", "--address", "127.0.0.1")
    pairs = {"█": (255, 255), "▀": (255, 0), "▄": (0, 255), " ": (0, 0)}
    text = "\n".join(plan.lines).splitlines()
    qr = [line for line in text if line and set(line) <= set(pairs)]
    rows = [r for line in qr for r in zip(*(pairs[c] for c in line), strict=True)]
    pixels = np.kron(np.array(rows, np.uint8), np.ones((8, 8), np.uint8))
    url = decode_qr(np.pad(pixels, 32, constant_values=255))
    assert url.startswith("https://127.0.0.1:") and url.endswith(f"/?token={TOKEN}")


def test_serve_https_without_lan_is_this_computer_over_https(home):
    port = _free_port()
    plan = _plan("--https", port=port)
    assert "--server.address" not in plan.argv and "--server.sslCertFile" in plan.argv
    assert f"  Link: https://localhost:{port}/" in plan.lines
    assert classroom.from_env(plan.env) is None  # no token, no classroom
    assert FINGERPRINT_RE.search("\n".join(plan.lines))


def test_serve_with_the_teachers_certificate(home, tmp_path):
    own = classroom.self_signed(["class.school.example"], folder=tmp_path / "own")
    plan = _plan(
        "--lan",
        "--https",
        "--address",
        "127.0.0.1",
        "--cert",
        str(own.cert_file),
        "--key",
        str(own.key_file),
    )
    argv = plan.argv
    assert argv[argv.index("--server.sslCertFile") + 1] == str(own.cert_file)
    assert argv[argv.index("--server.sslKeyFile") + 1] == str(own.key_file)
    assert FINGERPRINT_RE.findall("\n".join(plan.lines)) == [own.fingerprint]
    mode = classroom.from_env(plan.env)
    assert mode and mode.link.startswith("https://class.school.example:")  # its name first
    assert not (home / "tls").exists()  # no self-signed one made


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--tls-name", "x.test"], "--tls-name: only with --https"),
        (["--lan", "--cert", "c.pem", "--key", "k.pem"], "--cert, --key: only with --https"),
        (["--https", "--cert", "c.pem"], "--cert and --key go together"),
        (["--https", "--key", "k.pem"], "--cert and --key go together"),
        (
            ["--https", "--cert", "c", "--key", "k", "--tls-name", "x.test"],
            "only for the self-signed",
        ),
        (["--https", "--tls-name", "not a name"], "a host name is letters"),
        (
            ["--https", "--cert", "/nonexistent/c.pem", "--key", "/nonexistent/k.pem"],
            "no such file",
        ),
    ],
)
def test_serve_bad_tls_options_say_what_is_wrong_and_make_nothing(home, argv, message):
    with pytest.raises(FacedashError, match=message):
        _plan(*argv)
    assert not (home / "tls").exists()


def test_a_mismatched_pair_is_one_line_and_starts_nothing(home, tmp_path, capsys):
    from facedash.cli import main

    a, b = _pairs(tmp_path)
    port = _free_port()
    argv = ["serve", "--lan", "--https", "--address", "127.0.0.1", "--port", str(port)]
    assert main([*argv, "--cert", str(a.cert_file), "--key", str(b.key_file)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no link, no QR code
    assert err.startswith("facedash: error: --key ") and "is not the key of --cert" in err
    assert err.count("\n") == 1
    with socket.socket() as free:  # nothing listens there
        free.bind(("127.0.0.1", port))


# -- a real server ---------------------------------------------------------------------------------
def test_facedash_serve_https_answers_over_tls_with_the_printed_certificate(tmp_path):
    port = _free_port()
    home = tmp_path / "home"
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "FACEDASH_HOME": str(home)}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "facedash.cli", "serve", "--lan", "--https"]
            + ["--address", "127.0.0.1", "--port", str(port), "--token", TOKEN],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        url = f"https://127.0.0.1:{port}"
        try:
            cert_file = home / "tls" / "cert.pem"
            why = wait_healthy_https(url, 90, str(cert_file), proc)  # the name 127.0.0.1 checked
            if why:
                pytest.fail(f"facedash serve --https: {why}\n{log_path.read_text()}")
            served = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", port)))
            context = ssl.create_default_context(cafile=str(cert_file))
            with urllib.request.urlopen(url + "/", timeout=10, context=context) as resp:
                assert resp.status == 200 and b"<html" in resp.read().lower()
            with pytest.raises(OSError):  # no plain HTTP on that port
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5)
        finally:
            stop(proc, 15)
    text = log_path.read_text()
    printed = FINGERPRINT_RE.findall(text)
    assert printed == [_sha256_colons(served)]  # what students compare is what is served
    assert served == _der(cert_file)
    assert f"  Link: https://127.0.0.1:{port}/?token={TOKEN}" in text
    assert "  Certificate: self-signed, made now, valid until " in text
    assert f"URL: https://127.0.0.1:{port}" in text  # Streamlit's banner says https too
    assert ipaddress.ip_address("127.0.0.1").exploded in _sans(cert_file)[1]
