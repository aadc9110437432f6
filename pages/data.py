"""Data page: what is in the current face set, every face found, and every file not used."""

import streamlit as st

from facedash.i18n import _
from facedash.ui import classroom, howto, state
from facedash.ui import data as UD


def main() -> None:
    result = state.page_start("pages/data.py", _("Data"), howto.DATA)
    classroom.link_panel()  # serving a class: the students' link and its QR code
    if result is None:
        return
    people = sorted(set(result.people.tolist()))
    cols = st.columns(5)
    cols[0].metric(_("Photos"), f"{result.images:,}")
    cols[1].metric(_("Faces embedded"), f"{len(result.rows):,}")
    cols[2].metric(_("People"), f"{len(people):,}")
    cols[3].metric(_("Files not used"), f"{len(result.failures):,}")
    cols[4].metric(_("From the store"), f"{result.cached:,}/{result.cached + result.computed:,}")
    st.caption(
        _("{dataset} · model `{model}` · {seconds} s · {detector} · {alignment}").format(
            dataset=UD.reason(result.dataset),
            model=result.model_id,
            seconds=f"{result.seconds:.2f}",
            detector=result.det_key,
            alignment=result.align_key,
        )
    )
    if result.changes:
        st.warning(UD.reason(result.changes))

    if classroom.saving_allowed():  # in a class, the shared store is the teacher's
        with st.popover(_("Forget this set")):
            st.write(_("Delete this set's detections, embeddings and thumbnails from the store."))
            if st.button(_("Forget it now"), key="data_forget", type="primary"):
                deleted = state.forget_current()
                st.success(
                    _("Deleted {n} rows. Reopening the set will recompute everything.").format(
                        n=deleted
                    )
                )
                return

    UD.failures_panel(result.failures)
    UD.no_face_panel(result.no_face, result.previews)
    UD.gallery(result, people)


if __name__ == "__main__":
    state.run_page(main)
