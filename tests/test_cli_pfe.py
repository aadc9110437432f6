"""``facedash pfe`` end to end on the demo set (head saved into a temporary folder)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facedash import cli


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory, demo):
    out = tmp_path_factory.mktemp("pfe-cli")
    return out


def test_pfe_train_prints_the_contract_keys(trained_dir, capsys, demo):
    code = cli.main(
        ["pfe", "train", "--demo", "--epochs", "20", "--json", "--pfe-dir", str(trained_dir)]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) >= {"final_loss", "heldout"}
    ho = payload["heldout"]
    for key in (
        "spearman_sigma_vs_degradation",
        "auc_cosine",
        "auc_mls",
        "tar_gain_at_10pct_rejection",
    ):
        assert isinstance(ho[key], float) and np.isfinite(ho[key])
    assert ho["spearman_sigma_vs_degradation"] >= 0.9
    assert (trained_dir / "head.json").exists()


def test_pfe_score_aligned_crops(trained_dir, capsys, demo, tmp_path):
    from PIL import Image

    from facedash.data.images import decode_jpeg
    from facedash.pfe import degrade

    face = decode_jpeg(demo.thumbs[0])
    Image.fromarray(face).save(tmp_path / "clean.png")
    Image.fromarray(degrade.apply(face, "blur", 1.0)).save(tmp_path / "blurred.png")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    files = [str(tmp_path / n) for n in ("clean.png", "blurred.png", "broken.jpg")]
    code = cli.main(["pfe", "score", *files, "--aligned", "--json", "--pfe-dir", str(trained_dir)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)["images"]
    assert out[0]["confidence"] > out[1]["confidence"]  # the blurred copy is less certain
    assert out[1]["mean_sigma2"] > out[0]["mean_sigma2"]
    assert "error" in out[2]


def test_pfe_score_without_a_head_is_one_line_error(tmp_path, capsys):
    code = cli.main(["pfe", "score", "x.jpg", "--aligned", "--pfe-dir", str(tmp_path)])
    assert code == 2
    assert "facedash pfe train" in capsys.readouterr().err


def test_pfe_score_detects_the_face_in_a_photo(trained_dir, capsys, demo_dataset):
    photo = str(demo_dataset.items[0].path)
    code = cli.main(["pfe", "score", photo, "--json", "--pfe-dir", str(trained_dir)])
    assert code == 0
    (out,) = json.loads(capsys.readouterr().out)["images"]
    assert out["confidence"] > 0 and out["mean_sigma2"] > 0
    assert out["harmonic_sigma2"] == pytest.approx(1 / out["confidence"])
