"""The dlib model: weights found without importing face_recognition_models, own alignment, pipeline hook."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from facedash.data.datasets import Dataset
from facedash.data.images import content_hash, decode
from facedash.data.store import Store
from facedash.faces.detect import DetectorSettings
from facedash.faces.pipeline import embed_dataset
from facedash.models import spec


@pytest.fixture(scope="module")
def dlib_model():
    from facedash.models.dlib import load

    return load()


def test_weights_located_without_importing_the_package(dlib_model):
    from facedash.models.dlib import NET_FILE, weights_dir

    assert (weights_dir() / NET_FILE).is_file()
    assert "face_recognition_models" not in sys.modules  # it would need pkg_resources
    assert "face_recognition" not in sys.modules


def test_spec_and_embed_shapes(dlib_model):
    s = spec("dlib")
    assert s.metric == "euclidean" and s.default_thresholds["euclidean"] == 0.6
    assert s.align_key and s.input_size == 150
    with pytest.raises(ValueError, match=r"\(N, 150, 150, 3\)"):
        dlib_model.embed(np.zeros((1, 160, 160, 3), np.uint8))


def test_pipeline_uses_the_models_own_alignment(dlib_model, demo_dataset, tmp_path):
    # Four photos of two people; detections copied from the default store so no detector runs.
    picks = [it for it in demo_dataset.items if it.person == "madonna"][:2]
    picks += [it for it in demo_dataset.items if it.person == "jerry_seinfeld"][:2]
    data = Dataset(name="four", kind="test", items=picks, problems=[])
    det_key = DetectorSettings().key()
    hashes = [content_hash(it.read()) for it in picks]
    known = Store().get_detections(hashes, det_key)
    if len(known) < len(set(hashes)):
        pytest.skip("demo detections not in the default store yet")
    store = Store(tmp_path / "s.sqlite3")
    store.put_detections(known.values(), det_key)

    def no_detector():
        raise AssertionError("the detector must not run")

    result = embed_dataset(
        data, model_id="dlib", store=store, get_detector=no_detector, get_model=lambda: dlib_model
    )
    assert result.align_key == spec("dlib").align_key and result.computed == 4
    # The stored vectors are dlib's descriptors of its own 150x150 chips.
    from facedash.data.images import decode_jpeg

    assert decode_jpeg(result.thumbs[0]).shape == (150, 150, 3)
    row = result.rows[0]
    image = decode(picks[0].read())
    face = known[row.image_hash].faces[row.face_index]
    direct = dlib_model.embed(dlib_model.align(image, face)[None])[0]
    np.testing.assert_allclose(result.embeddings[0], direct, atol=1e-5)
    # Same person closer than different people, on dlib's scale (published threshold 0.6).
    e = result.embeddings
    same = np.linalg.norm(e[2] - e[3])
    different = min(np.linalg.norm(e[0] - e[2]), np.linalg.norm(e[1] - e[3]))
    assert same < different
    # Reopening computes nothing, whatever the FaceNet margin says: the key is dlib's.
    from facedash.faces.detect import AlignSettings

    again = embed_dataset(
        data,
        model_id="dlib",
        store=store,
        align_settings=AlignSettings(margin=0.3),
        get_detector=no_detector,
        get_model=no_detector,
    )
    assert again.cached == 4 and again.computed == 0
