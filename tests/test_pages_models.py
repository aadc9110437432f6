"""Every page on a user's model chosen by ``?model=NAME`` (#25): an ONNX model, and a 64-d Keras one.

The ONNX model is FaceNet converted by tf2onnx (tests/model_zoo.py); the Keras one is FaceNet's
layers with a seeded 64-d projection, so Grad-CAM reaches its own inner layers.
"""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from facedash.models import cards
from tests import model_zoo as Z
from tests.conftest import PAGES, ROOT


@pytest.fixture(scope="module")
def onnx_model(demo):
    name = Z.register("test-pages-onnx", "facenet_onnx")
    yield name
    cards.remove_card(name)


@pytest.fixture(scope="module")
def keras64(demo):
    name = Z.register("test-pages-small64", "small64_keras")
    yield name
    cards.remove_card(name)


def _open(page: str, model: str, compare: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["model"] = model
    if compare:
        at.query_params["compare"] = compare
    at.run()
    if page != PAGES[0]:
        at.switch_page(page)
        at.run()
    return at


def _texts(at: AppTest) -> str:
    parts = [
        e.value for kind in ("markdown", "caption", "info", "warning") for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_a_registered_onnx_model(page, onnx_model):
    at = _open(page, onnx_model)
    assert not at.exception, [e.value for e in at.exception]
    if page == "pages/data.py":
        assert at.sidebar.selectbox(key="fd_model").value == onnx_model  # ?model= chose it
        assert "ONNX Runtime" in _texts(at.sidebar)  # where it runs
        assert at.query_params["model"] == [onnx_model] or at.query_params["model"] == onnx_model
    if page == "pages/attention.py":  # no gradients on ONNX Runtime: the page says why
        assert any("onnx" in i.value and "gradients" in i.value for i in at.info)
    if page == "pages/verification.py":
        assert any(m.label == "ROC-AUC" for m in at.metric)


def test_an_unknown_model_in_the_address_is_said_and_facenet_stays(demo):
    at = _open(PAGES[0], "no-such-model")
    assert not at.exception
    assert any("no-such-model" in w.value for w in at.warning)
    assert at.sidebar.selectbox(key="fd_model").value == "facenet"


def test_a_64_d_keras_model_gets_grad_cam_on_its_own_layers(keras64):
    at = _open("pages/attention.py", keras64)
    assert not at.exception, [e.value for e in at.exception]
    layers = at.selectbox(key="attention_layer").options
    assert any("Block17" in str(o) for o in layers), layers
    assert at.image, "no attention map drawn"


def test_the_64_d_model_separates_the_demo_people(keras64, demo):
    from facedash.data.datasets import load_demo
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset
    from facedash.verification.cardcheck import loo_and_auc

    result = embed_dataset(load_demo(), model_id=keras64, store=Store())
    assert result.embeddings.shape[1] == 64
    loo, auc = loo_and_auc(result.embeddings, np.asarray(result.people), "cosine")
    assert loo == 1.0 and auc > 0.99


def test_attention_on_an_onnx_model_draws_the_pair_maps(onnx_model):
    at = _open("pages/attention.py", onnx_model)
    assert any("gradients" in i.value for i in at.info)  # the gradient methods are not offered
    at.toggle(key="pairmaps_on").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.image) == 4  # the four maps, nothing else on the page
    text = "\n".join(c.value for c in at.caption)
    assert "Deletion check" in text and "in random orders" in text
    assert any("masks" in m.value and "cosine" in m.value for m in at.markdown)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_the_64_d_keras_model(page, keras64):
    at = _open(page, keras64)
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["_fd_model_chosen"] == keras64
    if page == "pages/verification.py":
        assert next(m for m in at.metric if m.label == "ROC-AUC").value > "0.9"


def test_attention_shows_two_keras_models_side_by_side_with_one_method(keras64):
    at = _open("pages/attention.py", "facenet", compare=keras64)
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"facenet and {keras64}" in h.value for h in at.subheader)
    captions = [c for img in at.image for c in img.captions] + [c.value for c in at.caption]
    mine = [c for c in captions if c.startswith("facenet · score")]
    theirs = [c for c in captions if c.startswith(f"{keras64} · score")]
    assert mine and theirs and "deletion AUC" in theirs[0]
    assert any("Block35_5_Activation for facenet" in c for c in captions)
    assert mine[0] != theirs[0].replace(keras64, "facenet")  # two models, two scores


def test_attention_says_a_compared_model_without_gradients_gets_the_pair_maps(onnx_model):
    at = _open("pages/attention.py", "facenet", compare=onnx_model)
    assert not at.exception, [e.value for e in at.exception]
    assert any(onnx_model in i.value and "CorrRISE" in i.value for i in at.info)


@pytest.fixture(scope="module")
def keras_bgr(demo):
    name = Z.register("test-pages-bgr", "facenet_keras_bgr")
    yield name
    cards.remove_card(name)


def test_a_keras_model_with_its_own_preparation_gets_facenets_maps(keras_bgr):
    """FaceNet taking BGR in [-1, 1] (its card says so): the same network, so the same maps.

    The card's preparation reaches the gradient methods: fed FaceNet's prewhitened RGB instead,
    the map changes; the randomization check shuffles this model's own top blocks.
    """
    from facedash.explain import DEFAULT_LAYER, parse_target
    from facedash.explain.base import PREPARE
    from facedash.explain.faithfulness import randomized_copy, spearman
    from facedash.explain.methods import make
    from facedash.faces.probe import demo_crops
    from facedash.models import get_model

    faces = demo_crops(None, 4)
    target = parse_target("channel:5")
    facenet = make("gradcam", get_model("facenet").model, layer=DEFAULT_LAYER).explain(
        faces, target
    )
    model = get_model(keras_bgr).model
    mine = make("gradcam", model, layer=DEFAULT_LAYER).explain(faces, target)
    assert spearman(mine.maps, facenet.maps).min() > 0.99
    np.testing.assert_allclose(mine.scores, facenet.scores, atol=0.01)
    prepared = getattr(model, PREPARE)
    try:
        delattr(model, PREPARE)  # FaceNet's prewhitened RGB into a BGR [-1, 1] model
        wrong = make("gradcam", model, layer=DEFAULT_LAYER).explain(faces, target)
    finally:
        setattr(model, PREPARE, prepared)
    assert spearman(wrong.maps, facenet.maps).min() < 0.95
    shuffled = randomized_copy(model, top_blocks=4)  # a Keras clone (no Lambda layers in it)
    assert getattr(shuffled, PREPARE) is prepared
    rand = make("gradcam", shuffled, layer=DEFAULT_LAYER).explain(faces, target)
    facenet_shuffled = randomized_copy(get_model("facenet").model, top_blocks=4)  # rebuilt
    rand_facenet = make("gradcam", facenet_shuffled, layer=DEFAULT_LAYER).explain(faces, target)
    assert spearman(rand.maps, rand_facenet.maps).min() > 0.99  # the same blocks shuffled alike
    assert not np.allclose(rand.scores, mine.scores, atol=0.01)


def test_the_attention_page_explains_the_bgr_keras_model_with_gradients(keras_bgr):
    at = _open("pages/attention.py", keras_bgr)
    assert not at.exception, [e.value for e in at.exception]
    assert not any("gradients" in i.value for i in at.info)  # the methods are offered
    assert at.selectbox(key="attention_layer").value == "Block35_5_Activation"
    assert len(at.image) >= 2  # the face and its map
