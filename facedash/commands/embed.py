"""``facedash embed``: detect, align and embed a face set through the store (``--engine ray``: on Ray)."""

from __future__ import annotations

import argparse

from facedash.commands import ingest
from facedash.commands.common import add_source_args, emit, load_embeddings
from facedash.errors import FacedashError


def cmd_embed(args: argparse.Namespace) -> int:
    if getattr(args, "engine", "local") == "ray":  # facedash/commands/ingest.py
        summary = ingest.cmd_embed_ray(args)
        if "out_dir" in summary:
            emit(args, summary, f"{summary['sent']} photos written to {summary['out_dir']}")
            return 0
    elif getattr(args, "out_dir", None):
        raise FacedashError("--out-dir needs --engine ray")
    else:
        from facedash.models import tfsetup

        tfsetup.use_threads(1)  # TensorFlow only serves the detector here (see use_threads)
        result = load_embeddings(args, progress=True, sigma2=not args.no_sigma2)
        summary = result.summary()
        summary["sigma2"] = args.sigma2
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
    if summary.get("sigma2"):
        s2 = summary["sigma2"]
        text += f"\nσ² of {s2['faces']} faces kept for the Uncertainty page ({s2['seconds']:.1f} s)"
    if args.out:
        text += f"\nWrote {summary['out']}"
    emit(args, summary, text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``embed``."""
    p_embed = sub.add_parser(
        "embed", help="detect, align and embed a face set (cached in the store)"
    )
    add_source_args(p_embed)
    p_embed.add_argument(
        "--out", help="write one row per face to FILE.npz, FILE.csv or FILE.parquet"
    )
    p_embed.add_argument("--json", action="store_true")
    p_embed.add_argument(
        "--no-sigma2",
        action="store_true",
        help="do not compute each new face's σ² (uncertainty) while embedding; by default it "
        "is, where the model has a trained uncertainty head",
    )
    ingest.add_engine_args(p_embed)
    p_embed.set_defaults(func=cmd_embed)
