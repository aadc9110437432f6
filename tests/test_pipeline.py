import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from facedash.data.datasets import load_uploads
from facedash.data.store import Store
from facedash.faces.pipeline import embed_dataset
from tests.corpus import encode, noise_image, rotated_with_exif


def _refuse():
    raise AssertionError("nothing should be recomputed")


@pytest.fixture(scope="module")
def mixed(demo_dataset):
    good = [(f"{i.person}_{n:04d}.jpg", i.read()) for n, i in enumerate(demo_dataset.items[:4])]
    rotated = ("ben_afflek_9999.jpg", rotated_with_exif(demo_dataset.items[0].read()))
    bad = [
        ("empty.jpg", b""),
        ("notes.jpg", b"just some text, not a photo\n"),
        ("half.png", encode(noise_image((300, 300)), "PNG")[:5000]),
        ("noface_0001.png", encode(noise_image((320, 240), seed=3), "PNG")),
    ]
    return load_uploads([*good[:2], *bad, rotated, *good[2:]])


def test_bad_files_get_reasons_and_good_files_go_on(tmp_path, mixed, facenet):
    store = Store(tmp_path / "s.sqlite3")
    result = embed_dataset(mixed, store=store, get_model=lambda: facenet)
    reasons = {f.file: f.reason for f in result.failures}
    assert set(reasons) == {"empty.jpg", "notes.jpg", "half.png", "noface_0001.png"}
    assert "empty" in reasons["empty.jpg"] and "text" in reasons["notes.jpg"]
    assert "truncated" in reasons["half.png"] and reasons["noface_0001.png"] == "no face found"
    assert len(result.rows) == 5 and result.computed == 5 and result.cached == 0
    # The EXIF-rotated copy is found after rotation and matches its upright original.
    names = list(result.names)
    upright, turned = result.embeddings[0], result.embeddings[names.index("ben_afflek_9999.jpg")]
    assert float(upright @ turned) > 0.9

    again = embed_dataset(mixed, store=store, get_detector=_refuse, get_model=_refuse)
    assert again.computed == 0 and again.cached == 5
    assert np.array_equal(again.embeddings, result.embeddings)
    assert [f.file for f in again.failures] == [f.file for f in result.failures]


def test_outputs(tmp_path, demo):
    npz = np.load(demo.save(tmp_path / "e.npz"), allow_pickle=False)
    assert npz["embedding"].shape == (len(demo.rows), 128)
    assert list(npz["person"]) == list(demo.people) and "split" in npz.files
    csv = pd.read_csv(demo.save(tmp_path / "e.csv"))
    assert len(csv) == len(demo.rows) and {"path", "person", "split", "e0", "e127"} <= set(
        csv.columns
    )
    assert np.allclose(csv[[f"e{i}" for i in range(128)]].to_numpy(), demo.embeddings, atol=1e-6)
    pq = pd.read_parquet(demo.save(tmp_path / "e.parquet"))
    assert np.allclose(np.stack(pq["embedding"].to_numpy()), demo.embeddings)
    with pytest.raises(ValueError, match="unsupported"):
        demo.save(tmp_path / "e.xlsx")


def test_embed_json_and_resume_after_kill(tmp_path):
    store = tmp_path / "s.sqlite3"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "facedash.cli", "embed", "--demo", "--store", str(store), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stored = 0
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if store.exists():
            try:
                with sqlite3.connect(store, timeout=1) as conn:
                    stored = conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if stored >= 16:  # the first chunk (32 photos) is committed
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    with sqlite3.connect(store) as conn:
        kept = conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    assert 16 <= kept < 118
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert set(summary) >= {
        "images",
        "faces",
        "identities",
        "computed",
        "cached",
        "failed",
        "model",
        "dim",
        "seconds",
    }
    assert summary["images"] == 118 and summary["identities"] == 5 and summary["dim"] == 128
    assert summary["cached"] == kept and summary["computed"] == summary["faces"] - kept
