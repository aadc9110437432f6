"""``facedash verify``: the JSON contract, thresholds, pairs files and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from facedash.cli import main


@pytest.fixture(scope="module")
def demo(demo_dataset):
    """The demo set's FaceNet embeddings through the default store (FaceNet loads only if missing)."""
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset

    return embed_dataset(demo_dataset, store=Store())


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_json_contract(demo, capsys):
    code, out, _ = _run(capsys, "verify", "--demo", "--json", "--threshold", "0.3")
    assert code == 0
    record = json.loads(out)
    for key in ("model", "score", "pairs", "auc", "eer", "eer_threshold", "best_f1", "tar_at_far"):
        assert key in record
    assert record["model"] == "facenet" and record["score"] == "cosine"
    assert set(record["tar_at_far"]) == {"0.1", "0.01", "0.001"}
    assert set(record["best_f1"]) >= {"threshold", "f1", "precision", "recall"}
    # The figures agree with an independent computation on the same embeddings.
    e = demo.embeddings.astype(np.float64)
    i, j = np.triu_indices(len(e), 1)
    same = demo.people[i] == demo.people[j]
    cos = (e[i] * e[j]).sum(1) / np.linalg.norm(e[i], axis=1) / np.linalg.norm(e[j], axis=1)
    assert record["pairs"] == {"genuine": int(same.sum()), "impostor": int((~same).sum())}
    assert abs(record["auc"] - roc_auc_score(same, cos)) < 1e-9
    at = record["at_threshold"]
    assert at["tp"] == int((same & (cos >= 0.3)).sum())
    assert at["fp"] == int((~same & (cos >= 0.3)).sum())
    assert at["tp"] + at["fn"] == record["pairs"]["genuine"]


def test_verify_euclidean_text_and_default_marked(demo, capsys):
    code, out, _ = _run(capsys, "verify", "--demo", "--score", "euclidean")
    assert code == 0
    assert "score ≤ t means same" in out and "ROC-AUC 0.99" in out
    assert "published default 0.8" in out


def test_verify_pairs_file_and_errors(demo, capsys, tmp_path):
    good = tmp_path / "pairs.txt"
    good.write_text("1\nmadonna\t1\t2\nmadonna\t1\telton_john\t1\n")
    code, out, _ = _run(capsys, "verify", "--demo", "--pairs", str(good), "--json")
    assert code == 0
    assert json.loads(out)["pairs"] == {"genuine": 1, "impostor": 1}

    bad = tmp_path / "bad.txt"
    bad.write_text("madonna\t1\n")
    code, out, err = _run(capsys, "verify", "--demo", "--pairs", str(bad))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "line 1: expected 3 fields" in err

    import facedash.pfe

    original = facedash.pfe.sigma2_for
    facedash.pfe.sigma2_for = lambda *a, **k: None  # as on a machine where no head was trained
    try:
        code, _, err = _run(capsys, "verify", "--demo", "--score", "mls")
    finally:
        facedash.pfe.sigma2_for = original
    assert (
        code != 0
        and "uncertainty (PFE) head" in err
        and "facedash pfe train" in err
        and err.count("\n") == 1
    )


# -- honest numbers: DET, FTA, development -> evaluation -------------------------------------------
OLD_KEYS = {
    "model",
    "score",
    "pairs",
    "auc",
    "eer",
    "eer_threshold",
    "best_f1",
    "tar_at_far",
    "threshold_at_far",
    "pairs_source",
    "pairs_dropped",
    "default_threshold",
    "backend",
    "precision",
}
DEV_EVAL_KEYS = {"protocol", "choose", "report", "in_sample", "report_transaction"}


def _cosines(demo, split: str | None = None):
    e = demo.embeddings.astype(np.float64)
    keep = np.array([split is None or r.attributes["split"] == split for r in demo.rows])
    e, people = e[keep], demo.people[keep]
    i, j = np.triu_indices(len(e), 1)
    cos = (e[i] * e[j]).sum(1) / np.linalg.norm(e[i], axis=1) / np.linalg.norm(e[j], axis=1)
    return cos, people[i] == people[j]


