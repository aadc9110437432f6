"""A photo of one's own, uploaded or taken with the camera: the widget and what pages do with it.

``photo_input`` draws a "photo source" picker (upload / camera) and the chosen
widget. A photo's face is found, aligned and embedded by ``facedash.faces.photo_face`` with
the set's own detector, alignment and embedder (``cache.embedder_for``), the same for
an upload and a camera frame.

Privacy: camera frames stay in this browser session's memory. Nothing derived from
them goes into ``st.cache_data`` (shared by every session, outliving this one), the
store or the disk: each widget's latest frame, its face and its explanations are held
in ``st.session_state`` under the frame's hash, and replace the previous frame's.
Streamlit drops a session's state and its uploaded files when the session ends.
"""

from __future__ import annotations

import hashlib
from collections.abc import MutableMapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import streamlit as st

from facedash.errors import FacedashError
from facedash.explain.targets import nearest_centroid
from facedash.explain.targets import person_centroids as centroids
from facedash.faces.detect import AlignSettings, DetectorSettings
from facedash.faces.photo_face import NoFace, PhotoFace, digest, pair_score, photo_face
from facedash.i18n import N_, _
from facedash.ui import attention as UAT
from facedash.ui import cache, state

SOURCES = {"upload": N_("Upload a photo"), "camera": N_("Take a photo with the camera")}
SLOTS = {0: N_("the face"), 1: N_("the second face (the reference)")}
IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp"]
HELD = "camera_held"  # session_state: {widget key: (content key, PhotoFace | FacedashError)}
EXPLAINED = "camera_explained"  # session_state: (frame digest, {settings key: Analysis})
PHOTO_COLOUR = "#7b2cbf"  # the photo's line on the score histogram (not a class colour)
PICKER_LIMIT = 500  # faces of the set a picker offers at most (a seeded sample past it)

MEMORY_NOTE = N_(
    "Camera photos stay in this browser session's memory only: they are never written to "
    "the store or to disk, and they are dropped when the session ends (when you close the tab)."
)
ALLOW_HELP = N_(
    "No picture, or 'access denied'? Allow the camera for this site in your browser (the "
    "camera icon in the address bar, or the site's settings), then reload the page. Does the "
    "address start with http:// (not https://) and name another computer? Browsers give the "
    "camera to https:// pages only: open the https:// link instead (the teacher serves one "
    "with facedash serve --https). No camera at all? Use an upload instead."
)
NO_FACE = N_(
    "No face found in this photo. Face the camera, come closer, light your face, and take "
    "the photo again (or upload another photo)."
)
SEVERAL = N_("{n} faces in this photo: the largest is used.")


@dataclass(frozen=True)
class Photo:
    """A photo of one's own: where it came from, a name to show, its bytes, its widget."""

    source: str  # "upload" or "camera"
    name: str
    data: bytes
    widget: str  # the widget key prefix it came from (one held frame per widget)
    slot: int = 0  # Attention: which face of the pair it stands for

    @property
    def digest(self) -> str:
        """The photo's content key."""
        return digest(self.data)

    @property
    def camera(self) -> bool:
        """Taken with the camera (kept in this session only)."""
        return self.source == "camera"

    def getvalue(self) -> bytes:
        """The photo's bytes (as ``UploadedFile.getvalue``)."""
        return self.data


def expander(label: str, key: str) -> Any:
    """An expander for a photo's widgets that stays open across reruns (its state is kept)."""
    return st.expander(label, key=f"{key}_open", on_change="rerun")


def _choose(key: str, value: str) -> None:
    st.session_state[key] = value


def forget(key: str, held: MutableMapping | None = None) -> None:
    """Drop what this session holds of widget ``key``'s photo (cleared, or the source changed)."""
    held = st.session_state if held is None else held
    got = held.get(HELD, {}).pop(key, None)
    if got is not None and held.get(EXPLAINED, ("",))[0] == got[0][0]:
        del held[EXPLAINED]


