"""Arithmetic that can see attributes: the triplet head on FaceNet's mid-level features.

Targets on held-out photos (faces of source photos the head never trained on):

- the demo set under the demo conditions: "person + condition" top-1 >= 0.6 in the
  head's space (the plain 128-d embedding: about 0.4);
- a JAFFE-named set made from the demo's ``val`` photos (never trained on) with
  transforms no training here uses (``UNSEEN``: brighter, hue, sepia, noisy), run
  through the real detector, aligner and model: top-1 >= 0.5 with the head trained on
  the demo conditions of the ``train`` photos.
"""

from __future__ import annotations

import numpy as np
import pytest

from facedash import search
from facedash.data.datasets import load_folder
from facedash.data.store import Store
from facedash.pfe.head import FeatureExtractor
from facedash.search import FEATURES, view_features
from facedash.search.conditions import (
    CONDITIONS,
    UNSEEN,
    AttributeView,
    apply_condition,
    attribute_view,
    condition_set,
)
from facedash.search.jaffe_format import JAFFE_CODES, write_jaffe_format_set
from facedash.search.triplet import compare_head, train_triplet_head


@pytest.fixture(scope="module")
def demo_view(demo):
    return attribute_view(demo, "conditions", store=Store())


@pytest.fixture(scope="module")
def block17(demo_view):
    """The default features of the demo view (computed once, then read from beside the store)."""
    return view_features(demo_view, "block17", store=Store())


@pytest.fixture(scope="module")
def unseen_set(tmp_path_factory, demo_dataset, facenet):
    """Three ``val`` photos per person under the original and every UNSEEN transform."""
    from facedash.faces.pipeline import embed_dataset

    folder = tmp_path_factory.mktemp("unseen")
    write_jaffe_format_set(
        demo_dataset, folder, per_person=3, conditions=("original", *UNSEEN), split="val"
    )
    store = Store(tmp_path_factory.mktemp("unseen-store") / "s.sqlite3")
    result = embed_dataset(load_folder(folder), store=store, get_model=lambda: facenet)
    view = attribute_view(result, "jaffe", store=store)
    # Source photo of each file: BA.HU1.2.tiff -> BA2.
    sources = np.array([r.name.split(".")[0] + r.name.split(".")[2] for r in view.result.rows])
    return view, sources, store


def test_unseen_transforms_are_not_the_demo_conditions():
    assert not set(UNSEEN) & set(CONDITIONS)
    assert len({JAFFE_CODES[c] for c in CONDITIONS + UNSEEN}) == len(CONDITIONS + UNSEEN)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (2, 12, 12, 3), dtype=np.uint8)
    assert apply_condition(crops, "brighter").mean() > crops.mean()
    np.testing.assert_array_equal(apply_condition(crops, "hue")[..., 0], crops[..., 2])
    sepia = apply_condition(crops, "sepia").astype(int)
    assert (sepia[..., 0] >= sepia[..., 2]).all()  # warm: red over blue
    noisy = apply_condition(crops, "noisy")
    # Seeded by the pixels: the same crop gets the same noise whatever batch it is in.
    np.testing.assert_array_equal(noisy[1], apply_condition(crops[1:], "noisy")[0])
    assert not np.array_equal(noisy, crops)


