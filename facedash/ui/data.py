"""The Data page's panels: a paged gallery, the paged failures table and the no-face photos.

A page of a 10,000-face set draws only its own faces (one page of previews with
their boxes), so the page costs the same at 100 faces and at 100,000; the counts
and the failures table come first, at once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from facedash import i18n
from facedash.data.images import decode_jpeg, encode_jpeg
from facedash.figures.gallery import preview_with_box, short_name
from facedash.i18n import N_, _, ngettext

PAGE_SIZES = (24, 48, 96, 192)
TABLE_PAGE = 200  # failures shown per page of the table
NO_FACE_PAGE = 24  # no-face previews per page
EVERYONE = N_("Everyone")  # the person filter's first option (its value: a key)

# The library's reasons, notes and errors (kept in English for the CLI, the JSON and the
# store), translated where the app shows them (``reason``). Each is the library's English
# text with its variable parts as named placeholders: facedash.data.images (``decode``),
# facedash.data.datasets (files, zips, manifests), facedash.faces.pipeline and facedash.faces.reading (faces,
# progress, a folder changed while read), facedash.errors.AssetMissing and the backends'
# notes, and the set names. A text none of them matches is shown as it is.
REASONS = (
    N_("empty file (0 bytes)"),
    N_("file is {size} MiB, above the {limit} MiB limit"),
    N_("a PDF document, not an image"),
    N_("a zip archive, not an image"),
    N_("a text file, not an image"),
    N_("not an image in a supported format (JPEG, PNG, WebP, BMP, TIFF, GIF)"),
    N_("unreadable image header ({error})"),
    N_("{format} images are not supported"),
    N_("{width}x{height} pixels ({mp} MP) is above the {limit} MP limit; refused before decoding"),
    N_("{width}x{height} pixels is too small to hold a face"),
    N_("truncated or corrupt image data ({error})"),
    N_("cannot decode image ({error})"),
    N_("no data"),
    N_("removed while the set was being read"),
    N_("cannot read file ({error})"),
    N_("No such file or directory"),
    N_("symbolic link ignored"),
    N_("not an image file ({suffix}), skipped"),
    N_("no extension"),
    N_("symbolic link inside the zip ignored"),
    N_("unsafe path (absolute or with '..') ignored"),
    N_("encrypted entry skipped"),
    N_("nested zip skipped (unpack it first)"),
    N_("{size} MiB uncompressed, above the {limit} MiB limit"),
    N_("compression ratio {ratio}:1 looks like a zip bomb; refused"),
    N_("entry inflates past its declared size; refused"),
    N_("corrupt zip entry ({error})"),
    N_("zip inflates past the total size limit; rest refused"),
    N_("the zip holds no usable images"),
    N_("{name}: not a readable zip ({error})"),
    N_("{name}: {n} entries, above the limit of {limit}"),
    N_(
        "{name}: declares {size} GiB uncompressed, above the {limit} GiB limit; refused as a "
        "possible zip bomb"
    ),
    N_("listed in the manifest but not found"),
    N_("no such folder: {path}"),
    N_("no such file or folder: {path}"),
    N_("cannot read manifest {path}: {error}"),
    N_("no face found"),
    N_("face {face} could not be embedded"),
    N_("Finding faces in {n} photos"),
    N_("Embedding {n} faces"),
    N_("Stored"),
    N_(
        "The folder changed while it was being read: {parts}. Each photo is shown as it was "
        "when read, and everything embedded is kept in the store: open the set again to see "
        "the folder as it is now."
    ),
    N_("{n} photo(s) rewritten ({name} ...)"),
    N_("{n} removed ({name} ...)"),
    N_("{n} added ({name} ...), not in this run"),
    N_("{what} not found or not verified at {path}. Fix: run `{fix}`."),
    N_("FaceNet weights (facenet_keras.h5)"),
    N_("Demo faces (5-celebrity set)"),
    N_("OpenVINO is not installed ({hint})"),
    N_("int8 needs NNCF, which is not installed (pip install nncf)"),
    N_("{why}; using TensorFlow fp32"),
    N_("{device} ran out of memory; batches now run on the CPU"),
    N_("the converted model in {folder} was unusable ({why}); rebuilt"),
    N_("Demo: 5 celebrities"),  # the library's set names
    N_("Uploaded files"),
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def template_pattern(template: str) -> re.Pattern[str]:
    """A message template (``{name}`` fields) as a pattern that matches its filled-in text."""
    parts = _PLACEHOLDER.split(template)  # text, name, text, name, ...
    body = "".join(f"(?P<{p}>.+?)" if k % 2 else re.escape(p) for k, p in enumerate(parts))
    return re.compile(rf"^{body}$", re.S)


_EXACT = {t for t in REASONS if not _PLACEHOLDER.search(t)}
_PATTERNS = [(t, template_pattern(t)) for t in REASONS if _PLACEHOLDER.search(t)]


def reason(text: str) -> str:
    """A library reason, note or error message in the session's language (as it is in English).

    The CLI, the JSON summaries and the store keep the English; the app translates at display
    time. The variable parts (sizes, file names, an inner reason) are kept, and translated in
    turn where they are one of the known texts.
    """
    if not text or i18n.language() == i18n.DEFAULT:
        return text
    return _translated(i18n.language(), text)


@functools.lru_cache(maxsize=8192)
def _translated(lang: str, text: str, depth: int = 0) -> str:
    if text in _EXACT:
        return _(text)
    if depth > 2:
        return text
    for template, pattern in _PATTERNS:
        found = pattern.match(text)
        if found is None:
            continue
        parts = {}
        for name, value in found.groupdict().items():
            pieces = value.split("; ") if name == "parts" else [value]
            parts[name] = "; ".join(_translated(lang, v, depth + 1) for v in pieces)
        return _(template).format(**parts)
    return text


def face_caption(row: Any) -> str:
    """A gallery caption: the person, and which face of how many when the photo held several."""
    if row.faces_in_image > 1:
        return _("{person} · face {i} of {n}").format(
            person=row.person, i=row.face_index + 1, n=row.faces_in_image
        )
    return row.person


@st.cache_data(show_spinner=False, max_entries=2_000)
def boxed(image_hash: str, box: tuple, _preview: bytes, _row: Any) -> bytes:
    """A photo's preview with its face box and landmarks, as JPEG; cached per (photo, box)."""
    return encode_jpeg(preview_with_box(_preview, _row), 90)


