"""``facedash report``: one self-contained HTML file of a set's verification under one model or two.

The set's summary, each model's card, ROC and DET, the threshold table (published default,
EER, max F1, a target FMR, development → evaluation with its interval where the set has a
split), the subgroup table (``--subgroups ATTR``) and the worst pairs as thumbnails. plotly's
JavaScript is inlined: the file opens offline.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

from facedash.commands.common import add_source_args, emit, load_embeddings
from facedash.errors import FacedashError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``report``."""
    p = sub.add_parser(
        "report",
        help="one HTML file of a set's verification: cards, curves, thresholds, worst pairs",
    )
    add_source_args(p)
    p.add_argument("--compare", default=None, help="a second model beside the first")
    p.add_argument("--out", dest="report_out", required=True, help="the HTML file to write")
    p.add_argument(
        "--subgroups", default=None, help="an attribute whose groups get a row each (e.g. split)"
    )
    p.add_argument(
        "--max-pairs",
        type=int,
        default=200_000,
        help="sample past this many pairs (default: 200000)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_report)


def build(args: argparse.Namespace) -> tuple[str, dict]:
    """The HTML and a JSON summary for ``args`` (the CLI's and the app's path)."""
    from facedash.figures.report import html_report
    from facedash.verification.model_report import model_report, set_summary

    models = [args.model] + ([args.compare] if args.compare else [])
    if len(set(models)) != len(models):
        raise FacedashError("--compare names the same model as --model")
    sections = []
    for model in models:
        a = copy.copy(args)
        a.model = model
        result = load_embeddings(a)
        if len(result.rows) < 2:
            raise FacedashError(f"need at least two faces to make pairs, found {len(result.rows)}")
        rep = model_report(result, max_pairs=args.max_pairs, subgroup_attribute=args.subgroups)
        sections.append((rep, result))
    first = sections[0][1]
    summary = set_summary(first)
    html = html_report(summary, sections)
    record = {
        "models": models,
        "auc": {rep.model: rep.sweep.auc for rep, _ in sections},
        "eer_threshold": {rep.model: rep.thresholds[1]["value"] for rep, _ in sections},
        **summary,
    }
    return html, record


def cmd_report(args: argparse.Namespace) -> int:
    html, record = build(args)
    out = Path(args.report_out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise FacedashError("--out must end in .html")
    out.write_text(html, encoding="utf-8")
    record["out"] = str(out)
    record["bytes"] = out.stat().st_size
    emit(
        args,
        record,
        f"Wrote {out} ({record['bytes'] / 1e6:.1f} MB): {' vs '.join(record['models'])}",
    )
    return 0
