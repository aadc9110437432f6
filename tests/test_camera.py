"""A photo of one's own from the camera (or an upload): its face, kept in the session only.

Library tests run the real detector and model on real demo photos, a photo without a
face and a two-face composite; the page tests drive ``st.camera_input`` through AppTest
(which stages one JPEG the way the browser widget sends it) on the Attention, Arithmetic
& search and Verification pages.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from facedash.faces.photo_face import NoFace, pair_score, photo_face

PHOTO = 40  # a demo photo with one frontal face (jerry_seinfeld)


@pytest.fixture(scope="module")
def detector():
    from facedash.faces.detect import Detector, DetectorSettings

    return Detector(DetectorSettings())


def _jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def _index(demo, name: str) -> int:
    return [r.name for r in demo.rows].index(name)


def _cos(a, b) -> float:
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


def camera_frame(demo_dataset, item: int = PHOTO) -> bytes:
    """A demo photo as a webcam would send it: on a 640 x 480 frame, as a new JPEG (not in the set)."""
    photo = Image.open(demo_dataset.items[item].path).convert("RGB")
    frame = Image.new("RGB", (640, 480), (96, 104, 112))
    frame.paste(photo, ((640 - photo.width) // 2, (480 - photo.height) // 2))
    return _jpeg(frame)


def no_face_jpeg() -> bytes:
    """A sky-like gradient with soft noise: an image with no face in it."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(90, 200, 480)[:, None, None] * np.array([0.6, 0.8, 1.0])
    img = np.clip(ramp + rng.normal(0, 6, (480, 640, 3)), 0, 255).astype(np.uint8)
    return _jpeg(Image.fromarray(img))


def _face_image(demo, demo_dataset, item: int, height: int) -> Image.Image:
    """Photo ``item``'s face with a wide margin, scaled so the face box is ``height`` high."""
    it = demo_dataset.items[item]
    x, y, w, h = demo.rows[_index(demo, it.name)].box
    photo = Image.open(it.path).convert("RGB")
    crop = photo.crop((int(x - w * 0.6), int(y - h * 0.6), int(x + w * 1.6), int(y + h * 1.6)))
    scale = height / h
    return crop.resize((int(crop.width * scale), int(crop.height * scale)))


