"""Classroom mode without Streamlit: the access token, the LAN link, its QR code, the mode's settings.

``facedash serve --lan`` hands the dashboard its settings through environment
variables (``env_for``); the app reads them back with ``from_env``. No variable
set means no classroom mode: the app behaves exactly as ``make app``.

Nothing here sends a packet: the LAN address comes from asking the kernel which
source address a UDP socket *would* use (``connect`` on a datagram socket only
chooses a route).

``--https``: a self-signed certificate for this computer's addresses, kept in
``$FACEDASH_HOME/tls`` (``self_signed``), or the teacher's own (``load_pair``).
Browsers give the camera to HTTPS pages only (and to ``localhost``), so a class
on the LAN needs it. The ``cryptography`` package is imported only by these two.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from facedash import paths

TOKEN_ENV = "FACEDASH_TOKEN"
SAVING_ENV = "FACEDASH_ALLOW_SAVING"
FOLDERS_ENV = "FACEDASH_ALLOW_FOLDERS"
LINK_ENV = "FACEDASH_LAN_URL"
FINGERPRINT_ENV = "FACEDASH_TLS_FINGERPRINT"
ENV_NAMES = (TOKEN_ENV, SAVING_ENV, FOLDERS_ENV, LINK_ENV, FINGERPRINT_ENV)

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
    fingerprint: str = ""  # with --https: the certificate's SHA-256, as browsers show it


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


def link(host: str, port: int, token: str, scheme: str = "http") -> str:
    """The link a student opens: ``http://host:port/?token=...`` (``https://`` with ``--https``)."""
    return f"{scheme}://{host}:{port}/?token={quote(token, safe='')}"


def env_for(mode: Mode) -> dict[str, str]:
    """The environment variables that put the app in ``mode``."""
    env = {TOKEN_ENV: mode.token, LINK_ENV: mode.link}
    if mode.fingerprint:
        env[FINGERPRINT_ENV] = mode.fingerprint
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
        fingerprint=env.get(FINGERPRINT_ENV, ""),
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


# -- HTTPS: the certificate ------------------------------------------------------------------
CERT_FILE, KEY_FILE = "cert.pem", "key.pem"
VALID_DAYS = 365  # a self-signed certificate's life
RENEW_DAYS = 30  # made anew when fewer days than this are left
LOCAL_NAMES, LOCAL_ADDRESSES = ("localhost",), ("127.0.0.1",)  # always in a self-signed one
_DNS_RE = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
)


@dataclass(frozen=True)
class Certificate:
    """A certificate and key for Streamlit: the files, what it names, its SHA-256, its life."""

    cert_file: Path
    key_file: Path
    fingerprint: str  # SHA-256 of the DER certificate, colon-separated upper-case hex
    names: tuple[str, ...]  # DNS names in its subjectAltName
    addresses: tuple[str, ...]  # IP addresses in its subjectAltName
    not_after: dt.datetime
    self_signed: bool = True
    made: bool = False  # made by this call (else reused, or the teacher's own)

    def covers(self, host: str) -> bool:
        """Whether a browser opening ``https://host`` finds ``host`` in the certificate."""
        return host.lower() in self.names or host in self.addresses


def tls_dir() -> Path:
    """Where the self-signed certificate is kept: ``$FACEDASH_HOME/tls``."""
    return paths.home() / "tls"


