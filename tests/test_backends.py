"""Model layer backends on the real model and the real demo faces.

Each backend that is installed is checked against the TensorFlow fp32
reference: agreement at load, identification and ROC-AUC on the demo set, the
store keys that keep precisions apart, the converted-model cache (a corrupt file
is rebuilt, never used), the fallbacks, and what the CLI reports.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from facedash import assets
from facedash.data.datasets import Dataset
from facedash.data.store import Store
from facedash.faces.pipeline import embed_dataset
from facedash.faces.probe import demo_probe
from facedash.models import backends, describe, get_embedder, ircache, load_embedder, plan, race
from tests.fresh_process import run

OPENVINO = backends.openvino_version() is not None
needs_openvino = pytest.mark.skipif(
    not OPENVINO, reason=f"OpenVINO not installed ({backends.OPENVINO_HINT})"
)
ROOT = Path(__file__).resolve().parents[1]


def _cli(argv: list[str]) -> dict:
    from facedash.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(argv) in (0, 1)
    return json.loads(buf.getvalue())


@pytest.fixture(scope="module")
def crops(demo):
    """The demo set's 118 aligned faces (the stored 160 px thumbnails)."""
    from facedash.data.images import decode_jpeg

    return np.stack([decode_jpeg(t) for t in demo.thumbs])


@pytest.fixture(scope="module")
def reference(crops, facenet):
    """TensorFlow fp32 embeddings of those faces."""
    return facenet.embed(crops)


@pytest.fixture(scope="module")
def embedded(crops):
    """``embedded(backend, precision)``: (embedder, its embeddings of ``crops``), computed once."""
    done: dict[tuple, tuple] = {}

    def get(backend: str | None, precision: str | None) -> tuple:
        key = plan("facenet", backend, precision)
        if key not in done:
            embedder = get_embedder(
                "facenet", backend=backend, precision=precision, probe=demo_probe()
            )
            done[key] = (embedder, embedder.embed(crops))
        return done[key]

    return get


