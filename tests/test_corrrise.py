"""CorrRISE (#25 item 3): both signs of a pair's map from forward passes only, for any model."""

from __future__ import annotations

import json

import numpy as np

from facedash.explain.corrrise import corrrise, deletion_aucs, smooth_masks
from tests import model_zoo as Z


def test_the_similar_map_finds_the_only_region_the_model_reads():
    """A 'model' that reads one square of the face: the similar map is high there, low elsewhere."""
    rng = np.random.default_rng(0)
    face = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    region = (slice(8, 24), slice(36, 52))

    def embed(x):
        patch = x[:, region[0], region[1], :].reshape(len(x), -1).astype(np.float64)
        return patch - 127.5

    maps = corrrise(embed, face, face, n_masks=300, seed=1)
    assert maps.similar.shape == (2, 64, 64) and maps.masks == 300
    inside = np.zeros((64, 64), bool)
    inside[region] = True
    for k in range(2):
        assert maps.similar[k][inside].mean() > 5 * maps.similar[k][~inside].mean()
    assert maps.score > 0.999  # the clean pair is the face with itself


def test_masks_are_smooth_fractions_kept_about_half():
    masks = smooth_masks(200, 96, np.random.default_rng(0))
    assert masks.shape == (200, 96, 96) and 0 <= masks.min() and masks.max() <= 1
    assert 0.4 < masks.mean() < 0.6
    assert len(np.unique(masks[0].round(3))) > 10  # upsampled, not a hard grid


def test_corrrise_on_an_onnx_model_through_the_cli(capsys, tmp_path, demo):
    """The issue's must-show: a registered ONNX model, a pair of demo photos, both maps written."""
    from facedash.assets import demo_path
    from facedash.cli import main
    from facedash.models import cards

    name = "test-corrrise-onnx"
    if (cards.cards_dir() / name).exists():
        cards.remove_card(name)
    card = Z.CARDS["facenet_onnx_nchw_bgr"]
    assert main(["models", "add", str(Z.facenet_onnx_nchw_bgr()), "--name", name,
                 "--layout", card["layout"], "--channels", card["channels"],
                 "--normalize", card["normalize"], "--input-size", "160"]) == 0  # fmt: skip
    capsys.readouterr()
    try:
        photos = sorted((demo_path() / "train" / "madonna").glob("*.jpg"))[:2]
        out = tmp_path / "map.npy"
        code = main(["explain", str(photos[0]), "--reference", str(photos[1]), "--model", name,
                     "--method", "corrrise", "--json", "--out", str(out)])  # fmt: skip
        payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    finally:
        cards.remove_card(name)
    assert code == 0 and payload["masks"] >= 200 and payload["model"] == name
    for kind in ("similar", "dissimilar"):
        arr = np.load(payload[kind])
        assert payload[kind] == str(tmp_path / f"map.{kind}.npy")
        assert arr.dtype == np.float32 and arr.shape == (2, 160, 160)
        assert arr[0].std() > 0 and arr[1].std() > 0  # neither constant
    assert payload["deletion_auc"] < payload["random_deletion_auc"]


def test_a_gradient_method_on_another_model_says_what_to_use(capsys):
    from facedash.cli import main

    code = main(["explain", "x.jpg", "--model", "dlib", "--method", "gradcam", "--out", "m.npy"])
    assert code == 2 and "use --method corrrise" in capsys.readouterr().err


def test_deletion_is_faster_along_the_map_than_at_random(facenet, demo):
    from facedash.data.images import decode_jpeg

    i, j = [n for n, p in enumerate(demo.people) if p == "jerry_seinfeld"][:2]
    a, b = decode_jpeg(demo.thumbs[i]), decode_jpeg(demo.thumbs[j])
    maps = corrrise(facenet.embed, a, b, n_masks=200, seed=0)
    mine, random = deletion_aucs(facenet.embed, a, b, maps.similar)
    assert mine < random
