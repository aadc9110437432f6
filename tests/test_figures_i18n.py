"""Every figure builder in Japanese and in English, on the real demo set: same data, translated text.

Each builder runs twice on the same inputs, once inside ``i18n.using("ja")`` and once in
English (the CLI's and the tests' default). The English figure keeps today's English
titles and axis titles; the Japanese one has Japanese ones (kana or kanji) and shows no
catalog message in English; every number of both figures (trace data, shapes, ranges) is
identical, only the text differs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pytest

from facedash import i18n
from facedash import verification as V
from facedash.figures import arithmetic as FA
from facedash.figures import attention as FT
from facedash.figures import det as D
from facedash.figures import embedding_map as FE
from facedash.figures import uncertainty as FU
from facedash.figures import verification as FV
from tests.test_pages_japanese import english_patterns

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# Keys whose strings a reader sees (the rest are plotly settings: modes, colours, anchors).
SHOWN = {"name", "text", "hovertemplate", "hovertext", "ticktext", "x", "y", "title"}


def _shown(node: Any, key: str = "") -> list[str]:
    if isinstance(node, str):
        return [node] if key in SHOWN else []
    if isinstance(node, dict):
        return [s for k, v in node.items() if k != "template" for s in _shown(v, k or key)]
    if isinstance(node, list | tuple | np.ndarray):
        return [s for v in node for s in _shown(v, key)]
    return []


def shown(fig: go.Figure) -> list[str]:
    """Every string of the figure a reader sees: titles, names, labels, hover texts, categories."""
    spec = fig.to_plotly_json()
    return _shown(spec["data"], "") + _shown(spec["layout"], "")


def english_left(fig: go.Figure) -> list[str]:
    """Catalog messages the figure still shows in English."""
    return sorted({m for s in shown(fig) for m, p in english_patterns() if p.match(s.strip())})


def numbers(node: Any) -> Any:
    """The figure's spec with every string blanked: what must not change with the language."""
    if isinstance(node, str):
        return "<text>"
    if isinstance(node, dict):
        return {k: numbers(v) for k, v in node.items() if k != "template"}
    if isinstance(node, list | tuple):
        return [numbers(v) for v in node]
    if isinstance(node, np.ndarray):
        return [numbers(v) for v in node.tolist()]
    if isinstance(node, float) and np.isnan(node):
        return "nan"
    return node


def title(fig: go.Figure, where: str = "") -> str:
    """The text of the figure's title (``where=""``), or an axis's (``"xaxis"``, ``"yaxis"`` ...)."""
    layout = fig.layout if not where else fig.layout[where]
    return layout.title.text or ""


def both(build: Callable[[], go.Figure], *, own_text: bool = True) -> tuple[go.Figure, go.Figure]:
    """The figure in English and in Japanese; their data are the same.

    ``own_text``: the builder writes text of its own (not only its caller's labels), so the
    Japanese figure must show some Japanese.
    """
    assert i18n.language() == "en"
    en = build()
    with i18n.using("ja"):
        ja = build()
    assert numbers(ja.to_plotly_json()) == numbers(en.to_plotly_json())
    left = english_left(ja)
    assert not left, f"shown in English in the Japanese figure: {left}"
    assert not own_text or any(JAPANESE.search(s) for s in shown(ja))
    return en, ja


def check_titles(en: go.Figure, ja: go.Figure, **expected: str) -> None:
    """Today's English at each place (``title``, ``xaxis``, ``yaxis``, ...) and Japanese there in ja."""
    for where, english in expected.items():
        w = "" if where == "title" else where
        assert title(en, w) == english, where
        assert JAPANESE.search(title(ja, w)), (where, title(ja, w))


# -- "How to read this" -----------------------------------------------------------------------
def _emphasis(markdown: str) -> tuple[int, int, str]:
    """Bold and italic spans of a CommonMark text (formulas blanked), and any ``*`` left over."""
    from markdown_it import MarkdownIt

    plain = re.sub(r"\$[^$]*\$", "MATH", re.sub(r"\$\$.*?\$\$", "MATH", markdown, flags=re.S))
    html = MarkdownIt("commonmark").render(plain)
    text = re.sub(r"<[^>]+>", "", html)
    return (
        html.count("<strong>"),
        html.count("<em>"),
        "".join(re.findall(r".{0,12}\*.{0,12}", text)),
    )


