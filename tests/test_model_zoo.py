"""The test models of tests/model_zoo.py (#25): each format reproduces FaceNet, the bad ones are bad.

Every model is run by its own runtime (onnxruntime, OpenVINO, Keras, TensorFlow), not by
facedash's loader, on the demo faces' aligned crops, and compared face by face with the
reference FaceNet. The models are built once into $FACEDASH_HOME/test-models and reused.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests import model_zoo as zoo

pytest.importorskip("onnx")
pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def crops(demo):
    from facedash.data.images import decode_jpeg

    return np.stack([decode_jpeg(t) for t in demo.thumbs if t is not None])


@pytest.fixture(scope="module")
def reference(crops, facenet):
    return facenet.embed(crops)


@pytest.fixture(scope="module")
def people(demo):
    return np.array(
        [row.person for row, t in zip(demo.rows, demo.thumbs, strict=True) if t is not None]
    )


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.slow  # all six: 1 min with the models built, 3 min building them (2 cores)
@pytest.mark.parametrize("name", zoo.REPRODUCE_FACENET)
def test_each_format_reproduces_facenet_face_by_face(name, crops, reference):
    path = zoo.BUILDERS[name]()
    vectors = zoo.embed(name, path, crops)
    assert vectors.shape == reference.shape
    assert np.isfinite(vectors).all()
    cosines = (_unit(vectors) * reference).sum(axis=1)
    assert cosines.min() >= 0.999, (name, float(cosines.min()), int(cosines.argmin()))


def test_the_nchw_bgr_model_takes_its_own_layout(crops, reference):
    """Fed FaceNet's NHWC RGB prewhitened input instead, it must not load or must disagree."""
    import onnxruntime as ort

    session = ort.InferenceSession(
        str(zoo.facenet_onnx_nchw_bgr()), providers=["CPUExecutionProvider"]
    )
    (inp,) = session.get_inputs()
    assert (inp.name, inp.shape) == ("input", ["N", 3, 160, 160])
    assert [o.name for o in session.get_outputs()] == ["embedding"]
    assert zoo.card_args("facenet_onnx_nchw_bgr")[:8] == [
        "--input-size", "160", "--layout", "nchw", "--channels", "bgr", "--normalize", "127.5,127.5",
    ]  # fmt: skip
    # RGB instead of BGR (same layout and scale): a different face to the network.
    x = zoo.preprocess("facenet_onnx_nchw_bgr", crops[:8, :, :, ::-1])
    wrong = _unit(session.run(["embedding"], {"input": x})[0])
    assert (wrong * reference[:8]).sum(axis=1).min() < 0.99


@pytest.mark.slow
def test_small64_is_64_d_keeps_facenet_layer_names_and_separates_the_demo_people(
    crops, people, reference
):
    import keras

    path = zoo.small64_keras()
    model = keras.models.load_model(str(path), compile=False)  # safe mode: no Lambda layers
    names = {layer.name for layer in model.layers}
    assert {"Block35_5_Conv2d_1x1", "Block17_10_Conv2d_1x1", "Block8_6_Conv2d_1x1"} <= names
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)
    vectors = zoo.embed("small64_keras", path, crops)
    assert vectors.shape == (len(crops), 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert zoo.leave_one_out_1nn(reference, people) == 1.0
    assert zoo.leave_one_out_1nn(vectors, people) == 1.0
    # A projection, not a copy: its cosines follow FaceNet's without equalling them.
    ref_cos = reference @ reference.T
    own_cos = vectors @ vectors.T
    assert np.corrcoef(ref_cos.ravel(), own_cos.ravel())[0, 1] > 0.9
    assert np.abs(ref_cos - own_cos).max() > 0.01


def test_the_keras_file_with_lambdas_needs_trust_and_the_safe_one_does_not():
    import keras

    with pytest.raises(ValueError, match="(?i)lambda|safe_mode"):
        keras.models.load_model(str(zoo.facenet_keras()), compile=False, safe_mode=True)
    safe = keras.models.load_model(str(zoo.facenet_keras_safe()), compile=False)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in safe.layers)


def test_the_bad_models_are_bad_in_their_own_way(crops):
    import onnxruntime as ort

    with pytest.raises(Exception, match="(?i)protobuf|parse|load"):
        ort.InferenceSession(str(zoo.not_a_model()), providers=["CPUExecutionProvider"])

    text = ort.InferenceSession(str(zoo.text_model_onnx()), providers=["CPUExecutionProvider"])
    assert [i.shape for i in text.get_inputs()] == [["N", 300]]
    assert text.run(None, {"tokens": np.ones((2, 300), np.float32)})[0].shape == (2, 16)

    nan = zoo.embed("nan_model_onnx", zoo.nan_model_onnx(), crops[:4])
    assert nan.shape == (4, 128) and np.isnan(nan).all()

    constant = zoo.embed("constant_model_onnx", zoo.constant_model_onnx(), crops[:6])
    assert constant.shape == (6, 128)
    assert np.ptp(constant, axis=0).max() == 0.0
    np.testing.assert_allclose(np.linalg.norm(constant[0]), 1.0, atol=1e-6)


def test_models_are_cached_and_copied_out(tmp_path):
    import time

    first = zoo.facenet_openvino()
    t0 = time.perf_counter()
    assert zoo.facenet_openvino() == first  # the cached build, not a new one
    assert time.perf_counter() - t0 < 1.0
    assert first.parent.parent == zoo.zoo_root()
    copy = zoo.facenet_openvino(tmp_path / "mine")
    assert copy == tmp_path / "mine" / "facenet.xml"
    assert copy.with_suffix(".bin").stat().st_size == first.with_suffix(".bin").stat().st_size
    saved = zoo.facenet_savedmodel(tmp_path)
    assert (saved / "saved_model.pb").is_file() and (saved / "variables").is_dir()
    assert not list(zoo.zoo_root().glob(".*-*")) or all(
        time.time() - p.stat().st_mtime < 600 for p in zoo.zoo_root().glob(".*-*")
    )  # no abandoned half-builds (only, at most, one under way in another process)