def _loo_and_auc(emb: np.ndarray, people: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import roc_auc_score

    sims = emb @ emb.T
    iu = np.triu_indices(len(people), 1)
    auc = roc_auc_score((people[:, None] == people[None, :])[iu], sims[iu])
    np.fill_diagonal(sims, -np.inf)
    return float((people[sims.argmax(1)] == people).mean()), float(auc)


# -- choosing a backend ------------------------------------------------------------------------
def test_auto_picks_the_gpu_else_openvino_else_tensorflow(monkeypatch):
    monkeypatch.delenv("FACEDASH_BACKEND", raising=False)
    monkeypatch.delenv("FACEDASH_PRECISION", raising=False)
    choice = plan("facenet")
    if backends.tensorflow_gpus():
        assert choice.backend == "tensorflow"
    elif (table := race.read()) is not None:  # auto: the backend race measured on this machine
        assert (choice.backend, choice.precision) == (
            table["pick"]["backend"],
            table["pick"]["precision"],
        )
        assert race.decide(table["candidates"])[0]["passed"]
    elif OPENVINO:  # before the race: OpenVINO fp32, whatever the CPU's flags
        assert (choice.backend, choice.precision) == ("openvino", "fp32")
    else:
        assert choice.backend == "tensorflow"
    assert choice.key == backends.store_key("facenet", choice.precision)  # int8: its recipe too
    assert backends.parse_key(choice.key) == ("facenet", choice.precision)
    assert plan("dlib", "openvino").backend == "dlib"  # dlib runs on dlib whatever is asked


def test_facedash_backend_tensorflow_is_honoured(monkeypatch, facenet, demo):
    monkeypatch.setenv("FACEDASH_BACKEND", "tensorflow")
    assert plan("facenet").backend == "tensorflow"
    assert get_embedder("facenet") is facenet  # the reference itself, no wrapper
    out = _cli(["embed", "--demo", "--json"])
    assert (out["backend"], out["precision"]) == ("tensorflow", "fp32")
    monkeypatch.setenv("FACEDASH_BACKEND", "tensorflw")
    with pytest.raises(backends.BackendError, match="use one of auto, tensorflow, openvino"):
        plan("facenet")


def test_openvino_missing_falls_back_with_the_install_line(monkeypatch, facenet):
    monkeypatch.setattr(backends, "openvino_version", lambda: None)
    assert plan("facenet", "auto").backend == "tensorflow"  # auto: silently the reference
    fallback = load_embedder("facenet", backend="openvino")
    record = describe(fallback)
    assert (record["backend"], record["precision"]) == ("tensorflow", "fp32")
    assert "OpenVINO is not installed (pip install openvino==" in record["note"]
    assert fallback.embed(np.zeros((1, 160, 160, 3), np.uint8)).shape == (1, 128)


# -- agreement and accuracy ----------------------------------------------------------------------
@needs_openvino
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_openvino_agrees_with_the_reference_on_every_demo_face(
    precision, crops, reference, embedded
):
    embedder, out = embedded("openvino", precision)
    assert (embedder.backend, embedder.precision) == ("openvino", precision), embedder.note
    assert embedder.agreement.passed and embedder.agreement.min_cosine >= 0.999
    assert np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
    cos = np.sum(out * reference, axis=1)
    assert cos.min() >= 0.999, cos.min()
    # Batch independence: one face alone gives what it gives in a batch.
    assert np.allclose(embedder.embed(crops[3:4])[0], out[3], atol=2e-3)


@pytest.mark.parametrize("precision", [None, "bf16"], ids=["default", "bf16"])
def test_accuracy_bars_hold_against_the_fp32_reference(precision, demo, reference, embedded):
    """LOO 1-NN stays 100%, ROC-AUC over all pairs within 0.001 of TensorFlow fp32."""
    if precision is not None and not OPENVINO:
        pytest.skip("OpenVINO not installed")
    embedder, out = embedded(None if precision is None else "openvino", precision)
    people = np.asarray(demo.people)
    loo, auc = _loo_and_auc(out, people)
    ref_loo, ref_auc = _loo_and_auc(reference, people)
    assert ref_loo == 1.0 and loo == 1.0
    assert abs(auc - ref_auc) <= 0.001, (auc, ref_auc)
    if precision is None:  # the default set the other tests use came from this backend
        assert (demo.backend, demo.precision) == (embedder.backend, embedder.precision)
        assert _loo_and_auc(demo.embeddings, people)[0] == 1.0


@needs_openvino
def test_a_backend_that_disagrees_is_refused(monkeypatch, embedder):
    from facedash.models import openvino_facenet

    monkeypatch.setattr(openvino_facenet, "MIN_COSINE", 1.5)  # nothing can pass
    fallback = load_embedder("facenet", backend="openvino", precision="fp32", probe=demo_probe())
    record = describe(fallback)
    assert (
        record["backend"] == "tensorflow" and "disagrees with the fp32 reference" in record["note"]
    )
    assert "using TensorFlow fp32" in record["note"]


# -- the converted-model cache -------------------------------------------------------------------
def _home_copy(tmp_path: Path) -> Path:
    """A FACEDASH_HOME with the real weights and demo faces linked in."""
    root = tmp_path / "home"
    (root / "models").mkdir(parents=True)
    (root / "demo").mkdir()
    weights = assets.weights_path()
    for f in (weights, weights.with_name(weights.name + ".verified")):
        (root / "models" / f.name).symlink_to(f)
    (root / "demo" / assets.demo_path().name).symlink_to(assets.demo_path())
    return root


def _sources(root: Path) -> dict:
    """What a caller hands the model layer to build a conversion: the reference and the probe."""
    from facedash.models import get_model

    return {"reference": lambda: get_model("facenet", root), "probe": demo_probe(root)}


@needs_openvino
def test_loading_a_converted_model_never_reads_the_demo_set(tmp_path, embedder):
    """The probe is stored with the cache entry: a home without demo faces loads and checks it;
    a missing entry with no probe given is refused with what to do, and nothing is built."""
    from facedash.models import openvino_facenet

    root = _home_copy(tmp_path)
    built = openvino_facenet._cache_entry("fp32", None)
    if ircache.check(built)[0] is None:
        openvino_facenet.build("fp32", None, **_sources(None))
    entry = openvino_facenet._cache_entry("fp32", root)
    shutil.copytree(built.folder, entry.folder)
    shutil.rmtree(root / "demo")  # no demo faces on this machine any more

    def no_probe(limit):
        raise AssertionError("the demo set was read")

    loaded = openvino_facenet.load(
        "fp32", root, reference=lambda: pytest.fail("reference loaded"), probe=no_probe
    )
    assert loaded.agreement.passed and loaded.agreement.faces == openvino_facenet.AGREEMENT_FACES
    shutil.rmtree(entry.folder)
    with pytest.raises(openvino_facenet.BackendRefused, match="no faces were given to check"):
        openvino_facenet.load("fp32", root, reference=lambda: pytest.fail("reference loaded"))
    assert ircache.check(entry) == (None, "not built yet")


@needs_openvino
def test_a_corrupt_cache_file_is_rebuilt_never_used(tmp_path, embedder):
    from facedash.models import openvino_facenet

    root = _home_copy(tmp_path)
    entry = openvino_facenet._cache_entry("fp32", root)
    built = openvino_facenet._cache_entry("fp32", None)
    if ircache.check(built)[0] is not None:  # reuse this machine's conversion
        shutil.copytree(built.folder, entry.folder)
    else:
        openvino_facenet.build("fp32", root, **_sources(root))
    first = openvino_facenet.load("fp32", root, **_sources(root))
    assert first.note == "" and first.agreement.passed
    good = entry.path("model.bin").read_bytes()
    entry.path("model.bin").write_bytes(b"garbage" * 1000)

    again = openvino_facenet.load("fp32", root, **_sources(root))
    assert "unusable (model.bin does not match its recorded SHA-256); rebuilt" in again.note
    assert again.agreement.passed and again.agreement.min_cosine >= 0.999
    assert ircache.check(entry)[0] is not None
    assert entry.path("model.bin").read_bytes() == good  # conversion is deterministic
    assert not [p for p in entry.folder.iterdir() if p.name.startswith(".build-")]


@needs_openvino
def test_a_failed_conversion_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    from facedash.models import openvino_facenet

    def broken(reference):
        raise RuntimeError("Check 'false' failed: no conversion rule for operations: Frobnicate")

    monkeypatch.setattr(openvino_facenet, "_convert", broken)
    with pytest.raises(openvino_facenet.BackendRefused) as err:
        root = _home_copy(tmp_path)
        openvino_facenet.load("fp32", root, **_sources(root))
    assert str(err.value) == (
        "converting FaceNet to OpenVINO fp32 failed: RuntimeError: Check 'false' failed: "
        "no conversion rule for operations: Frobnicate"
    )


def test_cache_entries_are_checked_file_by_file(tmp_path):
    e = ircache.entry("m", "ab" * 32, "openvino", "1.0", "fp32", tmp_path)
    assert ircache.check(e) == (None, "not built yet")
    meta = ircache.write(e, lambda tmp: (tmp / "a.bin").write_bytes(b"weights"), {"note": 1})
    assert meta["key"]["weights_sha256"] == "ab" * 32 and meta["note"] == 1
    assert ircache.check(e)[0] == meta
    assert sorted(p.name for p in e.folder.iterdir()) == ["a.bin", "meta.json"]
    e.path("meta.json").write_text("{not json")
    assert ircache.check(e) == (None, "meta.json is unreadable (JSONDecodeError)")
    ircache.write(e, lambda tmp: (tmp / "a.bin").write_bytes(b"weights"), {})
    e.path("a.bin").unlink()
    assert ircache.check(e) == (None, "a.bin is missing")
    other = ircache.entry("m", "ab" * 32, "openvino", "1.0", "bf16", tmp_path)
    assert other.folder != e.folder  # keyed by precision (and weights, backend, version)


# -- store keys: precisions never mix ------------------------------------------------------------
@needs_openvino
def test_store_keys_differ_by_precision_and_never_mix(tmp_path, demo_dataset, facenet):
    subset = Dataset(name="four", kind="folder", items=demo_dataset.items[:4])
    store = Store(tmp_path / "s.sqlite3")
    fp32 = embed_dataset(subset, store=store, backend="tensorflow")
    assert (fp32.model_key, fp32.computed) == ("facenet", 4)
    bf16 = embed_dataset(subset, store=store, backend="openvino", precision="bf16")
    assert (bf16.model_key, bf16.precision, bf16.computed, bf16.cached) == (
        "facenet@bf16",
        "bf16",
        4,
        0,
    )
    assert store.model_keys() == {"facenet": 4, "facenet@bf16": 4}
    cos = np.sum(fp32.embeddings * bf16.embeddings, axis=1)
    assert 0.999 <= cos.min() and not np.array_equal(fp32.embeddings, bf16.embeddings)
    # A bf16 run whose model falls back to fp32 reads the fp32 rows, not the bf16 ones.
    fallback = embed_dataset(
        Dataset(name="five", kind="folder", items=demo_dataset.items[:5]),
        store=store,
        backend="openvino",
        precision="bf16",
        get_model=lambda: facenet,
    )
    assert (fallback.model_key, fallback.precision, fallback.backend) == (
        "facenet",
        "fp32",
        "tensorflow",
    )
    assert (fallback.cached, fallback.computed) == (4, 1)
    assert np.array_equal(fallback.embeddings[:4], fp32.embeddings)
    assert store.model_keys() == {"facenet": 5, "facenet@bf16": 4}


# -- what the CLI and doctor report --------------------------------------------------------------
def test_embed_json_gains_backend_and_precision(demo):
    out = _cli(["embed", "--demo", "--json"])
    keys = {
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
    assert keys | {"backend", "precision"} <= set(out)  # the existing keys stay
    choice = plan("facenet")
    assert (out["backend"], out["precision"], out["computed"]) == (
        choice.backend,
        choice.precision,
        0,
    )
    verify = _cli(["verify", "--demo", "--json"])
    assert (verify["model"], verify["backend"], verify["precision"]) == (
        "facenet",
        choice.backend,
        choice.precision,
    )


def test_doctor_json(demo):
    out = _cli(["doctor", "--json"])
    assert {"machine", "backend", "models", "store", "problems", "info", "ok"} <= set(out)
    machine = out["machine"]
    assert {"avx512_bf16", "amx_bf16", "amx_int8"} <= set(machine["flags"])
    assert machine["cpu"] and isinstance(machine["gpus"], list)
    assert machine["openvino"] == backends.openvino_version()
    roles = {m["role"]: m for m in out["models"]}
    embedding = roles["embedding"]
    for key in ("backend", "precision", "device", "load_seconds", "agreement", "cache"):
        assert key in embedding
    assert embedding["backend"] == plan("facenet").backend
    if embedding["backend"] == "openvino":
        agreement = embedding["agreement"]
        if embedding["precision"] == "int8":  # held-out probe faces, and the whole gate
            assert agreement["min_cosine"] >= 0.99 and agreement["gate"]["passed"]
            assert out["int8"]["built"] and out["int8"]["gate"]["passed"]
        else:
            assert agreement["min_cosine"] >= 0.999
        assert Path(embedding["cache"]).is_dir()
    detector = roles["face detector"]
    assert (detector["backend"], detector["precision"]) == ("openvino", "fp32")
    assert Path(detector["cache"]).is_dir()
    assert out["store"]["embeddings"].get(plan("facenet").key, 0) >= 117
    assert out["ok"] == (not out["problems"])
    for problem in out["problems"]:
        assert problem["fix"]


@needs_openvino
def test_a_cached_openvino_model_loads_without_tensorflow(embedder):
    code = (
        "import json, sys, numpy as np\n"
        "from facedash.models import load_embedder\n"
        "e = load_embedder('facenet', backend='openvino', precision='fp32')\n"
        "v = e.embed(np.zeros((2, 160, 160, 3), np.uint8))\n"
        "print('@@' + json.dumps({'backend': e.backend, 'note': e.note, 'shape': list(v.shape),\n"
        "    'tf': any(m in sys.modules for m in ('tensorflow', 'keras', 'mtcnn'))}))\n"
    )
    report, _ = run(code)
    assert report == {"backend": "openvino", "note": "", "shape": [2, 128], "tf": False}


def test_sidebar_says_where_the_model_runs(demo):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["fd_backend"] = "tensorflow"
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="fd_backend").value == "tensorflow"
    captions = [c.value for c in at.sidebar.caption]
    assert any(c.startswith("Runs on TensorFlow fp32") for c in captions), captions


def test_gpu_requirements_differ_only_in_tensorflow():
    def pins(name: str) -> dict[str, str]:
        lines = (ROOT / name).read_text().splitlines()
        return dict(line.split("==") for line in lines if line and not line.startswith("#"))

    cpu, gpu = pins("requirements.txt"), pins("requirements-gpu.txt")
    assert cpu.pop("tensorflow_cpu") == gpu.pop("tensorflow[and-cuda]") == "2.21.0"
    cuda = {k for k in gpu if k.startswith("nvidia-")}
    assert {"nvidia-cudnn-cu12", "nvidia-cublas-cu12"} <= cuda
    assert {k: v for k, v in gpu.items() if k not in cuda} == cpu
    assert "openvino" in cpu