def test_how_to_read_texts_follow_the_language():
    from facedash.ui import howto
    from facedash.ui.howto import VERIFICATION

    assert VERIFICATION == howto.text("VERIFICATION")
    assert VERIFICATION.lstrip().startswith("**What this page computes.**")
    for name in howto.NAMES:
        en = getattr(howto, name)
        with i18n.using("ja"):
            ja = getattr(howto, name)
            assert ja == howto.text(name)
        assert ja != en and len(JAPANESE.findall(ja)) > len(ja) / 4, name
        # Every formula kept: the braced groups of the LaTeX, and the number of formulas.
        assert set(re.findall(r"\{[^{}]*\}", ja)) == set(re.findall(r"\{[^{}]*\}", en)), name
        assert ja.count("$") == en.count("$"), name
        # Bold survives next to Japanese punctuation (CommonMark's flanking rules); no stray *.
        strong_ja, _em, left_ja = _emphasis(ja)
        strong_en, _em, left_en = _emphasis(en)
        assert strong_ja == strong_en and not left_ja and not left_en, (name, left_ja)
    with pytest.raises(AttributeError):
        howto.NOT_A_PAGE  # noqa: B018


# -- verification and DET ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def sweep(demo):
    pairs = V.all_pairs(demo.people)
    scores = V.pair_scores(demo, pairs, "cosine")
    return pairs, scores, V.sweep(scores, pairs.same)


def test_verification_figures_in_both_languages(demo, sweep):
    pairs, scores, sw = sweep
    curve = FV.Curve("facenet", sw, 0.3, 0.6)
    distance = np.sqrt(np.maximum(2 - 2 * scores, 0))  # Euclidean distance of unit embeddings
    other = FV.Curve("other", V.sweep(distance, pairs.same, score="euclidean"), 0.9)
    en, ja = both(lambda: FV.roc_figure([curve]))
    check_titles(
        en,
        ja,
        title="ROC: true accepts against false accepts",
        xaxis="False accept rate FAR (= FMR)",
        yaxis="True accept rate TAR (= 1 − FNMR)",
    )
    assert any(t.name == "facenet: threshold 0.3" for t in en.data)
    assert any(t.name == "facenet：閾値 0.3" for t in ja.data)
    en, ja = both(lambda: FV.roc_figure([curve], log_far=True))
    check_titles(en, ja, xaxis="False accept rate FAR (= FMR), log scale")
    en, ja = both(lambda: FV.metrics_figure(curve))
    check_titles(
        en,
        ja,
        title="Rates against the threshold (same when score ≥ threshold)",
        xaxis="Threshold (cosine)",
        yaxis="Rate",
    )
    assert [t.name for t in en.data] == ["precision", "recall (TAR)", "F1", "accuracy"]
    assert [t.name for t in ja.data] == ["適合率", "再現率（TAR）", "F1", "正解率"]
    hist = FV.score_histogram(scores, pairs.same)
    en, ja = both(lambda: FV.histogram_figure(hist, curve))
    check_titles(
        en,
        ja,
        title="Score distributions",
        xaxis="cosine score",
        yaxis="Share of the class's pairs",
    )
    assert ja.layout.xaxis.title.text == "コサインスコア"
    en, ja = both(lambda: FV.confusion_figure(sw.at(0.3)))
    check_titles(en, ja, title="Confusion at threshold 0.3")
    assert list(en.data[0].x) == ["predicted same", "predicted different"]
    assert all(JAPANESE.search(v) for v in [*ja.data[0].x, *ja.data[0].y])
    en, ja = both(lambda: FV.f1_overlay_figure([curve, other]))
    check_titles(
        en,
        ja,
        title="F1 against each model's own threshold",
        xaxis="facenet: cosine threshold",
        xaxis2="other: euclidean threshold",
    )
    # A real split of the faces: people whose name starts in the first half of the alphabet.
    half = np.array(["A-M" if p[:1].upper() <= "M" else "N-Z" for p in demo.people])
    subs = V.subgroups(scores, pairs, half, 0.3)
    en, ja = both(lambda: FV.subgroup_roc_figure(subs, "half"))
    check_titles(
        en, ja, title="ROC per half (dots: the shared threshold)", yaxis="True accept rate (TAR)"
    )


