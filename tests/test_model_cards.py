"""Model cards (#25): a user's model registered, run on its own runtime, judged on the demo faces.

Every model here is FaceNet written out by a real converter (tests/model_zoo.py): with the
right card each must reproduce FaceNet's embeddings; with a wrong one ``models check`` must
name the card that fits; a bad file is one line and leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from pathlib import Path

import numpy as np
import pytest

from facedash.cli import main
from facedash.models import cards
from tests import model_zoo as Z


def _cli(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    payload = None
    if "--json" in argv and code == 0:
        payload = json.loads(out.strip().splitlines()[-1])
    return code, payload, err


def _name(kind: str) -> str:
    return f"test-{kind}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def registered(capsys):
    """``add(kind, *options) -> name``: a card registered for this test, removed afterwards."""
    names: list[str] = []

    def add(path: Path, *options: str) -> str:
        name = _name(path.stem.replace("_", "-"))
        code, payload, err = _cli(
            capsys, "models", "add", str(path), "--name", name, *options, "--json"
        )
        assert code == 0, err
        names.append(name)
        return name

    yield add
    for name in names:
        if (cards.cards_dir() / name).exists():
            cards.remove_card(name)


def _store_rows() -> int:
    from facedash.paths import home

    path = home() / "embeddings.sqlite3"
    with sqlite3.connect(path) as db:
        return int(db.execute("select count(*) from embeddings").fetchone()[0])


def test_the_built_in_models_are_cards_with_their_old_store_keys():
    facenet, dlib = cards.MODELS["facenet"], cards.MODELS["dlib"]
    assert (facenet.store_id, dlib.store_id) == ("facenet", "dlib")  # existing stores stay valid
    assert facenet.default_thresholds == {"cosine": 0.60, "euclidean": 0.80}
    assert dlib.align_key == "dlib-5pt:pad0.25:150px" and dlib.metric == "euclidean"
    assert (cards.BUILTIN_DIR / "facenet.toml").is_file()


def test_a_card_round_trips_and_its_recipe_keys_the_store(tmp_path):
    card = cards.ModelSpec(
        id="x", name="x (onnx)", input_size=112, dim=512, metric="cosine",
        default_thresholds={"cosine": 0.3}, threshold_source="paper", preprocessing="as trained",
        runtime="onnx", layout="nchw", channels="bgr", normalize="127.5,127.5",
        align="arcface", output="fc1", path=str(tmp_path / "m.onnx"), sha256="ab" * 32,
        builtin=False,
    )  # fmt: skip
    import tomllib

    again = cards.from_toml(tomllib.loads(cards.to_toml(card)), builtin=False)
    assert again.as_dict() == card.as_dict()
    assert card.store_id.startswith("x~") and card.store_id != "x"
    from dataclasses import replace

    assert replace(card, channels="rgb").store_id != card.store_id  # a changed card never mixes
    assert replace(card, threshold_source="other").store_id == card.store_id  # not the output


def test_the_nchw_bgr_onnx_model_reproduces_facenet_through_the_cli(
    capsys, tmp_path, demo, registered
):
    """The issue's first must-show: add with the card, embed the demo set, verify."""
    name = registered(
        Z.facenet_onnx_nchw_bgr(), "--layout", "nchw", "--channels", "bgr",
        "--normalize", "127.5,127.5", "--input-size", "160",
    )  # fmt: skip
    code, emb, err = _cli(
        capsys, "embed", "--demo", "--model", name, "--json", "--out", str(tmp_path / "x.npz")
    )
    assert code == 0, err
    assert emb["faces"] == 118 and emb["model"] == name and emb["backend"] == "onnxruntime"
    os.environ["FACEDASH_BACKEND"] = "tensorflow"
    try:
        code, ref, err = _cli(capsys, "embed", "--demo", "--json", "--out", str(tmp_path / "f.npz"))
    finally:
        del os.environ["FACEDASH_BACKEND"]
    assert code == 0, err
    x, f = np.load(tmp_path / "x.npz"), np.load(tmp_path / "f.npz")
    assert list(x["path"]) == list(f["path"])
    cos = np.sum(x["embedding"] * f["embedding"], axis=1)
    assert cos.min() >= 0.999, cos.min()
    _, mine, _ = _cli(capsys, "verify", "--demo", "--model", name, "--json")
    _, facenet, _ = _cli(capsys, "verify", "--demo", "--json")
    assert abs(mine["auc"] - facenet["auc"]) <= 0.001


