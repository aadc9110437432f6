"""``facedash serve``: start the dashboard, on this computer or (``--lan``) for a class behind a token.

Without ``--lan`` it is exactly ``make app``: Streamlit on 127.0.0.1, no token.
Either way the server process first starts the model warm-up (``server.py`` beside
``app.py``, ``facedash.explain.warm``): the first pages' models are loaded and traced before a
browser connects (``FACEDASH_WARM=0`` turns it off).
With ``--lan`` it binds every interface, requires the access token (given or
made with ``secrets``), and prints the students' link and its QR code. The
command then becomes the Streamlit server (``exec``): Ctrl+C stops it.

``--https`` serves over HTTPS (browsers give the camera to a LAN address only
over HTTPS): a self-signed certificate for this computer's addresses, made once
in ``$FACEDASH_HOME/tls`` and renewed when needed (``facedash.classroom.self_signed``),
or the teacher's own with ``--cert``/``--key``. Its SHA-256 fingerprint is printed
beside the link for students to compare with what their browser shows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from facedash import classroom
from facedash.errors import FacedashError

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (the point of --lan)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``serve`` sub-command."""
    p = sub.add_parser(
        "serve", help="start the dashboard (--lan: for a class on this network, behind a token)"
    )
    p.add_argument("--port", type=int, default=8501, help="port (default: 8501)")
    p.add_argument(
        "--lan",
        action="store_true",
        help="serve to this network with an access token (default: this computer only)",
    )
    p.add_argument(
        "--token",
        default=None,
        help="the access token (default: a random one); other users of this computer can read "
        "a command line, so prefer the random one",
    )
    p.add_argument(
        "--allow-saving",
        action="store_true",
        help="let students save their uploads' faces and operating points in the shared store",
    )
    p.add_argument(
        "--allow-folders",
        action="store_true",
        help="offer 'Folder on this server' to students (it reads any folder this computer can)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="with --lan: the address to bind (default: 0.0.0.0, every interface)",
    )
    p.add_argument(
        "--https",
        action="store_true",
        help="serve over HTTPS (browsers allow the camera on a network address only over "
        "HTTPS): a self-signed certificate for this computer's addresses, kept in "
        "$FACEDASH_HOME/tls and renewed before it expires; its SHA-256 fingerprint is printed",
    )
    p.add_argument(
        "--tls-name",
        action="append",
        default=None,
        metavar="NAME",
        help="with --https: a host name (or IP address) the self-signed certificate also "
        "names, e.g. this computer's name on the network; repeat for several",
    )
    p.add_argument(
        "--cert",
        default=None,
        metavar="FILE",
        help="with --https: your own certificate (PEM) instead of the self-signed one; needs --key",
    )
    p.add_argument(
        "--key",
        default=None,
        metavar="FILE",
        help="with --https and --cert: the certificate's private key (PEM, no passphrase)",
    )
    p.set_defaults(func=cmd_serve)


@dataclass
class Plan:
    """What ``serve`` runs: the command line, its environment, and what it prints first."""

    argv: list[str]
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)


def find_app() -> Path:
    """The repository's ``app.py`` beside the ``facedash`` package, or a one-line reason why not."""
    root = Path(__file__).resolve().parents[2]
    app = root / "app.py"
    if not (app.is_file() and (root / "pages").is_dir() and (root / "server.py").is_file()):
        raise FacedashError(
            f"no app.py beside the facedash package ({root}): `facedash serve` runs from a "
            "clone of the repository installed with `pip install -e .`"
        )
    return app