def photo_input(key: str, label: str) -> Photo | None:
    """The photo source picker (upload / camera) and its widget; the photo, or None."""
    source = st.radio(
        _("Photo source"),
        list(SOURCES),
        format_func=lambda v: _(SOURCES[v]),
        key=f"{key}_source",
        horizontal=True,
    )
    if source != "camera":
        up = st.file_uploader(label, type=IMAGE_TYPES, key=f"{key}_upload")
        if up is None:
            forget(key)
            return None
        return Photo("upload", up.name, up.getvalue(), key)
    st.caption(_(MEMORY_NOTE))
    shot = st.camera_input(_("Take a photo (the largest face is used)"), key=f"{key}_camera")
    if shot is None:
        forget(key)
        st.caption(_(ALLOW_HELP))
        st.button(
            _("Use an upload instead"),
            key=f"{key}_to_upload",
            on_click=_choose,
            args=(f"{key}_source", "upload"),
        )
        return None
    return Photo("camera", _("camera photo"), shot.getvalue(), key)


# -- the photo's face, held in this session --------------------------------------------------
def held_face(
    held: MutableMapping,
    photo: Photo,
    model_id: str,
    backend: str,
    precision: str,
    align: AlignSettings,
    get_detector: Any,
    get_embedder: Any,
) -> PhotoFace:
    """``photo``'s face, from ``held`` when this frame was seen, else found and put there.

    One entry per widget: a new frame replaces the previous one's. A photo without a
    face raises ``NoFace`` (held too, so a rerun does not detect again).
    """
    key = (photo.digest, model_id, backend, precision, align.margin, align.rotate)
    got = held.get(photo.widget)
    if got is None or got[0] != key:
        try:
            value: Any = photo_face(photo.data, get_detector(), get_embedder(), model_id, align)
        except FacedashError as exc:
            value = exc
        held[photo.widget] = got = (key, value)
    if isinstance(got[1], FacedashError):
        raise got[1]
    return got[1]


def face_of(result: Any, photo: Photo) -> PhotoFace:
    """``photo``'s largest face, embedded like ``result``'s faces, held in this session."""
    _model, align = state.settings()
    det = DetectorSettings()
    with st.spinner(_("Finding the face ...")):
        return held_face(
            st.session_state.setdefault(HELD, {}),
            photo,
            result.model_id,
            result.backend,
            result.precision,
            align,
            lambda: cache.detector(det),
            lambda: cache.embedder_for(result),
        )


def checked_face(result: Any, photo: Photo | None) -> PhotoFace | None:
    """``face_of`` with its messages: none found (None), several (the largest), unreadable."""
    if photo is None:
        return None
    try:
        face = face_of(result, photo)
    except NoFace:
        st.warning(_(NO_FACE))
        return None
    except FacedashError as exc:
        st.error(
            _("{name}: this photo could not be read ({why}).").format(name=photo.name, why=exc)
        )
        return None
    if face.several:
        st.info(_(SEVERAL).format(n=face.faces_found))
    return face


# -- Attention -------------------------------------------------------------------------------
@dataclass
class PhotoInputs(UAT.Inputs):
    """The Attention page's inputs with a photo of one's own in them."""

    frame: str = ""  # the camera frame's digest ('' for an upload)


def attention_photo(target: str, label: str) -> Photo | None:
    """The Attention page's photo: source, widget, and (for a pair) which face it replaces."""
    photo = photo_input("attention", label)
    if target != "reference":
        return photo
    slot = st.radio(
        _("With a second face, the photo replaces"),
        list(SLOTS),
        format_func=lambda v: _(SLOTS[v]),
        key="attention_photo_slot",
        horizontal=True,
    )
    return None if photo is None else replace(photo, slot=int(slot))


def attention_inputs(result: Any, faces_idx: list[int], photo: Photo | None) -> UAT.Inputs:
    """The chosen faces; the photo's face (if one is found) replaces the face of its slot."""
    x = UAT.inputs(result, faces_idx)
    face = checked_face(result, photo)
    if photo is None or face is None:
        return x
    j = min(photo.slot, len(faces_idx) - 1)
    out = PhotoInputs(
        x.faces.copy(),
        x.landmarks.copy(),
        x.embeddings.copy(),
        list(x.titles),
        list(x.persons),
        frame=face.digest if photo.camera else "",
    )
    out.faces[j], out.landmarks[j], out.embeddings[j] = face.crop, face.landmarks, face.embedding
    names, cents = centroids(result.embeddings, result.people)
    out.persons[j] = names[nearest_centroid(face.embedding, names, cents)[0]]
    out.titles[j] = _("{name} (nearest person: {person})").format(
        name=photo.name, person=out.persons[j]
    )
    return out