def fingerprint(der: bytes) -> str:
    """A certificate's SHA-256 as browsers show it: ``AB:CD:...`` (32 pairs)."""
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def split_names(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """``--tls-name`` values as (DNS names, IP addresses); ``ValueError`` for one that is neither."""
    dns: list[str] = []
    ips: list[str] = []
    for raw in names:
        name = raw.strip().lower().rstrip(".")
        try:
            ips.append(str(ipaddress.ip_address(name)))
            continue
        except ValueError:
            pass
        if not _DNS_RE.fullmatch(name):
            raise ValueError(
                f"--tls-name {raw!r}: a host name is letters, digits, - and dots (or an IP address)"
            )
        dns.append(name)
    return dns, ips


def _x509() -> Any:
    try:
        from cryptography import x509
    except ImportError:
        raise ImportError("HTTPS needs cryptography: pip install cryptography") from None
    return x509


def _describe(cert: Any, cert_file: Path, key_file: Path, **kw: Any) -> Certificate:
    x509 = _x509()
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(n.lower() for n in san.get_values_for_type(x509.DNSName))
        addresses = tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        names, addresses = (), ()
    return Certificate(
        cert_file,
        key_file,
        fingerprint(cert.public_bytes(Encoding.DER)),
        names,
        addresses,
        cert.not_valid_after_utc,
        **kw,
    )


def _read_pair(cert_file: Path, key_file: Path) -> tuple[Any, Any]:
    """The first certificate of ``cert_file`` and the key of ``key_file``; ``ValueError`` saying what is wrong."""
    x509 = _x509()
    from cryptography.hazmat.primitives import serialization as ser

    for what, path in (("--cert", cert_file), ("--key", key_file)):
        if not path.is_file():
            raise ValueError(f"{what} {path}: no such file")
    try:
        certs = x509.load_pem_x509_certificates(cert_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"--cert {cert_file}: not a PEM certificate ({_short(exc)})") from None
    try:
        key = ser.load_pem_private_key(key_file.read_bytes(), password=None)
    except TypeError:  # encrypted: Streamlit cannot ask for its passphrase
        raise ValueError(
            f"--key {key_file}: the key is encrypted; give it without a passphrase"
        ) from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"--key {key_file}: not a PEM private key ({_short(exc)})") from None
    spki = ser.PublicFormat.SubjectPublicKeyInfo
    if certs[0].public_key().public_bytes(ser.Encoding.DER, spki) != key.public_key().public_bytes(
        ser.Encoding.DER, spki
    ):
        raise ValueError(f"--key {key_file} is not the key of --cert {cert_file}")
    return certs[0], key


def _short(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:120]


def load_pair(cert_file: Path | str, key_file: Path | str) -> Certificate:
    """The teacher's own certificate (``--cert``/``--key``), checked: both readable PEM, the key its own."""
    cert_path, key_path = Path(cert_file).expanduser(), Path(key_file).expanduser()
    cert, _key = _read_pair(cert_path, key_path)
    return _describe(cert, cert_path.resolve(), key_path.resolve(), self_signed=False)


def self_signed(
    names: Iterable[str] = (),
    addresses: Iterable[str] = (),
    *,
    folder: Path | None = None,
    now: dt.datetime | None = None,
) -> Certificate:
    """The self-signed certificate in ``folder`` (default ``tls_dir()``), made or renewed when needed.

    It names ``localhost`` and ``127.0.0.1`` besides ``names`` (DNS) and ``addresses`` (IP).
    The one there is reused while it names all of them, its key is its own, and more than
    ``RENEW_DAYS`` days are left; else a new key and certificate (``VALID_DAYS`` days) replace
    it. The key file is the owner's only (0600, in a 0700 folder).
    """
    folder = paths.ensure_private_dir(tls_dir() if folder is None else folder)
    now = now or dt.datetime.now(dt.UTC)
    want_dns = list(dict.fromkeys([*LOCAL_NAMES, *(n.lower() for n in names)]))
    want_ips = list(
        dict.fromkeys([*LOCAL_ADDRESSES, *(str(ipaddress.ip_address(a)) for a in addresses)])
    )
    cert_file, key_file = folder / CERT_FILE, folder / KEY_FILE
    try:
        found = _describe(_read_pair(cert_file, key_file)[0], cert_file, key_file)
    except (ValueError, OSError):
        found = None
    if (
        found is not None
        and set(want_dns) <= set(found.names)
        and set(want_ips) <= set(found.addresses)
        and found.not_after - now > dt.timedelta(days=RENEW_DAYS)
    ):
        key_file.chmod(0o600)
        return found
    _make(cert_file, key_file, want_dns, want_ips, now)
    return _describe(_read_pair(cert_file, key_file)[0], cert_file, key_file, made=True)


def _make(
    cert_file: Path, key_file: Path, dns: list[str], ips: list[str], now: dt.datetime
) -> None:
    x509 = _x509()
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "facedash"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"facedash on {socket.gethostname()}"[:64]),
        ]
    )
    sans = [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement"), False
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))  # a student's clock may be a little behind
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
                **usage,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    _write(key_file, key_pem, 0o600)
    _write(cert_file, cert.public_bytes(ser.Encoding.PEM), 0o644)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a new file created with ``mode`` (never readable by others first), then move it in place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as out:
        out.write(data)
    tmp.chmod(mode)  # whatever the umask
    os.replace(tmp, path)
