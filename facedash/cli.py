"""The ``facedash`` command line.

Every job prints a short human summary, or with ``--json`` one JSON object on
standard output (progress goes to standard error, as a bar on a terminal).
Errors are one line on standard error and a non-zero exit status, never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from facedash.errors import FacedashError

Handler = Callable[[argparse.Namespace], int]
# Further sub-commands: each module has ``register(subparsers)`` and imports its
# heavy dependencies inside its handlers, so ``facedash --help`` stays fast.
COMMAND_MODULES: list[str] = [
    "facedash.commands.assets",
    "facedash.commands.embed",
    "facedash.commands.cluster",
    "facedash.commands.verify",
    "facedash.commands.explain",
    "facedash.commands.explain_pairs",
    "facedash.commands.pfe",
    "facedash.commands.arithmetic",
    "facedash.commands.doctor",
    "facedash.commands.serve",
    "facedash.commands.ingest",
    "facedash.commands.models",
    "facedash.commands.report",
    "facedash.commands.quality",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="facedash", description="What a face-recognition model sees."
    )
    sub = parser.add_subparsers(dest="command", required=True)

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
