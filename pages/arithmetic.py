"""Arithmetic & search page: person + attribute vectors, the nearest faces, face search."""

import numpy as np
import pandas as pd
import streamlit as st

from facedash import search
from facedash.errors import FacedashError
from facedash.figures import arithmetic as figs
from facedash.i18n import _
from facedash.search.conditions import CONDITION_LABELS, CONDITIONS, CONDITIONS_PATTERN
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
        return _("expression (from JAFFE file names)")
    if option == CONDITIONS_PATTERN:
        return _("photographic conditions (synthetic transforms)")
    return _("column: {name}").format(name=option)


def _caption(view, i: int) -> str:
    return f"{view.persons[i]} · {UA.value_label(view, view.values[i])}"


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
    st.header(_("Person + attribute"))
    options = _attribute_options(result)
    c1, c2, c3, c4 = st.columns(4)
    pattern = c1.selectbox(_("Attribute"), options, format_func=_label, key=f"{PAGE}_attribute")
    method = c2.radio(
        _("Group vector"),
        list(search.METHODS),
        format_func=lambda m: UA.shown(search.METHOD_LABELS[m]),
        key=f"{PAGE}_method",
    )
    kinds = ["exact", "ngt"] if search.ngt_available() else ["exact"]
    index_kind = c3.radio(
        _("Index"), kinds, format_func=UA.index_label, key=f"{PAGE}_index", horizontal=True
    )
    k = c4.slider(_("Faces shown (k)"), 3, 10, 5, key=f"{PAGE}_k")
    try:
        view = UA.view(result, pattern)
    except FacedashError as exc:
        st.error(UA.shown(str(exc)))
        return
    if view.synthetic:
        st.info(
            _(
                "Attributes here are **synthetic photographic conditions** made by transforms of "
                "each aligned face: {conditions}."
            ).format(conditions="; ".join(UA.shown(CONDITION_LABELS[c]) for c in CONDITIONS))
            + UA.sample_note(view)
        )
    persons = sorted(set(view.persons.tolist()))
    attrs = sorted(set(view.values.astype(str).tolist()))
    if len(attrs) < 2:
        st.warning(_("This attribute has a single value: the arithmetic needs at least two."))
        return
    space = UA.EMBEDDING
    if UA.held_head(view) is not None:
        space = st.radio(
            _("Search in"),
            [UA.EMBEDDING, "head"],
            format_func=lambda s: (
                _("FaceNet embedding") if s == UA.EMBEDDING else _("triplet head")
            ),
            key=f"{PAGE}_space",
            horizontal=True,
            help=_("The head's output space (trained below on ~70% of the photos)."),
        )
    emb = UA.vectors(view, space)
    index = UA.index(view, space, index_kind)

    c1, c2 = st.columns(2)
    person = c1.selectbox(_("Person"), persons, key=f"{PAGE}_person")
    shown = lambda v: UA.value_label(view, v)  # noqa: E731 (a synthetic condition's name)
    attr = c2.selectbox(_("Attribute value"), attrs, format_func=shown, key=f"{PAGE}_value")
    pv, av = UA.groups(view, space, method)
    q = search.compose(pv[person], av[attr])
    _show_neighbours(view, index.search(q, k), person, attr, f"{person} + {shown(attr)}")

    st.subheader(_("Image − A + B"))
    c1, c2 = st.columns(2)
    faces = UA.face_options(len(view.persons))
    image = c1.selectbox(
        _("Face"),
        faces,
        format_func=lambda i: f"{_caption(view, i)} · {view.result.rows[i].name}",
        key=f"{PAGE}_image",
        help=None
        if len(faces) == len(view.persons)
        else _("A seeded sample of {n} faces.").format(n=len(faces)),
    )
    current = str(view.values[image])
    others = [a for a in attrs if a != current]
    target = c2.selectbox(_("Move it to"), others, format_func=shown, key=f"{PAGE}_target")
    q2 = search.compose(emb[image], av[current], av[target], signs=[1, -1, 1])
    _show_neighbours(
        view,
        index.search(q2, k + 1),
        view.persons[image],
        target,
        f"{_caption(view, image)} − {shown(current)} + {shown(target)}",
        exclude=image,
    )

    st.subheader(_("Every person × attribute"))
    report = UA.report(view, space, method, index_kind)
    cols = st.columns(4)
    cols[0].metric(_("Queries"), len(report.queries))
    cols[1].metric("Top-1", f"{report.top1:.0%}")
    cols[2].metric("Top-5", f"{report.top5:.0%}")
    if report.analogy:
        cols[3].metric(_("Image − A + B top-1"), f"{report.analogy['top1']:.0%}")
        done, total = int(report.analogy["queries"]), int(report.analogy["queries_total"])
        st.caption(UA.analogy_note(done, total, head=space != UA.EMBEDDING))
    st.plotly_chart(
        figs.hits_heatmap(
            report.persons, report.attributes, report.queries, report.first_right, report.k
        ),
        width="stretch",
        key=f"{PAGE}_heatmap",
    )
    head_section(view, method)


