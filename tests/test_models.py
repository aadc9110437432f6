import h5py
import numpy as np
import pytest

from facedash import assets
from facedash.errors import UnknownModel, WeightLoadError
from facedash.models import MODELS, get_model, spec
from facedash.models.facenet import load_from, prewhiten


def test_every_weight_array_was_checked(facenet):
    assert facenet.arrays_checked == 490  # 245 weight-bearing layers, bit-identical to the file
    assert facenet.model.count_params() == 22_808_144
    assert facenet.device in ("CPU:0", "GPU:0")
    assert get_model("facenet") is facenet  # one instance per process


def test_a_partial_weights_file_is_refused(tmp_path):
    broken = tmp_path / "partial.h5"
    with h5py.File(assets.weights_path(), "r") as src, h5py.File(broken, "w") as dst:
        group = dst.create_group("model_weights")
        for name in src["model_weights"]:
            if name != "Block8_6_Conv2d_1x1":
                src.copy(src["model_weights"][name], group, name=name)
        for key, value in src["model_weights"].attrs.items():
            group.attrs[key] = value
    with pytest.raises(WeightLoadError, match="Block8_6_Conv2d_1x1"):
        load_from(broken)


def test_prewhiten_matches_the_formula():
    x = np.random.default_rng(0).integers(0, 256, (2, 160, 160, 3)).astype(np.uint8)
    out = prewhiten(x)
    for i in range(2):
        xi = x[i].astype(np.float64)
        expected = (xi - xi.mean()) / max(xi.std(), 1 / np.sqrt(xi.size))
        assert np.allclose(out[i], expected, atol=1e-4)
    flat = prewhiten(np.full((1, 160, 160, 3), 7, np.uint8))
    assert np.all(flat == 0)  # std floor: no division by zero


def test_embeddings_are_unit_length_and_batch_independent(facenet, demo):
    from facedash.data.images import decode_jpeg

    faces = np.stack([decode_jpeg(t) for t in demo.thumbs[:5]])
    together = facenet.embed(faces)
    alone = np.concatenate([facenet.embed(f[None]) for f in faces])
    assert np.allclose(np.linalg.norm(together, axis=1), 1, atol=1e-5)
    assert np.allclose(together, alone, atol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        facenet.embed(faces[:, :100])


def test_leave_one_out_identification_on_the_demo_set(demo):
    """1-NN over the other 117 faces: 100% in the spike; wrong weights or preprocessing break it."""
    emb, people = demo.embeddings, demo.people
    sims = emb @ emb.T
    np.fill_diagonal(sims, -np.inf)
    accuracy = float((people[sims.argmax(1)] == people).mean())
    assert len(people) == 118
    assert accuracy == 1.0


def test_genuine_pairs_score_higher_than_impostors(demo):
    from sklearn.metrics import roc_auc_score

    emb, people = demo.embeddings, demo.people
    iu = np.triu_indices(len(people), 1)
    same = (people[:, None] == people[None, :])[iu]
    auc = roc_auc_score(same, (emb @ emb.T)[iu])
    assert auc > 0.99  # spike: 0.9949 without margin or rotation


def test_registry():
    assert spec("facenet").dim == 128 and MODELS["facenet"].input_size == 160
    with pytest.raises(UnknownModel, match="known: facenet"):
        spec("nope")


def test_unloaded_weights_fail_verification():
    from facedash.models.facenet import build, verify_weights

    with pytest.raises(WeightLoadError, match="weights differ"):
        verify_weights(build(), assets.weights_path())
