"""Verification maths against scikit-learn, brute force and the real demo set."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score, roc_curve

from facedash import verification as V

TOL = 1e-9


@pytest.fixture(scope="module")
def demo(demo_dataset):
    """The demo set's FaceNet embeddings through the default store (FaceNet loads only if missing)."""
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset

    return embed_dataset(demo_dataset, store=Store())


# -- helpers -----------------------------------------------------------------------------------
def _labels_and_scores(draw_seed: int, n: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(draw_seed)
    y = rng.random(n) < 0.3
    y[0], y[1] = True, False  # both classes present
    s = rng.normal(size=n) + 1.5 * y
    if ties:
        s = np.round(s * 2) / 2  # few distinct values, many ties
    return y, s


def _check_against_sklearn(y: np.ndarray, s: np.ndarray, score: str) -> None:
    sw = V.sweep(s, y, score=score)
    oriented = s if score == "cosine" else -s  # sklearn wants "higher means positive"
    assert abs(sw.auc - roc_auc_score(y, oriented)) < TOL
    fpr, tpr, thr = roc_curve(y, oriented, drop_intermediate=False)
    mine_fpr, mine_tpr, mine_thr = sw.roc()
    np.testing.assert_allclose(mine_fpr, fpr, atol=TOL, rtol=0)
    np.testing.assert_allclose(mine_tpr, tpr, atol=TOL, rtol=0)
    # Thresholds are reported in the score's own units.
    np.testing.assert_allclose(mine_thr[1:], thr[1:] if score == "cosine" else -thr[1:])
    # Precision, recall, F1 and the counts at several thresholds, incl. between and outside scores.
    probes = np.r_[np.unique(s)[:: max(1, len(np.unique(s)) // 7)], s.min() - 1, s.max() + 1]
    probes = np.r_[probes, probes + 1e-3]
    for t in probes:
        pred = s >= t if score == "cosine" else s <= t
        c = sw.at(float(t))
        assert (c.tp, c.fp) == (int((pred & y).sum()), int((pred & ~y).sum()))
        assert c.tn + c.fp == (~y).sum() and c.tp + c.fn == y.sum()
        if pred.any():
            assert abs(c.precision - precision_score(y, pred)) < TOL
        assert abs(c.recall - recall_score(y, pred)) < TOL
        assert abs(c.f1 - f1_score(y, pred, zero_division=0.0)) < TOL
        assert abs(c.accuracy - (pred == y).mean()) < TOL


# -- the sweep against sklearn ------------------------------------------------------------------
@pytest.mark.parametrize("score", ["cosine", "euclidean"])
@pytest.mark.parametrize("ties", [False, True])
def test_sweep_matches_sklearn_on_random_and_tied_scores(score, ties):
    y, s = _labels_and_scores(7, 2000, ties)
    if score == "euclidean":
        s = np.abs(s.max() - s)  # a distance: small for the genuine pairs
    _check_against_sklearn(y, s, score)


@settings(max_examples=60, deadline=None)
@given(
    y=st.lists(st.booleans(), min_size=2, max_size=60),
    values=st.lists(st.integers(-5, 5), min_size=60, max_size=60),
    score=st.sampled_from(["cosine", "euclidean"]),
)
def test_sweep_property_heavy_ties(y, values, score):
    y = np.array(y)
    if y.all() or not y.any():
        y[0] = not y[0]
    s = np.array(values[: len(y)], dtype=float) / 4
    if score == "euclidean":
        s = np.abs(s)
    _check_against_sklearn(y, s, score)


def test_every_rate_array_matches_brute_force():
    y, s = _labels_and_scores(3, 500, True)
    sw = V.sweep(s, y, score="cosine")
    pred = s[None, :] >= sw.thresholds[:, None]  # brute force, one row per threshold
    tp = (pred & y).sum(1)
    fp = (pred & ~y).sum(1)
    np.testing.assert_array_equal(sw.tp, tp)
    np.testing.assert_array_equal(sw.fp, fp)
    np.testing.assert_allclose(sw.far, fp / (~y).sum())
    np.testing.assert_allclose(sw.frr, 1 - tp / y.sum())
    np.testing.assert_allclose(sw.f1, 2 * tp / (2 * tp + fp + (y.sum() - tp)))
    np.testing.assert_allclose(sw.accuracy, (tp + (~y).sum() - fp) / len(y))
    assert np.all(np.diff(sw.far) >= 0) and np.all(np.diff(sw.recall) >= 0)


def test_distance_sign_is_not_flipped():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(200, bool), np.zeros(800, bool)]
    d = np.where(y, rng.uniform(0.0, 0.5, 1000), rng.uniform(0.4, 1.5, 1000))
    sw = V.sweep(d, y, score="euclidean")
    assert sw.auc > 0.95  # lower distance means same: not an AUC near 0
    assert np.all(np.diff(sw.thresholds) > 0)  # distances ascend: strictest first
    best = sw.best_f1()
    assert 0.3 < best.threshold < 0.7
    c = sw.at(0.45)
    assert c.tp == int((y & (d <= 0.45)).sum()) and c.fp == int((~y & (d <= 0.45)).sum())
    t = sw.threshold_at_far(0.01)
    assert (~y & (d <= t)).sum() / (~y).sum() <= 0.01
    looser = sw.thresholds[sw.thresholds > t]
    if len(looser):
        assert (~y & (d <= looser[0])).sum() / (~y).sum() > 0.01


def test_eer_tar_and_target_far_against_brute_force():
    y, s = _labels_and_scores(11, 3000, False)
    sw = V.sweep(s, y, score="cosine")
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    fnr = 1 - tpr
    k = np.flatnonzero(fpr - fnr >= 0)[0]
    x0, x1 = fpr[k - 1] - fnr[k - 1], fpr[k] - fnr[k]
    expected = fpr[k - 1] + (fpr[k] - fpr[k - 1]) * (x0 / (x0 - x1))
    eer, t = sw.eer()
    assert abs(eer - expected) < TOL
    c = sw.at(t)
    assert abs(c.far - c.frr) == pytest.approx(np.min(np.abs(fpr[1:] - fnr[1:])))
    for target in V.TARGET_FARS:
        assert abs(sw.tar_at_far(target) - tpr[fpr <= target].max()) < TOL
        assert sw.at(sw.threshold_at_far(target)).far <= target
    best = sw.best_f1()
    assert abs(best.f1 - f1_score(y, s >= best.threshold)) < TOL
    pred = s[None, :] >= np.unique(s)[:, None]  # every threshold, brute force
    tp, fp = (pred & y).sum(1), (pred & ~y).sum(1)
    assert abs(best.f1 - np.max(2 * tp / (tp + fp + y.sum()))) < TOL


def test_sweep_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown score"):
        V.sweep(np.ones(3), np.ones(3, bool), score="manhattan")
    with pytest.raises(ValueError, match="equal length"):
        V.sweep(np.ones(3), np.ones(2, bool))
    with pytest.raises(ValueError, match="not finite"):
        V.sweep(np.array([0.1, np.nan]), np.array([True, False]))


# -- pairs --------------------------------------------------------------------------------------
def test_all_pairs_match_brute_force():
    people = np.array(list("aabccca"), dtype=object)
    p = V.all_pairs(people)
    brute = [(i, j) for i in range(7) for j in range(i + 1, 7)]
    assert list(zip(p.i.tolist(), p.j.tolist(), strict=True)) == brute
    assert p.same.tolist() == [people[i] == people[j] for i, j in brute]
    assert V.pair_counts(people) == (p.genuine, p.impostor)


def test_balanced_sample_is_valid_distinct_and_seeded():
    rng = np.random.default_rng(1)
    people = rng.integers(0, 300, 5000).astype(str)
    p = V.sample_pairs(people, 20_000, seed=3)
    assert p.genuine == 10_000 and p.impostor == 10_000
    assert np.all(p.i < p.j)
    assert np.array_equal(p.same, people[p.i] == people[p.j])
    assert len(np.unique(p.i * 5000 + p.j)) == len(p)
    q = V.sample_pairs(people, 20_000, seed=3)
    assert np.array_equal(p.i, q.i) and np.array_equal(p.j, q.j)
    assert not np.array_equal(p.i, V.sample_pairs(people, 20_000, seed=4).i)
    # Small sets give every pair.
    assert len(V.sample_pairs(people[:50], 20_000)) == 50 * 49 // 2


def test_balanced_sample_on_a_huge_set_stays_small():
    people = (np.arange(1_000_000) // 7).astype(str)  # 10^6 faces, ~5e11 pairs
    p = V.sample_pairs(people, 2_000, seed=0)
    assert p.genuine == 1_000 and p.impostor == 1_000
    assert np.array_equal(p.same, people[p.i] == people[p.j])


def test_sample_uses_all_genuine_pairs_when_few():
    people = np.array(["a", "a"] + [str(k) for k in range(200)])
    p = V.sample_pairs(people, 100)
    assert p.genuine == 1 and p.impostor == 99


# -- LFW pairs files ----------------------------------------------------------------------------
GOOD = "2\t2\nAnn\t1\t2\nBob\t1\t3\nAnn\t1\tBob\t2\nAnn\t2\tBob\t3\nBob\t2\t3\nCid\t1\t2\nAnn\t2\tCid\t1\nBob\t1\tCid\t2\n"


def test_parse_good_file():
    parsed = V.parse_pairs(GOOD)
    assert parsed.folds == 2
    assert parsed.same.tolist() == [True, True, False, False, True, True, False, False]
    assert parsed.name2[2] == "Bob" and parsed.num2[2] == 2
    # Without a header, with spaces, a BOM and blank lines.
    body = "\ufeff" + "\n".join(GOOD.splitlines()[1:]).replace("\t", " ") + "\n\n"
    assert V.parse_pairs(body.encode()).same.sum() == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("10\t300\n", "no pairs"),
        ("Ann\t1\n", "line 1: expected 3 fields"),
        ("1\nAnn\t1\t2\nAnn\tx\tBob\t2\n", "line 3: image numbers"),
        ("1\nAnn\t1\t2\nAnn\t0\tBob\t2\n", "line 3: image numbers"),
        ("Ann\t1\t1\n", "with itself"),
        ("3\nAnn\t1\t2\nAnn\t1\tBob\t2\n", "announces 6 pairs, the file has 2"),
        ("Ann\t1\t2\tBob\t2\tx\n", "got 6"),
    ],
)
def test_parse_broken_files(text, message):
    with pytest.raises(V.PairsFileError, match=message):
        V.parse_pairs(text)


def test_parse_rejects_binary():
    with pytest.raises(V.PairsFileError, match="UTF-8"):
        V.parse_pairs(b"\xff\xfe\x00bad")


def test_pairs_file_resolves_lfw_names_and_counts_missing():
    people = ["Ann", "Ann", "Bob", "Bob", "Bob", "Cid"]
    names = [
        "Ann/Ann_0001.jpg",
        "Ann/Ann_0002.jpg",
        "Bob/Bob_0001.jpg",
        "Bob/Bob_0002.jpg",
        "Bob/Bob_0003.jpg",
        "Cid/Cid_0001.jpg",
    ]
    p = V.pairs_from_file(V.parse_pairs(GOOD), people, names)
    # Cid 2 is not in the set: two pairs dropped.
    assert p.dropped == 2 and len(p) == 6
    assert np.array_equal(p.same, np.array(people)[p.i] == np.array(people)[p.j])
    assert (p.i[0], p.j[0]) == (0, 1)
    with pytest.raises(V.PairsFileError, match="2 pairs name faces not in the set"):
        V.pairs_from_file(V.parse_pairs(GOOD), people, names, on_missing="error")
    with pytest.raises(V.PairsFileError, match="none of the"):
        V.pairs_from_file(V.parse_pairs("Zed\t1\t2\n"), people, names)


def test_pairs_file_on_the_demo_set(demo):
    # Demo files are not LFW-named: image k is the k-th file of the person by name.
    text = "ben_afflek\t1\t2\nmadonna\t3\t4\nben_afflek\t1\tmadonna\t1\n"
    p = V.read_pairs_file(text, demo.people, demo.names)
    assert p.same.tolist() == [True, True, False] and p.dropped == 0
    ben = sorted(n for n, q in zip(demo.names, demo.people, strict=True) if q == "ben_afflek")
    assert demo.names[p.i[0]] == ben[0] and demo.names[p.j[0]] == ben[1]


# -- scores --------------------------------------------------------------------------------------
def test_scores_match_numpy(demo):
    p = V.sample_pairs(demo.people, 500, seed=0)
    e = demo.embeddings.astype(np.float64)
    cos = V.pair_scores(demo, p, "cosine")
    dist = V.pair_scores(demo, p, "euclidean")
    unit = e / np.linalg.norm(e, axis=1, keepdims=True)
    np.testing.assert_allclose(cos, (unit[p.i] * unit[p.j]).sum(1), atol=1e-12)
    np.testing.assert_allclose(dist, np.linalg.norm(e[p.i] - e[p.j], axis=1), atol=1e-12)
    # Unit vectors: d^2 = 2 - 2 cos, so both scores rank pairs alike and give the same AUC.
    np.testing.assert_allclose(dist**2, 2 - 2 * cos, atol=1e-5)
    a, b = V.sweep(cos, p.same, score="cosine"), V.sweep(dist, p.same, score="euclidean")
    assert abs(a.auc - b.auc) < 1e-6


def test_score_registry_is_one_entry_per_score(demo):
    def manhattan(es, i, j):
        return np.abs(es.embeddings[i] - es.embeddings[j]).sum(1)

    V.SCORES["l1"] = V.ScoreKind("l1", "Manhattan distance", False, manhattan)
    try:
        p = V.all_pairs(demo.people)
        sw = V.sweep(V.pair_scores(demo, p, "l1"), p.same, score="l1")
        assert sw.auc > 0.95 and not sw.higher_is_same
    finally:
        del V.SCORES["l1"]


# -- the demo set ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_dlib(demo_dataset):
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset

    return embed_dataset(demo_dataset, model_id="dlib", store=Store())


def test_demo_auc_facenet_cosine(demo):
    p = V.all_pairs(demo.people)
    assert (p.genuine, p.impostor) == V.pair_counts(demo.people)
    sw = V.sweep(V.pair_scores(demo, p, "cosine"), p.same, score="cosine")
    # Spike: 0.9949 with no margin; 0.998 with the default 10% margin.
    assert 0.993 <= sw.auc <= 1.0
    assert sw.best_f1().f1 > 0.95


def test_demo_auc_dlib_euclidean(demo_dlib):
    assert demo_dlib.align_key.startswith("dlib-5pt")
    p = V.all_pairs(demo_dlib.people)
    d = V.pair_scores(demo_dlib, p, "euclidean")
    sw = V.sweep(d, p.same, score="euclidean")
    assert abs(sw.auc - 0.9968) < 0.003  # spike: 0.9968
    at_default = sw.at(0.6)  # dlib's published threshold
    assert 0.93 < at_default.accuracy < 1.0
    assert at_default.far < 0.01  # 0.6 is strict on this data: few false accepts ...
    assert sw.best_f1().threshold > 0.6  # ... and the F1 optimum sits looser


# -- bootstrap, subgroups, failing pairs -------------------------------------------------------------
def test_bootstrap_is_seeded_and_brackets_the_value(demo):
    p = V.all_pairs(demo.people)
    s = V.pair_scores(demo, p, "cosine")
    sw = V.sweep(s, p.same, score="cosine")
    t = sw.best_f1().threshold
    a = V.bootstrap(sw, p, demo.people, t, replicates=60, seed=5)
    b = V.bootstrap(sw, p, demo.people, t, replicates=60, seed=5)
    c = V.bootstrap(sw, p, demo.people, t, replicates=60, seed=6)
    assert a.as_dict() == b.as_dict()
    assert a.as_dict() != c.as_dict()
    assert a.valid > 40
    assert a.auc.low <= a.auc.high <= 1.0
    assert a.rates["far"].low <= a.rates["far"].high
    assert a.rates["tar"].value == pytest.approx(sw.at(t).recall)


def test_bootstrap_weights_of_one_reproduce_the_sweep():
    # With every person drawn once, a replicate is the full data: check the weighted path.
    y, s = _labels_and_scores(2, 300, True)
    sw = V.sweep(s, y, score="cosine")
    order, order_last = sw.order()
    ys = y[order]
    tps = np.cumsum(1.0 * ys)[order_last]
    fps = np.cumsum(1.0 * ~ys)[order_last]
    assert abs(V._auc(fps, tps) - roc_auc_score(y, s)) < TOL


def test_subgroups_match_sklearn(demo):
    p = V.all_pairs(demo.people)
    s = V.pair_scores(demo, p, "cosine")
    groups = np.array([r.attributes.get("split", "") for r in demo.rows])
    out = V.subgroups(s, p, groups, 0.3, score="cosine")
    assert {g.group for g in out} == {"train", "val"}
    for g in out:
        mask = (groups[p.i] == g.group) & (groups[p.j] == g.group)
        assert abs(g.auc - roc_auc_score(p.same[mask], s[mask])) < TOL
        pred = s[mask] >= 0.3
        assert g.at.fp == int((pred & ~p.same[mask]).sum())
        assert g.genuine == int(p.same[mask].sum())


def test_failing_pairs_worst_first(demo):
    p = V.all_pairs(demo.people)
    for score in ("cosine", "euclidean"):
        s = V.pair_scores(demo, p, score)
        sw = V.sweep(s, p.same, score=score)
        t = sw.eer()[1]
        c = sw.at(t)
        fa = V.failing_pairs(s, p, t, score=score, kind="false_accept", limit=10_000)
        fr = V.failing_pairs(s, p, t, score=score, kind="false_reject", limit=10_000)
        assert len(fa) == c.fp and len(fr) == c.fn
        assert not p.same[fa].any() and p.same[fr].all()
        sign = 1 if score == "cosine" else -1
        assert np.all(np.diff(sign * s[fa]) <= 0)  # most alike impostors first
        assert np.all(np.diff(sign * s[fr]) >= 0)  # least alike genuine pairs first


# -- operating points and reports --------------------------------------------------------------------
def test_operating_points_round_trip(tmp_path):
    from facedash.data.store import Store

    store = Store(tmp_path / "s.sqlite3")
    ops = V.OperatingPoints(store)
    ops.save(
        V.OperatingPoint(
            "strict", "dlib", "euclidean", "demo", 0.6, {"far": 0.001, "n": np.int64(3)}
        )
    )
    ops.save(V.OperatingPoint("f1", "facenet", "cosine", "demo", 0.29, {"f1": 0.98}))
    store.close()
    again = V.OperatingPoints(Store(tmp_path / "s.sqlite3"))
    got = {p.name: p for p in again.list()}
    assert got["strict"].threshold == 0.6 and got["strict"].figures == {"far": 0.001, "n": 3}
    assert [p.name for p in again.list(model_id="facenet", score="cosine")] == ["f1"]
    assert again.delete("f1", "facenet", "cosine") and not again.delete("f1", "facenet", "cosine")
    with pytest.raises(ValueError, match="needs a name"):
        again.save(V.OperatingPoint(" ", "dlib", "euclidean", "demo", 0.6, {}))


def test_reports_csv_and_json(demo):
    import io

    import pandas as pd

    p = V.all_pairs(demo.people)
    sw = V.sweep(V.pair_scores(demo, p, "cosine"), p.same, score="cosine")
    frame = pd.read_csv(io.StringIO(V.report_csv(sw)))
    assert len(frame) == len(sw.thresholds)
    assert list(frame.columns[:5]) == ["threshold", "tp", "fp", "tn", "fn"]
    np.testing.assert_allclose(frame["f1"], sw.f1)
    assert len(pd.read_csv(io.StringIO(V.report_csv(sw, max_rows=50)))) <= 50
    record = V.summary(sw, model="facenet", threshold=0.3)
    record["nan"] = float("nan")
    back = json.loads(V.report_json(record))  # strict JSON: NaN became null
    assert back["nan"] is None and back["at_threshold"]["tp"] == sw.at(0.3).tp
