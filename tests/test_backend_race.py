"""``auto`` chosen by measurement: the backend race's decision, gate, cache and overrides.

The decision is a pure function of the measured rows, so it is checked on made-up
figures (no timing is asserted anywhere); the cache, its key and the overrides are
checked with a counting stand-in for the measurement in a temporary home; one
``facedash doctor --json`` shows the table's keys on the real machine.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from facedash.models import backends, race, registry
from facedash.models.registry import plan


def _row(backend, precision, fps, passed=True, min_cosine=0.9999):
    return {
        "backend": backend,
        "precision": precision,
        "faces_per_s": fps,
        "min_cosine": min_cosine if fps is not None else None,
        "mean_cosine": min_cosine if fps is not None else None,
        "decision_changes": 0.0 if passed else 0.02,
        "passed": passed,
        "reason": "",
    }


ROWS = [
    _row("tensorflow", "fp32", 90.0),
    _row("openvino", "fp32", 80.0),
    _row("openvino", "bf16", 230.0),
    _row("openvino", "int8", 400.0, passed=False, min_cosine=0.965),  # fastest, but fails
    _row("onnxruntime", "fp32", None, passed=False),  # not timed (no conversion)
]


def test_the_fastest_passing_candidate_wins():
    pick, why = race.decide(ROWS)
    assert (pick["backend"], pick["precision"]) == ("openvino", "bf16")
    assert "2.56x TensorFlow fp32" in why and "next tensorflow fp32" in why


def test_a_failing_candidate_is_never_picked():
    rows = [dict(r) for r in ROWS]
    for r in rows:
        if r["backend"] != "openvino" or r["precision"] != "int8":
            r["passed"] = False
    pick, why = race.decide(rows)
    assert pick is None and "TensorFlow fp32 reference" in why
    assert race.decide([])[0] is None


def test_the_gate_counts_changed_decisions():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(32, 128)).astype(np.float32)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    same = race.gate(ref.copy(), ref, threshold=0.0)
    assert same["passed"] and same["min_cosine"] >= 0.999999 and same["decision_changes"] == 0
    assert same["pairs"] == 32 * 31 // 2
    noisy = race.gate(ref + rng.normal(scale=0.3, size=ref.shape), ref, threshold=0.0)
    assert not noisy["passed"] and noisy["decision_changes"] > race.MAX_DECISION_CHANGES


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """A temporary home and a stand-in measurement that counts its calls (ROWS each time)."""
    calls = []

    def fake(root, reference, probe, *, threshold):
        calls.append(threshold)
        return [dict(r) for r in ROWS]

    def run():
        return race.run(tmp_path, lambda: None, lambda n: None, threshold=0.6, measure_rows=fake)

    return tmp_path, run, calls


def test_the_table_is_cached_and_reused(counted):
    root, run, calls = counted
    first = run()
    path = race.cache_path(root)
    assert path.is_file() and path.parent == root / "models"
    mtime = path.stat().st_mtime_ns
    second = run()
    assert len(calls) == 1, "a cache hit measures nothing"
    assert path.stat().st_mtime_ns == mtime and second == first
    assert first["pick"] == {"backend": "openvino", "precision": "bf16"}
    assert first["cpu"] == race.cache_key()["cpu"] and first["key"] == race.cache_key(root)


def test_the_cache_key_follows_the_cpu_and_the_libraries(counted, monkeypatch):
    root, run, calls = counted
    run()
    before = race.cache_path(root)
    assert race.read(root) is not None
    real_cpu = race.cpu()
    monkeypatch.setattr(race, "cpu", lambda: {**real_cpu, "model": "Some Other CPU"})
    assert race.cache_path(root) != before and race.read(root) is None
    monkeypatch.setattr(race, "cpu", lambda: real_cpu)
    assert race.read(root) is not None
    real_version = race._version
    monkeypatch.setattr(
        race, "_version", lambda *p: "9.9.9" if "onnxruntime" in p else real_version(*p)
    )
    assert race.cache_path(root) != before and race.read(root) is None
    run()
    assert len(calls) == 2  # the new key measures again, once


def test_plan_follows_the_race_and_overrides_win(counted, monkeypatch):
    root, run, _ = counted
    for module in (registry, backends):
        monkeypatch.setattr(module, "tensorflow_gpus", lambda: ())
    monkeypatch.delenv("FACEDASH_BACKEND", raising=False)
    monkeypatch.delenv("FACEDASH_PRECISION", raising=False)
    run()
    choice = plan("facenet", root=root)
    assert (choice.backend, choice.precision, choice.key) == ("openvino", "bf16", "facenet@bf16")
    monkeypatch.setenv("FACEDASH_BACKEND", "tensorflow")
    assert plan("facenet", root=root).backend == "tensorflow"
    monkeypatch.delenv("FACEDASH_BACKEND")
    assert plan("facenet", "tensorflow", root=root).backend == "tensorflow"
    assert plan("facenet", precision="fp32", root=root).precision == "fp32"
    assert plan("dlib", root=root).backend == "dlib"
    for module in (registry, backends):
        monkeypatch.setattr(module, "tensorflow_gpus", lambda: ("/physical_device:GPU:0",))
    assert plan("facenet", root=root).backend == "tensorflow"  # a GPU decides, no race


def test_doctor_json_has_the_race_table():
    from facedash.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["doctor", "--json"]) in (0, 1)
    out = json.loads(buf.getvalue())
    assert {"machine", "backend", "models", "store", "problems", "info", "ok"} <= set(out)
    r = out["race"]
    assert r["cpu"] == out["machine"]["cpu"] and r["cores"] == out["machine"]["cores"]
    assert {"pick", "pick_reason", "candidates", "cache", "decides"} <= set(r)
    if not r["decides"]:
        return  # a GPU, or a backend asked for by name: nothing raced
    keys = {"backend", "precision", "faces_per_s", "min_cosine", "mean_cosine"}
    keys |= {"decision_changes", "passed", "reason"}
    assert all(keys <= set(c) for c in r["candidates"])
    assert ("tensorflow", "fp32") in {(c["backend"], c["precision"]) for c in r["candidates"]}
    pick = next(
        c
        for c in r["candidates"]
        if (c["backend"], c["precision"]) == (r["pick"]["backend"], r["pick"]["precision"])
    )
    assert pick["passed"] and pick["min_cosine"] >= 0.99 and pick["decision_changes"] <= 0.005
    assert (out["backend"]["backend"], out["backend"]["precision"]) == (
        r["pick"]["backend"],
        r["pick"]["precision"],
    )
    assert Path(r["cache"]).is_file()


class _Fake:
    def __init__(self, backend, noise=0.0, seed=0):
        self.backend, self.noise, self.seed = backend, noise, seed

    def embed(self, crops):
        base = np.random.default_rng(0).normal(size=(len(crops), 128))
        out = base + np.random.default_rng(self.seed).normal(scale=self.noise, size=base.shape)
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def test_measure_gates_each_candidate_and_never_picks_a_failing_one(monkeypatch, tmp_path):
    def broken():
        raise RuntimeError("conversion failed\nwith details")

    fakes = [
        ("tensorflow", "fp32", lambda: _Fake("tensorflow")),
        ("openvino", "fp32", lambda: _Fake("openvino", 1e-4, 1)),
        ("openvino", "int8", lambda: _Fake("openvino", 0.5, 2)),  # disagrees
        ("openvino", "bf16", broken),
        ("onnxruntime", "fp32", "tf2onnx is absent"),
    ]
    monkeypatch.setattr(race, "candidates", lambda root, reference, probe: fakes)
    rows = race.measure(tmp_path, lambda: None, lambda n: np.zeros((n, 1)), threshold=0.0)
    by = {(r["backend"], r["precision"]): r for r in rows}
    assert by[("openvino", "fp32")]["passed"] and by[("openvino", "fp32")]["faces_per_s"] > 0
    assert not by[("openvino", "int8")]["passed"]
    assert "fails the gate" in by[("openvino", "int8")]["reason"]
    assert by[("openvino", "bf16")]["reason"] == "did not load: conversion failed"
    assert by[("onnxruntime", "fp32")]["reason"] == "tf2onnx is absent"
    assert by[("onnxruntime", "fp32")]["faces_per_s"] is None
    pick, _ = race.decide(rows)
    assert (pick["backend"], pick["precision"]) in {("tensorflow", "fp32"), ("openvino", "fp32")}


def test_candidates_say_why_one_cannot_run(monkeypatch, tmp_path):
    from facedash.models import onnx_facenet

    monkeypatch.setattr(onnx_facenet, "converted", lambda root=None: False)
    monkeypatch.setattr(onnx_facenet, "converter_available", lambda: False)
    rows = {(b, p): x for b, p, x in race.candidates(tmp_path, lambda: None, lambda n: None)}
    assert callable(rows[("tensorflow", "fp32")])
    if onnx_facenet.version() is not None:
        assert "tf2onnx is absent" in rows[("onnxruntime", "fp32")]
    if backends.openvino_version() is not None:
        assert callable(rows[("openvino", "bf16")])
        assert "no int8 build" in rows[("openvino", "int8")]  # never quantised by the race
