"""``facedash explain-pairs``: pair maps judged the field's way, over a seeded sample of a set's pairs.

For each method (``xssab``, ``gradcam``, ``corrrise``, ``occlusion``), on N genuine and N
impostor pairs: the decision-flip rates at 5 … 50 % of each face's most important pixels blurred,
against random pixels; the deletion and insertion areas of the pair's score; ms per pair; and
the randomization check. See ``facedash.explain.pairs`` and docs/attention.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from facedash.commands.common import add_source_args, emit, load_embeddings

DEFAULT_METHODS = "xssab,gradcam,corrrise"


def register(sub: Any) -> None:
    """Add the ``explain-pairs`` sub-command."""
    p = sub.add_parser(
        "explain-pairs",
        help="pair maps (xSSAB, CorrRISE, ...) judged by decision flips, deletion and insertion",
    )
    add_source_args(p)
    p.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        help=f"comma-separated: xssab, gradcam, corrrise, occlusion (default: {DEFAULT_METHODS})",
    )
    p.add_argument(
        "--sample", default="20", help="genuine and impostor pairs each (default: 20; 'all')"
    )
    p.add_argument(
        "--threshold", type=float, default=None, help="cosine threshold (default: the set's EER)"
    )
    p.add_argument("--masks", type=int, default=200, help="CorrRISE masks per pair (default 200)")
    p.add_argument("--seed", type=int, default=0, help="the pairs' and masks' seed")
    p.add_argument("--layer", default=None, help="Grad-CAM's layer (default: Block35_5_Activation)")
    p.add_argument(
        "--no-randomization", action="store_true", help="skip the model randomization check"
    )
    p.add_argument("--json", action="store_true", help="one JSON object on standard output")
    p.set_defaults(func=cmd_explain_pairs)


def _sample(text: str) -> int | None:
    if text.strip().lower() == "all":
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise SystemExit(
            f"facedash explain-pairs: --sample must be a positive number or 'all', not {text!r}"
        )
    return n


def cmd_explain_pairs(args: argparse.Namespace) -> int:
    from facedash.explain.flips import study
    from facedash.explain.pairs import PAIR_METHODS
    from facedash.models import get_model

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in PAIR_METHODS]
    if unknown or not methods:
        print(
            f"facedash explain-pairs: unknown method(s) {', '.join(unknown) or '(none)'}; "
            f"use {', '.join(PAIR_METHODS)}",
            file=sys.stderr,
        )
        return 2
    if args.masks < 200 and "corrrise" in methods:
        print("facedash explain-pairs: CorrRISE needs at least 200 masks", file=sys.stderr)
        return 2
    sample = _sample(args.sample)
    result = load_embeddings(args, progress=not args.json)
    embedder = get_model(args.model)
    randomized = None
    if not args.no_randomization and getattr(embedder, "model", None) is not None:
        from facedash.explain.faithfulness import randomized_copy

        randomized = randomized_copy(embedder.model)  # type: ignore[attr-defined]

    def progress(method: str, done: int, total: int) -> None:
        if not args.json:
            print(f"\r{method}: {done}/{total} pairs", end="", file=sys.stderr, flush=True)

    try:
        out = study(
            result,
            methods,
            embedder,
            sample=sample,
            threshold=args.threshold,
            masks=args.masks,
            seed=args.seed,
            layer=args.layer,
            randomized=randomized,
            progress=progress,
        )
    except ValueError as exc:
        print(f"facedash explain-pairs: {exc}", file=sys.stderr)
        return 2
    if not args.json:
        print(file=sys.stderr)
    payload = {"model": args.model, **out.as_dict()}
    lines = [
        f"threshold {out.threshold:.4f} ({out.threshold_source}); {out.genuine} genuine, "
        f"{out.impostor} impostor pairs"
    ]
    for name, f in out.methods.items():
        lines.append(
            f"{name:10s} flip@10% {f.flip['10']:.2f} (random {f.random_flip['10']:.2f})  "
            f"flip@20% {f.flip['20']:.2f} (random {f.random_flip['20']:.2f})  "
            f"deletion {f.deletion_auc:.3f} (random {f.random_deletion_auc:.3f})  "
            f"insertion {f.insertion_auc:.3f}  {f.ms_per_pair:.0f} ms/pair"
        )
    for name, why in out.skipped.items():
        lines.append(f"{name:10s} skipped: {why}")
    emit(args, payload, "\n".join(lines))
    return 0
