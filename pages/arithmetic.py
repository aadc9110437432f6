"""Arithmetic & search page: person + attribute vectors, the nearest faces, face search."""

import numpy as np
import pandas as pd
import streamlit as st

from facedash import search
from facedash.conditions import CONDITION_LABELS, CONDITIONS, CONDITIONS_PATTERN
from facedash.errors import FacedashError
from facedash.figures import arithmetic as figs
from facedash.ui import arithmetic as UA
from facedash.ui import camera as CAM
from facedash.ui import howto, state

PAGE = UA.PAGE


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
        view = UA.view(result, pattern)
    except FacedashError as exc:
        st.error(str(exc))
        return
    if view.synthetic:
        st.info(
            "Attributes here are **synthetic photographic conditions** made by transforms of "
            "each aligned face: " + "; ".join(CONDITION_LABELS[c] for c in CONDITIONS) + "."
        )
    persons = sorted(set(view.persons.tolist()))
    attrs = sorted(set(view.values.astype(str).tolist()))
    if len(attrs) < 2:
        st.warning("This attribute has a single value: the arithmetic needs at least two.")
        return
    space = UA.EMBEDDING
    if UA.held_head(view) is not None:
        space = st.radio(
            "Search in",
            [UA.EMBEDDING, "head"],
            format_func=lambda s: "FaceNet embedding" if s == UA.EMBEDDING else "triplet head",
            key=f"{PAGE}_space",
            horizontal=True,
            help="The head's output space (trained below on ~70% of the photos).",
        )
    emb = UA.vectors(view, space)
    index = UA.index(view, space, index_kind)

    c1, c2 = st.columns(2)
    person = c1.selectbox("Person", persons, key=f"{PAGE}_person")
    attr = c2.selectbox("Attribute value", attrs, key=f"{PAGE}_value")
    pv, av = UA.groups(view, space, method)
    q = search.compose(pv[person], av[attr])
    _show_neighbours(view, index.search(q, k), person, attr, f"{person} + {attr}")

    st.subheader("Image − A + B")
    c1, c2 = st.columns(2)
    faces = UA.face_options(len(view.persons))
    image = c1.selectbox(
        "Face",
        faces,
        format_func=lambda i: f"{_caption(view, i)} · {view.result.rows[i].name}",
        key=f"{PAGE}_image",
        help=None if len(faces) == len(view.persons) else f"A seeded sample of {len(faces)} faces.",
    )
    current = str(view.values[image])
    target = c2.selectbox("Move it to", [a for a in attrs if a != current], key=f"{PAGE}_target")
    q2 = search.compose(emb[image], av[current], av[target], signs=[1, -1, 1])
    _show_neighbours(
        view,
        index.search(q2, k + 1),
        view.persons[image],
        target,
        f"{_caption(view, image)} − {current} + {target}",
        exclude=image,
    )

    st.subheader("Every person × attribute")
    report = UA.report(view, space, method, index_kind)
    cols = st.columns(4)
    cols[0].metric("Queries", len(report.queries))
    cols[1].metric("Top-1", f"{report.top1:.0%}")
    cols[2].metric("Top-5", f"{report.top5:.0%}")
    if report.analogy:
        cols[3].metric("Image − A + B top-1", f"{report.analogy['top1']:.0%}")
        done, total = int(report.analogy["queries"]), int(report.analogy["queries_total"])
        st.caption(
            f"Image − A + B over {done:,} queries"
            + (f" (a seeded sample of {total:,})" if done < total else "")
            + (
                ". In the head's space these include faces it trained on."
                if space != UA.EMBEDDING
                else "."
            )
        )
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
    feature = c1.selectbox(
        "Head reads",
        list(search.FEATURES),
        index=list(search.FEATURES).index(search.DEFAULT_FEATURE),
        format_func=lambda f: search.FEATURES[f].label,
        key=f"{PAGE}_head_features",
    )
    if c1.button("Train the triplet head", key=f"{PAGE}_train"):
        bar = c2.progress(0.0, text="Training ...")
        UA.train_head(
            view,
            method,
            epochs,
            feature,
            lambda e, n, loss: bar.progress(e / n, text=f"epoch {e}/{n}, loss {loss:.3f}"),
        )
        bar.empty()
        st.rerun()  # the search space picker above now offers the head
    cmp = UA.held_head(view, method, epochs, feature)
    if cmp is None:
        c2.caption(
            "Trains a small head on FaceNet features where photographic attributes survive "
            f"({search.FEATURES[search.DEFAULT_FEATURE].label}) on about 70% of the photos, and "
            "scores the arithmetic on the held-out 30%: the plain embedding (before), the "
            "features without a head, and the head's output space (after)."
        )
        return
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


def search_section(result) -> None:
    st.header("Face search")
    if len(result.rows) < 2:
        st.info("Face search needs at least two faces.")
        return
    ident = UA.identification(result)
    c1, c2, c3 = st.columns(3)
    c1.metric("Rank-1", f"{ident.rank1:.1%}")
    c2.metric("Rank-5", f"{ident.rank5:.1%}")
    c3.metric(
        "Probes",
        len(ident.ranks),
        help=None
        if len(ident.ranks) == ident.probes_total
        else f"A seeded sample of the {ident.probes_total:,} faces that have a mate.",
    )
    faces = UA.face_options(len(result.rows))
    c1, c2 = st.columns([3, 1])
    probe = c1.selectbox(
        "Pick a face from the set",
        faces,
        format_func=lambda i: f"{result.rows[i].person} · {result.rows[i].name}",
        key=f"{PAGE}_probe",
    )
    k = c2.slider("k", 3, 10, 5, key=f"{PAGE}_search_k")
    query, label, exclude = result.embeddings[probe], str(result.people[probe]), probe
    query_label = "... or upload a photo (its largest face is the query)"
    found = CAM.search_query(result, PAGE, query_label)
    if found is not None:
        query, label, exclude = found
    ids, sims = UA.nearest(result.embeddings, query, k, exclude)
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
        howto.ARITHMETIC,
        min_faces=2,
        too_few="This page needs at least two embedded faces.",
    )
    if result is None:
        return
    arithmetic_section(result)
    search_section(result)


if __name__ == "__main__":
    state.run_page(main)
