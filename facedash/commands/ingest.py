"""``facedash embed --engine ray`` and ``facedash ingest DIR``: embedding past one machine.

``embed --engine ray`` runs ``facedash.scale.distributed`` on a local Ray cluster (or
the one at ``--address``) and prints the local ``embed``'s summary plus
``engine`` and ``workers``. With ``--out-dir`` the workers write Parquet shards
there instead of sending rows back; ``facedash ingest DIR`` loads such shards
into the store (each shard is one transaction per table, so a killed ingest
keeps the shards it finished and a rerun simply writes them again).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from facedash.errors import FacedashError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``ingest`` sub-command."""
    p = sub.add_parser("ingest", help="load Parquet shards of `embed --out-dir` into the store")
    p.add_argument("dir", help="the folder given to `facedash embed --engine ray --out-dir`")
    p.add_argument(
        "--store", default=None, help="SQLite store (default: $FACEDASH_HOME/embeddings.sqlite3)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ingest)


def add_engine_args(parser: argparse.ArgumentParser) -> None:
    """``--engine``, ``--address``, ``--workers``, ``--gpus-per-worker``, ``--out-dir``."""
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this process; ray: a Ray cluster (pip install 'facedash[ray]')",
    )
    parser.add_argument(
        "--address", default=None, help="Ray cluster address (default: start one on this machine)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="Ray actors, one model each (default: one a CPU)"
    )
    parser.add_argument(
        "--gpus-per-worker", type=float, default=0.0, help="GPUs per Ray actor (default: 0)"
    )
    parser.add_argument(
        "--out-dir",
        default=None,
        help="Ray: write Parquet shards here instead of the store (then `facedash ingest DIR`)",
    )


def ingest(folder: Path, store: Any) -> dict[str, Any]:
    """Commit every Parquet shard under ``folder`` to ``store``."""
    import pyarrow.parquet as pq

    from facedash.scale.distributed import commit

    shards = sorted(p for p in folder.rglob("*.parquet") if p.is_file())
    if not shards:
        raise FacedashError(f"no Parquet shards under {folder}")
    photos = faces = 0
    failed: list[dict[str, str]] = []
    for shard in shards:
        n_photos, n_faces, failures = commit(store, pq.read_table(shard).to_pylist())
        photos, faces = photos + n_photos, faces + n_faces
        failed += [f.as_dict() for f in failures]
    return {
        "shards": len(shards),
        "photos": photos,
        "faces": faces,
        "failed": failed,
        "store": str(store.path),
    }


def cmd_ingest(args: argparse.Namespace) -> int:
    from facedash.commands.common import emit
    from facedash.data.store import Store

    folder = Path(args.dir)
    if not folder.is_dir():
        raise FacedashError(f"{folder} is not a folder")
    store = Store(args.store) if args.store else Store()
    summary = ingest(folder, store)
    text = (
        f"{summary['photos']} photos, {summary['faces']} faces from {summary['shards']} shards "
        f"into {summary['store']}"
    )
    emit(args, summary, text)
    return 0


def cmd_embed_ray(args: argparse.Namespace) -> dict[str, Any]:
    """The ``embed --engine ray`` summary (the local keys plus ``engine`` and ``workers``)."""
    from facedash.commands.common import align_settings, progress_bar
    from facedash.data.datasets import load_demo, load_path
    from facedash.data.store import Store
    from facedash.scale.distributed import embed_with_ray, import_ray, run_ray

    import_ray()  # one line naming the install command, before any work
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # our bar and summary, not its log
    dataset = load_demo() if args.demo else load_path(args.path)
    align = align_settings(args)
    store = Store(args.store) if args.store else Store()
    kwargs: dict[str, Any] = {
        "model_id": args.model,
        "align_settings": align,
        "backend": args.backend,
        "address": args.address,
        "workers": args.workers,
        "gpus_per_worker": args.gpus_per_worker,
    }
    update, close = progress_bar(True)
    try:
        if args.out_dir:
            run = run_ray(dataset, store=store, out_dir=args.out_dir, progress=update, **kwargs)
            return {
                "images": run.images,
                "sent": run.todo,
                "out_dir": run.out_dir,
                "model": args.model,
                "seconds": round(run.seconds, 3),
                "engine": "ray",
                "workers": run.workers,
            }
        result, run = embed_with_ray(dataset, store=store, progress=update, **kwargs)
    finally:
        close()
    if result.note:
        print(f"facedash: note: {result.note}", file=sys.stderr)
    args.embedded_on = {"backend": result.backend, "precision": result.precision}
    summary: dict[str, Any] = result.summary()
    summary.update(engine="ray", workers=run.workers)
    if getattr(args, "out", None):
        summary["out"] = str(result.save(args.out))
    return summary
