"""MTCNN's networks on OpenVINO (the default detector runtime) against TensorFlow's cascade."""

import numpy as np
import pytest

from facedash.faces.detect import Detector, DetectorSettings


@pytest.fixture(scope="module")
def photos(demo_dataset):
    from facedash.data.images import decode

    return [decode(item.read()) for item in demo_dataset.items[::4]]  # 30 photos, 5 people


def test_the_default_detector_runs_openvino_and_says_so_in_its_key():
    default, reference = DetectorSettings(), DetectorSettings(runtime="tensorflow")
    assert default.runtime == "openvino"
    assert default.key() != reference.key()
    assert "openvino-fp32" in default.key() and "openvino" not in reference.key()
    with pytest.raises(ValueError, match="runtime"):
        Detector(DetectorSettings(runtime="onnx"))  # type: ignore[arg-type]


def test_openvino_finds_what_tensorflow_finds(photos):
    """Same faces, boxes and landmarks to a thousandth of a pixel, confidences to 1e-4."""
    ov, tf = Detector(), Detector(DetectorSettings(runtime="tensorflow"))
    assert (ov.backend, ov.device) == ("openvino", "CPU:0") and tf.backend == "tensorflow"
    ours, theirs = ov.detect(photos), tf.detect(photos)
    faces = 0
    for a, b in zip(ours, theirs, strict=True):
        assert len(a) == len(b)
        for fa, fb in zip(a, b, strict=True):
            faces += 1
            assert np.abs(np.subtract(fa.box, fb.box)).max() < 1e-3
            assert np.abs(fa.landmarks - fb.landmarks).max() < 1e-3
            assert fa.confidence == pytest.approx(fb.confidence, abs=1e-4)
    assert faces >= len(photos)


def test_the_networks_outputs_and_their_cache(tmp_path):
    """Converted once into the model cache, read back without Keras; a corrupt file is rebuilt."""
    from facedash.faces import mtcnn_nets

    built = []

    def keras_models():
        built.append(1)
        return mtcnn_nets.package_models()

    nets = mtcnn_nets.OpenVINONets.load(keras_models, root=tmp_path)
    assert built == [1]
    reg, prob = nets.pnet(np.zeros((2, 24, 24, 3), np.float32))
    assert reg.shape == (2, 7, 7, 4) and prob.shape == (2, 7, 7, 2)
    assert np.allclose(prob.sum(-1), 1, atol=1e-5)  # softmax over (not face, face)
    offsets, scores = nets.rnet(np.zeros((3, 24, 24, 3), np.float32))
    assert offsets.shape == (3, 4) and scores.shape == (3, 2)
    offsets, marks, scores = nets.onet(np.zeros((1, 48, 48, 3), np.float32))
    assert (offsets.shape, marks.shape, scores.shape) == ((1, 4), (1, 10), (1, 2))

    mtcnn_nets.OpenVINONets.load(keras_models, root=tmp_path)
    assert built == [1]  # read from the cache
    entry = mtcnn_nets.cache_entry(tmp_path)
    entry.path("pnet.bin").write_bytes(b"not the weights")
    again = mtcnn_nets.OpenVINONets.load(keras_models, root=tmp_path)
    assert built == [1, 1]  # the corrupt entry was converted again
    assert again.pnet(np.zeros((1, 12, 12, 3), np.float32))[1].shape == (1, 1, 1, 2)


def test_onet_face_logit_on_openvino_is_tensorflows(demo):
    """The σ² pass's face check (ONet's logit of the crop) on OpenVINO matches TensorFlow's."""
    from facedash.data.images import decode_jpeg
    from facedash.pfe.head import onet_logit, onet_logit_openvino

    crops = np.stack([decode_jpeg(t) for t in demo.thumbs[::4]])
    theirs = onet_logit(160)(crops).numpy()
    ours = onet_logit_openvino(160)(crops)
    assert ours.shape == theirs.shape == (len(crops),) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-3
    assert np.ptp(ours) > 1  # real, varied logits, not a constant


def test_tensorflow_threads_are_set_before_it_starts():
    """``facedash embed`` runs TensorFlow on one thread (it only serves the detector there)."""
    from tests.fresh_process import run

    code = (
        "import json\n"
        "from facedash.models import tfsetup\n"
        "tfsetup.use_threads(1)\n"
        "tfsetup.configure()\n"
        "import tensorflow as tf\n"
        "t = tf.config.threading\n"
        "print('@@' + json.dumps([t.get_intra_op_parallelism_threads(),"
        " t.get_inter_op_parallelism_threads()]))\n"
    )
    report, _ = run(code)
    assert report == [1, 1]
