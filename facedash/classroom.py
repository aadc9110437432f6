"""Classroom mode without Streamlit: the access token, the LAN link, its QR code, the mode's settings.

``facedash serve --lan`` hands the dashboard its settings through environment
variables (``env_for``); the app reads them back with ``from_env``. No variable
set means no classroom mode: the app behaves exactly as ``make app``.

Nothing here sends a packet: the LAN address comes from asking the kernel which
source address a UDP socket *would* use (``connect`` on a datagram socket only
chooses a route).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

TOKEN_ENV = "FACEDASH_TOKEN"
SAVING_ENV = "FACEDASH_ALLOW_SAVING"
FOLDERS_ENV = "FACEDASH_ALLOW_FOLDERS"
LINK_ENV = "FACEDASH_LAN_URL"
ENV_NAMES = (TOKEN_ENV, SAVING_ENV, FOLDERS_ENV, LINK_ENV)

# URL-unreserved characters only: the token reads the same in a link, typed, and in a QR code.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.~-]{8,200}")
# One address in each private range: the kernel picks the source address of the
# interface that would reach it. Nothing is sent (UDP connect sends no packet).
_PROBES = ("10.255.255.255", "172.31.255.255", "192.168.255.255")


@dataclass(frozen=True)
class Mode:
    """What ``facedash serve --lan`` told the app: the token, what students may do, the link."""

    token: str
    allow_saving: bool = False
    allow_folders: bool = False
    link: str = ""


def new_token() -> str:
    """A fresh random access token (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def check_token_format(token: str) -> str:
    """Return ``token`` when it is usable in a link; else raise ``ValueError`` saying what a token is."""
    if not _TOKEN_RE.fullmatch(token):
        raise ValueError(
            "a token is 8 to 200 letters, digits or - _ . ~ (leave --token out for a random one)"
        )
    return token


def token_matches(given: str | None, expected: str) -> bool:
    """Whether ``given`` is the access token, compared in constant time.

    Both sides are hashed first, so ``hmac.compare_digest`` always compares two
    32-byte digests: the time taken does not depend on how much of ``given`` is
    right, nor on its length. An empty expected token admits nobody.
    """
    given_digest = hashlib.sha256((given or "").encode("utf-8")).digest()
    expected_digest = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(given_digest, expected_digest) and bool(expected)


def lan_addresses() -> list[str]:
    """IPv4 addresses of this computer on its networks (no loopback), the default route's first.

    Sends nothing: a UDP socket's ``connect`` only asks the kernel for a route.
    Empty when the computer is on no network.
    """
    found: list[str] = []
    for probe in _PROBES:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect((probe, 1))
                address = sock.getsockname()[0]
            except OSError:  # no route to that range
                continue
        if address not in found and not address.startswith(("127.", "0.")):
            found.append(address)
    return found


def link(host: str, port: int, token: str) -> str:
    """The link a student opens: ``http://host:port/?token=...``."""
    return f"http://{host}:{port}/?token={quote(token, safe='')}"


def env_for(mode: Mode) -> dict[str, str]:
    """The environment variables that put the app in ``mode``."""
    env = {TOKEN_ENV: mode.token, LINK_ENV: mode.link}
    if mode.allow_saving:
        env[SAVING_ENV] = "1"
    if mode.allow_folders:
        env[FOLDERS_ENV] = "1"
    return env


def from_env(environ: Mapping[str, str] | None = None) -> Mode | None:
    """The classroom mode the app runs in, or None (no token set: not a classroom)."""
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "")
    if not token:
        return None
    return Mode(
        token=token,
        allow_saving=env.get(SAVING_ENV) == "1",
        allow_folders=env.get(FOLDERS_ENV) == "1",
        link=env.get(LINK_ENV, ""),
    )


def _segno() -> Any:
    try:
        import segno
    except ImportError:
        raise ImportError("a QR code needs segno: pip install segno") from None
    return segno


def qr_png(text: str, *, scale: int = 8) -> bytes:
    """A QR code of ``text`` as PNG bytes (made in memory)."""
    import io

    buf = io.BytesIO()
    _segno().make(text, error="m").save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def qr_text(text: str) -> str:
    """A QR code of ``text`` in Unicode half blocks, for a terminal (light modules drawn)."""
    import io

    buf = io.StringIO()
    _segno().make(text, error="m").terminal(out=buf, compact=True, border=2)
    return buf.getvalue().rstrip("\n")