def test_verify_json_keeps_its_keys_and_adds_det_and_fta(demo, capsys):
    from sklearn.metrics import det_curve

    code, out, _ = _run(capsys, "verify", "--demo", "--json")
    assert code == 0
    record = json.loads(out)
    assert set(record) == OLD_KEYS | {"det", "fta", "acquisition"}
    det = record["det"]
    assert set(det) == {"fmr", "fnmr", "thresholds"}
    assert 10 <= len(det["fmr"]) == len(det["fnmr"]) == len(det["thresholds"]) <= 300
    cos, same = _cosines(demo)
    fpr, fnr, _ = det_curve(same, cos, drop_intermediate=False)
    assert det["fmr"][0] == pytest.approx(fpr[0]) and det["fnmr"][-1] == pytest.approx(fnr[-1])
    for f, n, t in zip(det["fmr"], det["fnmr"], det["thresholds"], strict=True):
        if t is not None:  # null: the accept-nothing point
            accepted = cos >= t - 1e-12  # score >= t, with room for the last bit of rounding
            assert n == pytest.approx((same & ~accepted).sum() / same.sum(), abs=1e-12)
            assert f == pytest.approx((~same & accepted).sum() / (~same).sum(), abs=1e-12)
    assert record["fta"] == len(demo.no_face) / 118
    assert record["acquisition"]["photos"] == 118


def test_verify_choose_on_train_report_on_val(demo, capsys):
    code, out, _ = _run(
        capsys,
        "verify",
        "--demo",
        "--choose-on",
        "train",
        "--report-on",
        "val",
        "--target-fmr",
        "0.01",
        "--json",
    )
    assert code == 0
    record = json.loads(out)
    assert set(record) == OLD_KEYS | {"det", "fta", "acquisition"} | DEV_EVAL_KEYS
    choose, report = record["choose"], record["report"]
    assert set(choose) == {"split", "criterion", "threshold", "fmr", "fnmr", "pairs"}
    assert set(report) == {
        "split",
        "threshold",
        "fmr",
        "fnmr",
        "precision",
        "f1",
        "accuracy",
        "pairs",
        "interval",
    }
    assert (choose["split"], choose["criterion"], report["split"]) == ("train", "target_fmr", "val")
    assert record["protocol"]["target_fmr"] == 0.01 and record["protocol"]["split_by"] == "split"
    t = choose["threshold"]
    assert report["threshold"] == t
    dev, dev_same = _cosines(demo, "train")
    ev, ev_same = _cosines(demo, "val")
    # The most lenient threshold whose development FMR is at most 1% (a margin for rounding).
    assert (~dev_same & (dev >= t - 1e-9)).sum() / (~dev_same).sum() <= 0.01
    looser = dev[dev < t - 1e-9].max()
    assert (~dev_same & (dev >= looser)).sum() / (~dev_same).sum() > 0.01
    assert choose["pairs"] == {"genuine": int(dev_same.sum()), "impostor": int((~dev_same).sum())}
    accepted = ev >= t - 1e-12
    assert report["fmr"] == pytest.approx((accepted & ~ev_same).sum() / (~ev_same).sum())
    assert report["fnmr"] == pytest.approx((~accepted & ev_same).sum() / ev_same.sum())
    assert report["accuracy"] == pytest.approx((accepted == ev_same).mean())
    iv = report["interval"]
    assert iv["level"] == 0.95 and iv["replicates"] == 200
    assert iv["fnmr"]["low"] <= report["fnmr"] <= iv["fnmr"]["high"]
    assert record["in_sample"]["split"] == "val"