def page_count(total: int, size: int) -> int:
    """How many pages of ``size`` hold ``total`` items (at least one)."""
    if size < 1:
        raise ValueError(f"page size must be positive, got {size}")
    return max(1, -(-total // size))


def page_start(total: int, page: int, size: int) -> int:
    """The 0-based index of the first item on page ``page`` (1-based, clipped to the pages)."""
    page = min(max(int(page), 1), page_count(total, size))
    return (page - 1) * size


def page_slice(items: Sequence[Any], page: int, size: int) -> Sequence[Any]:
    """Page ``page`` (1-based, clipped to the last page) of ``items`` in pages of ``size``."""
    start = page_start(len(items), page, size)
    return items[start : start + size]


def pager(total: int, size: int, key: str, label: str = "") -> int:
    """A page-number input (1-based) that shows how many pages there are; returns the page.

    ``label`` (already translated) defaults to "Page".
    """
    pages = page_count(total, size)
    if pages == 1:
        return 1
    label = _("{label} (of {pages})").format(label=label or _("Page"), pages=pages)
    if key in st.session_state:
        # A filter may have shrunk the list: stay within it (the widget keeps this value).
        st.session_state[key] = min(max(int(st.session_state[key]), 1), pages)
        return int(st.number_input(label, min_value=1, max_value=pages, step=1, key=key))
    return int(st.number_input(label, min_value=1, max_value=pages, value=1, step=1, key=key))


def _shown(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the failures table as shown: headers and reasons in the session's language."""
    return pd.DataFrame(
        {
            _("File"): frame["File"].to_numpy(),
            _("Reason"): [reason(r) for r in frame["Reason"]],
        },
        index=frame.index,
    )


def failures_panel(failures: Sequence[Any]) -> None:
    """Every file not used, with its reason: a table (paged past ``TABLE_PAGE`` rows) and a CSV."""
    if not failures:
        return
    st.subheader(_("Files not used ({n})").format(n=len(failures)))
    # English for the CSV (its columns and reasons); translated where shown.
    frame = pd.DataFrame([f.as_dict() for f in failures]).rename(
        columns={"file": "File", "reason": "Reason"}
    )
    if len(frame) <= TABLE_PAGE:
        st.table(_shown(frame))
        return
    c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="bottom")
    with c1:
        page = pager(len(frame), TABLE_PAGE, "data_failures_page")
    c2.download_button(
        _("All as CSV"),
        lambda: frame.to_csv(index=False).encode(),  # built when pressed
        file_name="files_not_used.csv",
        mime="text/csv",
        key="data_failures_csv",
    )
    common = frame["Reason"].value_counts().head(3).items()
    c3.caption(
        ngettext(
            "{n} file, {per} per page; the reasons most often met: {reasons}",
            "{n} files, {per} per page; the reasons most often met: {reasons}",
            len(frame),
        ).format(
            n=len(frame),
            per=TABLE_PAGE,
            reasons=", ".join(f"{reason(r)} ({c})" for r, c in common),
        )
    )
    start = page_start(len(frame), page, TABLE_PAGE)
    st.dataframe(
        _shown(frame.iloc[start : start + TABLE_PAGE]),
        hide_index=True,
        width="stretch",
        key="data_failures",
    )


def no_face_panel(no_face: Sequence[tuple[str, str]], previews: dict[str, bytes | None]) -> None:
    """The photos where no face was found, as previews, a page at a time."""
    if not no_face:
        return
    st.subheader(_("Photos where no face was found ({n})").format(n=len(no_face)))
    st.caption(
        _(
            "MTCNN found no face above its confidence threshold: sunglasses, profile views, "
            "tiny or blurred faces."
        )
    )
    with st.columns([1, 3])[0]:
        page = pager(len(no_face), NO_FACE_PAGE, "data_no_face_page")
    cols = st.columns(6)
    for k, (name, image_hash) in enumerate(page_slice(no_face, page, NO_FACE_PAGE)):
        preview = previews.get(image_hash)
        if preview:
            cols[k % 6].image(
                preview,
                caption=_("no face found · {name}").format(name=short_name(name, 28)),
                width="stretch",
            )


def gallery(result: Any, people: Sequence[str]) -> None:
    """Every face with its box and landmarks, filtered by person, one page at a time."""
    st.subheader(_("Faces"))
    c1, c2, c3, c4 = st.columns([2, 1, 2, 1], vertical_alignment="bottom")
    choice = c1.selectbox(
        _("Person"),
        [EVERYONE, *people],
        format_func=lambda p: _(EVERYONE) if p == EVERYONE else p,
        key="data_person",
    )
    size = int(c2.selectbox(_("Faces per page"), PAGE_SIZES, index=1, key="data_page_size"))
    per_row = c3.slider(_("Photos per row"), 3, 10, 6, key="data_per_row")
    shown = [i for i, r in enumerate(result.rows) if choice == EVERYONE or r.person == choice]
    if not shown:
        st.caption(_("No faces to show."))
        return
    with c4:
        page = pager(len(shown), size, "data_page")
    first = page_start(len(shown), page, size)
    on_page = shown[first : first + size]
    st.caption(
        _("Faces {first}–{last} of {n}").format(
            first=first + 1, last=first + len(on_page), n=len(shown)
        )
    )
    for start in range(0, len(on_page), per_row):
        columns = st.columns(per_row)
        for col, i in zip(columns, on_page[start : start + per_row], strict=False):
            row = result.rows[i]
            preview = result.previews.get(row.image_hash)
            if preview is None:
                continue
            col.image(
                boxed(row.image_hash, tuple(row.box), preview, row),
                caption=face_caption(row),
                width="stretch",
            )
            col.caption(short_name(row.name), help=row.name)


def face_crop(result: Any, i: int) -> Any:
    """Face ``i``'s aligned crop (its stored thumbnail), decoded: what pages show beside a figure."""
    return decode_jpeg(result.thumbs[i])