def head_section(view, method: str) -> None:
    st.subheader(_("Before and after the triplet head"))
    c1, c2 = st.columns([1, 3])
    epochs = c1.slider(_("Epochs"), 10, 100, 40, step=10, key=f"{PAGE}_epochs")
    feature = c1.selectbox(
        _("Head reads"),
        list(search.FEATURES),
        index=list(search.FEATURES).index(search.DEFAULT_FEATURE),
        format_func=lambda f: UA.shown(search.FEATURES[f].label),
        key=f"{PAGE}_head_features",
    )
    if c1.button(_("Train the triplet head"), key=f"{PAGE}_train"):
        bar = c2.progress(0.0, text=_("Training ..."))
        epoch_text = _("epoch {e}/{n}, loss {loss:.3f}")
        UA.train_head(
            view,
            method,
            epochs,
            feature,
            lambda e, n, loss: bar.progress(e / n, text=epoch_text.format(e=e, n=n, loss=loss)),
        )
        bar.empty()
        st.rerun()  # the search space picker above now offers the head
    cmp = UA.held_head(view, method, epochs, feature)
    if cmp is None:
        c2.caption(
            _(
                "Trains a small head on FaceNet features where photographic attributes survive "
                "({feature}) on about 70% of the photos, and scores the arithmetic on the "
                "held-out 30%: the plain embedding (before), the features without a head, and "
                "the head's output space (after)."
            ).format(feature=UA.shown(search.FEATURES[search.DEFAULT_FEATURE].label))
        )
        return
    table, rates = UA.head_table(cmp.rows)
    st.dataframe(
        table.style.format({c: "{:.1%}" for c in rates}),
        hide_index=True,
        width="stretch",
        key=f"{PAGE}_head_table",
    )
    c1, c2 = st.columns(2)
    c1.plotly_chart(figs.head_figure(cmp.rows), width="stretch", key=f"{PAGE}_head_fig")
    c2.plotly_chart(figs.loss_figure(cmp.head.losses), width="stretch", key=f"{PAGE}_loss_fig")


def search_section(result) -> None:
    st.header(_("Face search"))
    if len(result.rows) < 2:
        st.info(_("Face search needs at least two faces."))
        return
    ident = UA.identification(result)
    c1, c2, c3 = st.columns(3)
    c1.metric("Rank-1", f"{ident.rank1:.1%}")
    c2.metric("Rank-5", f"{ident.rank5:.1%}")
    c3.metric(
        _("Probes"),
        len(ident.ranks),
        help=None
        if len(ident.ranks) == ident.probes_total
        else _("A seeded sample of the {n:,} faces that have a mate.").format(n=ident.probes_total),
    )
    faces = UA.face_options(len(result.rows))
    c1, c2 = st.columns([3, 1])
    probe = c1.selectbox(
        _("Pick a face from the set"),
        faces,
        format_func=lambda i: f"{result.rows[i].person} · {result.rows[i].name}",
        key=f"{PAGE}_probe",
    )
    k = c2.slider("k", 3, 10, 5, key=f"{PAGE}_search_k")
    query, label, exclude = result.embeddings[probe], str(result.people[probe]), probe
    query_label = _("... or upload a photo (its largest face is the query)")
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
            score_name=_("cosine"),
            title=(
                _("The {k} faces most similar to {label} (the face itself left out)")
                if exclude >= 0
                else _("The {k} faces most similar to {label}")
            ).format(k=k, label=label),
        ),
        width="stretch",
        key=f"{PAGE}_search_fig",
    )
    st.plotly_chart(figs.cmc_figure(ident.cmc), width="stretch", key=f"{PAGE}_cmc")
    table = pd.DataFrame(
        {
            _("rank"): np.arange(1, len(ids) + 1),
            _("person"): [people[i] for i in ids],
            _("file"): [result.rows[i].name for i in ids],
            _("cosine similarity"): np.round(sims, 4),
        }
    )
    st.dataframe(table, hide_index=True, width="stretch", key=f"{PAGE}_search_table")


def main() -> None:
    state.page_shell("pages/arithmetic.py")  # the language first: the texts below are made in it
    result = state.page_start(
        "pages/arithmetic.py",
        _("Arithmetic & search"),
        howto.ARITHMETIC,
        min_faces=2,
        too_few=_("This page needs at least two embedded faces."),
    )
    if result is None:
        return
    arithmetic_section(result)
    search_section(result)


if __name__ == "__main__":
    state.run_page(main)
