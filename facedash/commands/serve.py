"""``facedash serve``: start the dashboard, on this computer or (``--lan``) for a class behind a token.

Without ``--lan`` it is exactly ``make app``: Streamlit on 127.0.0.1, no token.
With ``--lan`` it binds every interface, requires the access token (given or
made with ``secrets``), and prints the students' link and its QR code. The
command then becomes the Streamlit server (``exec``): Ctrl+C stops it.
"""

from __future__ import annotations

import argparse
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
    if not (app.is_file() and (root / "pages").is_dir()):
        raise FacedashError(
            f"no app.py beside the facedash package ({root}): `facedash serve` runs from a "
            "clone of the repository installed with `pip install -e .`"
        )
    return app


def plan(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Plan:
    """Check the options and build the Streamlit command (no side effects beyond a port check)."""
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
    app = find_app()
    argv = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port)]
    if not args.lan:
        _check_port_free("127.0.0.1", args.port)
        return Plan(argv, env)  # exactly `make app`; Streamlit prints its URL

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
    lines = ["facedash: serving the dashboard to this network (Ctrl+C stops it)."]
    if not hosts:
        hosts = ["127.0.0.1"]
        lines.append("  No network address found: is this computer on the classroom's network?")
    links = [classroom.link(host, args.port, token) for host in hosts]
    mode = classroom.Mode(token, args.allow_saving, args.allow_folders, links[0])
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
    lines += [f"  Link: {url}" for url in links]
    try:
        lines.append(classroom.qr_text(links[0]))
    except ImportError as exc:
        lines.append(f"  (no QR code: {exc})")
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
