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
    from facedash.pipeline import embed_dataset
    from facedash.store import Store

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