def test_det_figure_in_both_languages(sweep):
    _pairs, _scores, sw = sweep
    curve = FV.Curve("facenet", sw, 0.3, 0.6)
    mark = D.Mark("chosen elsewhere", sw, 0.4)
    en, ja = both(lambda: D.det_figure([curve], marks=[mark]))
    check_titles(
        en,
        ja,
        title="DET: false non-matches against false matches",
        xaxis="False match rate FMR (= FAR), normal-deviate scale",
        yaxis="False non-match rate FNMR (= FRR)",
    )
    assert en.layout.title.subtitle.text.startswith("normal-deviate axes")
    assert JAPANESE.search(ja.layout.title.subtitle.text)
    assert en.data[0].name == f"facenet ({sw.positives}+{sw.negatives} pairs)"
    assert ja.data[0].name == f"facenet（{sw.positives}+{sw.negatives} ペア）"
    assert en.data[1].hovertemplate.startswith("threshold 0.3<br>FMR")
    assert ja.data[1].hovertemplate.startswith("閾値 0.3<br>FMR")


# -- arithmetic & search ----------------------------------------------------------------------
def _first_right(emb: np.ndarray, people: np.ndarray) -> np.ndarray:
    """Each face as a query against all others: the rank of the first face of its person."""
    sims = emb @ emb.T
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1)[:, :-1]
    same = people[order] == people[:, None]
    return np.where(same.any(axis=1), same.argmax(axis=1) + 1, len(people))


def test_arithmetic_figures_in_both_languages(demo):
    emb, people = demo.embeddings, demo.people
    ranks = _first_right(emb, people)
    near = np.argsort(-(emb @ emb[0]))[1:4]
    en, ja = both(
        lambda: FA.neighbours_figure(
            [demo.thumbs[k] for k in near],
            [demo.names[k] for k in near],
            [float(1 - emb[k] @ emb[0]) for k in near],
            [bool(people[k] == people[0]) for k in near],
        )
    )
    assert "<br>distance " in en.layout.annotations[0].text
    assert "<br>距離 " in ja.layout.annotations[0].text
    # Person x "photo" grid: each person's first and second photo as the query.
    persons = sorted(set(people.tolist()))
    queries, first = [], []
    for p in persons:
        for n, k in enumerate(np.flatnonzero(people == p)[:2]):
            queries.append((p, f"photo {n + 1}"))
            first.append(int(ranks[k]) if ranks[k] <= 5 else 0)
    en, ja = both(lambda: FA.hits_heatmap(persons, ["photo 1", "photo 2"], queries, first, 5))
    check_titles(
        en,
        ja,
        title="Where the right face came, for every person + attribute query",
        xaxis="attribute",
        yaxis="person",
    )
    cmc = np.array([np.mean(ranks <= r) for r in range(1, 21)])
    en, ja = both(lambda: FA.cmc_figure(cmc))
    check_titles(
        en,
        ja,
        title="CMC: a same-person face within the first r results",
        xaxis="rank r",
        yaxis="identification rate",
    )
    assert en.data[0].name == "this set" and JAPANESE.search(ja.data[0].name)
    rows = [{"embedding": "plain embedding", "top-1": cmc[0], "top-5": cmc[4]}]
    en, ja = both(lambda: FA.head_figure(rows))
    check_titles(en, ja, title="Person + attribute accuracy on held-out faces")
    en, ja = both(lambda: FA.loss_figure(list(1 - cmc)))
    check_titles(en, ja, title="Triplet loss while training the head", xaxis="epoch", yaxis="loss")


