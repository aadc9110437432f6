"""The Japanese catalog keeps to its glossary: one term per concept, full-width punctuation.

``facedash/locale/GLOSSARY.md`` has one row per concept with the Japanese term and the
variants that must not appear (column ``banned``, separated by `` / ``). These tests read that
table and the catalog ``ja/LC_MESSAGES/facedash.po`` and fail on

- a banned variant in any msgstr (the message shows the msgid and the variant);
- a textbook term missing where the English names it (PCA, k-means, cumulative explained
  variance, Hungarian, FMR/FNMR, the confusion-matrix cells);
- faces, crops or photos counted with 個 or つ (the counter is 枚);
- a half-width ``(``, ``)`` or ``:`` touching Japanese text, outside formulas, placeholders,
  code and URLs.

Each check is a function of a catalog path, so it can be run on an older catalog too
(``git show HEAD~N:facedash/locale/ja/LC_MESSAGES/facedash.po``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.conftest import ROOT

GLOSSARY = ROOT / "facedash/locale/GLOSSARY.md"
PO = ROOT / "facedash/locale/ja/LC_MESSAGES/facedash.po"

#: Japanese script and full-width punctuation (CJK symbols, kana, ideographs, full-width forms).
JAPANESE = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff60"

#: What keeps its half-width characters: display and inline formulas, \( \) and \[ \],
#: code in backticks, plotly %{...} and Python {...} fields, %(name)s, URLs and HTML tags.
PROTECTED = re.compile(
    r"\$\$.*?\$\$|\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]|`[^`]*`|%\{[^{}]*\}|%\(\w+\)[sdfr]"
    r"|\{[^{}]*\}|https?://\S+|<[a-z/][^<>]*>",
    re.S,
)

#: A half-width ( or ) with Japanese right before or after it; a half-width : with Japanese
#: right before it, or right after it (one space allowed: "ラベル: 値").
HALF_WIDTH = re.compile(rf"(?<=[{JAPANESE}])[():]|[()](?=[{JAPANESE}])|:(?= ?[{JAPANESE}])")

#: Faces, crops and photos counted with 個 or つ instead of 枚.
NUMBER = r"(?:\d+|\{[^{}]*\}|%\{[^{}]*\})"
COUNTER = re.compile(
    rf"(?:顔|切り抜き|写真)(?:が|は|を)? ?{NUMBER} ?(?:個|つ)(?!目のモデル)"
    rf"|{NUMBER} ?(?:個|つ)(?:目)?の(?:顔|切り抜き|写真)"
)

#: (what the English says, the term the Japanese must then contain): in at least one message
#: (short labels such as "PCA 2-D" keep the acronym once the term has been introduced) ...
REQUIRED_ONCE = [
    (r"\bPCA\b", "主成分分析"),
    (r"Hungarian", "ハンガリー法"),
    (r"variance kept|explained variance", "累積寄与率"),
    (r"KMeans|k-means", "k-means 法"),
]

#: ... and in every message.
REQUIRED = [
    (r"KMeans|k-means", "k-means 法"),
    (r"variance kept|explained variance", "累積寄与率"),
    (r"Hungarian", "ハンガリー法"),
    (r"\bfalse match rate\b|False match rate", "誤合致率"),
    (r"False non-match rate|false non-match rate", "誤非合致率"),
    (r"^True accepts \(TP\)$|^true accept \(TP\)$", "本人受入"),
    (r"^False accepts \(FP\)$|^false accept / match \(FP\)$", "他人受入"),
    (r"^True rejects \(TN\)$|^true reject \(TN\)$", "他人拒否"),
    (r"^False rejects \(FN\)$|^false reject / non-match \(FN\)$", "本人拒否"),
    (r"\bfus(?:ed|ion|e)\b|\bFusion\b", "融合"),
    (r"confusion matrix", "混同行列"),
]


def glossary_rows(path: Path = GLOSSARY) -> list[dict[str, str]]:
    """The glossary table as dicts keyed by its header (en, ja, why, banned)."""
    rows, header = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set("".join(cells)) <= set("-: "):
            rows.append(dict(zip(header, cells, strict=False)))
    return rows


def banned_variants(path: Path = GLOSSARY) -> dict[str, str]:
    """Every banned variant -> the concept's Japanese term."""
    out = {}
    for row in glossary_rows(path):
        for variant in row["banned"].split(" / "):
            variant = variant.strip()
            if variant and variant not in {"—", "-"}:
                out[variant] = row["ja"]
    return out


