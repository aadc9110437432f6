"""The explain library on the real model and the real demo faces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facedash.explain import (
    DEFAULT_LAYER,
    DEFAULT_METHOD,
    REFERENCE_LAYER,
    Centroid,
    Channel,
    Reference,
    TopChannel,
    make,
    parse_target,
)
from facedash.explain.analysis import analyse, heat_of, set_average
from facedash.explain.crops import aligned_crops
from facedash.explain.faithfulness import (
    RANDOMIZATION_BOUND,
    deletion_curves,
    deletion_orders,
    randomized_copy,
    spearman,
)
from facedash.explain.gradcam import GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM
from facedash.explain.methods import blocks
from facedash.explain.occlusion import patch_masks
from facedash.explain.overlay import overlay
from facedash.explain.regions import REGIONS, region_labels, region_shares
from facedash.explain.tfexplain import TfExplainGradCAM
from facedash.faces.detect import aligned_landmarks
from facedash.models.facenet import prewhiten


def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(1, keepdims=True)
    b = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))


@pytest.fixture(scope="module")
def crops(demo, demo_dataset):
    return aligned_crops(demo_dataset, demo.rows)


@pytest.fixture(scope="module")
def landmarks(demo):
    return np.stack([aligned_landmarks(r, 160) for r in demo.rows])


@pytest.fixture(scope="module")
def model(facenet):
    return facenet.model


@pytest.fixture(scope="module")
def centroids(demo):
    people = demo.people
    return np.stack([demo.embeddings[people == p].mean(axis=0) for p in people])


def test_aligned_crops_are_the_embedded_crops(crops, demo, embedder):
    """Re-created crops give back the stored embeddings (the thumbnails are lossy, these are exact).

    On the backend that embedded the set (the default: the backend race's pick, bf16 on a CPU
    where that is fastest), so exact crops give the stored vectors to rounding.
    """
    assert crops.shape == (len(demo.rows), 160, 160, 3) and crops.dtype == np.uint8
    sample = np.arange(0, len(crops), 9)
    np.testing.assert_allclose(embedder.embed(crops[sample]), demo.embeddings[sample], atol=1e-4)


@pytest.mark.slow
def test_gradcam_agrees_with_tfexplain_on_forty_faces_of_every_person(crops, model, demo):
    """Reference configuration: class_index = argmax |e|, Block8_6_Conv2d_1x1, guided gradients.

    A seeded 40 of the 118 demo faces in proportion to each person's (the agreement is per
    face; all 118 cost 73 s of the suite for the same check).
    """
    from facedash.search.conditions import person_sample

    faces = crops[person_sample(range(len(crops)), demo.people, 40)]
    ours = GradCAM(model, layer=REFERENCE_LAYER).explain(faces, TopChannel())
    theirs = TfExplainGradCAM(model, layer=REFERENCE_LAYER).explain(faces, TopChannel())
    assert ours.raw.shape == (40, 3, 3)
    np.testing.assert_array_equal(ours.weights, theirs.weights)
    r_raw, r_up = pearson(ours.raw, theirs.raw), pearson(ours.maps, theirs.maps)
    print(
        f"agreement with tf-explain: min Pearson {r_raw.min():.6f} (3x3), {r_up.min():.6f} (160x160)"
    )
    assert r_raw.min() >= 0.99 and r_up.min() >= 0.99


def test_gradcam_matches_tfexplain_explain_overlay(crops, model):
    """tf-explain's public ``explain`` overlay is reproduced from our map with its own display step."""
    import cv2
    from tf_explain.core.grad_cam import GradCAM as TfGradCAM
    from tf_explain.utils.display import heatmap_display

    x = prewhiten(crops[:2])
    ours = GradCAM(model, layer=REFERENCE_LAYER).explain(crops[:2], TopChannel())
    for i in range(2):
        cls = int(np.abs(ours.embeddings[i]).argmax())
        drawn = TfGradCAM().explain((x[i : i + 1], None), model, cls, layer_name=REFERENCE_LAYER)
        mine = heatmap_display(ours.raw[i], x[i], cv2.COLORMAP_VIRIDIS, 0.7)
        assert np.abs(drawn.astype(int) - mine.astype(int)).max() <= 2


def test_a_face_against_itself_is_refused(crops, demo, model):
    with pytest.raises(ValueError, match="own embedding"):
        make("gradcam", model, layer=DEFAULT_LAYER).explain(
            crops[:1], Reference(reference=demo.embeddings[0])
        )
    # a person with a single photo: the centroid is the face itself
    with pytest.raises(ValueError, match="L2-normalised"):
        Centroid.of(demo.embeddings[:1]).check(demo.embeddings[:1])


