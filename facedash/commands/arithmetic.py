"""``facedash arithmetic`` (person + attribute vectors) and ``facedash search`` (nearest faces)."""

from __future__ import annotations

import argparse
import copy
from typing import Any

from facedash.commands.common import add_source_args, emit, load_embeddings
from facedash.errors import FacedashError


def cmd_arithmetic(args: argparse.Namespace) -> int:
    from facedash import search
    from facedash.commands.common import progress_bar
    from facedash.data.store import Store
    from facedash.search.conditions import attribute_view

    result = load_embeddings(args, progress=True)
    store = Store(args.store) if args.store else Store()
    update, close = progress_bar(not args.json)
    try:
        view = attribute_view(
            result,
            args.attribute_pattern,
            store=store,
            progress=update,
            sample=args.view_sample,
        )
    finally:
        close()
    report = search.evaluate_arithmetic(
        view.result.embeddings,
        view.persons,
        view.values,
        method=args.method,
        index=args.index,
        k=args.k,
        sources=view.sources if view.synthetic else None,
        analogy_sample=args.analogy_sample,
        seed=args.seed,
    )
    payload = report.summary()
    payload["attribute"] = view.column
    payload["synthetic"] = view.synthetic
    payload["view_faces"] = view.faces_used
    payload["view_faces_total"] = view.faces_total
    text = (
        f"{payload['queries']} person + {view.column} queries over {payload['vectors']} faces "
        f"({args.method} group vectors, {report.index} index): top-1 {report.top1:.1%}, "
        f"top-5 {report.top5:.1%}"
    )
    if report.analogy:
        scored, total = int(report.analogy["queries"]), int(report.analogy["queries_total"])
        sampled = f"{scored:,} of {total:,} queries, a seeded sample"
        text += (
            f"\nimage - A + B ({sampled if scored < total else f'{total:,} queries'}): "
            f"top-1 {report.analogy['top1']:.1%}, top-5 {report.analogy['top5']:.1%}"
        )
    if args.train_head:
        _head_rows(args, view, store, payload)
        for row in payload["head"]:
            text += (
                f"\n{row['embedding']:17s} ({row['features']}) held-out "
                f"({row['faces (held out)']} faces): top-1 {row['top-1']:.1%}, "
                f"top-5 {row['top-5']:.1%}"
            )
    if view.synthetic:
        text += "\n(attributes are synthetic photographic conditions made by transforms"
        if payload["view_faces"] < view.faces_total:
            text += (
                f" of a seeded sample of {payload['view_faces']:,} of the set's "
                f"{view.faces_total:,} faces, in proportion to each person's"
            )
        text += ")"
    payload["per_attribute_top1"] = {a: round(v, 4) for a, v in report.per_attribute_top1().items()}
    emit(args, payload, text)
    return 0


