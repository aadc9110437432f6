"""Data page: what is in the current face set, every face found, and every file not used."""

import pandas as pd
import streamlit as st

from facedash.gallery import caption, preview_with_box, short_name
from facedash.images import decode_jpeg
from facedash.ui import classroom, howto, state


def main() -> None:
    result = state.page_start("pages/data.py", "Data", howto.DATA)
    classroom.link_panel()  # serving a class: the students' link and its QR code
    if result is None:
        return
    people = sorted(set(result.people.tolist()))
    cols = st.columns(5)
    cols[0].metric("Photos", result.images)
    cols[1].metric("Faces embedded", len(result.rows))
    cols[2].metric("People", len(people))
    cols[3].metric("Files not used", len(result.failures))
    cols[4].metric("From the store", f"{result.cached}/{result.cached + result.computed}")
    st.caption(
        f"{result.dataset} · model `{result.model_id}` · {result.seconds:.2f} s · {result.det_key} · {result.align_key}"
    )

    if classroom.saving_allowed():  # in a class, the shared store is the teacher's
        with st.popover("Forget this set"):
            st.write("Delete this set's detections, embeddings and thumbnails from the store.")
            if st.button("Forget it now", key="data_forget", type="primary"):
                deleted = state.forget_current()
                st.success(f"Deleted {deleted} rows. Reopening the set will recompute everything.")
                return

    if result.failures:
        st.subheader("Files not used")
        failures = pd.DataFrame([f.as_dict() for f in result.failures])
        if len(failures) <= 200:
            st.table(failures.rename(columns={"file": "File", "reason": "Reason"}))
        else:
            st.dataframe(failures, hide_index=True, width="stretch", key="data_failures")

    if result.no_face:
        st.subheader("Photos where no face was found")
        st.caption(
            "MTCNN found no face above its confidence threshold: sunglasses, profile views, tiny or blurred faces."
        )
        cols = st.columns(6)
        for k, (name, image_hash) in enumerate(result.no_face):
            preview = result.previews.get(image_hash)
            if preview:
                cols[k % 6].image(
                    decode_jpeg(preview),
                    caption=f"no face found · {short_name(name, 28)}",
                    width="stretch",
                )

    st.subheader("Faces")
    choice = st.selectbox("Person", ["Everyone", *people], key="data_person")
    per_row = st.slider("Photos per row", 3, 10, 6, key="data_per_row")
    shown = [i for i, r in enumerate(result.rows) if choice == "Everyone" or r.person == choice]
    for start in range(0, len(shown), per_row):
        columns = st.columns(per_row)
        for col, i in zip(columns, shown[start : start + per_row], strict=False):
            row = result.rows[i]
            preview = result.previews.get(row.image_hash)
            if preview is None:
                continue
            col.image(preview_with_box(preview, row), caption=caption(row), width="stretch")
            col.caption(short_name(row.name), help=row.name)


if __name__ == "__main__":
    state.run_page(main)
