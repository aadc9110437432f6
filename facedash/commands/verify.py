"""``facedash verify``: ROC-AUC, EER, best F1 and TAR at FAR of a face set's pairs.

Every run also reports the DET curve (``"det"``, thinned to a few hundred points) and
the failure-to-acquire rate (``"fta"``). With ``--choose-on SPLIT --report-on SPLIT`` it
chooses a threshold on one split's pairs and reports it on another's (``"choose"``,
``"report"``, and the evaluation split's own in-sample optimum, ``"in_sample"``).
"""

from __future__ import annotations

import argparse
from typing import Any

from facedash.errors import FacedashError

SCORE_CHOICES = ("cosine", "euclidean", "mls")
CRITERION_CHOICES = ("eer", "f1", "cost")


def _criterion(args: argparse.Namespace) -> Any:
    """The ``Criterion`` of ``--target-fmr`` / ``--criterion`` / ``--cost`` (EER by default)."""
    from facedash import verification as V

    if args.cost is not None and args.criterion != "cost":
        raise FacedashError("--cost goes with --criterion cost")
    if args.target_fmr is not None:
        if not 0 <= args.target_fmr <= 1:
            raise FacedashError(f"--target-fmr must be within [0, 1], got {args.target_fmr}")
        return V.Criterion("target_fmr", target_fmr=args.target_fmr)
    if args.criterion == "cost":
        cost = V.protocol.DEFAULT_COST if args.cost is None else args.cost
        if not cost > 0:
            raise FacedashError(f"--cost must be positive, got {cost}")
        return V.Criterion("cost", cost=cost)
    return V.Criterion(args.criterion or "eer")


def _items(args: argparse.Namespace, result: Any) -> list[Any]:
    """The set's items, to give each photo without a face its person (listed again only then)."""
    if not result.no_face:
        return []
    from facedash.data.datasets import load_demo, load_path

    return list((load_demo() if args.demo else load_path(args.path)).items)


def _dev_eval(args: argparse.Namespace, result: Any, score: str, items: list[Any]) -> tuple:
    """The dev -> eval records and their text lines."""
    from facedash import verification as V

    attr = args.split_by
    if attr not in result.attribute_names:
        known = ", ".join(result.attribute_names) or "none"
        raise FacedashError(f"no face has a {attr!r} attribute (--split-by); attributes: {known}")
    criterion = _criterion(args)
    groups = [r.attributes.get(attr, "") for r in result.rows]
    try:
        de = V.dev_eval(
            result,
            result.people,
            groups,
            args.choose_on,
            args.report_on,
            criterion,
            attribute=attr,
            score=score,
            max_pairs=args.max_pairs,
            seed=args.seed,
            replicates=args.replicates,
        )
    except ValueError as exc:
        raise FacedashError(str(exc)) from None
    rule = V.SCORES[score].rule
    records: dict[str, Any] = {
        "protocol": {
            "split_by": attr,
            **criterion.as_dict(),
            "decision": rule,
            "pairs": "pairs whose two faces are both in the split",
        },
        "choose": de.choose_record(),
        "report": de.report_record(),
        "in_sample": de.in_sample_record(),
    }
    c, r, s = de.chosen, de.reported, de.in_sample
    iv = de.interval
    lines = [
        f"chosen on {attr}={de.dev.value} ({criterion.label}; {de.dev.pairs.genuine} genuine / "
        f"{de.dev.pairs.impostor} impostor pairs): threshold {de.threshold:.4f}, "
        f"FMR (FAR) {c.far:.4f}, FNMR (FRR) {c.frr:.4f}",
        f"reported on {attr}={de.eval.value} ({de.eval.pairs.genuine} genuine / "
        f"{de.eval.pairs.impostor} impostor pairs): FMR (FAR) {r.far:.4f}, FNMR (FRR) {r.frr:.4f}, "
        f"precision {r.precision:.4f}, F1 {r.f1:.4f}, accuracy {r.accuracy:.4f}",
    ]
    if iv is not None:
        lines.append(
            f"  {iv.level:.0%} interval over {de.eval.value}'s people: "
            + ", ".join(
                f"{n} {iv.rates[k].low:.4f}–{iv.rates[k].high:.4f}"
                for n, k in (("FMR", "far"), ("FNMR", "frr"), ("F1", "f1"))
            )
        )
    lines.append(
        f"{de.eval.value}'s own in-sample optimum ({criterion.label}): threshold "
        f"{de.in_sample_threshold:.4f}, FMR {s.far:.4f}, FNMR {s.frr:.4f}, F1 {s.f1:.4f} "
        "(chosen and scored on the same pairs: optimistic)"
    )
    acq = V.acquisition(result, items, attribute=attr, value=de.eval.value)
    tx = V.transaction_rates(r, de.eval.people, acq.people)
    records["report_transaction"] = {"split": de.eval.value, **tx.as_dict()}
    return records, lines


