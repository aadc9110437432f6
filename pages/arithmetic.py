"""Arithmetic & search page: person + attribute vectors, the nearest faces, face search."""

import numpy as np
import pandas as pd
import streamlit as st

from facedash import search
from facedash.conditions import CONDITION_LABELS, CONDITIONS_PATTERN, attribute_view
from facedash.errors import FacedashError
from facedash.figures import arithmetic as figs
from facedash.ui import cache, state

HOW_TO_READ = """
**What this page computes.** Every face is an embedding $f(x) \\in \\mathbb{R}^{128}$ with
$\\lVert f(x) \\rVert = 1$. A **group vector** sums up a group of faces (one person, or one
attribute value such as an expression): either the per-dimension **median**, made
non-negative and L2-normalised, $v_G = \\max(\\mathrm{median}_{i \\in G} f(x_i), 0) / \\lVert\\cdot\\rVert$
(what the reference JAFFE experiment did), or the **mean**, L2-normalised.

**The arithmetic.** The query "person + attribute" is $q = (v_P + v_A) / \\lVert v_P + v_A \\rVert$;
"image − A + B" is $q = (f(x) - v_A + v_B) / \\lVert\\cdot\\rVert$. The index returns the faces
with the highest cosine similarity $\\cos(q, f(x_j)) = q \\cdot f(x_j)$; the distance shown is
$1 - \\cos$. A result is **right** (green frame) when it has both the person and the
attribute asked for. **Top-1** is the share of all person × attribute queries whose nearest
face is right, **top-5** the share with a right face among the five nearest.

**The index.** *Exact* compares the query with every face (a matrix product). *NGT* walks a
neighbourhood graph and visits only part of the set: much faster on large sets, and
occasionally it misses a true neighbour (its *recall* is below 1).

**The triplet head.** A small linear map $g(z) = (z + zW + b)/\\lVert\\cdot\\rVert$ on top of the
frozen embeddings, trained with the triplet loss
$\\max(0, d(a, p) - d(a, n) + m)$ where a positive $p$ shares the person *or* the attribute with
the anchor $a$ and a negative $n$ shares neither, $d = 2 - 2\\cos$, margin $m = 0.2$. It is
trained on part of the set and scored on held-out photos, so the table is not flattered by
faces the head has seen.

**Face search.** Each face is used as a query against all the others. Its rank is the
position of the first face of the same person; **rank-1** and **rank-5** are the shares of
queries with a mate at rank 1 or within 5, and the **CMC curve** shows that share for every
rank $r$.

**The demo set's attributes are synthetic.** Its photos have no expression labels, so the page
makes *photographic conditions* on purpose: each aligned face is turned grayscale, mirrored,
darkened (gamma 2.2) or blurred, and embedded again by the real model. FaceNet was trained to
ignore such changes (mirroring hardly moves an embedding), so these attributes are hard
for the arithmetic: that is a finding, not a bug.
"""

PAGE = "arithmetic"


def _attribute_options(result) -> list[str]:
    cols = [c for c in result.attribute_names if c not in ("split",)]
    options = (["jaffe"] if "expression" in cols else []) + [c for c in cols if c != "expression"]
    return [*options, CONDITIONS_PATTERN]


def _label(option: str) -> str:
    if option == "jaffe":
        return "expression (from JAFFE file names)"
    if option == CONDITIONS_PATTERN:
        return "photographic conditions (synthetic transforms)"
    return f"column: {option}"


def _view(result, pattern: str):
    key = (result.dataset, result.model_id, result.align_key, len(result.rows), pattern)
    held = st.session_state.get(f"{PAGE}_view_cache")
    if held is not None and held[0] == key:
        return held[1]
    with st.spinner(
        "Embedding the transformed faces with the real model (stored for next time) ..."
    ):
        view = attribute_view(
            result, pattern, store=cache.store(), get_model=lambda: cache.model(result.model_id)
        )
    st.session_state[f"{PAGE}_view_cache"] = (key, view)
    return view


def _caption(view, i: int) -> str:
    return f"{view.persons[i]} · {view.values[i]}"


def _show_neighbours(view, found, want_person, want_attr, title: str, exclude: int | None = None):
    ids, sims = found.ids[0], found.similarity[0]
    if exclude is not None:
        keep = ids != exclude
        ids, sims = ids[keep], sims[keep]
    right = [bool(view.persons[i] == want_person and view.values[i] == want_attr) for i in ids]
    fig = figs.neighbours_figure(
        [view.result.thumbs[i] for i in ids],
        [_caption(view, i) for i in ids],
        (1.0 - sims).tolist(),
        right,
        title=title,
    )
    st.plotly_chart(fig, width="stretch", key=f"{PAGE}_{title[:12]}")


