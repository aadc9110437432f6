"""One self-contained HTML file an analyst hands a colleague: the set, each model's card and curves.

Pure: the set's summary and each model's ``ModelReport`` in, one HTML string out. plotly's
JavaScript is inlined once (the file opens offline, from disk), the worst pairs' faces are
inlined as JPEG data URIs, every number is written as text too.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any

import plotly.io as pio
from plotly.offline import get_plotlyjs

from facedash.figures import det as D
from facedash.figures import verification as F

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK JP",sans-serif;
margin:2rem auto;max-width:1200px;color:#222;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem} h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0} td,th{border:1px solid #ddd;padding:.25rem .6rem;
text-align:right} th{background:#f5f5f5} td:first-child,th:first-child{text-align:left}
.pairs{display:flex;flex-wrap:wrap;gap:.6rem} .pair{border:1px solid #ddd;padding:.3rem;
font-size:.8rem;text-align:center} .pair img{width:80px;height:80px} .row{display:flex;gap:1rem}
.row>div{flex:1;min-width:0} code{background:#f3f3f3;padding:0 .2rem}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any, fmt: str = ".4f") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return format(value, fmt)
    return _esc(value)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    head = "".join(f"<th>{_esc(title)}</th>" for _, title in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_num(r.get(key))}</td>" for key, _ in columns) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(fig: Any) -> str:
    fig.update_layout(width=None, autosize=True)  # the column's width, not the app's
    return pio.to_html(
        fig,
        include_plotlyjs=False,
        full_html=False,
        default_width="100%",
        config={"displaylogo": False, "responsive": True},
    )


def _card(card: dict[str, Any]) -> str:
    keys = (
        "name",
        "runtime",
        "input_size",
        "dim",
        "preprocessing",
        "metric",
        "threshold_source",
        "sha256",
        "notes",
    )
    rows = "".join(
        f"<tr><th>{_esc(k)}</th><td style='text-align:left'>{_esc(card.get(k, ''))}</td></tr>"
        for k in keys
        if card.get(k) not in (None, "")
    )
    return f"<table>{rows}</table>"


def _img(jpeg: bytes | None, name: str) -> str:
    if not jpeg:
        return ""
    return (
        f"<img alt='{_esc(name)}' src='data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}'>"
    )


def _pairs(
    rep: Any, thumbs: Sequence[bytes | None], names: Sequence[str], people: Sequence[str]
) -> str:
    out = []
    for kind, title in (("false_accept", "False accepts (impostors accepted), most alike first"),
                        ("false_reject", "False rejects (same person rejected), least alike first")):  # fmt: skip
        cells = []
        for k in rep.worst[kind]:
            i, j = int(rep.pairs.i[k]), int(rep.pairs.j[k])
            imgs = "".join(_img(thumbs[n], names[n]) for n in (i, j))
            cells.append(
                f"<div class='pair'>{imgs}<br>{_esc(people[i])} · {_esc(people[j])}<br>"
                f"score {rep.scores[k]:.4f}</div>"
            )
        out.append(f"<h4>{_esc(title)}</h4><div class='pairs'>{''.join(cells) or 'none'}</div>")
    return "".join(out)


def html_report(summary: dict[str, Any], sections: Sequence[tuple[Any, Any]]) -> str:
    """The report: ``summary`` of the set, one section per ``(ModelReport, its EmbeddingSet)``."""
    reports = [rep for rep, _ in sections]
    curves = [
        F.Curve(
            r.model,
            r.sweep,
            r.thresholds[1]["value"],
            r.card.get("default_thresholds", {}).get(r.score),
        )
        for r in reports
    ]
    parts = [
        f"<h1>Verification report: {_esc(' vs '.join(r.model for r in reports))}</h1>",
        f"<p>{_esc(summary.get('set', ''))} · {summary.get('photos', 0)} photos, {summary.get('faces', 0)} "
        f"faces of {summary.get('people', 0)} people · made by facedash {_esc(summary.get('version', ''))} "
        f"on {_esc(summary.get('made', ''))}</p>",
        "<p>ROC: true accepts against false accepts; DET: false non-matches against false "
        "matches on normal-deviate axes. Each curve's dot is its EER threshold, its cross the "
        "published default. All figures are over this set's pairs (in-sample) except the "
        "development → evaluation row, chosen on one split and reported on the other.</p>",
        f"<div>{_figure(F.roc_figure(curves, log_far=True))}</div>",
        f"<div>{_figure(D.det_figure(curves))}</div>",
    ]
    for rep, result in sections:
        parts.append(f"<h2>{_esc(rep.model)}</h2>")
        parts.append(_card(rep.card))
        parts.append(
            f"<p>Score: <code>{_esc(rep.score)}</code> · {rep.pairs.genuine} genuine / "
            f"{rep.pairs.impostor} impostor pairs · ROC-AUC {rep.sweep.auc:.4f}</p>"
        )
        parts.append("<h3>Thresholds</h3>")
        parts.append(
            _table(
                rep.thresholds,
                [
                    ("threshold", "threshold"),
                    ("value", "value"),
                    ("fmr", "FMR"),
                    ("fnmr", "FNMR"),
                    ("f1", "F1"),
                    ("note", "note"),
                ],
            )
        )
        if rep.dev_eval:
            de = rep.dev_eval
            iv = de.get("interval") or {}
            parts.append(
                f"<p>Development → evaluation: EER threshold chosen on {_esc(de['attribute'])}="
                f"{_esc(de['dev'])}: <b>{de['threshold']:.4f}</b>; reported on {_esc(de['eval'])}: "
                f"FMR {de['reported']['fmr']:.4f}, FNMR {de['reported']['fnmr']:.4f}, F1 "
                f"{de['reported']['f1']:.4f}"
                + (
                    f" ({iv['level']:.0%} interval over people: FMR {iv['far'][0]:.4f}–{iv['far'][1]:.4f}, "
                    f"FNMR {iv['frr'][0]:.4f}–{iv['frr'][1]:.4f})"
                    if iv
                    else ""
                )
                + f"; {_esc(de['eval'])}'s own in-sample EER threshold {de['in_sample_threshold']:.4f}.</p>"
            )
        if rep.subgroups:
            parts.append(
                f"<h3>Subgroups by {_esc(rep.subgroup_attribute)} (at the EER threshold)</h3>"
            )
            parts.append(
                _table(
                    rep.subgroups,
                    [
                        ("group", "group"),
                        ("genuine", "genuine"),
                        ("impostor", "impostor"),
                        ("auc", "AUC"),
                        ("far", "FMR"),
                        ("frr", "FNMR"),
                    ],
                )
            )
        parts.append("<h3>The worst pairs at the EER threshold</h3>")
        parts.append(_pairs(rep, result.thumbs, list(result.names), list(result.people)))
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>facedash report: {_esc(' vs '.join(r.model for r in reports))}</title>"
        f"<style>{_STYLE}</style><script type='text/javascript'>{get_plotlyjs()}</script></head>"
        f"<body>{body}</body></html>"
    )