def _content_key(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(
            np.ascontiguousarray(p).tobytes() if isinstance(p, np.ndarray) else repr(p).encode()
        )
    return h.hexdigest()[:20]


def explain(
    x: UAT.Inputs,
    model_id: str,
    method: str,
    layer: str | None,
    spec: str,
    reference: np.ndarray | None,
    held: MutableMapping | None = None,
) -> Any:
    """``attention.explain`` of ``x``; for a camera frame, computed here and held in this session.

    The frame's analyses (a few settings) are kept under its digest and dropped with it.
    """
    args = (model_id, x.faces, x.landmarks, method, layer, spec, reference)
    frame = getattr(x, "frame", "")
    if not frame:
        return UAT.explain(*args)
    held = st.session_state if held is None else held
    got: tuple[str, dict[str, Any]] | None = held.get(EXPLAINED)
    if got is None or got[0] != frame:
        got = held[EXPLAINED] = (frame, {})
    key = _content_key(*args)
    if key not in got[1]:
        if len(got[1]) >= 4:
            got[1].pop(next(iter(got[1])))
        got[1][key] = getattr(UAT.explain, "__wrapped__", UAT.explain)(*args)
    return got[1][key]


# -- Arithmetic & search ----------------------------------------------------------------------
def search_query(result: Any, key: str, label: str) -> tuple[np.ndarray, str, int] | None:
    """The search photo's widgets; its (query vector, label, -1), or None (no photo or no face)."""
    photo = photo_input(key, label)
    face = checked_face(result, photo)
    if photo is None or face is None:
        return None
    if photo.camera:
        return face.embedding, _("your camera photo"), -1
    return face.embedding, _("your photo {name}").format(name=photo.name), -1


# -- Verification -----------------------------------------------------------------------------
def verification_panel(
    result: Any, score: str, threshold: float, hist: Any, curve: Any, kind: Any
) -> None:
    """A photo against a chosen face of the set: score, decision at ``threshold``, histogram point."""
    from facedash import search
    from facedash.figures import verification as F

    with expander(_("Your photo against a face of the set"), "verification_photo"):
        c1, c2 = st.columns([1, 1])
        with c1:
            photo = photo_input(
                "verification_photo", _("A photo with a face (the largest is used)")
            )
        options = search.sample_queries(len(result.rows), PICKER_LIMIT).tolist()
        j = c2.selectbox(
            _("Face of the set"),
            options,
            format_func=lambda i: UAT.label(result, i),
            key="verification_photo_face",
        )
        face = checked_face(result, photo)
        if photo is None or face is None:
            return
        if score == "mls":
            st.info(
                _(
                    "A photo is scored by cosine similarity or Euclidean distance only: choose one of them above."
                )
            )
            return
        s = pair_score(kind, face.embedding, result.embeddings[j])
        same = s >= threshold if kind.higher_is_same else s <= threshold
        left, right = st.columns([1, 1])
        p1, p2 = left.columns(2)
        p1.image(face.crop, caption=photo.name, width="stretch")
        if result.thumbs[j]:
            p2.image(result.thumbs[j], caption=UAT.label(result, int(j)), width="stretch")
        m1, m2 = left.columns([2, 3])
        m1.metric(_("Score"), f"{s:.4f}", help=_(kind.name))
        m2.metric(
            _("Decision at {t:.4f}").format(t=threshold),
            _("same person") if same else _("different people"),
        )
        right.plotly_chart(
            photo_on_histogram(F.histogram_figure(hist, curve), hist, s),
            key="verification_photo_hist",
        )


def photo_on_histogram(fig: Any, hist: Any, s: float) -> Any:
    """The score histogram with the photo's score as a line of its own colour (in the legend)."""
    import plotly.graph_objects as go

    top = max(
        float(np.max(c / max(int(c.sum()), 1))) if len(c) else 0.0
        for c in (np.asarray(hist.genuine), np.asarray(hist.impostor))
    )
    fig.add_trace(
        go.Scatter(
            x=[s, s],
            y=[0.0, top * 1.05 or 1.0],
            mode="lines+markers",
            marker={"symbol": "diamond", "size": [0, 11], "color": PHOTO_COLOUR},
            line={"color": PHOTO_COLOUR, "width": 3, "dash": "dot"},
            name=_("your photo: {s:.4f}").format(s=s),
            hovertemplate=_("your photo: {s:.4f}").format(s=s) + "<extra></extra>",
        )
    )
    return fig