def test_targets_score_what_they_say(demo):
    e = demo.embeddings[:10]
    np.testing.assert_allclose(TopChannel()(e), e[np.arange(10), np.abs(e).argmax(1)])
    np.testing.assert_allclose(Channel(channel=7)(e), e[:, 7])
    ref = demo.embeddings[20] * 3.0
    cos = e @ ref / (np.linalg.norm(e, axis=1) * np.linalg.norm(ref))
    np.testing.assert_allclose(Reference(reference=ref)(e), cos, rtol=1e-5)
    assert parse_target("channel:5").name == "channel:5"
    with pytest.raises(ValueError, match="unknown target"):
        parse_target("nose")
    with pytest.raises(ValueError, match="does not exist"):
        Channel(channel=500)(e)


def test_cam_formulas_against_loops():
    rng = np.random.default_rng(1)
    acts, grads = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 4, 5))
    hires, layer, plain = np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), np.zeros((2, 3, 4))
    for n in range(2):
        for k in range(5):
            hires[n] += grads[n, :, :, k] * acts[n, :, :, k]
            layer[n] += np.maximum(grads[n, :, :, k], 0) * acts[n, :, :, k]
            plain[n] += grads[n, :, :, k].mean() * acts[n, :, :, k]
    np.testing.assert_allclose(HiResCAM.cam(acts, grads), np.maximum(hires, 0))
    np.testing.assert_allclose(LayerCAM.cam(acts, grads), np.maximum(layer, 0))
    cam = GradCAM.__new__(GradCAM)
    cam.guided, cam.relu = False, False
    np.testing.assert_allclose(cam.cam(acts, grads), plain)
    pp = GradCAMPlusPlus.cam(acts, grads)
    assert pp.shape == (2, 3, 4) and np.all(pp >= 0)


def test_gradient_maps_are_batch_independent(crops, model, centroids):
    """One face explained alone or inside a batch gets the same map; inputs are not mutated."""
    before = crops[:5].copy()
    ex = make("layercam", model, layer=DEFAULT_LAYER)
    batch = ex.explain(crops[:5], Centroid(reference=centroids[:5]))
    alone = ex.explain(crops[3:4], Centroid(reference=centroids[3:4]))
    np.testing.assert_allclose(batch.maps[3], alone.maps[0], rtol=1e-3, atol=1e-5)
    np.testing.assert_array_equal(crops[:5], before)


def test_region_labels_hold_their_landmarks(landmarks):
    for lm in landmarks[:20]:
        labels = region_labels(lm, 160)
        px = np.clip(np.floor(lm).astype(int), 0, 159)
        got = [labels[y, x] for x, y in px]
        assert got == [0, 0, 1, 2, 2]  # eyes, eyes, nose, mouth, mouth


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    scale=st.floats(0.01, 100.0),
)
def test_region_shares_sum_to_one(seed, scale):
    rng = np.random.default_rng(seed)
    lm = np.array([[55, 65], [105, 65], [80, 95], [60, 120], [100, 120]]) + rng.normal(0, 5, (5, 2))
    maps = rng.normal(size=(3, 160, 160)) * scale
    maps[2] = -1.0  # no positive mass: area shares
    shares = region_shares(maps, region_labels(lm, 160))
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert np.all(shares >= 0)


def test_demo_region_shares(crops, landmarks, model, centroids):
    """Shares over the demo faces sum to 1 and match a brute-force count."""
    a = analyse(
        model,
        crops[:12],
        landmarks[:12],
        method=DEFAULT_METHOD,
        layer=DEFAULT_LAYER,
        target=Centroid(reference=centroids[:12]),
        deletion=False,
    )
    np.testing.assert_allclose(a.shares.sum(axis=1), 1.0)
    brute = np.array([[a.heat[i][a.labels[i] == r].sum() for r in range(4)] for i in range(12)])
    np.testing.assert_allclose(a.shares, brute / brute.sum(1, keepdims=True), rtol=1e-6)
    avg = set_average(a.heat, landmarks[:12], np.array(["x"] * 6 + ["y"] * 6, dtype=object))
    assert avg["names"] == ["All faces", "x", "y"]
    np.testing.assert_allclose(avg["maps"][0], a.heat.mean(0), rtol=1e-5)
    np.testing.assert_allclose(avg["shares"].sum(1), 1.0)
    print("mean region shares", dict(zip(REGIONS, a.shares.mean(0).round(3), strict=True)))