def _head_rows(args: argparse.Namespace, view: Any, store: Any, payload: dict[str, Any]) -> None:
    """Train the triplet head on ``args.head_features`` and add its before / after rows."""
    from facedash.commands.common import progress_bar
    from facedash.search import view_features
    from facedash.search.triplet import compare_head

    update, close = progress_bar(not args.json)
    try:
        feats = view_features(view, args.head_features, store=store, progress=update)
    finally:
        close()
    cmp = compare_head(
        view.result.embeddings,
        view.persons,
        view.values,
        view.sources,
        features=feats,
        feature=args.head_features,
        method=args.method,
        epochs=args.train_head,
        seed=args.seed,
    )
    payload["head"] = [
        {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
        for row in cmp.rows
    ]
    payload["head_features"] = args.head_features


def cmd_search(args: argparse.Namespace) -> int:
    from facedash import search

    result = load_embeddings(args, progress=True)
    probe_args = copy.copy(args)
    probe_args.demo, probe_args.path, probe_args.faces = False, args.image, "largest"
    probe = load_embeddings(probe_args)
    if not len(probe.rows):
        reason = probe.failures[0].reason if probe.failures else "no face found"
        raise FacedashError(f"{args.image}: {reason}")
    if not len(result.rows):
        raise FacedashError("the face set has no embedded faces to search")
    index = search.make_index(result.embeddings, args.index)
    found = index.search(probe.embeddings[:1], args.k)
    rows = result.rows
    neighbours = [
        {
            "rank": r + 1,
            "name": rows[i].name,
            "person": rows[i].person,
            "similarity": round(float(s), 4),
            "distance": round(float(1 - s), 4),
            "same_photo": rows[i].image_hash == probe.rows[0].image_hash,
        }
        for r, (i, s) in enumerate(zip(found.ids[0], found.similarity[0], strict=True))
    ]
    payload = {
        "query": args.image,
        "faces_in_query": probe.rows[0].faces_in_image,
        "k": len(neighbours),
        "index": index.kind,
        "set_faces": len(rows),
        "neighbours": neighbours,
    }
    lines = [f"{len(neighbours)} nearest of {len(rows)} faces to {args.image} ({index.kind}):"]
    lines += [
        f"  {n['rank']:2d}. {n['similarity']:.3f}  {n['person']:20s} {n['name']}"
        + ("  (same photo)" if n["same_photo"] else "")
        for n in neighbours
    ]
    emit(args, payload, "\n".join(lines))
    return 0


def _k(value: str) -> int:
    k = int(value)
    if k < 1:
        raise argparse.ArgumentTypeError("k must be at least 1")
    return k


def _sample(value: str) -> int:
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError("the sample size must be 0 (every one) or more")
    return n


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``arithmetic`` and ``search`` to the ``facedash`` command."""
    from facedash.search import ANALOGY_SAMPLE, DEFAULT_FEATURE, FEATURES, INDEX_KINDS, METHODS
    from facedash.search.conditions import SAMPLE_FACES

    p = sub.add_parser(
        "arithmetic", help="person + attribute vector arithmetic: top-1 / top-5 over every pair"
    )
    add_source_args(p)
    p.add_argument(
        "--attribute-pattern",
        default=None,
        help="jaffe (expressions from KA.HA1.29.tiff names), a manifest COLUMN, or 'conditions' "
        "(synthetic photographic conditions); default: jaffe if the set has expressions, "
        "else conditions",
    )
    p.add_argument("--method", choices=METHODS, default="median", help="group-vector construction")
    p.add_argument("--index", choices=INDEX_KINDS, default="exact", help="nearest-neighbour index")
    p.add_argument("--k", type=_k, default=5, help="neighbours per query (default 5)")
    p.add_argument(
        "--analogy-sample",
        type=_sample,
        default=ANALOGY_SAMPLE,
        metavar="N",
        help=f"score at most N image - A + B queries, a seeded sample (default {ANALOGY_SAMPLE}; "
        "0: every query)",
    )
    p.add_argument(
        "--view-sample",
        type=_sample,
        default=None,
        metavar="N",
        help=f"make the synthetic conditions for at most N faces, a seeded sample in proportion "
        f"to each person's (default {SAMPLE_FACES}; 0: every face)",
    )
    p.add_argument(
        "--train-head",
        type=int,
        default=0,
        metavar="EPOCHS",
        help="also train the triplet head for EPOCHS and score held-out faces before / after",
    )
    p.add_argument(
        "--head-features",
        choices=list(FEATURES),
        default=DEFAULT_FEATURE,
        help=f"what the triplet head reads (default {DEFAULT_FEATURE}: a mid-level FaceNet block)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the analogy sample, the hold-out split and training",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_arithmetic)

    s = sub.add_parser("search", help="the k faces of a set most similar to the face in IMAGE")
    s.add_argument("image", help="an image with a face (the largest face is the query)")
    group = s.add_mutually_exclusive_group(required=True)
    group.add_argument("--in", dest="path", help="folder, zip or CSV manifest to search in")
    group.add_argument("--demo", action="store_true", help="search the bundled demo set")
    s.add_argument("--k", type=_k, default=5, help="neighbours to return (default 5)")
    s.add_argument("--index", choices=INDEX_KINDS, default="exact", help="nearest-neighbour index")
    s.add_argument("--model", default="facenet", help="embedding model id (default: facenet)")
    s.add_argument("--margin", type=float, default=None, help="crop margin (fraction)")
    s.add_argument(
        "--faces",
        choices=["largest", "all"],
        default="largest",
        help="faces kept per photo of the set",
    )
    s.add_argument("--no-rotate", action="store_true", help="do not level the eyes")
    s.add_argument("--store", default=None, help="SQLite store (default: in $FACEDASH_HOME)")
    s.add_argument(
        "--backend",
        choices=["auto", "tensorflow", "openvino"],
        default=None,
        help="where new embeddings are computed (default: $FACEDASH_BACKEND, else auto)",
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_search)
