"""The Japanese catalog: complete, compiled, true to its placeholders; the language per thread.

The catalog is checked against the source itself: every message that Babel extracts from
the app's files today must be in ``ja.po`` with a translation that is neither empty nor
fuzzy, and the committed ``.mo`` must be what the ``.po`` compiles to.
"""

from __future__ import annotations

import io
import re
import threading

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from facedash import i18n
from tests.conftest import ROOT

PO = ROOT / "facedash/locale/ja/LC_MESSAGES/facedash.po"
MO = PO.with_suffix(".mo")


def _catalog():
    with open(PO, "rb") as f:
        return read_po(f, locale="ja")


def _ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _extracted() -> set[str]:
    method_map = [("app.py", "python"), ("pages/**.py", "python"), ("facedash/**.py", "python")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), method_map):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _fields(text: str) -> set[str]:
    """What a translation must keep verbatim: ``{name}`` fields, ``%(name)s``, and any braced
    group (formulas keep their LaTeX: ``\\frac{a}{b}``)."""
    return set(re.findall(r"\{[^{}]*\}", text)) | set(re.findall(r"%\(\w+\)[sdfr]", text))


def test_every_message_of_the_source_is_in_the_catalog():
    have = {_ids(m)[0] for m in _catalog() if m.id}
    missing = sorted(_extracted() - have)
    assert not missing, f"{len(missing)} messages not in ja.po (run `make i18n`): {missing[:10]}"


def test_every_message_has_a_japanese_translation():
    bad = [
        _ids(m)[0]
        for m in _catalog()
        if m.id and (m.fuzzy or not all(s.strip() for s in _strings(m)))
    ]
    assert not bad, f"{len(bad)} empty or fuzzy entries in ja.po: {bad[:10]}"


def test_translations_keep_their_placeholders():
    wrong = [
        (_ids(m)[0], s)
        for m in _catalog()
        if m.id
        for s in _strings(m)
        if _fields(s) != _fields(_ids(m)[0])
    ]
    assert not wrong, wrong[:5]


def test_the_compiled_catalog_is_the_po_file_compiled():
    buf = io.BytesIO()
    write_mo(buf, _catalog())
    assert MO.read_bytes() == buf.getvalue(), "ja.mo is out of date: run `make i18n`"


def test_language_negotiation():
    assert i18n.negotiate("ja-JP") == "ja"
    assert i18n.negotiate("ja_JP.UTF-8") == "ja"
    assert i18n.negotiate(None, "fr-FR", "EN-gb") == "en"
    assert i18n.negotiate(["de", "ja"]) == "ja"
    assert i18n.negotiate("fr") == "en"  # not available: English, silently
    assert i18n.negotiate("") == "en"


def test_language_is_per_thread_and_english_by_default():
    assert i18n.language() == "en"
    seen = {}

    def run(lang: str) -> None:
        i18n.set_language(lang)
        seen[lang] = i18n._("Verification")

    threads = [threading.Thread(target=run, args=(lang,)) for lang in ("ja", "en", "fr")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["en"] == seen["fr"] == "Verification"
    assert seen["ja"] != "Verification" and seen["ja"].strip()
    assert i18n._("Verification") == "Verification"  # this thread never set one
    with i18n.using("ja"):
        assert i18n._("Verification") == seen["ja"]
    assert i18n.language() == "en"
