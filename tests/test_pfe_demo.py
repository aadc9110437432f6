"""The demo's PFE head and decoder, trained at set-up (``facedash.pfe.demo``, ``facedash assets fetch``).

The full recipe (60 epochs, about a minute here) is what ``make assets`` trains into
``$FACEDASH_HOME``; these tests run ``ensure`` with a small, fast recipe into temporary
folders (the features of every crop come from the shared feature cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from facedash.pfe import decoder as dec
from facedash.pfe import demo as pfe_demo
from facedash.pfe import train

SMALL_HEAD = {"epochs": 3, "seed": 0, "refit_all": False}  # the cached features
SMALL_DECODER = {"epochs": 1, "seed": 0, "copies": 2}


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(pfe_demo, "HEAD_SETTINGS", SMALL_HEAD)
    monkeypatch.setattr(pfe_demo, "DECODER_SETTINGS", SMALL_DECODER)


def test_states_from_the_records_alone(tmp_path, small):
    assert pfe_demo.needed(tmp_path) == {"head": "missing", "decoder": "missing"}
    assert pfe_demo.to_train(tmp_path) == ["head", "decoder"]
    (tmp_path / train.HEAD_WEIGHTS).write_bytes(b"")
    (tmp_path / dec.DECODER_WEIGHTS).write_bytes(b"")
    write = lambda name, rec: (tmp_path / name).write_text(json.dumps(rec))  # noqa: E731
    write(train.HEAD_RECORD, {"kind": "pfe-uncertainty-head"})  # trained by hand: kept
    write(dec.DECODER_RECORD, {"demo_recipe": pfe_demo.recipe("decoder")})
    assert pfe_demo.needed(tmp_path) == {"head": "own", "decoder": "current"}
    assert pfe_demo.to_train(tmp_path) == []
    write(dec.DECODER_RECORD, {"demo_recipe": {**pfe_demo.recipe("decoder"), "epochs": 1000}})
    write(train.HEAD_RECORD, {"demo_recipe": {**pfe_demo.recipe("head"), "version": 0}})
    assert pfe_demo.needed(tmp_path) == {"head": "stale", "decoder": "stale"}
    assert pfe_demo.recipe("head")["demo_digest"] == pfe_demo.recipe("decoder")["demo_digest"]


def test_ensure_trains_once_and_the_same_seed_gives_the_same_weights_in_the_app_too(
    demo, facenet, tmp_path, small
):
    a, b = tmp_path / "a", tmp_path / "b"
    seen = []
    first = pfe_demo.ensure(
        demo, embedder=facenet, root=a, progress=lambda *step: seen.append(step[0])
    )
    assert first["trained"] == ["head", "decoder"] and set(seen) == {"head", "decoder"}
    assert pfe_demo.needed(a) == {"head": "current", "decoder": "current"}
    again = pfe_demo.ensure(demo, embedder=facenet, root=a)
    assert again["trained"] == [] and again["before"] == pfe_demo.needed(a)
    # The app's way (a background thread, once per server) gives the very same weights.
    from facedash.ui.pfe import DemoTraining

    job = DemoTraining()
    job.start(demo, facenet, None, root=b)
    thread = job.thread
    job.start(demo, facenet, None, root=b)  # started once: a second start does nothing
    assert job.thread is thread
    thread.join(timeout=600)
    snap = job.snapshot()
    assert snap["finished"] and snap["error"] is None, snap
    assert snap["part"] == "decoder" and snap["done"] == snap["total"] == SMALL_DECODER["epochs"]
    assert pfe_demo.needed(b) == {"head": "current", "decoder": "current"}
    heads = [train.load_head(r).model.get_weights() for r in (a, b)]
    decoders = [dec.load_decoder(r).model.get_weights() for r in (a, b)]
    for one, other in (heads, decoders):
        assert len(one) == len(other) > 0
        assert all(np.array_equal(x, y) for x, y in zip(one, other, strict=True))
    # A changed recipe makes the demo's own head stale: it is trained again.
    pfe_demo.RECIPE_VERSION += 1
    try:
        assert pfe_demo.to_train(a) == ["head", "decoder"]
    finally:
        pfe_demo.RECIPE_VERSION -= 1


def _fetch(*args):
    out = subprocess.run(
        [sys.executable, "-m", "facedash.cli", "assets", "fetch", "--json", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_assets_fetch_trains_the_demo_pfe_once(demo):
    """``facedash assets fetch`` (``make assets``) leaves the demo's head and decoder in FACEDASH_HOME."""
    assert "pfe" not in _fetch("--no-pfe")
    _fetch()  # trains what is missing (nothing, after ``make assets``)
    assert all(s in ("current", "own") for s in pfe_demo.needed().values())
    second = _fetch()
    assert second["pfe"]["trained"] == [] and second["pfe"]["total_seconds"] == 0
