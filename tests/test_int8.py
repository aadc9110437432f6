"""int8 FaceNet (issue 27): the gate, the recipe in the store key, the stored probe set, the race.

The gate is a pure function, checked on synthetic vectors first. The stored-probe
checks run on a real cache entry (the real FaceNet in OpenVINO, the real demo faces,
their TensorFlow fp32 embeddings). The real int8 build (NNCF accuracy control: minutes on a
2-core CPU, ``docs/backends.md``) is checked only where this home already holds it
(``facedash doctor --build-int8`` makes it): the suite never quantises.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from facedash import assets
from facedash.faces.probe import probe_set
from facedash.models import backends, int8, ircache

OPENVINO = backends.openvino_version() is not None
needs_openvino = pytest.mark.skipif(
    not OPENVINO, reason=f"OpenVINO not installed ({backends.OPENVINO_HINT})"
)


# -- the gate, a pure function -------------------------------------------------------------------
def _people_vectors(seed: int = 0, people: int = 6, each: int = 8, dim: int = 32):
    """Unit vectors in tight clusters, one per person, and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, dim))
    x = np.repeat(centres, each, axis=0) + 0.35 * rng.normal(size=(people * each, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, np.repeat([f"p{i}" for i in range(people)], each)


def test_the_gate_passes_near_copies_and_names_each_failure():
    ref, people = _people_vectors()
    probe = np.arange(len(ref)) % 3 == 0
    rng = np.random.default_rng(1)
    near = ref + 0.01 * rng.normal(size=ref.shape)
    g = int8.gate(near, ref, people, probe, recipe="abc")
    assert g.passed and g.loo_changes == 0 and abs(g.auc_delta) <= int8.MAX_AUC_DELTA
    assert g.probe_faces == int(probe.sum()) and g.pairs == len(ref) * (len(ref) - 1) // 2
    assert g.as_dict()["passed"] and g.as_dict()["failures"] == []

    far = ref.copy()
    far[0] = -far[0]  # one probe face flipped: cosine -1, its nearest neighbour changes
    bad = int8.gate(far, ref, people, probe)
    text = "; ".join(bad.failures())
    assert not bad.passed
    assert "min cosine" in text and "leave-one-out" in text
    # a mean just under its bound fails even when the minimum passes
    tilt = ref + 0.09 * rng.normal(size=ref.shape)
    g2 = int8.gate(tilt, ref, people, probe)
    assert g2.min_cosine < 1 and not g2.passed and any("cosine" in f for f in g2.failures())
    # no probe faces: NaN figures fail, never pass
    assert not int8.gate(near, ref, people, np.zeros(len(ref), bool)).passed


def test_auc_and_eer_threshold_match_a_direct_count():
    rng = np.random.default_rng(2)
    same = rng.random(400) < 0.3
    scores = np.where(same, rng.normal(0.7, 0.1, 400), rng.normal(0.3, 0.1, 400))
    g, i = scores[same], scores[~same]
    direct = np.mean((g[:, None] > i[None, :]) + 0.5 * (g[:, None] == i[None, :]))
    assert int8.auc(scores, same) == pytest.approx(direct, abs=1e-12)
    t = int8.eer_threshold(scores, same)
    fnmr, fmr = np.mean(g < t), np.mean(i >= t)
    assert abs(fnmr - fmr) < 0.02


# -- the recipe names the store key --------------------------------------------------------------
def test_an_int8_store_key_names_its_recipe_and_two_recipes_never_share_one():
    key = backends.store_key("facenet", "int8")
    assert key == f"facenet@int8-{int8.recipe_id()}" and len(int8.recipe_id()) == 8
    assert backends.parse_key(key) == ("facenet", "int8")
    assert backends.key_recipe(key) == int8.recipe_id()
    assert backends.Choice("facenet", "openvino", "int8").key == key
    other = json.loads(json.dumps(int8.RECIPE))
    other["max_drop"] = 0.01
    assert int8.recipe_id(other) != int8.recipe_id()
    # fp32 and bf16 keep their old keys (existing stores stay valid)
    assert backends.store_key("facenet", "fp32") == "facenet"
    assert backends.parse_key("facenet@bf16") == ("facenet", "bf16")
    assert backends.parse_key("facenet") == ("facenet", "fp32")


def test_the_probe_set_splits_each_person_and_adds_calibration_variants():
    crops = np.random.default_rng(0).integers(0, 255, (24, 160, 160, 3), dtype=np.uint8)
    people = ["a"] * 12 + ["b"] * 12
    ps = probe_set(crops, people, int8.RECIPE["calibration"])
    counts = ps.counts()
    assert counts == {
        "calibration": 14,  # each person's crops 0-4 and 10-11
        "validation": 4,  # 5-6
        "probe": 6,  # 7-9
        "calibration_images": 14 * (1 + len(int8.RECIPE["calibration"]["variants"])),
    }
    assert set(ps.people[ps.roles == "probe"]) == {"a", "b"}
    assert np.array_equal(ps.variants[0], ps.of("calibration")[0][:, ::-1])  # the mirror first
    assert ps.fingerprint() == probe_set(crops, people, int8.RECIPE["calibration"]).fingerprint()


# -- the stored probe set ------------------------------------------------------------------------
def _home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    (root / "models").mkdir(parents=True)
    weights = assets.weights_path()
    for f in (weights, weights.with_name(weights.name + ".verified")):
        (root / "models" / f.name).symlink_to(f)
    return root


@pytest.fixture(scope="module")
def stored_probe(demo, facenet):
    """The real probe set of the demo's stored crops, with TensorFlow fp32 embeddings."""
    from facedash.data.images import decode_jpeg

    crops = np.stack([decode_jpeg(t) for t in demo.thumbs])
    ps = probe_set(crops, list(demo.people), int8.RECIPE["calibration"])
    return {
        "crops": ps.crops,
        "embeddings": facenet.embed(ps.crops),
        "people": ps.people.astype(str),
        "roles": ps.roles.astype(str),
    }, ps.counts()


def _int8_entry(root: Path, stored: dict, counts: dict) -> ircache.Entry:
    """An int8 cache entry holding FaceNet's fp32 OpenVINO conversion and ``stored`` as its probe.

    The model is FaceNet's real conversion (not quantised, so the suite stays fast): what
    is checked here is how a load treats the stored probe.
    """
    from facedash.faces.probe import demo_probe as probe
    from facedash.models import get_model, openvino_facenet

    fp32 = openvino_facenet.load("fp32", reference=lambda: get_model("facenet"), probe=probe())
    e = openvino_facenet._cache_entry("int8", root)
    src = Path(fp32.cache_path)

    def produce(tmp: Path) -> None:
        for name in ("model.xml", "model.bin"):
            shutil.copy(src / name, tmp / name)
        np.savez(tmp / "reference.npz", **stored)

    ircache.write(
        e, produce, {"recipe": int8.RECIPE, "recipe_id": int8.recipe_id(), "counts": counts}
    )
    return e


@needs_openvino
def test_a_load_gates_on_the_stored_probe_alone(tmp_path, stored_probe):
    """No demo set, no probe given: the stored probe judges the model (fp32 passes, figures shown)."""
    from facedash.models import get_model, openvino_facenet

    stored, counts = stored_probe
    root = _home(tmp_path)
    _int8_entry(root, stored, counts)
    e = openvino_facenet.load("int8", root, reference=lambda: get_model("facenet", root))
    g = e.agreement.gate
    assert g is not None and g.passed and g.min_cosine > 0.9999
    assert g.probe_faces == counts["probe"] and g.loo_changes == 0
    shown = e.agreement.as_dict()["gate"]
    assert shown["recipe"] == int8.recipe_id() and shown["counts"] == counts
    if backends.nncf_available():  # the race's table is keyed by the int8 build here
        from facedash.models import race

        assert race.cache_key(root)["int8"] == f"int8-{int8.recipe_id()}"


@needs_openvino
@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (lambda s: s.update(people=s["people"][:-3]), "crops but"),
        (
            lambda s: s.update(roles=np.where(s["roles"] == "probe", "validation", s["roles"])),
            "no held-out",
        ),
        (lambda s: s.update(embeddings=2 * s["embeddings"]), "not unit vectors"),
        (lambda s: s.pop("people"), "lacks people"),
    ],
)
def test_a_contradicting_stored_probe_refuses_in_one_line(tmp_path, stored_probe, spoil, says):
    from facedash.models import get_model, openvino_facenet

    stored, counts = stored_probe
    stored = dict(stored)
    spoil(stored)
    root = _home(tmp_path)
    _int8_entry(root, stored, counts)
    with pytest.raises(openvino_facenet.BackendRefused) as err:
        openvino_facenet.load("int8", root, reference=lambda: get_model("facenet", root))
    message = str(err.value)
    assert says in message and "\n" not in message and message.startswith("OpenVINO int8 refused")