def arithmetic_section(result) -> None:
    st.header("Person + attribute")
    options = _attribute_options(result)
    c1, c2, c3, c4 = st.columns(4)
    pattern = c1.selectbox("Attribute", options, format_func=_label, key=f"{PAGE}_attribute")
    method = c2.radio(
        "Group vector",
        list(search.METHODS),
        format_func=lambda m: search.METHOD_LABELS[m],
        key=f"{PAGE}_method",
    )
    kinds = ["exact", "ngt"] if search.ngt_available() else ["exact"]
    index_kind = c3.radio("Index", kinds, key=f"{PAGE}_index", horizontal=True)
    k = c4.slider("Faces shown (k)", 3, 10, 5, key=f"{PAGE}_k")
    try:
        view = _view(result, pattern)
    except FacedashError as exc:
        st.error(str(exc))
        return
    if view.synthetic:
        st.info(
            "Attributes here are **synthetic photographic conditions** made by transforms of "
            "each aligned face: " + "; ".join(CONDITION_LABELS.values()) + "."
        )
    emb = view.result.embeddings
    index = search.make_index(emb, index_kind)
    persons = sorted(set(view.persons.tolist()))
    attrs = sorted(set(view.values.astype(str).tolist()))
    if len(attrs) < 2:
        st.warning("This attribute has a single value: the arithmetic needs at least two.")
        return

    c1, c2 = st.columns(2)
    person = c1.selectbox("Person", persons, key=f"{PAGE}_person")
    attr = c2.selectbox("Attribute value", attrs, key=f"{PAGE}_value")
    q = search.person_attribute_query(emb, view.persons, view.values, person, attr, method)
    _show_neighbours(view, index.search(q, k), person, attr, f"{person} + {attr}")

    st.subheader("Image − A + B")
    c1, c2 = st.columns(2)
    faces = list(range(len(view.persons)))
    image = c1.selectbox(
        "Face",
        faces,
        format_func=lambda i: f"{_caption(view, i)} · {view.result.rows[i].name}",
        key=f"{PAGE}_image",
    )
    current = str(view.values[image])
    target = c2.selectbox("Move it to", [a for a in attrs if a != current], key=f"{PAGE}_target")
    q2 = search.analogy_query(emb, view.values, image, target, method)
    _show_neighbours(
        view,
        index.search(q2, k + 1),
        view.persons[image],
        target,
        f"{_caption(view, image)} − {current} + {target}",
        exclude=image,
    )

    st.subheader("Every person × attribute")
    report = search.evaluate_arithmetic(
        emb,
        view.persons,
        view.values,
        method=method,
        index=index,
        k=max(k, 5),
        sources=view.sources if view.synthetic else None,
    )
    cols = st.columns(4)
    cols[0].metric("Queries", len(report.queries))
    cols[1].metric("Top-1", f"{report.top1:.0%}")
    cols[2].metric("Top-5", f"{report.top5:.0%}")
    if report.analogy:
        cols[3].metric("Image − A + B top-1", f"{report.analogy['top1']:.0%}")
    st.plotly_chart(
        figs.hits_heatmap(
            report.persons, report.attributes, report.queries, report.first_right, report.k
        ),
        width="stretch",
        key=f"{PAGE}_heatmap",
    )
    head_section(view, method)


def head_section(view, method: str) -> None:
    st.subheader("Before and after the triplet head")
    c1, c2 = st.columns([1, 3])
    epochs = c1.slider("Epochs", 10, 100, 40, step=10, key=f"{PAGE}_epochs")
    key = (id(view), method, epochs)
    if c1.button("Train the triplet head", key=f"{PAGE}_train"):
        from facedash.triplet import compare_head

        bar = c2.progress(0.0, text="Training ...")
        cmp = compare_head(
            view.result.embeddings,
            view.persons,
            view.values,
            view.sources,
            method=method,
            epochs=epochs,
            progress=lambda e, n, loss: bar.progress(e / n, text=f"epoch {e}/{n}, loss {loss:.3f}"),
        )
        bar.empty()
        st.session_state[f"{PAGE}_head_result"] = (key, cmp)
    held = st.session_state.get(f"{PAGE}_head_result")
    if held is None or held[0] != key:
        c2.caption(
            "Trains a small head on the frozen embeddings (about 70% of the photos) and scores "
            "the arithmetic on the held-out 30%, with and without it."
        )
        return
    cmp = held[1]
    table = pd.DataFrame(cmp.rows)
    st.dataframe(
        table.style.format({c: "{:.1%}" for c in table.columns if "top" in c}),
        hide_index=True,
        width="stretch",
        key=f"{PAGE}_head_table",
    )
    c1, c2 = st.columns(2)
    c1.plotly_chart(figs.head_figure(cmp.rows), width="stretch", key=f"{PAGE}_head_fig")
    c2.plotly_chart(figs.loss_figure(cmp.head.losses), width="stretch", key=f"{PAGE}_loss_fig")