# -- embedding map ----------------------------------------------------------------------------
def test_embedding_map_figures_in_both_languages(demo):
    from facedash import projection as P
    from facedash.data import thumbnails

    result = P.cluster_map(demo.embeddings, demo.people)
    coords = result.projection.coords
    uris = thumbnails.data_uris(demo.thumbs, side=16)
    en, ja = both(
        lambda: FE.face_map(
            coords,
            names=demo.names,
            people=demo.people,
            labels=result.clustering.labels,
            colour_by="cluster",
            thumbs=uris,
            highlight=[3],
            selected=[5, 6],
            neighbours=P.nearest(demo.embeddings, 3, 4),
        )
    )
    assert en.layout.legend.title.text == "cluster" and ja.layout.legend.title.text == "クラスタ"
    assert {"search", "selected", "nearest faces", "clicked face"} <= {t.name for t in en.data}
    assert "cluster 0" in {t.name for t in en.data} and "クラスタ 0" in {t.name for t in ja.data}
    # WebGL points (the large-set path: one hover text per point) and uncertainty ellipses.
    proj = P.project(demo.embeddings, "pca", dims=2)
    cov = P.project_covariances(proj, np.full(demo.embeddings.shape, 1e-3))
    en, ja = both(
        lambda: FE.face_map(
            proj.coords,
            names=demo.names,
            people=demo.people,
            labels=result.clustering.labels,
            webgl=True,
            covariances=cov,
        )
    )
    assert en.layout.legend.title.text == "person" and ja.layout.legend.title.text == "人物"
    assert any("<br>cluster " in h for h in en.data[0].hovertext)
    assert any("<br>クラスタ " in h for h in ja.data[0].hovertext)
    m = P.cluster_map(demo.embeddings, demo.people, space="full").metrics
    en, ja = both(lambda: FE.confusion_heatmap(m.confusion, m.people, m.clusters))
    check_titles(en, ja, xaxis="KMeans cluster", yaxis="person")


# -- attention --------------------------------------------------------------------------------
def test_attention_figures_in_both_languages(demo, demo_dataset, facenet):
    from facedash.explain import DEFAULT_LAYER, DEFAULT_METHOD, Centroid
    from facedash.explain.analysis import analyse, set_average
    from facedash.explain.crops import aligned_crops
    from facedash.explain.faithfulness import spearman
    from facedash.faces.detect import aligned_landmarks

    rows = demo.rows[:4]
    crops = aligned_crops(demo_dataset, rows)
    landmarks = np.stack([aligned_landmarks(r, 160) for r in rows])
    people = demo.people[:4]
    others = [np.flatnonzero(demo.people == p)[-1] for p in people]  # another photo of each
    a = analyse(
        facenet.model,
        crops,
        landmarks,
        method=DEFAULT_METHOD,
        layer=DEFAULT_LAYER,
        target=Centroid(reference=demo.embeddings[others]),
        steps=4,
    )
    en, ja = both(lambda: FT.region_figure(a.shares[0], a.areas[0]))
    check_titles(en, ja, title="Where the map's mass is")
    assert list(en.data[0].x) == ["eyes", "nose", "mouth", "other"]
    assert list(ja.data[0].x) == ["目", "鼻", "口", "その他"]
    c = a.curves
    assert c is not None
    en, ja = both(
        lambda: FT.deletion_figure(
            c.fractions, c.scores[0], c.random_scores[0], c.auc[0], c.random_auc[0]
        )
    )
    check_titles(
        en, ja, title="Deletion curve (lower is more faithful)", xaxis="% of pixels deleted"
    )
    assert en.layout.yaxis.title.text == "score" and ja.layout.yaxis.title.text == "スコア"
    assert en.data[0].name == f"most salient first (AUC {c.auc[0]:.3f})"
    avg = set_average(a.heat, landmarks, people)
    # The caller shows "All faces" in the language (facedash.ui.attention.group_names).
    names = lambda: [i18n._(n) if n == "All faces" else n for n in avg["names"]]  # noqa: E731
    # The mean maps' only texts are the caller's (names and counts): nothing of its own.
    both(lambda: FT.average_maps_figure(names(), avg["maps"], avg["counts"]), own_text=False)
    en, ja = both(lambda: FT.average_regions_figure(names(), avg["shares"]))
    check_titles(en, ja, yaxis="% of the mean map's mass")
    assert [t.name for t in ja.data] == ["目", "鼻", "口", "その他"]
    # Rank correlation of each face's map with its neighbour's (real maps, a real statistic).
    rho = spearman(a.heat, np.roll(a.heat, 1, axis=0))
    en, ja = both(lambda: FT.randomization_figure(rho, 0.5))
    assert list(en.data[0].x) == ["face 1", "face 2", "face 3", "face 4"]
    assert list(ja.data[0].x) == ["顔 1", "顔 2", "顔 3", "顔 4"]
    assert en.layout.annotations[0].text == "bound 0.5"