def test_the_gamma_and_grayscale_shortcuts_give_the_formulas_pixels(demo):
    """Lookup tables and per-pixel rounding: bitwise the formulas on every value, on real crops."""
    from facedash.data.images import decode_jpeg

    crops = np.stack([decode_jpeg(t) for t in demo.thumbs[:6] if t is not None])
    every = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=-1)
    for batch in (crops, every):
        x = batch.astype(np.float32)
        for name, gamma in (("darker", 2.2), ("brighter", 0.5)):
            want = np.clip(np.rint(255.0 * (x / 255.0) ** gamma), 0, 255).astype(np.uint8)
            np.testing.assert_array_equal(apply_condition(batch, name), want)
        luma = x @ np.array([0.299, 0.587, 0.114], np.float32)
        want = np.clip(np.rint(np.repeat(luma[..., None], 3, axis=-1)), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(apply_condition(batch, "grayscale"), want)
    assert apply_condition(crops, "darker").mean() < crops.mean()


def test_view_features_match_the_extractor_and_are_kept(tmp_path, demo, facenet):
    store = Store(tmp_path / "s.sqlite3")
    small = condition_set(demo, store=store, limit=3, get_model=lambda: facenet)
    n = len(small.rows)
    view = AttributeView(small, "condition", np.array(["x"] * n), np.array(["s"] * n), True)
    calls = []

    def extractor(layer):
        calls.append(layer)
        return FeatureExtractor(facenet, layer=layer)

    feats = view_features(view, "block35", extractor=extractor, store=store, chunk=4)
    assert feats.shape == (n, FEATURES["block35"].dim) and calls == ["Block35_5_Activation"]
    want, _ = FeatureExtractor(facenet, layer="Block35_5_Activation")(view.crops(range(n)))
    np.testing.assert_allclose(feats, want, rtol=2e-3, atol=2e-3)  # kept as float16
    np.testing.assert_array_equal(
        view_features(view, "block35", extractor=extractor, store=store), feats
    )
    assert calls == ["Block35_5_Activation"]  # the second time: read from beside the store
    # In a memory store (a private upload) nothing is kept: the extractor runs again.
    view_features(view, "block35", extractor=extractor, store=Store(":memory:"))
    assert len(calls) == 2
    np.testing.assert_array_equal(view_features(view, "embedding"), small.embeddings)
    with pytest.raises(ValueError, match="unknown feature"):
        view_features(view, "pixels")


def test_head_on_mid_level_features_sees_the_conditions_on_heldout_photos(demo_view, block17):
    v = demo_view
    for method in search.METHODS:
        cmp = compare_head(
            v.result.embeddings,
            v.persons,
            v.values,
            v.sources,
            features=block17,
            feature="block17",
            method=method,
            epochs=20,
        )
        rows = {r["embedding"]: r for r in cmp.rows}
        assert set(rows) == {"plain embedding", "features, no head", "triplet head"}
        held = cmp.heldout
        assert not set(v.sources[held]) & set(v.sources[~held])  # whole photos held out
        assert rows["triplet head"]["queries"] == 25
        print(f"{method}: held-out top-1", {r: rows[r]["top-1"] for r in rows})
        assert rows["triplet head"]["top-1"] >= 0.6, (method, cmp.rows)
        assert rows["plain embedding"]["top-1"] < rows["triplet head"]["top-1"]
        assert rows["triplet head"]["top-5"] >= rows["triplet head"]["top-1"]


def _first_val_photos(dataset, per_person: int) -> set[str]:
    """The names of the photos ``write_jaffe_format_set(split="val")`` transforms."""
    taken: dict[str, list[str]] = {}
    for item in dataset.items:
        if item.attributes.get("split") == "val" and len(taken.get(item.person, [])) < per_person:
            taken.setdefault(item.person, []).append(item.name)
    return {name for names in taken.values() for name in names}


def test_head_carries_over_to_a_jaffe_named_set_of_unseen_transforms(
    demo_view, block17, unseen_set, demo_dataset
):
    v = demo_view
    train = np.array([r.attributes["split"] == "train" for r in v.result.rows])
    assert set(v.values[train]) == set(CONDITIONS)  # the head never sees an UNSEEN transform
    head = train_triplet_head(
        block17[train], v.persons[train], v.values[train], epochs=20, feature="block17"
    )
    jv, sources, store = unseen_set
    assert set(jv.values) == {JAFFE_CODES[c] for c in ("original", *UNSEEN)}
    # Made from ``val`` photos (in the demo view, so the names compare) none of the head's
    # training rows was made from.
    made_from = _first_val_photos(demo_dataset, per_person=3)
    assert len(made_from) == 15 and made_from <= set(v.sources)
    assert not made_from & set(v.sources[train]), "a JAFFE source photo was trained on"
    feats = view_features(jv, "block17", store=store)
    scores = {}
    for label, vectors in (
        ("plain embedding", jv.result.embeddings),
        ("triplet head", head.transform(feats)),
    ):
        rep = search.evaluate_arithmetic(vectors, jv.persons, jv.values, sources=sources)
        assert len(rep.queries) == 5 * (1 + len(UNSEEN))
        scores[label] = rep.top1
    print("JAFFE-named set of unseen transforms: top-1", scores)
    assert scores["triplet head"] >= 0.5, scores
    assert scores["triplet head"] > scores["plain embedding"], scores