def messages(po: Path = PO) -> list[tuple[str, str]]:
    """(msgid, msgstr) for every translated string of a catalog (plural forms included)."""
    with open(po, "rb") as f:
        catalog = read_po(f, locale="ja")
    out = []
    for m in catalog:
        if not m.id:
            continue
        msgid = m.id[0] if isinstance(m.id, tuple) else m.id
        for s in m.string if isinstance(m.string, tuple) else (m.string,):
            if s:
                out.append((msgid, s))
    return out


def masked(text: str) -> str:
    """The text with every protected part (formula, field, code, URL) replaced by one
    neutral character, so that what is left is the prose."""
    return PROTECTED.sub("\ue000", text)


def banned_uses(po: Path = PO) -> list[str]:
    variants = banned_variants()
    return [
        f"{msgid[:70]!r}: {variant!r} (use {term})"
        for msgid, s in messages(po)
        for variant, term in variants.items()
        if variant in s
    ]


def half_width_uses(po: Path = PO) -> list[str]:
    out = []
    for msgid, s in messages(po):
        prose = masked(s)
        for m in HALF_WIDTH.finditer(prose):
            around = prose[max(0, m.start() - 12) : m.end() + 12].replace("\ue000", "…")
            out.append(f"{msgid[:60]!r}: {m.group(0)!r} in {around!r}")
    return out


def counter_uses(po: Path = PO) -> list[str]:
    return [
        f"{msgid[:60]!r}: {m.group(0)!r}" for msgid, s in messages(po) for m in COUNTER.finditer(s)
    ]


def missing_terms(po: Path = PO) -> list[str]:
    out = []
    msgs = messages(po)
    for english, term in REQUIRED_ONCE:
        if not any(re.search(english, msgid) and term in s for msgid, s in msgs):
            out.append(f"{term!r} is in no message whose English matches {english!r}")
    for english, term in REQUIRED:
        hits = [(msgid, s) for msgid, s in msgs if re.search(english, msgid)]
        if not hits:
            out.append(f"no message of the source matches {english!r} any more")
        out += [f"{msgid[:60]!r} lacks {term!r}" for msgid, s in hits if term not in s]
    return out


def test_the_glossary_is_a_table_with_banned_variants():
    rows = glossary_rows()
    assert len(rows) >= 50, len(rows)
    assert {"en", "ja", "why", "banned"} <= set(rows[0])
    assert all(row["ja"] and row["why"] for row in rows)
    ja = {row["ja"] for row in rows}
    for term in ("他人受入率（FAR）", "本人拒否率（FRR）", "誤合致率（FMR）", "誤非合致率（FNMR）"):
        assert term in ja
    variants = banned_variants()
    for term in ja:  # no concept bans its own term, nor another's
        assert not [v for v in variants if v in term], term
    for variant in ("棄却", "統合", "標本化", "ハンガリアン法", "保持された分散", "取り分け"):
        assert variant in variants


def test_no_banned_variant_in_the_catalog():
    found = banned_uses()
    assert not found, f"{len(found)} banned variants (see GLOSSARY.md):\n" + "\n".join(found)


def test_the_textbook_terms_are_where_the_english_has_them():
    missing = missing_terms()
    assert not missing, "\n".join(missing)


def test_faces_and_photos_are_counted_with_mai():
    found = counter_uses()
    assert not found, "\n".join(found)


def test_japanese_text_has_full_width_punctuation():
    found = half_width_uses()
    assert not found, f"{len(found)} half-width ( ) : in Japanese text:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "text, bad",
    [
        ("閾値 {t}（F1 {f1:.3f}）", False),
        ("$\\cos(a, b)$（高いほど同じ人物）", False),
        ("$x_{(i)}$:$y$ を使う", False),
        ("N(μ, σ²) から抽出した 15 個のサンプル", False),
        ("{label}：閾値 {t:.4g}", False),
        ("圧縮率 {ratio}:1 は", False),
        ("`pip install x` (任意)", True),
        ("`a:b` を実行", False),
        ("https://example.org/a(b):c の説明", False),
        ("%{x} 位: %{y:.1%}", True),
        ("サムネイル(160 x 160)", True),
        ("デコーダを学習しています: エポック", True),
        ("AUC(融合)", True),
        ("FMR (FAR) **{far}**", False),
    ],
)
def test_the_punctuation_rule(text, bad):
    assert bool(HALF_WIDTH.search(masked(text))) is bad