@needs_openvino
def test_a_corrupted_stored_probe_is_not_used(tmp_path, stored_probe):
    """A probe file that no longer matches its SHA-256: with no faces to rebuild, refused."""
    from facedash.models import get_model, openvino_facenet

    stored, counts = stored_probe
    root = _home(tmp_path)
    e = _int8_entry(root, stored, counts)
    with e.path("reference.npz").open("r+b") as fh:
        fh.seek(2000)
        fh.write(b"\0" * 64)
    with pytest.raises(openvino_facenet.BackendRefused) as err:
        openvino_facenet.load("int8", root, reference=lambda: get_model("facenet", root))
    assert "reference.npz does not match its recorded SHA-256" in str(err.value)
    assert "\n" not in str(err.value)


# -- the real int8 build, where this home holds one ----------------------------------------------
def _built() -> bool:
    if not (OPENVINO and backends.nncf_available()):
        return False
    from facedash.models import openvino_facenet

    return ircache.check(openvino_facenet._cache_entry("int8", None))[0] is not None


@pytest.mark.skipif(not _built(), reason="no int8 build here (facedash doctor --build-int8)")
def test_the_real_int8_build_passes_its_gate_and_races():
    from facedash.models import get_model, openvino_facenet, race

    e = openvino_facenet.load("int8", reference=lambda: get_model("facenet"))
    g = e.agreement.gate
    assert g is not None and g.passed, g.failures()
    assert g.min_cosine >= 0.99 and g.mean_cosine >= 0.997 and g.loo_changes == 0
    assert e.precision == "int8" and int8.recipe_id() in e.cache_path
    table = race.read()
    if table is not None:  # the race raced it (its key names the build)
        row = next(r for r in table["candidates"] if r["precision"] == "int8")
        assert row["gate"]["recipe"] == int8.recipe_id() and row["faces_per_s"]


