"""What the command modules share: output (text or one JSON line), the progress bar, the face-set flags.

Imports no command module: ``facedash.cli`` imports the commands, the commands import this.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any


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


def progress_bar(enabled: bool) -> tuple[Callable[[int, int, str], None], Callable[[], None]]:
    """A tqdm bar on a terminal's standard error (photos done, photos/s, time left), else nothing.

    The rate and the time left are tqdm's, smoothed over the last chunks
    (``smoothing=0.1``), so chunks read back from the store move the bar without
    hiding the pace of the photos being computed for long.
    """
    if not enabled or not sys.stderr.isatty():
        return (lambda done, total, msg: None), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(
        total=0,
        unit="photo",
        file=sys.stderr,
        leave=False,
        smoothing=0.1,
        dynamic_ncols=True,
        bar_format="{desc}{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
        "[{elapsed}<{remaining}, {rate_fmt}]",
    )

    def update(done: int, total: int, msg: str) -> None:
        bar.total = total
        bar.set_description(msg, refresh=False)
        if done > bar.n:
            bar.update(done - bar.n)  # tqdm times the photos: the rate and the time left
        else:
            bar.refresh()

    return update, bar.close


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


def align_settings(args: argparse.Namespace) -> Any:
    """The alignment the face-set flags ask for (``--margin``, ``--no-rotate``, ``--faces``)."""
    from facedash.faces.detect import AlignSettings

    defaults = AlignSettings()
    return AlignSettings(
        margin=defaults.margin if args.margin is None else args.margin,
        rotate=not args.no_rotate,
        policy=args.faces,
    )


def load_embeddings(
    args: argparse.Namespace, *, progress: bool = False, sigma2: bool = False
) -> Any:
    """Load the face set named by ``args`` and embed it through the store.

    ``sigma2``: where the model has a trained uncertainty head, each new face's σ² is
    computed in the pass that embeds it and kept for the Uncertainty page
    (``facedash.pfe.embedpass``); ``args.sigma2`` then holds what that pass did.
    """
    from facedash.data.datasets import load_demo, load_path
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset
    from facedash.models.cards import spec

    spec(args.model)  # fail fast on an unknown model
    dataset = load_demo() if args.demo else load_path(args.path)
    align = align_settings(args)
    store = Store(args.store) if args.store else Store()
    if store.recovered:
        print(f"facedash: note: {store.recovered}", file=sys.stderr)
    hook = None
    if sigma2:
        from facedash.faces.detect import DetectorSettings, align_key_for
        from facedash.pfe import embedpass

        hook = embedpass.for_model(
            args.model,
            det_key=DetectorSettings().key(),
            align_key=align_key_for(spec(args.model), align),
        )
    update, close = progress_bar(progress)
    try:
        result = embed_dataset(
            dataset,
            model_id=args.model,
            store=store,
            align_settings=align,
            progress=update,
            backend=args.backend,
            embed_hook=hook,
        )
    finally:
        close()
    args.sigma2 = hook.summary() if hook is not None else None
    if hook is not None and hook.note:
        print(f"facedash: note: {hook.note}", file=sys.stderr)
    if result.note:
        print(f"facedash: note: {result.note}", file=sys.stderr)
    args.embedded_on = {"backend": result.backend, "precision": result.precision}
    return result
