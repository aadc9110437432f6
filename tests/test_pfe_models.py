"""An uncertainty (PFE) head per model (#25): a 64-d Keras model's own head, and σ² against σ².

One head is trained per test session, for the 64-d Keras test model (FaceNet's layers and a
seeded 64-d projection, ``tests/model_zoo.py``), with the smallest settings that still give a
meaningful head (the page's and the CLI's defaults are larger). The ONNX test model (FaceNet
by tf2onnx, a black box) gets no head: it checks the features a black box gives and the page's
offer to train one. FaceNet's head (the demo's) must come out of all this byte for byte.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from facedash.models import cards
from tests import model_zoo as Z
from tests.conftest import ROOT

# Small but meaningful: every crop of these is cached on disk, so a later session only refits.
SETTINGS = dict(
    epochs=30,
    variants_per_face=4,
    eval_faces_per_person=3,
    nonfaces=60,
    heldout_nonfaces=20,
    refit_all=False,  # the saved head never saw the held-out people: they test it below
)


def _facenet_head_digest() -> str:
    from facedash.pfe import saved

    digest = hashlib.sha256()
    for name in (saved.HEAD_WEIGHTS, saved.HEAD_RECORD):
        digest.update((saved.pfe_dir() / name).read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def onnx_model(demo):
    name = Z.register("test-pfe-onnx", "facenet_onnx")
    yield name
    cards.remove_card(name)


@pytest.fixture(scope="module")
def keras64(demo):
    name = Z.register("test-pfe-small64", "small64_keras")
    yield name
    cards.remove_card(name)


@pytest.fixture(scope="module")
def keras64_set(keras64):
    from facedash.data.datasets import load_demo
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset

    return embed_dataset(load_demo(), model_id=keras64, store=Store())


@pytest.fixture(scope="module")
def keras64_head(keras64, keras64_set, saved_head):
    """The 64-d model's head, trained once here; FaceNet's head's digest before it."""
    from facedash.models import get_model
    from facedash.pfe import saved, train

    before = _facenet_head_digest()
    head = train.train(keras64_set, embedder=get_model(keras64), **SETTINGS)
    yield head, before
    shutil.rmtree(saved.head_dir(keras64), ignore_errors=True)


def _crops(result, people):
    from facedash.data.images import decode_jpeg

    rows = [i for i, r in enumerate(result.rows) if r.person in people]
    return np.stack([decode_jpeg(result.thumbs[i]) for i in rows])


def test_the_64_d_models_head_is_its_own_and_facenets_is_untouched(
    keras64, keras64_set, keras64_head
):
    from facedash.pfe import saved, sigma2_for

    head, before = keras64_head
    assert _facenet_head_digest() == before  # not a byte of FaceNet's head changed
    assert saved.read_record()["model_id"] == "facenet"
    folder = saved.head_dir(keras64)
    assert folder == saved.pfe_dir() / "models" / cards.spec(keras64).store_id
    assert (folder / saved.HEAD_WEIGHTS).exists()
    record = saved.read_record(model=keras64)
    assert record["model_id"] == keras64 and record["model_key"] == cards.spec(keras64).store_id
    # FaceNet's layers inside: the pooled 1792-d map that feeds its embedding layers
    assert record["features"]["kind"] == "pooled" and record["features"]["dim"] == 1792
    s2 = sigma2_for(keras64_set)
    assert s2.shape == (len(keras64_set.rows), 64) == keras64_set.embeddings.shape
    assert np.isfinite(s2).all() and (s2 > 0).all()
    assert head.dim == 64


def test_its_sigma2_ranks_blurred_faces_below_clean_ones_on_people_it_never_saw(
    keras64, keras64_set, keras64_head
):
    from facedash.models import get_model
    from facedash.pfe import degrade
    from facedash.pfe.features import extractor_for
    from facedash.pfe.mls import confidence

    head, _ = keras64_head
    held = head.record["heldout_people"]
    assert not set(held) & set(head.record["train_people"])
    crops = _crops(keras64_set, held)
    extractor = extractor_for(get_model(keras64))
    feats, mu = extractor(np.concatenate([crops, degrade.apply_batch(crops, "blur", 1.0)]))
    conf = confidence(head.sigma2(feats))
    clean, blurred = conf[: len(crops)], conf[len(crops) :]
    assert np.mean(clean > blurred) >= 0.9, (clean, blurred)
    # the extractor's embeddings are the model's own (the head's mu)
    assert np.allclose(mu[: len(crops)], get_model(keras64).embed(crops), atol=1e-4)


