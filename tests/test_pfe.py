"""PFE: MLS, loss and fusion against the formulas; the trained head and decoder on real faces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from facedash.pfe import degrade, mls

D = 8
finite = st.floats(-1, 1, allow_nan=False)
positive = st.floats(1e-4, 2.0, allow_nan=False)


def mls_direct(mu1, s1, mu2, s2):
    total = 0.0
    for l in range(len(mu1)):  # noqa: E741 - the formula's own index
        s = s1[l] + s2[l]
        total += (mu1[l] - mu2[l]) ** 2 / s + np.log(s)
    return -0.5 * total


def gaussians(n):
    return st.tuples(
        arrays(np.float64, (n, D), elements=finite), arrays(np.float64, (n, D), elements=positive)
    )


@settings(max_examples=40, deadline=None)
@given(gaussians(2))
def test_mls_matches_the_formula(g):
    mu, s2 = g
    assert mls.mls(mu[0], s2[0], mu[1], s2[1]) == pytest.approx(
        mls_direct(mu[0], s2[0], mu[1], s2[1]), rel=1e-9, abs=1e-9
    )
    const = mls.mls(mu[0], s2[0], mu[1], s2[1], include_const=True)
    assert const == pytest.approx(
        mls_direct(mu[0], s2[0], mu[1], s2[1]) - D / 2 * np.log(2 * np.pi)
    )


@settings(max_examples=25, deadline=None)
@given(gaussians(6))
def test_pairwise_matrix_and_index_pairs_match_the_formula(g):
    mu, s2 = g
    full = mls.pairwise_mls(mu, s2)
    brute = np.array([[mls_direct(mu[a], s2[a], mu[b], s2[b]) for b in range(6)] for a in range(6)])
    np.testing.assert_allclose(full, brute, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(full, full.T)
    i, j = np.triu_indices(6, k=1)
    np.testing.assert_allclose(
        mls.pairwise_mls_scores(mu, s2, i, j), brute[i, j], rtol=1e-9, atol=1e-9
    )


def test_pairwise_blocks_do_not_change_the_result(monkeypatch):
    rng = np.random.default_rng(0)
    mu, s2 = rng.normal(size=(30, 16)), rng.uniform(0.01, 1, size=(30, 16))
    whole = mls.pairwise_mls(mu, s2)
    monkeypatch.setattr(mls, "_BLOCK_ELEMS", 17)
    np.testing.assert_allclose(mls.pairwise_mls(mu, s2), whole)
    i, j = rng.integers(0, 30, 50), rng.integers(0, 30, 50)
    np.testing.assert_allclose(mls.pairwise_mls_scores(mu, s2, i, j), whole[i, j])


def test_loss_is_mean_negative_mls_over_genuine_pairs_only():
    rng = np.random.default_rng(1)
    mu, s2 = rng.normal(size=(7, D)), rng.uniform(0.05, 1, size=(7, D))
    labels = np.array([0, 1, 0, 2, 1, 0, 3])
    pairs = [(a, b) for a in range(7) for b in range(a + 1, 7) if labels[a] == labels[b]]
    expected = -np.mean([mls_direct(mu[a], s2[a], mu[b], s2[b]) for a, b in pairs])
    assert mls.mls_loss(mu, s2, labels) == pytest.approx(expected)
    with pytest.raises(ValueError, match="no genuine pair"):
        mls.mls_loss(mu[:3], s2[:3], np.array([0, 1, 2]))


@settings(max_examples=40, deadline=None)
@given(gaussians(4))
def test_fusion_matches_the_formula(g):
    mu, s2 = g
    fused_mu, fused_s2 = mls.fuse(mu, s2)
    for l in range(D):  # noqa: E741
        inv = sum(1.0 / s2[k, l] for k in range(4))
        assert fused_s2[l] == pytest.approx(1.0 / inv)
        assert fused_mu[l] == pytest.approx(
            sum((1.0 / inv) / s2[k, l] * mu[k, l] for k in range(4)), abs=1e-9
        )
    assert np.all(fused_s2 <= s2.min(axis=0) + 1e-12)  # fusing never adds uncertainty


def test_fusion_of_one_face_is_that_face_and_confidence_is_mean_precision():
    rng = np.random.default_rng(2)
    mu, s2 = rng.normal(size=(1, D)), rng.uniform(0.01, 1, size=(1, D))
    fmu, fs2 = mls.fuse(mu, s2)
    np.testing.assert_allclose(fmu, mu[0])
    np.testing.assert_allclose(fs2, s2[0])
    assert mls.harmonic_mean(s2)[0] == pytest.approx(D / np.sum(1 / s2[0]))
    assert mls.confidence(s2)[0] == pytest.approx(np.mean(1 / s2[0]))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="positive"):
        mls.mls(np.zeros(3), np.zeros(3), np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="one shape"):
        mls.pairwise_mls(np.zeros((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="indices"):
        mls.pairwise_mls_scores(np.zeros((2, 3)), np.ones((2, 3)), [0], [2])


@pytest.mark.parametrize("kind", degrade.KINDS)
def test_degradations_are_deterministic_graded_and_leave_the_input_alone(demo, kind):
    from facedash.data.images import decode_jpeg

    face = decode_jpeg(demo.thumbs[0])
    before = face.copy()
    out = [degrade.apply(face, kind, s, seed=3) for s in degrade.LEVELS]
    np.testing.assert_array_equal(face, before)
    np.testing.assert_array_equal(out[0], face)
    np.testing.assert_array_equal(degrade.apply(face, kind, 0.6, seed=3), out[3])
    err = [np.abs(o.astype(float) - face).mean() for o in out]
    assert all(o.shape == face.shape and o.dtype == np.uint8 for o in out)
    assert err[-1] > err[1] > 0  # strongest changes more than mildest
    with pytest.raises(ValueError, match="strength"):
        degrade.apply(face, kind, 1.5)


# -- the trained head and decoder (trained once, few epochs, into a temporary folder) --------
@pytest.fixture(scope="session")
def pfe_root(tmp_path_factory):
    return tmp_path_factory.mktemp("pfe")


@pytest.fixture(scope="session")
def trained(demo, facenet, pfe_root):
    from facedash.pfe import train

    return train.train(demo, embedder=facenet, epochs=30, refit_all=False, root=pfe_root)


@pytest.fixture(scope="session")
def decoder_model(demo, facenet, pfe_root):
    from facedash.pfe import decoder

    return decoder.train_decoder(demo, embedder=facenet, epochs=3, copies=2, root=pfe_root)


def test_split_keeps_people_apart(trained):
    rec = trained.record
    assert len(rec["heldout_people"]) >= 2
    assert not set(rec["heldout_people"]) & set(rec["train_people"])


def test_loss_decreases_over_training(trained):
    losses = trained.record["losses"]
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


def test_sigma2_grows_with_blur_on_heldout_faces(trained, demo, facenet):
    from facedash.pfe import train
    from facedash.pfe.evaluate import spearman
    from facedash.pfe.head import FeatureExtractor

    crops, rows = train.clean_crops(demo)
    people = demo.people[rows]
    # Ten faces of each held-out person (the first faces in set order are all one person's).
    held = np.concatenate(
        [np.flatnonzero(people == p)[:10] for p in trained.record["heldout_people"]]
    )
    blurred = np.concatenate([degrade.apply_batch(crops[held], "blur", s) for s in degrade.LEVELS])
    feats, _ = FeatureExtractor(facenet)(blurred)
    mean_s2 = trained.sigma2(feats).mean(axis=1).reshape(len(degrade.LEVELS), len(held))
    assert spearman(np.array(degrade.LEVELS), mean_s2.mean(axis=1)) >= 0.9
    assert np.mean(mean_s2[-1] > mean_s2[0]) >= 0.9  # nearly every face: blurred > clean


def test_heldout_figures_are_recorded(trained):
    ho = trained.record["heldout"]
    assert ho["spearman_sigma_vs_degradation"] >= 0.9
    assert 0.5 < ho["auc_cosine"] <= 1 and 0.5 < ho["auc_mls"] <= 1
    assert set(ho["spearman_by_kind"]) == set(degrade.KINDS)


def test_save_load_round_trip(trained, pfe_root):
    from facedash.pfe import train

    loaded = train.load_head(pfe_root)
    dim = int(trained.model.input.shape[1])
    assert dim == 1793  # the pooled features and ONet's face logit
    x = np.random.default_rng(0).normal(size=(5, dim)).astype(np.float32)
    np.testing.assert_allclose(loaded.sigma2(x), trained.sigma2(x), rtol=1e-5)
    assert loaded.record["heldout_people"] == trained.record["heldout_people"]
    assert train.load_head(pfe_root / "nothing-here") is None
    with pytest.raises(ValueError, match="face_score=True"):
        loaded.sigma2(x[:, :1792])  # the face logit column is missing


def test_sigma2_for_a_set(trained, demo, facenet, pfe_root, tmp_path):
    from facedash.pfe import sigma2_for

    s2 = sigma2_for(demo, embedder=facenet, root=pfe_root)
    assert s2.shape == (len(demo.rows), 128) and np.all(s2 > 0)
    assert sigma2_for(demo, embedder=facenet, root=tmp_path) is None


def test_decoder_output_shape_and_sample_spread_grows_with_sigma2(decoder_model, demo):
    from facedash.pfe import decoder

    out = decoder_model.decode(demo.embeddings[:3])
    assert out.shape == (3, 64, 64, 3) and out.dtype == np.uint8
    mu = demo.embeddings[0]
    spreads = [
        decoder.sample_spread(decoder_model.decode(decoder.samples(mu, np.full(128, v), 12)))
        for v in (1e-5, 1e-3, 3e-2)
    ]
    assert spreads[0] < spreads[1] < spreads[2]
    z = decoder.samples(mu, np.full(128, 0.01), 5)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0)


def test_decoder_round_trip_and_record(decoder_model, demo, pfe_root):
    from facedash.pfe import decoder

    loaded = decoder.load_decoder(pfe_root)
    np.testing.assert_array_equal(
        loaded.decode(demo.embeddings[:2]), decoder_model.decode(demo.embeddings[:2])
    )
    rec = loaded.record
    assert rec["heldout_faces"] > 0 and rec["heldout_mse"] > 0
    assert "thumbnails" in rec["trained_on"]


# -- non-faces ---------------------------------------------------------------------------------
def test_nonface_crops_are_deterministic_and_keep_clear_of_the_face(demo):
    from facedash.pfe import nonface

    backgrounds = nonface.backgrounds_of(demo)
    assert 0 < len(backgrounds) == sum(r.faces_in_image == 1 for r in demo.rows)  # one face only
    a, kinds = nonface.make(12, seed=3, backgrounds=backgrounds)
    b, _ = nonface.make(12, seed=3, backgrounds=backgrounds)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (12, 160, 160, 3) and a.dtype == np.uint8
    assert list(kinds) == list(nonface.KINDS) * 3
    assert not np.array_equal(a, nonface.make(12, seed=4, backgrounds=backgrounds)[0])
    flat = a[kinds == "flat"].reshape(3, -1, 3).astype(float)
    assert (flat.std(axis=1) < 40).all()  # one colour (a gentle ramp at most)
    # Without photos a background becomes a texture; unknown kinds are refused.
    assert set(nonface.make(4, seed=0)[1]) == {"noise", "flat", "texture"}
    with pytest.raises(ValueError, match="unknown non-face"):
        nonface.make(2, kinds=("wall",))
    # A background crop overlaps its photo's face box (grown by 25%) by under 5%.
    rng = np.random.default_rng(0)
    image = np.zeros((200, 200, 3), np.uint8)
    image[60:140, 60:140] = 255  # the "face"
    for _ in range(20):
        crop = nonface.background(rng, [(image, (60.0, 60.0, 80.0, 80.0))])
        if crop is not None:
            assert (crop > 128).mean() < 0.1


def test_nonfaces_get_less_confidence_than_any_blurred_face(trained, demo, facenet):
    """Held-out people: every non-face under every blurred face; clean > blurred > non-face."""
    from facedash.pfe import nonface, train
    from facedash.pfe.head import FeatureExtractor
    from facedash.pfe.mls import confidence

    held_people = trained.record["heldout_people"]
    crops, rows = train.clean_crops(demo)
    held = np.flatnonzero(np.isin(demo.people[rows], held_people))
    ex = FeatureExtractor(facenet)
    conf = lambda x: confidence(trained.sigma2(ex(x)[0]))  # noqa: E731
    clean = conf(crops[held])
    blurred = np.stack(
        [conf(degrade.apply_batch(crops[held], "blur", s)) for s in degrade.LEVELS[1:]]
    )
    # Other seeds than training's, backgrounds from photos of people the head never saw.
    crops_nf, kinds = nonface.make(
        120, seed=424242, backgrounds=nonface.backgrounds_of(demo, held_people)
    )
    nf = conf(crops_nf)
    assert set(kinds) == set(nonface.KINDS)
    assert nf.max() < blurred.min(), (nf.max(), blurred.min())
    assert (blurred[-1] > nf.max()).all()
    # clean > blurred on every face but at most one, that one close (see test_pfe_nonface)
    assert (clean > blurred[-1]).sum() >= len(clean) - 1
    assert (clean >= 0.95 * blurred[-1]).all()
    rec = trained.record["heldout"]["nonface"]
    assert rec["below_every_blurred"] and rec["faces_ordered"] == rec["faces"] > 0
    assert set(rec["by_kind"]) == set(nonface.KINDS)
    score = trained.face_score(ex(crops[held[:5]])[0])
    assert (score >= trained.record.get("face_score_threshold", 3.0)).all()


def test_sigma2_of_set_is_kept_per_set_and_head(trained, demo, facenet, tmp_path):
    from facedash.pfe import head_version, sigma2_of_set
    from facedash.pfe.head import FeatureExtractor

    calls = []

    class Counting:
        def __init__(self):
            self.real = FeatureExtractor(facenet)

        def __call__(self, faces, **kw):
            calls.append(len(faces))
            return self.real(faces, **kw)

    first = sigma2_of_set(
        demo, facenet, trained, cache_dir=tmp_path, extractor=Counting(), chunk=50
    )
    assert sum(calls) == len(demo.rows) and max(calls) <= 50  # in chunks
    assert list(tmp_path.glob("sigma2-*.npz"))

    def refuse(*a, **k):
        raise AssertionError("computed again")

    second = sigma2_of_set(demo, facenet, trained, cache_dir=tmp_path, extractor=refuse)
    np.testing.assert_array_equal(first, second)
    # Another head is another key; no folder (a private upload) keeps nothing.
    from facedash.pfe.head import UncertaintyHead, build_head

    other = UncertaintyHead(build_head(1792, 128, 32, seed=5), {})
    assert head_version(other) != head_version(trained)
    sigma2_of_set(demo, facenet, other, cache_dir=tmp_path, extractor=Counting())
    assert len(list(tmp_path.glob("sigma2-*.npz"))) == 2
