"""The session's language: ``?lang=ja|en``, else the sidebar's choice, else the browser's, else English.

``start()`` runs first in every script run (``app.py``, and again in each page's opening,
``facedash.ui.state.page_shell``, for a page served without ``app.py``, and at the top of a
fragment, whose timed reruns run alone in a new thread): it settles the language and makes
it the script thread's (``facedash.i18n``), so every ``_()`` of that run
answers in it. The picker sits in the sidebar, or on the token page in a class. The
choice is kept in the session, so it survives page changes; the picker keeps ``?lang=`` in
the address bar in step, so a shared link opens in the same language. A language the
catalog does not have is English, silently.
"""

from __future__ import annotations

import streamlit as st

from facedash import i18n

__all__ = ["KEY", "picker", "start"]

KEY = "fd_lang"  # the picker's key
_PARAM_SEEN = "_fd_lang_param"  # the ?lang= value already applied (so a stale one never overrides)
# The settled language: the one source of truth, kept apart from the picker's key. A
# widget's own value is not reliable across runs: Streamlit drops it after a run that does
# not draw the widget (a page served without app.py), and resets it to the first option
# when the widget's identity changes (the first run of a session goes through Streamlit's
# legacy pages/ runner, the next ones do not). The picker is set from it before each draw;
# its callback writes the person's choice back.
_CHOSEN = "_fd_lang_chosen"


def _browser() -> str | None:
    try:
        return st.context.locale
    except Exception:  # no browser (bare mode) or an older Streamlit
        return None


def start() -> str:
    """Settle this run's language and set it for the script thread; returns it."""
    state = st.session_state
    param = st.query_params.get("lang")
    if param is not None and param != state.get(_PARAM_SEEN):  # a new ?lang=: it wins
        state[_PARAM_SEEN] = param
        chosen = i18n.negotiate(param)
    elif i18n.normalize(state.get(_CHOSEN)) is not None:  # settled earlier (or just picked)
        chosen = state[_CHOSEN]
    else:
        chosen = i18n.negotiate(_browser())
    state[_CHOSEN] = chosen
    return i18n.set_language(chosen)


def _changed() -> None:
    """The picker's callback (before the script runs): the choice, in the session and the address."""
    lang = i18n.normalize(st.session_state[KEY]) or i18n.DEFAULT
    st.session_state[_CHOSEN] = lang
    st.query_params["lang"] = lang
    st.session_state[_PARAM_SEEN] = lang


def picker() -> None:
    """The language picker (both names always readable: "Language / 言語")."""
    st.session_state[KEY] = st.session_state.get(_CHOSEN) or i18n.language()
    st.selectbox(
        "Language / 言語",
        list(i18n.LANGUAGES),
        format_func=i18n.LANGUAGES.__getitem__,
        key=KEY,
        on_change=_changed,
    )
