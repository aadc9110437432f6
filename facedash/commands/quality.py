"""``facedash quality``: every face-quality measure that applies to a model, judged by its EDC.

``--degrade blur:3,jpeg:20`` adds, beside each clean face, one copy of its aligned crop
degraded per listed kind at that value (each kind in its own unit: ``facedash.quality.degraded``),
keeping its person, so the comparisons mix clean and degraded faces. The JSON holds
``measures``, ``edc`` (per measure, ``oracle`` and ``random``: ``discard``, ``fnmr``, ``pauc``),
``threshold``, ``start_fnmr`` and ``form``; ``--out DIR`` writes ``faces.csv`` and
``pairs.csv``, from which anyone can recompute every curve.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from facedash.commands.common import add_source_args, emit, load_embeddings
from facedash.errors import FacedashError


def _scorer(model_id: str, passes: int, seed: int):
    from facedash.models import get_model
    from facedash.quality.scorer import Scorer, saved_head

    return Scorer(get_model(model_id), head=saved_head(model_id), passes=passes, seed=seed)


def cmd_quality(args: argparse.Namespace) -> int:
    import numpy as np

    from facedash.models.cards import spec
    from facedash.quality import degraded, study

    started = time.perf_counter()
    if args.start_fnmr is not None and not 0 <= args.start_fnmr < 1:
        raise FacedashError(f"--start-fnmr must lie in [0, 1), got {args.start_fnmr}")
    if args.passes < 2:
        raise FacedashError("--passes must be at least 2 (SER-FIQ compares passes)")
    try:
        kinds = degraded.parse(args.degrade) if args.degrade else {}
    except ValueError as exc:
        raise FacedashError(f"--degrade: {exc}") from None
    metric = spec(args.model).metric
    if metric not in ("cosine", "euclidean"):
        metric = "cosine"
    result = load_embeddings(args, progress=not args.json)
    if len(result.rows) < 2:
        raise FacedashError(f"need at least two faces to make pairs, found {len(result.rows)}")
    scorer = _scorer(result.model_id, args.passes, args.seed)
    tables = [study.clean_table(result, scorer)]
    if kinds:
        rows, crops = study.crops_of(result)
        copies, labels = degraded.copies(crops, kinds, seed=args.seed)
        tables.append(study.copy_table(result, scorer, np.tile(rows, len(kinds)), copies, labels))
    table = study.concat(tables)
    try:
        ev = study.evaluate(
            table,
            metric=metric,
            form=args.form,
            start_fnmr=args.start_fnmr,
            max_pairs=args.max_pairs,
            seed=args.seed,
        )
    except ValueError as exc:
        raise FacedashError(str(exc)) from None
    record = {
        "model": result.model_id,
        **ev.record,
        "degrade": {
            k: {"value": v, "strength": round(degraded.strength(k, v), 6)} for k, v in kinds.items()
        },
        "passes": args.passes if "serfiq" in ev.measures else None,
    }
    if args.out_dir:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "faces.csv").write_text(study.faces_csv(ev))
        (out / "pairs.csv").write_text(study.pairs_csv(ev))
        record["out"] = str(out)
    record["seconds"] = round(time.perf_counter() - started, 2)
    emit(args, record, _text(record))
    return 0


def _text(record: dict) -> str:
    edc = record["edc"]
    p = record["pairs"]
    lines = [
        f"{record['model']} · {record['score']} · {p['genuine']} genuine / {p['impostor']} "
        f"impostor pairs · faces {record['faces']}",
        f"EDC ({record['form']} threshold {record['threshold']:.4f}, starting FNMR "
        f"{record['start_fnmr']:.4f}): partial area up to {record['pauc_upto']:.0%} discarded, "
        "lower is better",
    ]
    for name in [*record["measures"], "oracle", "random"]:
        unscored = record["unscored"].get(name, 0)
        note = f"  ({unscored} faces unscored: given the lowest value)" if unscored else ""
        lines.append(f"  {name:<10} {edc[name]['pauc']:.5f}{note}")
    if "out" in record:
        lines.append(f"faces.csv and pairs.csv written to {record['out']}")
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``quality`` to the ``facedash`` command."""
    p = sub.add_parser(
        "quality",
        help="face-image quality measures judged by their EDC (error versus discard)",
    )
    add_source_args(p)
    p.add_argument(
        "--degrade",
        metavar="KIND:VALUE,...",
        help="add a degraded copy of every face per kind: blur (sigma px), jpeg (quality), "
        "noise (std), occlusion (%% covered), darkness (%% darker), downscale (%% of side kept)",
    )
    p.add_argument(
        "--form",
        choices=["fixed", "rethreshold"],
        default="fixed",
        help="fixed: one threshold, genuine pairs discarded (Schlett et al.; default); "
        "rethreshold: all pairs discarded, threshold re-chosen to keep the FMR (CR-FIQA's code)",
    )
    p.add_argument(
        "--start-fnmr",
        type=float,
        default=None,
        metavar="F",
        help="the threshold that gives this FNMR before any discard (default: the EER threshold)",
    )
    p.add_argument(
        "--passes", type=int, default=10, help="SER-FIQ's stochastic passes (default 10)"
    )
    p.add_argument(
        "--max-pairs",
        type=int,
        default=1_000_000,
        help="above this many pairs, use a balanced random sample (default: 1000000)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of masks, copies, samples (default 0)")
    p.add_argument(
        "--out", dest="out_dir", metavar="DIR", help="write faces.csv and pairs.csv into DIR"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_quality)
