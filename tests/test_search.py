"""Search, group vectors, arithmetic, identification, conditions and the triplet head.

The JAFFE-format set is made here from the demo photos: one photo per person under
five known transforms, written as ``BA.GR1.1.tiff`` (person BA, "expression" GR)
and loaded through ``load_folder``, so the JAFFE file-name parser labels it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facedash import search
from facedash.data.datasets import load_folder, load_path, parse_jaffe
from facedash.errors import FacedashError
from facedash.search.conditions import CONDITIONS, apply_condition, condition_set, person_sample
from facedash.search.jaffe_format import JAFFE_CODES, person_code, write_jaffe_format_set

CODE_CONDITION = {code: name for name, code in JAFFE_CODES.items()}


def write_jaffe_set(demo_dataset, folder, per_person: int = 1) -> dict[str, str]:
    """Every condition of the first photo(s) of each demo person; file -> source."""
    return write_jaffe_format_set(demo_dataset, folder, per_person=per_person)


@pytest.fixture(scope="module")
def jaffe(tmp_path_factory, demo_dataset, facenet):
    """The JAFFE-format set, embedded by the real detector and model into a private store."""
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset

    folder = tmp_path_factory.mktemp("jaffe")
    sources = write_jaffe_set(demo_dataset, folder)
    dataset = load_folder(folder)
    result = embed_dataset(
        dataset,
        store=Store(tmp_path_factory.mktemp("store") / "s.sqlite3"),
        get_model=lambda: facenet,
    )
    assert not result.failures, result.failures
    attrs = np.array([r.attributes["expression"] for r in result.rows])
    src = np.array([sources[r.name] for r in result.rows])
    return result, attrs, src


# -- JAFFE names -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "person", "expression"),
    [
        ("KA.HA1.29.tiff", "KA", "HA"),
        ("ka.ne2.3.TIF", "KA", "NE"),
        ("folder/YM.SU3.60.tiff", "YM", "SU"),
        ("BA.GR1.1.png", "BA", "GR"),
    ],
)
def test_parse_jaffe_good(name, person, expression):
    assert parse_jaffe(name) == {"person": person, "expression": expression}


@pytest.mark.parametrize(
    "name",
    [
        "KA.HA.29.tiff",
        "K.HA1.29.tiff",
        "KAT.HA1.29.tiff",
        "KA.HA1.tiff",
        "KA_HA1_29.tiff",
        "KA.HA1.29.txt",
        "",
    ],
)
def test_parse_jaffe_malformed(name):
    assert parse_jaffe(name) is None


def test_jaffe_set_is_labelled_by_load_path(tmp_path, demo_dataset):
    sources = write_jaffe_set(demo_dataset, tmp_path)
    dataset = load_path(tmp_path)
    assert len(dataset.items) == len(sources) == 5 * len(CONDITIONS)
    for item in dataset.items:
        code = item.name.split(".")[1][:2]
        assert item.person == item.name[:2]
        assert item.attributes == {"expression": code}
        assert code in CODE_CONDITION


# -- the index -------------------------------------------------------------------------------
def clustered(n: int, q: int, d: int = 128, centers: int = 2000, noise: float = 0.5, seed: int = 0):
    """A set and its queries drawn around the same centres (like faces of the same people)."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, d))
    x = search.normalise(
        c[rng.integers(0, centers, n + q)] + noise * rng.standard_normal((n + q, d))
    )
    return x[:n], x[n:]


def test_exact_index_matches_full_sort():
    x, q = clustered(3000, 200, seed=1)
    found = search.ExactIndex(x).search(q, 7)
    sims = q @ x.T
    order = np.argsort(-sims, axis=1)[:, :7]
    np.testing.assert_allclose(found.similarity, np.take_along_axis(sims, order, 1), atol=1e-5)
    assert (np.diff(found.similarity, axis=1) <= 1e-7).all()
    np.testing.assert_allclose(found.distance, 1 - found.similarity)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 50), seed=st.integers(0, 10_000))
def test_exact_index_properties(n, k, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8))
    found = search.ExactIndex(x).search(x, k)
    assert found.ids.shape == (n, min(k, n))
    # Every vector's best match has similarity 1 (itself or an equal vector).
    np.testing.assert_allclose(found.similarity[:, 0], 1.0, atol=1e-5)
    assert ((found.ids >= 0) & (found.ids < n)).all()