def plan(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Plan:
    """Check the options and build the Streamlit command.

    No side effects beyond a port check and, with ``--https``, the self-signed certificate
    (made or renewed in ``$FACEDASH_HOME/tls`` when needed).
    """
    env = dict(os.environ if environ is None else environ)
    for name in classroom.ENV_NAMES:  # only this command puts the app in classroom mode
        env.pop(name, None)
    if not 0 < args.port < 65536:
        raise FacedashError(f"--port must be between 1 and 65535, not {args.port}")
    lan_only = [
        flag
        for flag, given in (
            ("--token", args.token is not None),
            ("--allow-saving", args.allow_saving),
            ("--allow-folders", args.allow_folders),
            ("--address", args.address is not None),
        )
        if given
    ]
    if lan_only and not args.lan:
        raise FacedashError(
            f"{', '.join(lan_only)}: only with --lan (without it the dashboard is on this "
            "computer only, with no token)"
        )
    https, tls_names = _check_tls_options(args)
    app = find_app()
    # Streamlit's own command line, run by server.py beside app.py: it starts the model
    # warm-up (facedash.explain.warm; FACEDASH_WARM=0: none) in the server's process first.
    server = app.with_name("server.py")
    argv = [sys.executable, str(server), "run", str(app), "--server.port", str(args.port)]
    if not args.lan:
        _check_port_free("127.0.0.1", args.port)
        if not https:
            return Plan(argv, env)  # exactly `make app`; Streamlit prints its URL
        local = _certificate(args, ["127.0.0.1"], tls_names)
        argv += _ssl_argv(local)
        lines = [
            "facedash: serving the dashboard on this computer over HTTPS (Ctrl+C stops it).",
            f"  Link: https://localhost:{args.port}/",
            *_certificate_lines(local, ["localhost"]),
        ]
        return Plan(argv, env, lines)

    try:
        token = (
            classroom.new_token()
            if args.token is None
            else classroom.check_token_format(args.token)
        )
    except ValueError as exc:
        raise FacedashError(str(exc)) from None
    address = args.address or ALL_INTERFACES
    _check_port_free(address, args.port)
    hosts = classroom.lan_addresses() if address == ALL_INTERFACES else [address]
    over = " over HTTPS" if https else ""
    lines = [f"facedash: serving the dashboard to this network{over} (Ctrl+C stops it)."]
    if not hosts:
        hosts = ["127.0.0.1"]
        lines.append("  No network address found: is this computer on the classroom's network?")
    cert = _certificate(args, hosts, tls_names) if https else None
    link_hosts = hosts
    if cert is not None:  # the names given with --tls-name, or a real certificate's, as links too
        named = [
            n
            for n in (tls_names[0] if cert.self_signed else cert.names)
            if "*" not in n and n != "localhost" and n not in hosts
        ]
        # A real certificate's name first (its link opens without a warning), else the address.
        link_hosts = [*hosts, *named] if cert.self_signed or not named else [*named, *hosts]
    scheme = "https" if https else "http"
    links = [classroom.link(host, args.port, token, scheme) for host in link_hosts]
    fingerprint = cert.fingerprint if cert is not None else ""
    mode = classroom.Mode(token, args.allow_saving, args.allow_folders, links[0], fingerprint)
    env.update(classroom.env_for(mode))
    argv += [
        "--server.address",
        address,
        "--browser.serverAddress",  # the address Streamlit names and lets through its origin check
        hosts[0],
        "--server.enableXsrfProtection",
        "true",
        "--server.enableCORS",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    if cert is not None:
        argv += _ssl_argv(cert)
    lines += [f"  Link: {url}" for url in links]
    try:
        lines.append(classroom.qr_text(links[0]))
    except ImportError as exc:
        lines.append(f"  (no QR code: {exc})")
    if cert is not None:
        lines += _certificate_lines(cert, link_hosts)
    lines += [
        "  Without the token a browser sees only a page asking for it.",
        "  Saving in the store: "
        + (
            "on (--allow-saving)"
            if args.allow_saving
            else "off; each student's work stays in their session (--allow-saving turns it on)"
        ),
        "  Folders on this computer: "
        + ("offered (--allow-folders)" if args.allow_folders else "not offered to the class"),
    ]
    return Plan(argv, env, lines)


def _check_tls_options(args: argparse.Namespace) -> tuple[bool, tuple[list[str], list[str]]]:
    """Whether to serve over HTTPS, and ``--tls-name``'s (DNS names, IP addresses)."""
    https = bool(getattr(args, "https", False))
    names = getattr(args, "tls_name", None) or []
    cert, key = getattr(args, "cert", None), getattr(args, "key", None)
    tls_only = [
        flag
        for flag, given in (("--tls-name", bool(names)), ("--cert", cert), ("--key", key))
        if given is not None and given is not False
    ]
    if tls_only and not https:
        raise FacedashError(f"{', '.join(tls_only)}: only with --https")
    if (cert is None) != (key is None):
        raise FacedashError("--cert and --key go together: the certificate and its private key")
    if cert is not None and names:
        raise FacedashError(
            "--tls-name: only for the self-signed certificate (--cert names its own hosts)"
        )
    try:
        return https, classroom.split_names(names)
    except ValueError as exc:
        raise FacedashError(str(exc)) from None


def _certificate(
    args: argparse.Namespace, hosts: list[str], tls_names: tuple[list[str], list[str]]
) -> classroom.Certificate:
    """The teacher's certificate (checked), or the self-signed one naming ``hosts`` and ``--tls-name``."""
    try:
        if args.cert is not None:
            return classroom.load_pair(args.cert, args.key)
        dns, ips = classroom.split_names(hosts)
        return classroom.self_signed([*dns, *tls_names[0]], [*ips, *tls_names[1]])
    except (ValueError, ImportError) as exc:
        raise FacedashError(str(exc)) from None
    except OSError as exc:
        raise FacedashError(
            f"cannot keep the certificate in {classroom.tls_dir()} ({exc.strerror}): "
            "set FACEDASH_HOME to a folder you can write"
        ) from None


def _ssl_argv(cert: classroom.Certificate) -> list[str]:
    return ["--server.sslCertFile", str(cert.cert_file), "--server.sslKeyFile", str(cert.key_file)]


def _certificate_lines(cert: classroom.Certificate, hosts: list[str]) -> list[str]:
    """What the terminal says about the certificate: its fingerprint first, then where and how long."""
    until = cert.not_after.date().isoformat()
    lines = [f"  SHA-256 fingerprint: {cert.fingerprint}"]
    if cert.self_signed:
        made = "made now" if cert.made else "reused"
        lines += [
            f"  Certificate: self-signed, {made}, valid until {until} (a new one is made "
            f"{classroom.RENEW_DAYS} days before): {cert.cert_file}",
            "  Browsers warn that it is not trusted: students compare the fingerprint the "
            "warning's certificate details show with the one above, then go on to the site.",
        ]
    else:
        lines.append(f"  Certificate: {cert.cert_file}, valid until {until}")
        if cert.not_after <= dt.datetime.now(dt.UTC):
            lines.append("  It has expired: browsers will refuse it or warn.")
    lines += [
        f"  (the certificate does not name {host}: browsers will warn there)"
        for host in hosts
        if not cert.covers(host)
    ]
    return lines


def _check_port_free(address: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError as exc:
            raise FacedashError(
                f"cannot listen on {address}:{port} ({exc.strerror}): choose another --port"
            ) from None


def cmd_serve(args: argparse.Namespace) -> int:
    """Print the link (and QR code), then become the Streamlit server."""
    chosen = plan(args)
    if chosen.lines:
        print("\n".join(chosen.lines), flush=True)
    sys.stderr.flush()
    if os.name == "nt":  # no exec that keeps the console on Windows
        import subprocess

        return subprocess.call(chosen.argv, env=chosen.env)
    os.execve(sys.executable, chosen.argv, chosen.env)
    return 0  # not reached