def cmd_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    import facedash.pfe  # noqa: F401  (registers the mls score; loads no model)
    from facedash import verification as V
    from facedash.commands.common import emit, load_embeddings
    from facedash.models.cards import spec

    model_spec = spec(args.model)
    score = args.score or model_spec.metric
    if score not in V.SCORES:
        raise FacedashError(f"unknown score {score!r}; known: {', '.join(V.SCORES)}")
    if args.max_pairs < 2:
        raise FacedashError("--max-pairs must be at least 2")
    if (args.choose_on is None) != (args.report_on is None):
        raise FacedashError("--choose-on and --report-on go together")
    if args.choose_on is None and (
        args.target_fmr is not None or args.criterion is not None or args.cost is not None
    ):
        raise FacedashError("--target-fmr, --criterion and --cost go with --choose-on/--report-on")
    if args.choose_on is not None:
        if args.pairs:
            raise FacedashError(
                "--choose-on/--report-on use the pairs within each split; leave out --pairs"
            )
        _criterion(args)  # fail fast on a bad --target-fmr or --cost
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
    record["det"] = {k: v.tolist() for k, v in V.det_points(sw).items()}
    items = _items(args, result)
    acq = V.acquisition(result, items)
    record["fta"] = acq.fta
    record["acquisition"] = acq.as_dict()
    if args.threshold is not None and not args.pairs:  # a pairs file's own pairs: no set counts
        tx = V.transaction_rates(sw.at(args.threshold), result.people, acq.people)
        record["transaction"] = {"split": None, **tx.as_dict()}
    lines = [
        f"{args.model} · {score} ({V.SCORES[score].rule}) · {pairs.genuine} genuine / "
        f"{pairs.impostor} impostor pairs ({pairs.source}"
        + (f", {pairs.dropped} dropped" if pairs.dropped else "")
        + ")",
        f"ROC-AUC {record['auc']:.4f}   EER {record['eer']:.2%} at {record['eer_threshold']:.4f}",
        "best F1 {f1:.4f} at {threshold:.4f} (precision {precision:.4f}, recall {recall:.4f})".format(
            **record["best_f1"]
        ),
        "TAR at FMR (FAR) " + ", ".join(f"{f}: {v:.4f}" for f, v in record["tar_at_far"].items()),
    ]
    if record["default_threshold"] is not None:
        c = sw.at(record["default_threshold"])
        lines.append(
            f"published default {record['default_threshold']}: accuracy {c.accuracy:.4f}, "
            f"FMR (FAR) {c.far:.4f}, FNMR (FRR) {c.frr:.4f}"
        )
    if args.threshold is not None:
        a = record["at_threshold"]
        lines.append(
            f"at {args.threshold}: TP {a['tp']} FP {a['fp']} TN {a['tn']} FN {a['fn']} · "
            f"precision {a['precision']:.4f} recall {a['recall']:.4f} F1 {a['f1']:.4f} "
            f"accuracy {a['accuracy']:.4f} FMR (FAR) {a['far']:.4f} FNMR (FRR) {a['frr']:.4f}"
        )
    lines.append(
        f"FTA (no face found) {acq.fta:.2%}: {len(acq.files)} of {acq.photos} photos"
        + (
            f" ({', '.join(acq.files[:3])}{' ...' if len(acq.files) > 3 else ''})"
            if acq.files
            else ""
        )
    )
    if "transaction" in record:
        t = record["transaction"]
        lines.append(
            f"transaction rates at {args.threshold} (FTA photos' genuine pairs as false "
            f"non-matches): FMR {t['fmr']:.4f}, FNMR {t['fnmr']:.4f}"
        )
    if args.choose_on is not None:
        extra, more = _dev_eval(args, result, score, items)
        record.update(extra)
        lines += more
    emit(args, V._clean(record), "\n".join(lines))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``verify`` to the ``facedash`` command."""
    from facedash.commands.common import add_source_args

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
    g = p.add_argument_group(
        "development -> evaluation",
        "choose a threshold on one split's pairs and report the error rates it gives on another's",
    )
    g.add_argument("--choose-on", metavar="SPLIT", help="development split (e.g. train)")
    g.add_argument("--report-on", metavar="SPLIT", help="evaluation split (e.g. val)")
    g.add_argument(
        "--split-by",
        default="split",
        metavar="ATTRIBUTE",
        help="the attribute whose values are the splits (default: split)",
    )
    how = g.add_mutually_exclusive_group()
    how.add_argument(
        "--target-fmr",
        type=float,
        metavar="F",
        help="the most lenient threshold whose development FMR is at most F",
    )
    how.add_argument(
        "--criterion",
        choices=CRITERION_CHOICES,
        default=None,
        help="eer (FMR = FNMR, the default), f1 (max F1), cost (min C·FMR + FNMR)",
    )
    g.add_argument(
        "--cost",
        type=float,
        metavar="C",
        help="with --criterion cost: what a false match costs in false non-matches (default 10)",
    )
    g.add_argument(
        "--replicates",
        type=int,
        default=200,
        help="bootstrap replicates over the evaluation set's people (default 200; 0: none)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)
