"""``facedash verify``: ROC-AUC, EER, best F1 and TAR at FAR of a face set's pairs."""

from __future__ import annotations

import argparse

from facedash.errors import FacedashError

SCORE_CHOICES = ("cosine", "euclidean", "mls")


def cmd_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    import facedash.pfe  # noqa: F401  (registers the mls score; loads no model)
    from facedash import verification as V
    from facedash.cli import emit, load_embeddings
    from facedash.models.registry import spec

    model_spec = spec(args.model)
    score = args.score or model_spec.metric
    if score not in V.SCORES:
        raise FacedashError(f"unknown score {score!r}; known: {', '.join(V.SCORES)}")
    if args.max_pairs < 2:
        raise FacedashError("--max-pairs must be at least 2")
    result = load_embeddings(args, progress=not args.json)
    if len(result.rows) < 2:
        raise FacedashError(f"need at least two faces to make pairs, found {len(result.rows)}")
    if args.pairs:
        pairs = V.read_pairs_file(Path(args.pairs), result.people, result.names)
    else:
        pairs = V.sample_pairs(result.people, args.max_pairs, seed=args.seed)
    if pairs.genuine == 0 or pairs.impostor == 0:
        raise FacedashError(
            f"need both same-person and different-person pairs, got {pairs.genuine} and {pairs.impostor}"
        )
    scores = V.pair_scores(result, pairs, score)
    sw = V.sweep(scores, pairs.same, score=score)
    record = V.summary(sw, model=args.model, threshold=args.threshold)
    record["pairs_source"] = pairs.source
    record["pairs_dropped"] = pairs.dropped
    record["default_threshold"] = model_spec.default_thresholds.get(score)
    lines = [
        f"{args.model} · {score} ({V.SCORES[score].rule}) · {pairs.genuine} genuine / "
        f"{pairs.impostor} impostor pairs ({pairs.source}"
        + (f", {pairs.dropped} dropped" if pairs.dropped else "")
        + ")",
        f"ROC-AUC {record['auc']:.4f}   EER {record['eer']:.2%} at {record['eer_threshold']:.4f}",
        "best F1 {f1:.4f} at {threshold:.4f} (precision {precision:.4f}, recall {recall:.4f})".format(
            **record["best_f1"]
        ),
        "TAR at FAR " + ", ".join(f"{f}: {v:.4f}" for f, v in record["tar_at_far"].items()),
    ]
    if record["default_threshold"] is not None:
        c = sw.at(record["default_threshold"])
        lines.append(
            f"published default {record['default_threshold']}: accuracy {c.accuracy:.4f}, "
            f"FAR {c.far:.4f}, FRR {c.frr:.4f}"
        )
    if args.threshold is not None:
        a = record["at_threshold"]
        lines.append(
            f"at {args.threshold}: TP {a['tp']} FP {a['fp']} TN {a['tn']} FN {a['fn']} · "
            f"precision {a['precision']:.4f} recall {a['recall']:.4f} F1 {a['f1']:.4f} "
            f"accuracy {a['accuracy']:.4f} FAR {a['far']:.4f} FRR {a['frr']:.4f}"
        )
    emit(args, V._clean(record), "\n".join(lines))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``verify`` to the ``facedash`` command."""
    from facedash.cli import add_source_args

    p = sub.add_parser(
        "verify", help="ROC-AUC, EER, best F1 and TAR at FAR over a face set's pairs"
    )
    add_source_args(p)
    p.add_argument(
        "--score",
        choices=SCORE_CHOICES,
        default=None,
        help="pair score (default: the model's metric: cosine for facenet, euclidean for dlib)",
    )
    p.add_argument("--pairs", help="LFW pairs.txt file (default: pairs of the set itself)")
    p.add_argument(
        "--threshold", type=float, default=None, help="also report the confusion at this threshold"
    )
    p.add_argument(
        "--max-pairs",
        type=int,
        default=1_000_000,
        help="above this many pairs, use a balanced random sample (default: 1000000)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the pair sample (default: 0)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)
