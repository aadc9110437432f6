"""The Data page's panels: a paged gallery, the paged failures table and the no-face photos.

A page of a 10,000-face set draws only its own faces (one page of previews with
their boxes), so the page costs the same at 100 faces and at 100,000; the counts
and the failures table come first, at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from facedash.gallery import caption, preview_with_box, short_name
from facedash.images import encode_jpeg

PAGE_SIZES = (24, 48, 96, 192)
TABLE_PAGE = 200  # failures shown per page of the table
NO_FACE_PAGE = 24  # no-face previews per page


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


def pager(total: int, size: int, key: str, label: str = "Page") -> int:
    """A page-number input (1-based) that shows how many pages there are; returns the page."""
    pages = page_count(total, size)
    if pages == 1:
        return 1
    label = f"{label} (of {pages})"
    if key in st.session_state:
        # A filter may have shrunk the list: stay within it (the widget keeps this value).
        st.session_state[key] = min(max(int(st.session_state[key]), 1), pages)
        return int(st.number_input(label, min_value=1, max_value=pages, step=1, key=key))
    return int(st.number_input(label, min_value=1, max_value=pages, value=1, step=1, key=key))


def failures_panel(failures: Sequence[Any]) -> None:
    """Every file not used, with its reason: a table (paged past ``TABLE_PAGE`` rows) and a CSV."""
    if not failures:
        return
    st.subheader(f"Files not used ({len(failures)})")
    frame = pd.DataFrame([f.as_dict() for f in failures]).rename(
        columns={"file": "File", "reason": "Reason"}
    )
    if len(frame) <= TABLE_PAGE:
        st.table(frame)
        return
    c1, c2, c3 = st.columns([1, 1, 3], vertical_alignment="bottom")
    with c1:
        page = pager(len(frame), TABLE_PAGE, "data_failures_page")
    c2.download_button(
        "All as CSV",
        lambda: frame.to_csv(index=False).encode(),  # built when pressed
        file_name="files_not_used.csv",
        mime="text/csv",
        key="data_failures_csv",
    )
    c3.caption(
        f"{len(frame)} files, {TABLE_PAGE} per page; the reasons most often met: "
        + ", ".join(f"{r} ({c})" for r, c in frame["Reason"].value_counts().head(3).items())
    )
    start = page_start(len(frame), page, TABLE_PAGE)
    st.dataframe(
        frame.iloc[start : start + TABLE_PAGE],
        hide_index=True,
        width="stretch",
        key="data_failures",
    )


def no_face_panel(no_face: Sequence[tuple[str, str]], previews: dict[str, bytes | None]) -> None:
    """The photos where no face was found, as previews, a page at a time."""
    if not no_face:
        return
    st.subheader(f"Photos where no face was found ({len(no_face)})")
    st.caption(
        "MTCNN found no face above its confidence threshold: sunglasses, profile views, tiny or blurred faces."
    )
    with st.columns([1, 3])[0]:
        page = pager(len(no_face), NO_FACE_PAGE, "data_no_face_page")
    cols = st.columns(6)
    for k, (name, image_hash) in enumerate(page_slice(no_face, page, NO_FACE_PAGE)):
        preview = previews.get(image_hash)
        if preview:
            cols[k % 6].image(
                preview,
                caption=f"no face found · {short_name(name, 28)}",
                width="stretch",
            )


def gallery(result: Any, people: Sequence[str]) -> None:
    """Every face with its box and landmarks, filtered by person, one page at a time."""
    st.subheader("Faces")
    c1, c2, c3, c4 = st.columns([2, 1, 2, 1], vertical_alignment="bottom")
    choice = c1.selectbox("Person", ["Everyone", *people], key="data_person")
    size = int(c2.selectbox("Faces per page", PAGE_SIZES, index=1, key="data_page_size"))
    per_row = c3.slider("Photos per row", 3, 10, 6, key="data_per_row")
    shown = [i for i, r in enumerate(result.rows) if choice == "Everyone" or r.person == choice]
    if not shown:
        st.caption("No faces to show.")
        return
    with c4:
        page = pager(len(shown), size, "data_page")
    first = page_start(len(shown), page, size)
    on_page = shown[first : first + size]
    st.caption(f"Faces {first + 1}–{first + len(on_page)} of {len(shown)}")
    for start in range(0, len(on_page), per_row):
        columns = st.columns(per_row)
        for col, i in zip(columns, on_page[start : start + per_row], strict=False):
            row = result.rows[i]
            preview = result.previews.get(row.image_hash)
            if preview is None:
                continue
            col.image(
                boxed(row.image_hash, tuple(row.box), preview, row),
                caption=caption(row),
                width="stretch",
            )
            col.caption(short_name(row.name), help=row.name)