# -- uncertainty ------------------------------------------------------------------------------
def test_uncertainty_figures_in_both_languages(demo, saved_head):
    from facedash import pfe
    from facedash.pfe import analysis
    from facedash.pfe.evaluate import pfe_quality

    sigma2 = pfe.sigma2_for(demo)
    assert sigma2 is not None
    conf = pfe_quality(sigma2)
    en, ja = both(lambda: FU.confidence_ranking(conf, demo.people, demo.names))
    check_titles(
        en,
        ja,
        xaxis="rank (most certain first)",
        yaxis="confidence = 1 / harmonic mean of σ²",
    )
    sure, unsure = int(np.argmax(conf)), int(np.argmin(conf))
    en, ja = both(lambda: FU.sigma_profile(sigma2[sure], sigma2[unsure]))
    check_titles(en, ja, xaxis="embedding dimension")
    assert [t.name for t in en.data] == ["clean", "degraded"]
    held = saved_head["heldout"]
    en, ja = both(lambda: FU.sigma_vs_degradation(held["sigma_curves"]))
    log = en.layout.yaxis.type == "log"  # the saved head's curves decide (one may explode)
    assert ja.layout.yaxis.type == en.layout.yaxis.type
    title = "mean σ² (held-out faces, log scale)" if log else "mean σ² (held-out faces)"
    check_titles(en, ja, xaxis="degradation strength", yaxis=title)
    assert "blur" in {t.name for t in en.data} and "ぼかし" in {t.name for t in ja.data}
    en, ja = both(lambda: FU.dilemma(held["dilemma"]["blur"], "blur"))
    check_titles(en, ja, xaxis="blur strength (both faces)")
    assert [a.text for a in en.layout.annotations] == ["cosine similarity", "MLS"]
    assert {t.name for t in en.data} == {"genuine", "impostor"}
    assert {t.name for t in ja.data} == {"本人ペア", "他人ペア"}
    en, ja = both(lambda: FU.risk_control(held["risk_control"], held["far"], "held-out people"))
    check_titles(en, ja, xaxis="faces rejected (lowest quality first), %")
    assert en.layout.yaxis.title.text == f"TAR at FAR = {held['far']:g}"
    chosen = np.flatnonzero(demo.people == demo.people[sure])[:3]
    out = analysis.fusion(demo.embeddings, sigma2, demo.people, chosen)
    en, ja = both(
        lambda: FU.fusion_scores(out["genuine"], out["mls_fused"], out["mls_best"], "MLS")
    )
    assert en.data[0].x0 == "best single photo" and en.data[-1].x0 == "fused"
    assert ja.data[0].x0 != "best single photo" and ja.data[-1].x0 != "fused"
    en, ja = both(
        lambda: FU.confidence_bars(
            [demo.names[k] for k in chosen], out["confidence_each"], out["confidence_fused"]
        )
    )
    check_titles(en, ja, yaxis="confidence")
    en, ja = both(lambda: FU.loss_curve(saved_head["losses"]))
    check_titles(en, ja, xaxis="epoch", yaxis="mean −MLS of genuine pairs")
    # The most and least certain faces stand in for clean and blurred crops here.
    order = np.argsort(-conf)
    nonface = held["nonface"]["max_confidence"]
    en, ja = both(
        lambda: FU.face_check(
            [demo.names[k] for k in order[:3]],
            conf[order[:3]],
            conf[order[-3:]],
            [nonface],
            ["noise"],
        )
    )
    check_titles(en, ja, yaxis="confidence (log)")
    assert list(en.data[0].x) == ["clean", "blurred"] and list(ja.data[0].x) == [
        "劣化なし",
        "ぼかしあり",
    ]
    assert en.layout.annotations[0].text == "lowest blurred face"