def two_faces_jpeg(demo, demo_dataset, big: int, small: int) -> bytes:
    """Photo ``big``'s face at twice the size of photo ``small``'s, side by side."""
    a = _face_image(demo, demo_dataset, big, 160)
    b = _face_image(demo, demo_dataset, small, 80)
    canvas = Image.new("RGB", (a.width + b.width + 90, a.height + 60), (128, 128, 128))
    canvas.paste(a, (30, 30))
    canvas.paste(b, (a.width + 60, 30 + (a.height - b.height) // 2))
    return _jpeg(canvas)


# -- the library: the same detection, alignment and model as the set's faces ----------------
def test_a_demo_photo_gives_the_sets_own_embedding(demo, demo_dataset, detector, embedder):
    item = demo_dataset.items[PHOTO]
    face = photo_face(item.path.read_bytes(), detector, embedder, "facenet")
    assert face.faces_found == 1 and not face.several
    assert face.crop.shape == (160, 160, 3) and face.crop.dtype == np.uint8
    assert face.landmarks.shape == (5, 2)
    assert np.all((face.landmarks > 0) & (face.landmarks < 160))
    # the set embedded this very photo: the same face, alignment and model give the same vector
    same = demo.embeddings[_index(demo, item.name)]
    assert _cos(face.embedding, same) > 0.999
    others = [i for i, p in enumerate(demo.people) if p != item.person]
    assert max(_cos(face.embedding, demo.embeddings[i]) for i in others) < 0.9


def test_a_photo_without_a_face_says_so(detector, embedder):
    with pytest.raises(NoFace, match="no face found"):
        photo_face(no_face_jpeg(), detector, embedder, "facenet")


def test_two_faces_the_largest_is_used(demo, demo_dataset, detector, embedder):
    big, small = 60, 0
    assert demo_dataset.items[big].person != demo_dataset.items[small].person
    face = photo_face(two_faces_jpeg(demo, demo_dataset, big, small), detector, embedder, "facenet")
    assert face.faces_found == 2 and face.several
    to_big = _cos(face.embedding, demo.embeddings[_index(demo, demo_dataset.items[big].name)])
    to_small = _cos(face.embedding, demo.embeddings[_index(demo, demo_dataset.items[small].name)])
    assert to_big > 0.9 > to_small


def test_pair_score_is_the_verification_score(demo):
    from facedash import verification as V

    pairs = V.sample_pairs(demo.people, 50, seed=0)
    for score in ("cosine", "euclidean"):
        kind = V.SCORES[score]
        want = V.pair_scores(demo, pairs, score)[:5]
        got = [
            pair_score(kind, demo.embeddings[i], demo.embeddings[j])
            for i, j in zip(pairs.i[:5], pairs.j[:5], strict=True)
        ]
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_the_session_holds_one_frame_per_widget(demo_dataset, detector, embedder):
    from facedash.faces.detect import AlignSettings
    from facedash.ui.camera import EXPLAINED, HELD, Photo, forget, held_face

    calls = []

    def get_detector():
        calls.append(1)
        return detector

    held: dict = {}
    args = ("facenet", "b", "p", AlignSettings(), get_detector, lambda: embedder)
    first = Photo("camera", "camera photo", demo_dataset.items[PHOTO].path.read_bytes(), "w")
    a = held_face(held, first, *args)
    assert held_face(held, first, *args) is a and len(calls) == 1  # a rerun detects nothing
    second = Photo("camera", "camera photo", demo_dataset.items[5].path.read_bytes(), "w")
    b = held_face(held, second, *args)
    assert len(calls) == 2 and list(held) == ["w"] and held["w"][1] is b  # replaced, not added
    assert held["w"][0][0] == second.digest != first.digest
    blank = Photo("camera", "camera photo", no_face_jpeg(), "w")
    for _round in range(2):
        with pytest.raises(NoFace):
            held_face(held, blank, *args)
    assert len(calls) == 3 and list(held) == ["w"]  # the failure is held too
    session = {HELD: held, EXPLAINED: (blank.digest, {})}
    forget("w", session)  # the camera was cleared: nothing of the frame is left
    assert session == {HELD: {}}


# -- the pages, through AppTest's camera ----------------------------------------------------
def _page(path: str):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page(path)
    return at.run()


def _texts(at) -> str:
    return "\n".join(
        e.value
        for kind in (at.markdown, at.caption, at.info, at.warning, at.error)
        for e in kind
        if isinstance(e.value, str)
    )


def _stored(data: bytes) -> bool:
    from facedash.data.images import content_hash
    from facedash.data.store import Store
    from facedash.faces.detect import DetectorSettings

    return bool(Store().get_detections([content_hash(data)], DetectorSettings().key()))


def test_attention_explains_a_camera_photo(demo, demo_dataset):
    from facedash.ui import camera as CAM

    item = demo_dataset.items[PHOTO]
    frame = camera_frame(demo_dataset)
    assert not _stored(frame)
    at = _page("pages/attention.py")
    assert not at.exception
    at.radio(key="attention_source").set_value("camera").run()
    assert not at.exception
    assert CAM.MEMORY_NOTE in _texts(at) and CAM.ALLOW_HELP in _texts(at)
    at.button(key="attention_to_upload").click().run()  # the way out when there is no camera
    assert at.radio(key="attention_source").value == "upload" and not at.camera_input
    at.radio(key="attention_source").set_value("camera").run()

    at.camera_input(key="attention_camera").set_value(("image.jpg", frame, "image/jpeg")).run()
    assert not at.exception
    text = _texts(at)
    assert f"camera photo (nearest person: {item.person})" in text and "Deletion AUC" in text
    assert CAM.ALLOW_HELP not in text  # a picture came: no need to say how to allow the camera
    held = at.session_state[CAM.EXPLAINED]
    assert held[0] == CAM.digest(frame) and len(held[1]) == 1
    last = at.session_state["attention_last"]
    assert len(last["scores"]) == 1 and np.isfinite(last["scores"][0])
    assert not _stored(frame)  # nothing of the frame went to the store

    # as the reference of a pair: face 0 of the set explained against the camera photo
    at.selectbox(key="attention_target").select("reference").run()
    at.radio(key="attention_photo_slot").set_value(1).run()
    assert not at.exception
    last = at.session_state["attention_last"]
    face0 = demo.embeddings[last["faces"][0]]
    mine = at.session_state[CAM.HELD]["attention"][1].embedding
    # TensorFlow fp32's scores against the set's default-backend vectors (bf16 where the backend
    # race picks it: each vector within cosine 0.9997 of fp32's, a pair's score within ~0.01)
    np.testing.assert_allclose(last["scores"], [_cos(face0, mine)] * 2, atol=1e-2)
    assert f"camera photo (nearest person: {item.person})" in _texts(at)

    # a frame without a face: said, and the set's faces are explained instead
    blank = no_face_jpeg()
    at.camera_input(key="attention_camera").set_value(("image.jpg", blank, "image/jpeg")).run()
    assert not at.exception
    assert any(CAM.NO_FACE == w.value for w in at.warning)
    assert "nearest person" not in _texts(at) and "Deletion AUC" in _texts(at)
    assert list(at.session_state[CAM.HELD]) == ["attention"]  # the earlier frame is gone

    # two faces: the largest is used, and the page says so
    two = two_faces_jpeg(demo, demo_dataset, 60, 0)
    at.camera_input(key="attention_camera").set_value(("image.jpg", two, "image/jpeg")).run()
    assert not at.exception
    assert any(i.value == "2 faces in this photo: the largest is used." for i in at.info)
    assert "camera photo (nearest person: madonna)" in _texts(at)
    assert not any(_stored(f) for f in (frame, blank, two))
    at.camera_input(key="attention_camera").set_value(None).run()  # cleared: dropped
    assert not at.exception
    assert "attention" not in at.session_state[CAM.HELD]
    assert CAM.EXPLAINED not in at.session_state


def test_search_and_verification_take_a_camera_photo(demo, demo_dataset):
    item = demo_dataset.items[PHOTO]
    frame = camera_frame(demo_dataset)
    at = _page("pages/arithmetic.py")
    at.radio(key="arithmetic_source").set_value("camera").run()
    at.camera_input(key="arithmetic_camera").set_value(("image.jpg", frame, "image/jpeg")).run()
    assert not at.exception
    table = at.dataframe[-1].value  # the search table comes last
    assert table["file"].iloc[0] == item.name and table["cosine similarity"].iloc[0] > 0.9
    assert (table["person"] == item.person).sum() >= 3

    at = _page("pages/verification.py")
    at.radio(key="verification_photo_source").set_value("camera").run()
    at.camera_input(key="verification_photo_camera").set_value(
        ("image.jpg", frame, "image/jpeg")
    ).run()
    assert not at.exception
    threshold = float(at.session_state["verification_threshold"])
    sims = demo.embeddings @ demo.embeddings[_index(demo, item.name)]
    same = np.array([r.person == item.person and r.name != item.name for r in demo.rows])
    mate = int(np.flatnonzero(same)[sims[same].argmax()])  # the photo's closest other face
    other = np.asarray(demo.people) != item.person
    stranger = int(np.flatnonzero(other)[sims[other].argmin()])  # the farthest other person
    for face, decision in ((mate, "same person"), (stranger, "different people")):
        at.selectbox(key="verification_photo_face").set_value(face).run()
        assert not at.exception
        metrics = {m.label: m.value for m in at.metric}
        mine = at.session_state["camera_held"]["verification_photo"][1].embedding
        assert float(metrics["Score"]) == pytest.approx(_cos(mine, demo.embeddings[face]), abs=1e-4)
        assert metrics[f"Decision at {threshold:.4f}"] == decision
        specs = [c.proto.spec for c in at.get("plotly_chart")]
        assert any(f"your photo: {float(metrics['Score']):.4f}" in sp for sp in specs)
    assert not _stored(frame)


def test_the_camera_widgets_in_japanese(demo, demo_dataset):
    from facedash import i18n
    from tests.test_pages_japanese import english_left, japanese_app

    with i18n.using("ja"):
        at = japanese_app("pages/verification.py")
        at.radio(key="verification_photo_source").set_value("camera").run()
        assert not at.exception and not english_left(at)
        assert any("メモリにだけ保持" in c.value for c in at.caption)
        frame = camera_frame(demo_dataset)
        at.camera_input(key="verification_photo_camera").set_value(
            ("image.jpg", frame, "image/jpeg")
        ).run()
        assert not at.exception
        left = english_left(at)
        assert not left, left
        assert any(m.label.startswith("閾値") and m.label.endswith("での判定") for m in at.metric)