def test_features_of_a_black_box_and_of_a_keras_model_against_their_runtimes(
    onnx_model, keras64, demo, facenet
):
    """ONNX: its own output (onnxruntime, run apart) + ONet's logit; Keras: FaceNet's AvgPool."""
    from facedash.models import get_model
    from facedash.pfe.features import EmbeddingExtractor, KerasPooledExtractor, extractor_for
    from facedash.pfe.head import FeatureExtractor

    crops = _crops(demo, sorted(set(demo.people.tolist())))[::15][:8]
    want_feats, want_mu = FeatureExtractor(facenet)(crops)
    black = extractor_for(get_model(onnx_model))
    assert isinstance(black, EmbeddingExtractor) and black.features["kind"] == "embedding"
    feats, mu = black(crops)
    raw = Z.embed("facenet_onnx", Z.facenet_onnx(), crops)
    assert feats.shape == (8, 129) and np.allclose(feats[:, :-1], raw, atol=1e-4)
    assert np.allclose(mu, get_model(onnx_model).embed(crops), atol=1e-5)
    assert np.allclose(feats[:, -1], want_feats[:, -1], atol=1e-3)  # ONet's face logit
    keras = extractor_for(get_model(keras64))
    assert isinstance(keras, KerasPooledExtractor)
    feats, mu = keras(crops)
    assert feats.shape == (8, 1793) and mu.shape == (8, 64)
    assert np.allclose(feats, want_feats, atol=2e-3)  # the same layers as FaceNet's AvgPool