def test_deletion_curve_ends(crops, model, facenet, centroids):
    x = prewhiten(crops[:3])
    e = make("gradcam", model, layer=DEFAULT_LAYER).explain(
        crops[:3], Centroid(reference=centroids[:3])
    )
    c = deletion_curves(model, x, heat_of(e.maps), e.weights, steps=4)
    np.testing.assert_allclose(c.scores[:, 0], e.scores, atol=1e-5)
    np.testing.assert_allclose(c.random_scores[:, 0], e.scores, atol=1e-5)
    blank = facenet._forward(np.zeros((1, 160, 160, 3), np.float32)).numpy() @ e.weights.T
    np.testing.assert_allclose(c.scores[:, -1], blank[0], atol=1e-5)
    ranks, rand = deletion_orders(e.maps)
    assert np.all(np.sort(ranks, axis=1) == np.arange(160 * 160)) and not np.array_equal(
        ranks, rand
    )


@pytest.mark.slow
def test_default_method_deletes_faster_than_random(crops, model, centroids):
    """Averaged over every demo face, the default method, layer and target beats a random order."""
    x = prewhiten(crops)
    e = make(DEFAULT_METHOD, model, layer=DEFAULT_LAYER).explain(
        crops, Centroid(reference=centroids)
    )
    c = deletion_curves(model, x, heat_of(e.maps), e.weights, steps=5)
    print(
        f"deletion AUC {c.auc.mean():.4f} vs random {c.random_auc.mean():.4f}; "
        f"faster on {(c.auc < c.random_auc).mean():.0%} of faces"
    )
    assert c.auc.mean() < c.random_auc.mean()


def test_randomization_changes_the_map(crops, model, centroids):
    idx = np.arange(0, len(crops), 20)
    target = Centroid(reference=centroids[idx])
    e = make(DEFAULT_METHOD, model, layer=DEFAULT_LAYER).explain(crops[idx], target)
    same = make(DEFAULT_METHOD, model, layer=DEFAULT_LAYER).explain(crops[idx], target)
    np.testing.assert_allclose(spearman(e.maps, same.maps), 1.0, atol=1e-6)
    rmodel = randomized_copy(model, top_blocks=4)
    er = make(DEFAULT_METHOD, rmodel, layer=DEFAULT_LAYER).explain(crops[idx], target)
    rho = spearman(heat_of(e.maps), heat_of(er.maps))
    print(f"randomization Spearman mean {rho.mean():.3f} max {rho.max():.3f}")
    assert rho.mean() < RANDOMIZATION_BOUND
    # the original model is untouched
    again = make(DEFAULT_METHOD, model, layer=DEFAULT_LAYER).explain(crops[idx], target)
    np.testing.assert_allclose(again.maps, e.maps, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("occlusion", {"stride": 16}),
        ("smoothgrad", {"num_samples": 4}),
        ("integrated-gradients", {"steps": 8}),
    ],
)
def test_heavy_methods_on_two_faces(crops, model, centroids, method, options):
    e = make(method, model, **options).explain(crops[:2], Centroid(reference=centroids[:2]))
    assert e.maps.shape == (2, 160, 160) and np.all(np.isfinite(e.maps))
    assert np.all(e.maps.reshape(2, -1).std(axis=1) > 0)


def test_occlusion_masks_cover_every_pixel():
    masks = patch_masks(160, 32, 8)
    assert masks.shape == (17 * 17, 160, 160)
    assert masks.sum(axis=0).min() >= 1 and np.all(masks.sum(axis=(1, 2)) == 32 * 32)


def test_blocks_list_sizes(model):
    bl = {b.name: b for b in blocks(model)}
    assert (bl[REFERENCE_LAYER].height, bl[REFERENCE_LAYER].width) == (3, 3)
    assert bl["Block35_5_Activation"].height == 17 and DEFAULT_LAYER in bl
    with pytest.raises(ValueError, match="not in the model"):
        make("gradcam", model, layer="nope")


def test_overlay_is_pure():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (160, 160, 3), dtype=np.uint8)
    heat = rng.random((40, 40))
    keep = img.copy()
    out = overlay(img, heat, opacity=0.4)
    assert out.shape == img.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(img, keep)
    np.testing.assert_array_equal(overlay(img, heat, opacity=0.0), img)
    with pytest.raises(ValueError, match="opacity"):
        overlay(img, heat, opacity=2)


