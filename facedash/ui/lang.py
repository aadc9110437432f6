"""The session's language: ``?lang=ja|en``, else the sidebar's choice, else the browser's, else English.

``start()`` runs first in every script run (``app.py``): it settles the language and makes it
the script thread's (``facedash.i18n``), so every ``_()`` of that run answers in it. The
choice is kept in the session, so it survives page changes; the picker keeps ``?lang=`` in
the address bar in step, so a shared link opens in the same language. A language the
catalog does not have is English, silently.
"""

from __future__ import annotations

import streamlit as st

from facedash import i18n

__all__ = ["KEY", "picker", "start"]

KEY = "fd_lang"
_PARAM_SEEN = "_fd_lang_param"  # the ?lang= value already applied (so a stale one never overrides)


def _browser() -> str | None:
    try:
        return st.context.locale
    except Exception:  # no browser (bare mode) or an older Streamlit
        return None


def start() -> str:
    """Settle this run's language and set it for the script thread; returns it."""
    state = st.session_state
    param = st.query_params.get("lang")
    if param is not None and param != state.get(_PARAM_SEEN):
        state[_PARAM_SEEN] = param
        state[KEY] = i18n.negotiate(param)
    elif i18n.normalize(state.get(KEY)) is None:
        state[KEY] = i18n.negotiate(_browser())
    return i18n.set_language(state[KEY])


def _changed() -> None:
    lang = st.session_state[KEY]
    st.query_params["lang"] = lang
    st.session_state[_PARAM_SEEN] = lang


def picker() -> None:
    """The language picker (both names always readable: "Language / 言語")."""
    st.selectbox(
        "Language / 言語",
        list(i18n.LANGUAGES),
        format_func=i18n.LANGUAGES.__getitem__,
        key=KEY,
        on_change=_changed,
    )