def _embed_upload(name: str, data: bytes):
    """The embedding of the largest face in an uploaded photo, or None (with a message)."""
    from facedash.datasets import load_uploads
    from facedash.detect import DetectorSettings
    from facedash.pipeline import embed_dataset

    model_id, align = state.settings()
    det = DetectorSettings()
    probe = embed_dataset(
        load_uploads([(name, data)], name="search query"),
        model_id=model_id,
        store=cache.store(),
        align_settings=align,
        detector_settings=det,
        get_detector=lambda: cache.detector(det),
        get_model=lambda: cache.model(model_id),
    )
    if not len(probe.rows):
        reason = probe.failures[0].reason if probe.failures else "no face found"
        st.warning(f"{name}: {reason}")
        return None
    return probe.embeddings[0]


def search_section(result) -> None:
    st.header("Face search")
    if len(result.rows) < 2:
        st.info("Face search needs at least two faces.")
        return
    ident = search.identification(result.embeddings, result.people)
    c1, c2, c3 = st.columns(3)
    c1.metric("Rank-1", f"{ident.rank1:.1%}")
    c2.metric("Rank-5", f"{ident.rank5:.1%}")
    c3.metric("Probes", len(ident.ranks))
    faces = list(range(len(result.rows)))
    c1, c2 = st.columns([3, 1])
    probe = c1.selectbox(
        "Pick a face from the set",
        faces,
        format_func=lambda i: f"{result.rows[i].person} · {result.rows[i].name}",
        key=f"{PAGE}_probe",
    )
    k = c2.slider("k", 3, 10, 5, key=f"{PAGE}_search_k")
    upload = st.file_uploader(
        "... or upload a photo (its largest face is the query)",
        type=state.UPLOAD_TYPES,
        key=f"{PAGE}_upload",
    )
    query, label, exclude = result.embeddings[probe], str(result.people[probe]), probe
    if upload is not None:
        vector = _embed_upload(upload.name, upload.getvalue())
        if vector is not None:
            query, label, exclude = vector, f"your photo {upload.name}", -1
    found = search.ExactIndex(result.embeddings).search(query, k + 1)
    ids, sims = found.ids[0], found.similarity[0]
    keep = ids != exclude
    ids, sims = ids[keep][:k], sims[keep][:k]
    probe_person = result.people[probe] if exclude >= 0 else None
    people = result.people
    st.plotly_chart(
        figs.neighbours_figure(
            [result.thumbs[i] for i in ids],
            [str(people[i]) for i in ids],
            sims.tolist(),
            [None if probe_person is None else bool(people[i] == probe_person) for i in ids],
            score_name="cosine",
            title=f"The {k} faces most similar to {label}"
            + (" (the face itself left out)" if exclude >= 0 else ""),
        ),
        width="stretch",
        key=f"{PAGE}_search_fig",
    )
    st.plotly_chart(figs.cmc_figure(ident.cmc), width="stretch", key=f"{PAGE}_cmc")
    table = pd.DataFrame(
        {
            "rank": np.arange(1, len(ids) + 1),
            "person": [people[i] for i in ids],
            "file": [result.rows[i].name for i in ids],
            "cosine similarity": np.round(sims, 4),
        }
    )
    st.dataframe(table, hide_index=True, width="stretch", key=f"{PAGE}_search_table")


def main() -> None:
    result = state.page_start(
        "pages/arithmetic.py",
        "Arithmetic & search",
        HOW_TO_READ,
        min_faces=2,
        too_few="This page needs at least two embedded faces.",
    )
    if result is None:
        return
    arithmetic_section(result)
    search_section(result)


if __name__ == "__main__":
    state.run_page(main)