@needs_openvino
def test_the_race_lists_int8_and_builds_it_only_when_asked(tmp_path, monkeypatch):
    from facedash.models import race

    rows = {(b, p): x for b, p, x in race.candidates(tmp_path, lambda: None, lambda n: None)}
    if backends.nncf_available():
        assert "facedash doctor --build-int8" in rows[("openvino", "int8")]
        asked = race.candidates(tmp_path, lambda: None, lambda n: None, build_int8=True)
        assert callable({(b, p): x for b, p, x in asked}[("openvino", "int8")])
    monkeypatch.setattr(backends, "nncf_available", lambda: False)
    rows = {(b, p): x for b, p, x in race.candidates(tmp_path, lambda: None, lambda n: None)}
    assert rows[("openvino", "int8")] == (
        "NNCF is not installed (pip install -r requirements-convert.txt)"
    )
    assert race.cache_key(tmp_path)["int8"] is None


class _StoredCrops:
    """A labelled probe source over the demo's stored crops (no detection)."""

    def __init__(self, crops: np.ndarray, people: list[str]) -> None:
        self.crops, self.people = crops, people

    def __call__(self, limit: int | None = None) -> np.ndarray:
        return self.crops[:limit]

    def probe_set(self, calibration: dict) -> int8.ProbeSet:
        return probe_set(self.crops, self.people, calibration)


@needs_openvino
@pytest.mark.skipif(not backends.nncf_available(), reason="NNCF not installed")
def test_a_small_real_int8_build_is_judged_by_its_gate_under_its_own_key(
    tmp_path, monkeypatch, demo, facenet
):
    """A quick recipe (plain NNCF quantisation, 32 calibration images: about 30 s here) is a
    real int8 model: it gets its own cache folder and store key, and the gate judges it."""
    from facedash.data.images import decode_jpeg
    from facedash.models import openvino_facenet

    real_key = backends.store_key("facenet", "int8")
    quick = json.loads(json.dumps(int8.RECIPE))
    quick.update(method="quantize", preset="MIXED", subset_size=32)
    quick["calibration"]["variants"] = ["mirror"]
    monkeypatch.setattr(int8, "RECIPE", quick)
    assert backends.store_key("facenet", "int8") not in (real_key, "facenet@int8")
    crops = np.stack([decode_jpeg(t) for t in demo.thumbs])
    root = _home(tmp_path)
    source = _StoredCrops(crops, list(demo.people))
    try:
        e = openvino_facenet.load("int8", root, reference=lambda: facenet, probe=source)
    except openvino_facenet.BackendRefused as err:  # the usual outcome of so small a recipe
        message = str(err)
        assert f"OpenVINO int8 (recipe {int8.recipe_id(quick)}) fails its gate" in message
        assert "min cosine" in message and "\n" not in message
    else:
        g = e.agreement.gate
        assert g is not None and g.passed and g.recipe == int8.recipe_id(quick)
    entry = openvino_facenet._cache_entry("int8", root)
    meta = ircache.check(entry)[0]
    assert entry.folder.name == f"int8-{int8.recipe_id(quick)}" and meta is not None
    assert (
        meta["recipe"] == quick
        and meta["counts"]["calibration_images"] == 2 * meta["counts"]["calibration"]
    )