@pytest.mark.parametrize(
    "kind", ["facenet_onnx", "facenet_keras_safe", "facenet_savedmodel", "facenet_openvino"]
)
def test_each_runtime_reproduces_facenet_with_the_right_card(kind, facenet, registered):
    from facedash.faces.probe import demo_crops
    from facedash.models import get_model

    name = registered(getattr(Z, kind)(), *Z.card_args(kind))
    model = get_model(name)
    crops = demo_crops(None, 8)
    cos = np.sum(model.embed(crops) * facenet.embed(crops), axis=1)
    assert cos.min() >= 0.999, (kind, cos)
    assert model.backend == {"facenet_onnx": "onnxruntime", "facenet_keras_safe": "keras",
                             "facenet_savedmodel": "tensorflow", "facenet_openvino": "openvino"}[kind]  # fmt: skip


def test_a_wrong_card_is_found_and_the_right_one_named(capsys, demo, registered):
    name = registered(
        Z.facenet_onnx(), "--normalize", "0,1"
    )  # raw pixels into a prewhitening model
    code, report, err = _cli(capsys, "models", "check", name, "--json")
    assert code == 0, err
    assert report["loo_1nn"] < 0.9 and not report["plausible"]
    best = report["suggestion"]
    assert best["loo_1nn"] == 1.0 and best["flags"].startswith("--normalize ")
    assert "--layout" not in best["flags"]  # the model's input fixes its layout
    good = registered(Z.facenet_onnx(), *Z.card_args("facenet_onnx"))
    code, report, _ = _cli(capsys, "models", "check", good, "--json")
    assert report["plausible"] and report["loo_1nn"] == 1.0 and report["dim"] == 128
    assert report["suggestion"] is None and 0.999 < report["norm_mean"] < 1.001


BAD = {
    "not_a_model": (Z.not_a_model, [], "is not a model ONNX Runtime can read"),
    "text_model": (Z.text_model_onnx, [], "the model's input is not an image"),
    "nan": (Z.nan_model_onnx, [], "returned NaN"),
    "constant": (Z.constant_model_onnx, [], "the same vector for all"),
    "size": (
        Z.facenet_onnx,
        ["--input-size", "112"],
        "the card says --input-size 112 but the model takes 160x160",
    ),
    "layout": (Z.facenet_onnx, ["--layout", "nchw"], "the card says --layout nchw"),
    "output": (Z.facenet_onnx, ["--output", "logits"], "the model has no output 'logits'"),
    "lambda": (Z.facenet_keras, [], "runs Python code when it is loaded"),
    "not_a_file_kind": (lambda: Path(__file__), [], "is not a model facedash can read"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_model_is_one_line_and_leaves_nothing(case, capsys, demo):
    make, options, message = BAD[case]
    name = _name(case.replace("_", "-"))
    before = _store_rows()
    code, _, err = _cli(capsys, "models", "add", str(make()), "--name", name, *options)
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (cards.cards_dir() / name).exists()
    assert _store_rows() == before


def test_a_huge_file_and_a_taken_name_are_refused(capsys, tmp_path):
    huge = tmp_path / "huge.onnx"
    with huge.open("wb") as f:  # sparse: 2.1 GB on paper, nothing on disk
        f.truncate(int(2.1 * 1024**3))
    code, _, err = _cli(capsys, "models", "add", str(huge), "--name", _name("huge"))
    assert code == 2 and "a face model over 2 GB is refused" in err
    code, _, err = _cli(capsys, "models", "add", str(Z.facenet_onnx()), "--name", "facenet")
    assert code == 2 and "already registered" in err
    code, _, err = _cli(capsys, "models", "add", str(Z.facenet_onnx()), "--name", "Bad Name")
    assert code == 2 and "model name 'Bad Name'" in err


def test_list_and_remove(capsys, registered):
    name = registered(Z.facenet_onnx(), *Z.card_args("facenet_onnx"))
    _, listing, _ = _cli(capsys, "models", "list", "--json")
    ids = [m["id"] for m in listing["models"]]
    assert ids[:2] == ["facenet", "dlib"] and name in ids
    mine = next(m for m in listing["models"] if m["id"] == name)
    assert mine["runtime"] == "onnx" and mine["sha256"] and mine["store_id"].startswith(name + "~")
    code, _, err = _cli(capsys, "models", "remove", name, "--json")
    assert code == 0, err
    assert not (cards.cards_dir() / name).exists()
    code, _, err = _cli(capsys, "models", "remove", "facenet")
    assert code == 2 and "built in" in err


def test_a_changed_model_file_is_refused_at_load(tmp_path, registered):
    from facedash.models import user

    path = Z.facenet_onnx(tmp_path)
    name = registered(path, *Z.card_args("facenet_onnx"))
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(user.ModelFileError, match="changed since it was registered"):
        user.load(cards.spec(name))