def test_verify_criteria_and_their_text(demo, capsys):
    for extra in (["--criterion", "eer"], ["--criterion", "f1"], ["--criterion", "cost"]):
        code, out, _ = _run(
            capsys, "verify", "--demo", "--choose-on", "val", "--report-on", "train", *extra
        )
        assert code == 0
        assert "chosen on split=val" in out and "reported on split=train" in out
        assert "in-sample optimum" in out and "FTA (no face found)" in out
    code, out, _ = _run(
        capsys,
        "verify",
        "--demo",
        "--choose-on",
        "train",
        "--report-on",
        "val",
        "--criterion",
        "cost",
        "--cost",
        "3",
        "--json",
    )
    record = json.loads(out)
    assert record["choose"]["criterion"] == "cost" and record["protocol"]["cost"] == 3.0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--choose-on", "train"], "--choose-on and --report-on go together"),
        (["--criterion", "f1"], "go with --choose-on/--report-on"),
        (["--choose-on", "train", "--report-on", "val", "--cost", "2"], "--cost goes with"),
        (["--choose-on", "train", "--report-on", "test"], "no face has split = 'test'"),
        (
            ["--choose-on", "train", "--report-on", "val", "--split-by", "age"],
            "no face has a 'age'",
        ),
        (["--choose-on", "train", "--report-on", "val", "--target-fmr", "2"], "within [0, 1]"),
    ],
)
def test_verify_dev_eval_errors_are_one_line(demo, capsys, argv, message):
    code, out, err = _run(capsys, "verify", "--demo", *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def fta_folder(tmp_path_factory, demo_dataset):
    """train/ and val/ of three demo people, and a flat grey photo (no face) in val/elton_john."""
    import shutil

    from PIL import Image

    root = tmp_path_factory.mktemp("fta")
    people = ("madonna", "elton_john", "ben_afflek")
    for split, n in (("train", 3), ("val", 2)):
        for person in people:
            folder = root / split / person
            folder.mkdir(parents=True)
            items = [i for i in demo_dataset.items if i.person == person]
            items = [i for i in items if i.attributes["split"] == split][:n]
            for k, item in enumerate(items):
                shutil.copy(item.path, folder / f"{k}.jpg")
    Image.new("RGB", (200, 160), (128, 128, 128)).save(root / "val" / "elton_john" / "grey.png")
    return root


def test_verify_counts_a_photo_without_a_face(fta_folder, capsys):
    code, out, _ = _run(capsys, "verify", str(fta_folder), "--threshold", "0.3", "--json")
    assert code == 0
    record = json.loads(out)
    assert record["fta"] == pytest.approx(1 / 16)
    assert record["acquisition"]["files"] == ["val/elton_john/grey.png"]
    assert record["pairs"] == {"genuine": 3 * 10, "impostor": 105 - 30}  # 15 acquired faces
    # Brute force over all 16 photos (5 per person, the grey one an elton_john with no face):
    # its genuine pairs are false non-matches, its impostor pairs true non-matches.
    people = [p for p in ("madonna", "elton_john", "ben_afflek") for _ in range(5)] + ["elton_john"]
    pairs = [(a, b) for a in range(16) for b in range(a + 1, 16)]
    genuine_fta = sum(people[a] == people[b] for a, b in pairs if b == 15)
    tx, at = record["transaction"], record["at_threshold"]
    assert (
        tx["fta_pairs"]
        == {"genuine": genuine_fta, "impostor": 15 - genuine_fta}
        == {
            "genuine": 5,
            "impostor": 10,
        }
    )
    genuine = sum(people[a] == people[b] for a, b in pairs)
    assert tx["pairs"] == {"genuine": genuine, "impostor": len(pairs) - genuine}
    assert tx["fnmr"] == pytest.approx((at["fn"] + genuine_fta) / genuine)
    assert tx["fmr"] == pytest.approx(at["fp"] / (len(pairs) - genuine))
    assert tx["fnmr"] > at["frr"]

    code, out, _ = _run(
        capsys, "verify", str(fta_folder), "--choose-on", "train", "--report-on", "val", "--json"
    )
    record = json.loads(out)
    rt, report = record["report_transaction"], record["report"]
    assert rt["split"] == "val" and rt["fta_pairs"] == {"genuine": 2, "impostor": 4}  # 6 in val
    fn = report["fnmr"] * report["pairs"]["genuine"]
    assert rt["fnmr"] == pytest.approx((fn + 2) / (report["pairs"]["genuine"] + 2))
