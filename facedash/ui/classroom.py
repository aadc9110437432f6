"""Classroom mode in the app: the token gate, what students may change, the link's QR code.

``facedash serve --lan`` sets the mode (``facedash.classroom.from_env``); without
it every function here says "not a classroom" and the app is unchanged.

The gate runs in ``app.py`` before anything that shows data or loads a model:
a session without the token gets a page asking for it, and nothing else — no
sidebar, no page list, no set names, no model. The token is accepted once (as
``?token=`` in the link, or typed), then held by the session, and taken out of
the address bar so it is not left on screen or in a copied link.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from facedash import classroom
from facedash.i18n import N_, _
from facedash.ui import lang

ADMITTED = "fd_admitted"
TYPED = "fd_token_typed"
FINGERPRINT_NOTE = N_(
    "Its HTTPS certificate's SHA-256 fingerprint: when a browser warns that the connection "
    "is not private, compare this with the fingerprint in the warning's certificate details, "
    "then go on to the site."
)


def mode() -> classroom.Mode | None:
    """The classroom mode this server runs in, or None."""
    return classroom.from_env()


def gate(pages: list[Any]) -> None:
    """In classroom mode, stop a session that has not given the token, after showing the token page.

    Call before ``st.navigation``: here the navigation is registered hidden, so
    the page list stays out of sight and the page asked for by URL opens once
    the token is accepted.
    """
    current = mode()
    if current is None or st.session_state.get(ADMITTED):
        return
    given = st.query_params.get("token")
    if given is not None:
        del st.query_params["token"]  # right or wrong, it does not stay in the address bar
        if classroom.token_matches(given, current.token):
            st.session_state[ADMITTED] = True
            return
    st.navigation(pages, position="hidden")
    token_page()
    st.stop()


def token_page() -> None:
    """The whole page a session without the token sees (the same whatever was tried)."""
    st.title("facedash")
    st.write(_("This dashboard needs its access token."))
    st.text_input(_("Access token"), type="password", key=TYPED, on_change=_check_typed)
    st.caption(_("Open the link you were given (or scan its QR code), or type the token here."))
    with st.columns([1, 3])[0]:
        lang.picker()  # the page has no sidebar: the language is chosen here


def _check_typed() -> None:
    """The token field's callback (it runs before the script, whichever page the rerun opens)."""
    current = mode()
    typed = st.session_state.get(TYPED) or ""
    st.session_state[TYPED] = ""  # a wrong one is cleared: the page starts afresh
    if current is not None and classroom.token_matches(typed, current.token):
        st.session_state[ADMITTED] = True


def saving_allowed() -> bool:
    """Whether this session may write to the shared store: always, except in a class without ``--allow-saving``."""
    current = mode()
    return current is None or current.allow_saving


def folders_allowed() -> bool:
    """Whether 'Folder on this server' is offered: always, except in a class without ``--allow-folders``."""
    current = mode()
    return current is None or current.allow_folders


def link_panel() -> None:
    """On the Data page when serving a class: the students' link and its QR code."""
    current = mode()
    if current is None or not current.link:
        return
    with st.expander(_("Link for the class"), expanded=True):
        left, right = st.columns([1, 3])
        try:
            left.image(classroom.qr_png(current.link), width=220, caption=_("Scan to open"))
        except ImportError as exc:
            left.caption(_("No QR code: {error}").format(error=_qr_error(exc)))
        right.markdown(_("Students open this link (it carries the access token):"))
        right.code(current.link, language=None)
        if current.fingerprint:  # served over HTTPS (facedash serve --https)
            right.markdown(_(FINGERPRINT_NOTE))
            right.code(current.fingerprint, language=None, wrap_lines=True)
        right.caption(
            _("Each student gets a session of their own.")
            + " "
            + (
                _("Saving in the shared store is on (--allow-saving).")
                if current.allow_saving
                else _("Nothing they upload or save is written to this computer's store.")
            )
        )


def _qr_error(exc: ImportError) -> str:
    """Why there is no QR code, in the session's language (the library says it in English)."""
    if str(exc) == "a QR code needs segno: pip install segno":
        return _("a QR code needs segno: pip install segno")
    return str(exc)