def test_the_cli_trains_lists_and_scores_per_model(
    keras64, keras64_set, keras64_head, tmp_path, capsys, monkeypatch
):
    from PIL import Image

    from facedash import cli
    from facedash.pfe import degrade, saved, train

    # the fixture's settings (its crops are cached: this refits only)
    monkeypatch.setattr(train, "train", functools.partial(train.train, **SETTINGS))
    args = ["pfe", "train", "--demo", "--model", keras64, "--epochs", "30", "--no-detector"]
    assert cli.main([*args, "--json", "--pfe-dir", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == keras64 and out["dim"] == 64
    assert out["saved"] == str(saved.head_dir(keras64, tmp_path))
    assert not (tmp_path / saved.HEAD_RECORD).exists()  # FaceNet's place stays empty
    assert cli.main(["pfe", "heads", "--json"]) == 0
    heads = {h["model"]: h for h in json.loads(capsys.readouterr().out)["heads"]}
    assert heads["facenet"]["dim"] == 128 and heads[keras64]["dim"] == 64
    unseen = keras64_head[0].record["heldout_people"][0]
    face = _crops(keras64_set, [unseen])[0]
    Image.fromarray(face).save(tmp_path / "clean.png")
    Image.fromarray(degrade.apply(face, "blur", 1.0)).save(tmp_path / "blurred.png")
    files = [str(tmp_path / "clean.png"), str(tmp_path / "blurred.png")]
    assert cli.main(["pfe", "score", *files, "--aligned", "--model", keras64, "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["dim"] == 64
    assert scored["images"][0]["confidence"] > scored["images"][1]["confidence"]
    assert cli.main(["pfe", "train-decoder", "--demo", "--model", keras64]) == 2
    assert "FaceNet's only" in capsys.readouterr().err


def _open(model: str, compare: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["model"] = model
    if compare:
        at.query_params["compare"] = compare
    at.run()
    at.switch_page("pages/uncertainty.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_offers_a_head_to_a_model_without_one(onnx_model, saved_head):
    at = _open(onnx_model)
    assert any(onnx_model in i.value and "no uncertainty head yet" in i.value for i in at.info)
    assert not at.button(key="uncertainty_train").disabled
    assert "uncertainty_sigma2" not in at.session_state  # nothing computed without a head


def test_the_page_ranks_the_64_d_models_faces_and_sets_its_sigma2_against_facenets(
    keras64, keras64_set, keras64_head, saved_head, demo
):
    from facedash.pfe import compare, sigma2_for

    at = _open(keras64, compare="facenet")
    assert any("**Most certain**" in m.value for m in at.markdown)  # this model's ranking
    assert at.session_state["uncertainty_sigma2"][1].shape == (len(keras64_set.rows), 64)
    assert any("pooled features at" in c.value for c in at.caption)  # what its head reads
    weak = keras64_head[0].record["heldout"]["spearman_sigma_vs_degradation"] < 0.5
    assert weak == any("do not grow with the degradations" in w.value for w in at.warning)
    charts = [c for c in at.get("plotly_chart") if "uncertainty_compare_fig" in str(c.proto.id)]
    assert len(charts) == 1, "no σ² against σ² scatter"
    assert f"{keras64}: confidence" in charts[0].proto.spec
    assert "facenet: confidence" in charts[0].proto.spec
    agree = compare.agreement(sigma2_for(keras64_set), sigma2_for(demo), keras64_set, demo)
    text = "\n".join(c.value for c in at.caption)
    assert f"Spearman's rank correlation: {agree.spearman:.2f}" in text
    assert f"{len(agree)} faces both models embedded" in text
    assert any("How to read" in e.label for e in at.expander)


def test_compare_with_a_model_without_a_head_offers_to_train_it(keras64, keras64_head, onnx_model):
    at = _open(keras64, compare=onnx_model)
    assert any(onnx_model in i.value and "no uncertainty head yet" in i.value for i in at.info)
    assert "uncertainty_train_compare" in [b.key for b in at.button]
    assert not [c for c in at.get("plotly_chart") if "uncertainty_compare_fig" in str(c.proto.id)]


def test_agreement_matches_faces_by_photo_and_leaves_out_faces_without_sigma2():
    from types import SimpleNamespace

    from scipy.stats import spearmanr

    from facedash.pfe.compare import agreement
    from facedash.pfe.mls import confidence

    def rows(keys):
        return SimpleNamespace(rows=[SimpleNamespace(image_hash=h, face_index=f) for h, f in keys])

    a = rows([("p1", 0), ("p2", 0), ("p3", 0), ("p4", 0), ("p5", 1), ("p6", 0)])
    b = rows([("p6", 0), ("p4", 0), ("p3", 0), ("p1", 0), ("p5", 1), ("p9", 0)])
    rng = np.random.default_rng(0)
    s2a, s2b = rng.uniform(0.01, 1, (6, 8)), rng.uniform(0.01, 1, (6, 4))
    s2b[2, 0] = np.nan  # p3 under B: no thumbnail, no sigma^2
    got = agreement(s2a, s2b, a, b)
    assert got.ia.tolist() == [0, 3, 4, 5] and got.ib.tolist() == [3, 1, 4, 0]
    assert np.allclose(got.a, confidence(s2a[[0, 3, 4, 5]]))
    assert np.allclose(got.b, confidence(s2b[[3, 1, 4, 0]]))
    assert got.spearman == pytest.approx(spearmanr(got.a, got.b).statistic)


def test_the_confidence_scatter_is_log_log_with_one_trace_per_person():
    from facedash.figures.pfe_compare import confidence_scatter

    fig = confidence_scatter(
        np.array([10.0, 20, 30]), np.array([5.0, 1, 7]), np.array(["x", "y", "x"]),
        np.array(["a.jpg", "b.jpg", "c.jpg"]), "model-a", "model-b",
    )  # fmt: skip
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "log"
    assert "model-a" in fig.layout.xaxis.title.text and "model-b" in fig.layout.yaxis.title.text
    assert [t.name for t in fig.data] == ["x", "y"] and list(fig.data[0].x) == [10.0, 30.0]
