"""``--engine ray`` on one small local Ray cluster (2 CPUs) for the module, the real model.

The demo set embedded on Ray into a fresh store is the local pipeline's set (same
faces, cosine >= 0.9999 on the same backend, same failures), a local rerun
computes nothing, a run stopped half-way resumes without recomputing, a worker
process killed past Ray's retries ends the run in one line and keeps what was
committed, one killed once is retried to the local result, shards
written with ``--out-dir`` ingest into the store, and without Ray the command
says in one line how to install it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from facedash.cli import main
from facedash.data.datasets import load_path
from facedash.data.store import Store
from facedash.faces.pipeline import embed_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "facedash[ray]")')
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _subset(demo_dataset, dest: Path, per_person: int) -> Path:
    """A copy of the first ``per_person`` photos of each demo person under ``dest``."""
    taken: dict[str, int] = {}
    for item in demo_dataset.items:
        if taken.get(item.person, 0) >= per_person:
            continue
        taken[item.person] = taken.get(item.person, 0) + 1
        target = dest / item.person / Path(item.name).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(item.path, target)
    return dest


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def _keys(result) -> list[tuple[str, str, int]]:
    return [(r.name, r.image_hash, r.face_index) for r in result.rows]


def test_demo_set_on_ray_is_the_local_set(ray_cluster, demo, demo_dataset, tmp_path, capsys):
    from facedash.scale.distributed import embed_with_ray

    store = Store(tmp_path / "ray.sqlite3")
    result, run = embed_with_ray(demo_dataset, store=store, workers=2)
    assert run.workers == 2 and run.todo == len(demo_dataset.items)
    assert (result.backend, result.precision, result.model_key) == (
        demo.backend,
        demo.precision,
        demo.model_key,
    )
    assert _keys(result) == _keys(demo)
    cos = _cosines(result.embeddings, demo.embeddings)
    assert cos.min() >= 0.9999, f"least agreeing face: cosine {cos.min():.6f}"
    assert [f.as_dict() for f in result.failures] == [f.as_dict() for f in demo.failures]
    assert result.computed == len(result.rows) == run.computed and result.cached == 0

    again = embed_dataset(demo_dataset, store=store)
    assert again.computed == 0 and again.cached == len(demo.rows)
    capsys.readouterr()
    assert main(["embed", "--demo", "--store", str(store.path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["computed"] == 0 and summary["faces"] == len(demo.rows)


def test_bad_files_get_the_local_reasons_and_the_cli_reports_ray(
    ray_cluster, demo_dataset, tmp_path, capsys
):
    folder = _subset(demo_dataset, tmp_path / "set", per_person=2)
    person = sorted(p.name for p in folder.iterdir())[0]
    (folder / person / "notes.jpg").write_text("not a photo")
    good = sorted((folder / person).glob("*.jpg"))[0].read_bytes()
    (folder / person / "cut.jpg").write_bytes(good[: len(good) // 3])

    local = embed_dataset(load_path(folder), store=Store(tmp_path / "local.sqlite3"))
    assert {f.file for f in local.failures} >= {f"{person}/notes.jpg", f"{person}/cut.jpg"}
    store = tmp_path / "ray.sqlite3"
    args = ["embed", str(folder), "--engine", "ray", "--workers", "2", "--json"]
    assert main([*args, "--store", str(store)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["engine"] == "ray"
    assert summary["workers"] == 1, "12 photos are one chunk of 32: one worker is all they use"
    expected = local.summary()
    assert set(expected) <= set(summary)
    for key in ("images", "faces", "identities", "computed", "model", "dim", "backend"):
        assert summary[key] == expected[key], key
    assert sorted(map(str, summary["failed"])) == sorted(map(str, expected["failed"]))

    ray_set = embed_dataset(load_path(folder), store=Store(store))
    assert ray_set.computed == 0 and _keys(ray_set) == _keys(local)
    assert _cosines(ray_set.embeddings, local.embeddings).min() >= 0.9999


def test_a_run_stopped_half_way_resumes_without_recomputing(ray_cluster, demo_dataset, tmp_path):
    from facedash.scale.distributed import Stopped, embed_with_ray, run_ray

    folder = _subset(demo_dataset, tmp_path / "set", per_person=3)  # 15 photos, 4 chunks
    store = Store(tmp_path / "ray.sqlite3")
    with pytest.raises(Stopped):
        run_ray(load_path(folder), store=store, workers=1, batch_size=4, stop_after=2)
    first = dict(store.query("SELECT image_hash || face_index, created FROM embeddings"))
    photos = store.query("SELECT COUNT(*) FROM detections")[0][0]
    assert 0 < len(first) and photos < 15

    result, run = embed_with_ray(load_path(folder), store=store, workers=1, batch_size=4)
    assert run.todo == 15 - photos, "a photo already stored was sent again"
    assert result.computed == len(result.rows) - len(first)
    after = dict(store.query("SELECT image_hash || face_index, created FROM embeddings"))
    assert all(after[k] == t for k, t in first.items()), "a stored face was written again"
    assert embed_dataset(load_path(folder), store=store).computed == 0


def _kill_map_workers(killed: list[int]) -> None:
    """SIGKILL every live ``EmbedWorker`` actor process (a real death, as the OOM killer does)."""
    from ray._private import state

    for actor in state.actors().values():
        if actor["State"] == "ALIVE" and "EmbedWorker" in actor["ActorClassName"]:
            os.kill(actor["Pid"], signal.SIGKILL)
            killed.append(actor["Pid"])


def test_a_worker_that_dies_keeps_the_store_and_ray_retries(ray_cluster, demo_dataset, tmp_path):
    """Killed past its 3 restarts: one clear line, the committed rows kept; killed once: retried."""
    from facedash.scale.distributed import MAX_RETRIES, RayRunError, embed_with_ray, run_ray

    folder = _subset(demo_dataset, tmp_path / "set", per_person=3)  # 15 photos, 4 chunks of 4
    store = Store(tmp_path / "ray.sqlite3")
    killed: list[int] = []
    stop = threading.Event()

    def keep_killing() -> None:  # every actor Ray starts again, until the run gives up
        while not stop.wait(0.2):
            _kill_map_workers(killed)

    def after_first_batch(done: int, total: int, msg: str) -> None:
        if done and not killed:
            _kill_map_workers(killed)
            threading.Thread(target=keep_killing, daemon=True).start()

    try:
        with pytest.raises(RayRunError) as failed:
            run_ray(
                load_path(folder), store=store, workers=1, batch_size=4, progress=after_first_batch
            )
    finally:
        stop.set()
    message = str(failed.value)
    assert "\n" not in message and len(message) < 400, message
    assert f"restarted it {MAX_RETRIES} times" in message and "worker process died" in message
    assert "everything committed so far is kept in the store" in message
    assert len(set(killed)) == MAX_RETRIES + 1, f"one start and {MAX_RETRIES} restarts: {killed}"
    first = dict(store.query("SELECT image_hash || face_index, created FROM embeddings"))
    photos = store.query("SELECT COUNT(*) FROM detections")[0][0]
    assert first and photos % 4 == 0 and photos < 15, "whole chunks committed before the deaths"

    # The rerun sends only the rest; its worker is killed once mid-run (as soon as it is up:
    # the rest may be one chunk, so no progress call comes between two) and Ray's retry
    # finishes it.
    once: list[int] = []
    done_killing = threading.Event()

    def kill_once() -> None:
        while not once and not done_killing.wait(0.1):
            _kill_map_workers(once)

    threading.Thread(target=kill_once, daemon=True).start()
    try:
        result, run = embed_with_ray(load_path(folder), store=store, workers=1, batch_size=4)
    finally:
        done_killing.set()
    assert len(once) == 1, "the rerun's worker was not killed mid-run"
    assert run.todo == 15 - photos, "a photo already stored was sent again"
    assert result.computed == len(result.rows) - len(first) and not result.failures
    after = dict(store.query("SELECT image_hash || face_index, created FROM embeddings"))
    assert all(after[k] == t for k, t in first.items()), "a stored face was written again"

    local = embed_dataset(load_path(folder), store=Store(tmp_path / "local.sqlite3"), chunk=4)
    assert _keys(result) == _keys(local), "the retried run found other faces"
    cos = _cosines(result.embeddings, local.embeddings)
    assert cos.min() >= 0.9999, f"least agreeing face: cosine {cos.min():.6f}"


def test_out_dir_shards_ingest_into_the_store(ray_cluster, demo_dataset, tmp_path, capsys):
    folder = _subset(demo_dataset, tmp_path / "set", per_person=1)
    shards, store = tmp_path / "shards", tmp_path / "s.sqlite3"
    args = ["embed", str(folder), "--engine", "ray", "--out-dir", str(shards), "--json"]
    assert main([*args, "--store", str(store)]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["engine"] == "ray" and written["sent"] == 5
    assert not Store(store).counts().get("embeddings"), "--out-dir sent rows to the store"

    assert main(["ingest", str(shards), "--store", str(store), "--json"]) == 0
    loaded = json.loads(capsys.readouterr().out)
    assert loaded["photos"] == 5 and loaded["faces"] >= 5 and loaded["shards"] >= 1
    result = embed_dataset(load_path(folder), store=Store(store))
    assert result.computed == 0 and len(result.rows) == loaded["faces"]


def test_a_node_without_the_weights_says_so(ray_cluster, demo_dataset, tmp_path, monkeypatch):
    from facedash.scale.distributed import RayRunError, run_ray

    folder = _subset(demo_dataset, tmp_path / "set", per_person=1)
    monkeypatch.setenv("FACEDASH_HOME", str(tmp_path / "empty-home"))
    with pytest.raises(RayRunError, match="not found or not verified"):
        run_ray(load_path(folder), store=Store(tmp_path / "s.sqlite3"), workers=1)


def test_without_ray_one_line_names_the_install_command(tmp_path):
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from facedash.cli import main\n"
        "sys.exit(main(['embed', '--demo', '--engine', 'ray', '--store', sys.argv[1]]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s.sqlite3")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "facedash[ray]"' in lines[0], proc.stderr


def test_the_ray_extra_and_its_pins_agree():
    import tomllib

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = (ROOT / "requirements-ray.txt").read_text().splitlines()
    assert any(p.startswith("ray[data]==") for p in pins)
    version = next(p for p in pins if p.startswith("ray[data]==")).split("==")[1]
    (spec,) = extra["optional-dependencies"]["ray"]
    from packaging.specifiers import SpecifierSet

    assert version in SpecifierSet(spec.removeprefix("ray[data]")), (spec, version)
    assert "-r requirements-ray.txt" in (ROOT / "requirements-dev.txt").read_text()


def test_a_cluster_that_cannot_be_reached_is_one_line(ray_cluster, demo_dataset, tmp_path):
    import socket

    folder = _subset(demo_dataset, tmp_path / "set", per_person=1)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ["embed", str(folder), "--engine", "ray", "--address", f"127.0.0.1:{port}"]
    proc = subprocess.run(
        [sys.executable, "-m", "facedash.cli", *args, "--store", str(tmp_path / "s.sqlite3")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith(f"facedash: error: cannot reach the Ray cluster at 127.0.0.1:{port}")
    ), proc.stderr


def test_a_users_onnx_card_on_ray_is_the_local_set(ray_cluster, demo_dataset, tmp_path, capsys):
    """``--engine ray --model NAME``: a registered ONNX model embeds on the workers as it does here."""
    from tests import model_zoo as Z

    name = "test-ray-onnx"
    args = ["models", "add", str(Z.facenet_onnx()), "--name", name, *Z.card_args("facenet_onnx")]
    main(["models", "remove", name])  # a card left by an interrupted session
    assert main([*args, "--json"]) == 0
    capsys.readouterr()
    try:
        folder = _subset(demo_dataset, tmp_path / "set", per_person=2)
        local = embed_dataset(load_path(folder), model_id=name, store=Store(tmp_path / "l.sqlite3"))
        store = tmp_path / "ray.sqlite3"
        argv = ["embed", str(folder), "--engine", "ray", "--model", name, "--json"]
        assert main([*argv, "--store", str(store)]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["engine"] == "ray" and summary["model"] == name
        assert summary["backend"] == local.backend == "onnxruntime"
        ray_set = embed_dataset(load_path(folder), model_id=name, store=Store(store))
        assert ray_set.computed == 0 and _keys(ray_set) == _keys(local)  # the same store keys
        assert _cosines(ray_set.embeddings, local.embeddings).min() >= 0.9999
    finally:
        main(["models", "remove", name])


def test_a_node_without_the_card_says_so(tmp_path, monkeypatch):
    """A worker whose FACEDASH_HOME lacks the user's card says which card and node, in one line."""
    from facedash.errors import AssetMissing
    from facedash.faces.detect import AlignSettings, DetectorSettings
    from facedash.scale.distributed import EmbedWorker

    empty = tmp_path / "node-home"
    empty.mkdir()
    # the worker points FACEDASH_HOME at its node's home: put this session's back afterwards
    monkeypatch.setenv("FACEDASH_HOME", os.environ.get("FACEDASH_HOME", str(empty)))
    with pytest.raises(AssetMissing, match=r"model card 'someone-elses' on node .* not found"):
        EmbedWorker(
            model_id="someone-elses",
            backend=None,
            precision=None,
            det=DetectorSettings(),
            al=AlignSettings(),
            facedash_home=str(empty),
        )
