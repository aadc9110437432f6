"""The dashboard's languages: standard gettext catalogs, one language per thread.

The catalog lives in ``facedash/locale/<lang>/LC_MESSAGES/facedash.po`` (compiled to ``.mo``
beside it); ``make i18n`` extracts the messages with Babel, updates the catalog and compiles
it. At run time the standard :mod:`gettext` module loads it.

Streamlit runs each session's script in its own thread, so the language is kept per thread:
the app sets it at the start of every run (``facedash.ui.lang.start``) and every ``_()``
called during that run, in a page, a ``facedash.ui`` module or a figure builder, answers in
it. The CLI never sets it, so it stays English, and no JSON key is ever translated.

Rules for translatable text (``tests/test_i18n.py`` checks the catalog):

- ``_("...")`` translates now; ``N_("...")`` only marks a constant for extraction (translate
  it where it is shown, with ``_(CONSTANT)``); ``ngettext(one, many, n)`` for counts.
- Placeholders are named and filled after translation: ``_("{n} faces").format(n=n)``, never
  an f-string inside ``_()``.
- Widget option values stay language-free (keys); translate them through ``format_func``.
- A cached function (``st.cache_data``) that returns translated text takes the language as
  an argument, so each language gets its own entry.
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "DEFAULT",
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "_",
    "language",
    "negotiate",
    "ngettext",
    "normalize",
    "set_language",
    "translations",
    "using",
]

DOMAIN = "facedash"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# Each language's name in itself (what the sidebar's picker shows).
LANGUAGES: dict[str, str] = {"en": "English", "ja": "日本語"}
DEFAULT = "en"

_local = threading.local()


def normalize(tag: str | None) -> str | None:
    """A language tag (``ja``, ``ja-JP``, ``ja_JP.UTF-8``, ``EN``) as an available language, or None."""
    if not tag or not isinstance(tag, str):
        return None
    base = tag.strip().replace("_", "-").split(".")[0].split("-")[0].lower()
    return base if base in LANGUAGES else None


def negotiate(*candidates: str | Sequence[str] | None) -> str:
    """The first available language among the candidates (tags or lists of tags), else English."""
    for c in candidates:
        for tag in [c] if c is None or isinstance(c, str) else c:
            lang = normalize(tag)
            if lang:
                return lang
    return DEFAULT


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English, the source language, has none)."""
    if lang == DEFAULT:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang], fallback=True)


def set_language(lang: str | None) -> str:
    """Make ``lang`` (any tag; unknown means English) this thread's language; returns it."""
    _local.lang = normalize(lang) or DEFAULT
    return _local.lang


def language() -> str:
    """The language of this thread (English unless ``set_language`` was called in it)."""
    return getattr(_local, "lang", DEFAULT)


def _(message: str) -> str:
    """``message`` in this thread's language."""
    return translations(language()).gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it (translate where it is shown)."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for ``n``, in this thread's language."""
    return translations(language()).ngettext(singular, plural, n)


@contextlib.contextmanager
def using(lang: str | None) -> Iterator[str]:
    """Run a block in ``lang``, then restore this thread's language."""
    before = getattr(_local, "lang", None)
    try:
        yield set_language(lang)
    finally:
        if before is None:
            del _local.lang
        else:
            _local.lang = before


def compile_catalogs(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Compile every ``<lang>/LC_MESSAGES/facedash.po`` to its ``.mo`` with Babel (``make i18n``).

    Babel's ``write_mo`` without ``pybabel compile``'s printf check, which takes the text
    "95% interval" for a ``%i`` placeholder (these messages use ``str.format`` fields;
    ``tests/test_i18n.py`` checks those). Fuzzy entries are left out, as gettext does.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with open(po, "rb") as f:
            catalog = read_po(f, locale=po.parts[-3])
        with open(po.with_suffix(".mo"), "wb") as f:
            write_mo(f, catalog)
        written.append(po.with_suffix(".mo"))
    return written


if __name__ == "__main__":
    for mo in compile_catalogs():
        print(f"compiled {mo}")