def test_index_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        search.ExactIndex(np.zeros((0, 4)))
    idx = search.ExactIndex(np.eye(4))
    with pytest.raises(ValueError, match="shape"):
        idx.search(np.ones((2, 3)))
    with pytest.raises(ValueError, match="k must be"):
        idx.search(np.ones(4), 0)
    with pytest.raises(ValueError, match="unknown index kind"):
        search.make_index(np.eye(4), "faiss")


def test_ngt_recall_at_5_on_20000_vectors():
    x, q = clustered(20_000, 1000, seed=3)
    truth = search.ExactIndex(x).search(q, 5).ids
    found = search.NGTIndex(x).search(q, 5)
    assert search.recall_at_k(found.ids, truth) >= 0.99
    # NGT's distances are the same cosine distances the exact index computes.
    np.testing.assert_allclose(
        found.similarity, np.take_along_axis(q @ x.T, found.ids, 1), atol=1e-4
    )


def test_ngt_and_exact_agree_on_the_demo_set(demo):
    emb = demo.embeddings
    exact = search.ExactIndex(emb).search(emb, 2)
    ngt = search.NGTIndex(emb).search(emb, 2)
    # Top-1 of every face is itself (or an identical photo); compare the similarity,
    # which is what ties share, and the person of the nearest other face.
    np.testing.assert_allclose(ngt.similarity, exact.similarity, atol=1e-4)
    people = demo.people
    assert (people[ngt.ids[:, 1]] == people[exact.ids[:, 1]]).all()
    # The arithmetic's top-1 is the same with either index.
    attrs = np.array([r.attributes["split"] for r in demo.rows])
    a = search.evaluate_arithmetic(emb, people, attrs, index="exact")
    b = search.evaluate_arithmetic(emb, people, attrs, index="ngt")
    assert (a.neighbours.ids[:, 0] == b.neighbours.ids[:, 0]).all()


def test_recall_at_k():
    assert search.recall_at_k(np.array([[1, 2]]), np.array([[2, 1]])) == 1.0
    assert search.recall_at_k(np.array([[1, 3]]), np.array([[2, 1]])) == 0.5


# -- group vectors and the arithmetic ----------------------------------------------------------
def test_group_vectors_against_a_loop():
    rng = np.random.default_rng(5)
    emb = search.normalise(rng.standard_normal((60, 16)))
    labels = rng.choice(["a", "b", "c"], 60)
    for method in search.METHODS:
        gv = search.group_vectors(emb, labels, method)
        for label in "abc":
            block = emb[labels == label]
            want = np.maximum(np.median(block, 0), 0) if method == "median" else block.mean(0)
            np.testing.assert_allclose(gv[label], want / np.linalg.norm(want), atol=1e-5)
        assert (gv.vectors >= 0).all() or method == "mean"
    with pytest.raises(ValueError, match="unknown group-vector method"):
        search.group_vectors(emb, labels, "mode")