def test_figures_build():
    from facedash.figures import attention as figs

    assert len(figs.region_figure([0.4, 0.3, 0.1, 0.2], [0.1, 0.05, 0.05, 0.8]).data) == 2
    f = figs.deletion_figure(np.linspace(0, 1, 6), np.linspace(1, 0, 6), np.ones(6), 0.5, 0.9)
    assert "0.500" in f.data[0].name
    assert len(figs.average_maps_figure(["a", "b"], np.zeros((2, 8, 8)), [3, 4]).data) == 2
    assert len(figs.average_regions_figure(["a"], np.array([[0.2, 0.3, 0.1, 0.4]])).data) == 4


# -- the page ------------------------------------------------------------------------------
def test_attention_page_switches_method_and_target(demo):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/attention.py")
    at.run()
    assert not at.exception
    last = at.session_state["attention_last"]
    assert (last["method"], last["layer"], last["target"]) == (
        DEFAULT_METHOD,
        DEFAULT_LAYER,
        "centroid",
    )
    assert any("Deletion AUC" in c.value for c in at.caption)
    np.testing.assert_allclose(np.sum(last["shares"], axis=1), 1.0)

    at.selectbox(key="attention_method").select("gradcam++").run()
    assert not at.exception and at.session_state["attention_last"]["method"] == "gradcam++"

    at.selectbox(key="attention_target").select("reference").run()
    assert not at.exception
    last = at.session_state["attention_last"]
    assert last["target"] == "reference" and len(last["faces"]) == 2
    e = demo.embeddings[last["faces"]]
    expected = float(e[0] @ e[1] / np.linalg.norm(e[0]) / np.linalg.norm(e[1]))
    # the maps' scores are TensorFlow fp32's, the set's embeddings the default backend's (bf16
    # where the race picks it: each vector within cosine 0.9997 of fp32's, a score within ~0.01)
    np.testing.assert_allclose(last["scores"], [expected, expected], atol=1e-2)

    at.selectbox(key="attention_second").select(last["faces"][0]).run()
    assert not at.exception
    assert any("own embedding" in w.value for w in at.warning)

    at.selectbox(key="attention_second").select(5).run()
    at.button(key="attention_reference").click().run()
    last = at.session_state["attention_last"]
    assert (last["method"], last["layer"], last["target"]) == (
        "gradcam",
        REFERENCE_LAYER,
        "top-channel",
    )

    at.button(key="attention_randomize").click().run()
    assert not at.exception
    assert len(at.session_state["attention_random_result"][1]) == 1

    at.selectbox(key="attention_target").select("centroid").run()
    at.selectbox(key="attention_method").select(DEFAULT_METHOD).run()
    at.selectbox(key="attention_layer").select(DEFAULT_LAYER).run()
    at.button(key="attention_set_run").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["group"])[0] == "All faces" and len(table) == 1 + len(set(demo.people))
    np.testing.assert_allclose(
        table[["eyes", "nose", "mouth", "other"]].sum(axis=1), 1.0, atol=2e-3
    )


# -- the command line ----------------------------------------------------------------------
def test_cli_explain_json_png_and_npy(demo_dataset, tmp_path, capsys):
    import json

    from PIL import Image

    from facedash.cli import main

    photo = demo_dataset.items[0].path
    png = tmp_path / "map.png"
    assert main(["explain", str(photo), "--out", str(png), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {
        "method",
        "layer",
        "target",
        "score",
        "face_box",
        "regions",
        "deletion_auc",
        "random_deletion_auc",
    }
    assert (out["method"], out["layer"], out["target"]) == (
        "gradcam",
        REFERENCE_LAYER,
        "top-channel",
    )
    assert set(out["regions"]) == {"eyes", "nose", "mouth", "other"}
    assert abs(sum(out["regions"].values()) - 1) < 1e-3
    w, h = Image.open(photo).size
    assert Image.open(png).size == (w, h)

    npy = tmp_path / "map.npy"
    ref = demo_dataset.items[1].path
    args = [
        "explain",
        str(photo),
        "--reference",
        str(ref),
        "--method",
        "hirescam",
        "--out",
        str(npy),
        "--json",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["target"] == "reference" and -1 <= out["score"] <= 1
    raw = np.load(npy)
    assert raw.shape == (h, w) and np.isfinite(raw).all() and raw.max() > 0

    assert (
        main(
            [
                "explain",
                str(photo),
                "--reference",
                str(photo),
                "--target",
                "reference",
                "--out",
                str(npy),
            ]
        )
        == 2
    )
    assert "own embedding" in capsys.readouterr().err
    assert main(["explain", str(photo), "--out", str(tmp_path / "x.jpg")]) == 2