def synthetic_factors(seed: int = 0, people: int = 6, attrs: int = 4, photos: int = 3):
    """Embeddings that are exactly person + attribute directions plus small noise."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((people, 64))
    w = rng.standard_normal((attrs, 64))
    p = np.repeat(np.arange(people), attrs * photos)
    a = np.tile(np.repeat(np.arange(attrs), photos), people)
    x = u[p] + w[a] + 0.1 * rng.standard_normal((len(p), 64))
    return search.normalise(x), p.astype(str), a.astype(str)


@pytest.mark.parametrize("method", search.METHODS)
def test_arithmetic_finds_the_right_faces_when_the_factors_add(method):
    x, p, a = synthetic_factors()
    report = search.evaluate_arithmetic(x, p, a, method=method)
    assert len(report.queries) == 6 * 4
    if method == "mean":  # the mean keeps the factors' signs, so the sum points right
        assert report.top1 == 1.0 and report.top5 == 1.0
    assert report.top5 >= report.top1


def test_arithmetic_against_brute_force(jaffe):
    result, attrs, _ = jaffe
    people = result.people.astype(str)
    report = search.evaluate_arithmetic(result.embeddings, people, attrs, method="mean")
    emb = result.embeddings
    hits1 = []
    for p, a in report.queries:
        q = emb[people == p].mean(0)
        q /= np.linalg.norm(q)
        v = emb[attrs == a].mean(0)
        v /= np.linalg.norm(v)
        best = int(np.argmax(emb @ (q + v)))
        hits1.append(people[best] == p and attrs[best] == a)
    assert report.top1 == pytest.approx(np.mean(hits1))


def test_arithmetic_on_the_jaffe_format_set(jaffe):
    result, attrs, src = jaffe
    people = result.people.astype(str)
    assert len(result.rows) == 25
    for method in search.METHODS:
        report = search.evaluate_arithmetic(
            result.embeddings, people, attrs, method=method, sources=src
        )
        assert len(report.queries) == 25
        # One right image per query among five of that person: chance is 1/5 for top-1.
        assert report.top5 == 1.0
        assert report.top1 > 0.2
        # image - A + B: the same photo under B, among the other 24 faces.
        assert report.analogy["queries"] == 25 * 4
        assert report.analogy["top1"] > 0.4
        assert report.analogy["top5"] >= 0.95


def test_analogy_queries_are_a_bounded_seeded_sample(monkeypatch):
    x, p, a = synthetic_factors(people=6, attrs=4, photos=30)  # 720 faces, 2,160 queries
    full = search.evaluate_arithmetic(x, p, a, method="mean", analogy_sample=None)
    assert full.analogy["queries"] == full.analogy["queries_total"] == 720 * 3
    part = search.evaluate_arithmetic(x, p, a, method="mean", analogy_sample=500, seed=3)
    assert part.analogy["queries"] == 500 and part.analogy["queries_total"] == 2160
    assert part.summary()["analogy_sample"] == 500
    again = search.evaluate_arithmetic(x, p, a, method="mean", analogy_sample=500, seed=3)
    assert again.analogy == part.analogy  # seeded
    # The "person + attribute" figures never depend on the analogy sample.
    assert (part.top1, part.top5) == (full.top1, full.top5)
    # Oracle: brute force over exactly the sampled queries.
    av = search.group_vectors(x, a, "mean")
    img, to = search.analogy_pairs(a, av, p)
    pick = search.sample_queries(len(img), 500, 3)
    hits = []
    for i, t in zip(img[pick], to[pick], strict=True):
        q = x[i] - av[a[i]] + av.vectors[t]
        s = x @ (q / np.linalg.norm(q))
        s[i] = -np.inf
        best = int(np.argmax(s))
        hits.append(a[best] == av.labels[t] and p[best] == p[i])
    assert part.analogy["top1"] == pytest.approx(np.mean(hits))
    # Searched with at most the sample's rows: the index never sees more queries than that.
    seen = []
    real = search.ExactIndex._search

    def spy(self, queries, k):
        seen.append(len(queries))
        return real(self, queries, k)

    monkeypatch.setattr(search.ExactIndex, "_search", spy)
    search.evaluate_arithmetic(x, p, a, analogy_sample=200)
    assert max(seen) == 200


def test_arithmetic_needs_two_attributes():
    x, p, _ = synthetic_factors()
    with pytest.raises(FacedashError, match="two attribute values"):
        search.evaluate_arithmetic(x, p, ["same"] * len(p))


def test_compose():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(search.compose(a, b), [2**-0.5, 2**-0.5], atol=1e-6)
    np.testing.assert_allclose(
        search.compose(a, b, a, signs=[1, -1, 1]), np.array([2.0, -1.0]) / 5**0.5, atol=1e-6
    )


# -- identification --------------------------------------------------------------------------
def test_identification_against_brute_force(demo):
    ident = search.identification(demo.embeddings, demo.people)
    emb, people = demo.embeddings, demo.people
    ranks = []
    for i in ident.queries:
        s = emb @ emb[i]
        s[i] = -np.inf
        order = np.argsort(-s, kind="stable")
        # Rank of the first same-person face, counting ties against the probe.
        mate = s[(people == people[i]) & (np.arange(len(s)) != i)].max()
        ranks.append(1 + int(((s >= mate) & (people != people[i])).sum()))
        assert people[order[ranks[-1] - 1]] == people[i] or s[order[ranks[-1] - 1]] == mate
    np.testing.assert_array_equal(ident.ranks, ranks)
    assert (np.diff(ident.cmc) >= 0).all() and ident.cmc[-1] == 1.0
    assert ident.rank1 <= ident.rank5
    assert ident.rank1 == pytest.approx(np.mean(np.array(ranks) == 1))


def test_identification_samples_probes_and_scores_them_exactly():
    x, _ = clustered(3000, 0, centers=300, seed=4)
    people = (np.arange(3000) % 300).astype(str)
    ident = search.identification(x, people, max_probes=250, seed=1, chunk=64)
    assert len(ident.ranks) == 250 and ident.probes_total == 3000
    assert np.array_equal(ident.queries, np.sort(ident.queries))
    for probe, rank in zip(ident.queries[:40], ident.ranks[:40], strict=True):
        s = x @ x[probe]
        s[probe] = -np.inf
        mate = s[(people == people[probe]) & (np.arange(3000) != probe)].max()
        assert rank == 1 + int(((s >= mate) & (people != people[probe])).sum())
    assert ident.cmc[-1] == 1.0 and len(ident.cmc) == 2999
    same = search.identification(x, people, max_probes=250, seed=1)
    np.testing.assert_array_equal(same.ranks, ident.ranks)  # blocks never change a rank


def test_identification_leaves_out_singletons():
    x = search.normalise(np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 1.0]]))
    ident = search.identification(x, ["a", "a", "b", "c"])
    assert ident.queries.tolist() == [0, 1]
    assert ident.rank1 == 1.0


# -- conditions ------------------------------------------------------------------------------
def test_conditions_are_exact_transforms():
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (3, 20, 20, 3), dtype=np.uint8)
    assert (apply_condition(apply_condition(crops, "mirrored"), "mirrored") == crops).all()
    gray = apply_condition(crops, "grayscale")
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    assert apply_condition(crops, "darker").mean() < 0.7 * crops.mean()
    blurred = apply_condition(crops, "blurred").astype(float)
    assert (
        np.abs(np.diff(blurred, axis=1)).mean()
        < 0.5 * np.abs(np.diff(crops.astype(float), axis=1)).mean()
    )
    assert (apply_condition(crops, "original") == crops).all()
    with pytest.raises(ValueError, match="unknown condition"):
        apply_condition(crops, "posterized")


class CountingEmbedder:
    def __init__(self, real):
        self.real, self.calls = real, 0

    def embed(self, faces):
        self.calls += len(faces)
        return self.real.embed(faces)


def test_condition_set_embeds_once_then_reads_the_store(tmp_path, demo, facenet):
    from facedash.data.store import Store

    store = Store(tmp_path / "s.sqlite3")
    counting = CountingEmbedder(facenet)
    first = condition_set(demo, store=store, get_model=lambda: counting, limit=4)
    assert counting.calls == 4 * len(CONDITIONS) and first.computed == counting.calls
    second = condition_set(demo, store=store, get_model=lambda: counting, limit=4)
    assert counting.calls == 4 * len(CONDITIONS) and second.cached == len(second.rows)
    np.testing.assert_array_equal(first.embeddings, second.embeddings)
    conds = [r.attributes["condition"] for r in first.rows]
    assert conds == [c for c in CONDITIONS for _ in range(4)]
    orig = first.embeddings[:4]
    # The re-embedded original crop is the stored embedding up to JPEG round-off.
    assert (np.sum(orig * demo.embeddings[:4], 1) > 0.98).all()
    # Every transform moves the embedding, and none moves it to another person.
    for c in CONDITIONS[1:]:
        emb = first.embeddings[np.array(conds) == c]
        cos = np.sum(emb * orig, 1)
        assert (cos < 0.9999).all() and (cos > 0.6).all()


def test_condition_view_is_kept_beside_the_store(tmp_path, demo, facenet, monkeypatch):
    from facedash.data.images import decode_jpeg, encode_jpeg
    from facedash.data.store import Store
    from facedash.faces.pipeline import THUMB_QUALITY
    from facedash.search import conditions

    store = Store(tmp_path / "s.sqlite3")
    first = condition_set(demo, store=store, get_model=lambda: facenet, limit=5, chunk=2)
    assert first.computed == 5 * len(CONDITIONS)
    assert list((tmp_path / "views").glob("conditions-*.npz"))
    # Lazy thumbnails: the transformed crop's JPEG, made when asked for.
    crop = decode_jpeg(demo.thumbs[1])
    blurred = apply_condition(crop[None], "blurred")[0]
    assert first.thumbs[4 * 5 + 1] == encode_jpeg(blurred, THUMB_QUALITY)
    assert first.thumbs[1] == demo.thumbs[1]  # the original is the stored thumbnail
    assert len(first.thumbs) == len(first.rows) == 25

    # A second run reads the kept view: nothing is transformed, hashed or embedded.
    def refuse(*a, **k):
        raise AssertionError("transformed again")

    monkeypatch.setattr(conditions, "apply_condition", refuse)
    second = condition_set(demo, store=store, get_model=refuse, limit=5)
    assert second.computed == 0
    np.testing.assert_array_equal(second.embeddings, first.embeddings)
    assert [r.image_hash for r in second.rows] == [r.image_hash for r in first.rows]
    monkeypatch.undo()
    # Chunking never changes a view; a memory store keeps no file (nothing reaches the disk).
    other = condition_set(demo, store=Store(":memory:"), get_model=lambda: facenet, limit=5)
    np.testing.assert_allclose(other.embeddings, first.embeddings, atol=1e-5)
    assert conditions.view_cache_dir(Store(":memory:")) is None


# -- the triplet head ------------------------------------------------------------------------
def test_triplet_head_trains_and_is_applied_without_tensorflow(jaffe):
    from facedash.search.triplet import compare_head, split_groups, train_triplet_head

    result, attrs, src = jaffe
    people = result.people.astype(str)
    head = train_triplet_head(result.embeddings, people, attrs, epochs=30, seed=0)
    assert head.losses[-1] < head.losses[0]
    z = head.transform(result.embeddings)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    out = split_groups(src, holdout=0.4, seed=1)
    # Whole source photos are held out.
    assert not set(src[out]) & set(src[~out])
    cmp = compare_head(result.embeddings, people, attrs, src, epochs=10, holdout=0.4)
    assert [r["embedding"] for r in cmp.rows] == ["plain embedding", "triplet head"]
    assert all(0.0 <= r["top-1"] <= r["top-5"] <= 1.0 for r in cmp.rows)
    with pytest.raises(ValueError, match="unknown loss"):
        train_triplet_head(result.embeddings, people, attrs, loss="contrastive")


def test_person_code():
    assert person_code("ben_afflek") == "BA" and person_code("madonna") == "MA"
    assert person_code("jerry_seinfeld") == "JS"


def test_person_sample_is_seeded_proportional_and_keeps_every_person(demo):
    faces = list(range(len(demo.rows)))
    people = demo.people
    picked = person_sample(faces, people, 20)
    assert len(picked) == 20 and picked == sorted(set(picked))
    assert person_sample(faces, people, 20) == picked
    assert person_sample(faces, people, 20, seed=1) != picked
    names, counts = np.unique(people, return_counts=True)
    got = {n: int((people[picked] == n).sum()) for n in names}
    for name, count in zip(names, counts, strict=True):
        assert abs(got[name] - 20 * count / len(faces)) <= 1, got
    assert set(people[person_sample(faces, people, len(names))]) == set(names)
    assert person_sample(faces, people, 10_000) == faces
    assert person_sample(faces, people, 2) == sorted(person_sample(faces, people, len(names)))
    assert person_sample([], people, 5) == []


def test_condition_set_sample_transforms_only_the_sampled_faces(demo, facenet):
    """A sample's rows are the whole view's rows of its faces, read back from the store."""
    from facedash.data.store import Store

    def refuse():
        raise AssertionError("the model was asked for")

    full = condition_set(demo, store=Store(), get_model=lambda: facenet)
    some = condition_set(demo, store=Store(), get_model=refuse, sample=10)
    chosen = person_sample(range(len(demo.rows)), demo.people, 10)
    sources = [r.attributes["source"] for r in some.rows]
    assert len(some.rows) == 10 * len(CONDITIONS)
    assert sources[:10] == [demo.rows[i].name for i in chosen]
    n = len(demo.rows)
    for c in range(len(CONDITIONS)):  # the same vectors as the whole view's rows of those faces
        np.testing.assert_array_equal(
            some.embeddings[c * 10 : (c + 1) * 10], full.embeddings[c * n + np.array(chosen)]
        )
