import numpy as np
import pytest

from facedash.faces.detect import (
    AlignSettings,
    DetectorSettings,
    Face,
    align,
    alignment_matrix,
    select,
    transform_points,
)


def _face(box=(50.0, 40.0, 100.0, 120.0), eyes=((80.0, 90.0), (120.0, 70.0))):
    lm = np.array([eyes[0], eyes[1], (100, 100), (85, 130), (115, 130)], dtype=float)
    return Face(box=box, landmarks=lm, confidence=0.99)


def test_alignment_levels_the_eyes_and_keeps_them_in_the_crop():
    face = _face()
    m = alignment_matrix(face, 160, margin=0.1, rotate=True)
    left, right = transform_points(face.landmarks[:2], m)
    assert left[1] == pytest.approx(right[1], abs=1e-9)
    assert left[0] < right[0]
    assert all(0 < v < 160 for v in (*left, *right))


def test_alignment_without_rotation_is_a_crop_and_resize():
    face = _face()
    m = alignment_matrix(face, 160, margin=0.0, rotate=False)
    corners = transform_points(np.array([[50, 40], [150, 160]]), m)
    assert np.allclose(corners, [[0, 0], [160, 160]])


def test_align_output_and_policy():
    img = np.random.default_rng(0).integers(0, 255, (300, 250, 3), dtype=np.uint8)
    crop = align(img, _face(), 160, margin=0.1)
    assert crop.shape == (160, 160, 3) and crop.dtype == np.uint8
    small, big = _face((0, 0, 10, 10)), _face((0, 0, 50, 60))
    assert select([small, big], "largest") == [1]
    assert select([small, big], "all") == [0, 1]
    assert select([], "largest") == []
    with pytest.raises(ValueError, match="policy"):
        select([small], "biggest")  # type: ignore[arg-type]


def test_settings_keys_and_canvases():
    s = DetectorSettings()
    assert (
        s.canvas_for(240, 300) == 320
        and s.canvas_for(500, 700) == 640
        and s.canvas_for(3000, 4000) == 1024
    )
    assert s.key() != DetectorSettings(min_face_size=40).key()
    assert AlignSettings().key(160) != AlignSettings(margin=0.2).key(160)


def test_demo_detection_counts(demo, demo_dataset):
    """Every demo photo is detected; photos with several faces keep the largest."""
    assert demo.images == 118
    assert len(demo.rows) + sum(f.reason == "no face found" for f in demo.failures) == 118
    # The spike (native-size MTCNN, one photo at a time) missed 1 photo (Elton John in sunglasses);
    # on the letterboxed 320-px canvas MTCNN finds that face too.
    assert len(demo.rows) >= 117
    multi = [r for r in demo.rows if r.faces_in_image > 1]
    assert 3 <= len(multi) <= 8
    for row in demo.rows:
        x, y, w, h = row.box
        assert 0 <= x and 0 <= y and x + w <= row.width + 1e-6 and y + h <= row.height + 1e-6
        assert row.confidence > 0.8
        assert np.asarray(row.landmarks).shape == (5, 2)


def test_detection_is_independent_of_the_batch(demo_dataset, demo):
    from facedash.data.images import decode
    from facedash.faces.detect import Detector

    detector = Detector()
    images = [decode(item.read()) for item in demo_dataset.items[:6]]
    together = detector.detect(images)
    alone = [detector.detect([img])[0] for img in images[:3]]
    for a, b in zip(together[:3], alone, strict=True):
        assert len(a) == len(b)
        for fa, fb in zip(a, b, strict=True):
            assert np.allclose(fa.box, fb.box, atol=2.0)  # one canvas pixel of float noise at most


def test_cascade_agrees_with_the_mtcnn_package(demo_dataset):
    """Our batched float32 driver finds the faces mtcnn's own detect_faces finds, in the same places."""
    from mtcnn import MTCNN

    from facedash.data.images import decode
    from facedash.faces.detect import Detector, letterbox

    detector = Detector()
    package = MTCNN(device=detector.device)
    images = [decode(item.read()) for item in demo_dataset.items[::6]]  # 20 photos, 5 people
    canvases = [letterbox(img, 320)[0] for img in images]
    ours = detector._cascade(np.stack(canvases))
    errors = []
    for rows, canvas in zip(ours, canvases, strict=True):
        theirs = package.detect_faces([canvas])[0]
        assert len(rows) == len(theirs)
        rows = rows[np.argsort(-rows[:, 4])]
        for row, face in zip(rows, sorted(theirs, key=lambda f: -f["confidence"]), strict=True):
            x, y, w, h = face["box"]  # whole pixels, clamped to the canvas
            side = max(w, h)
            box = np.array([row[0], row[1], row[2] - row[0], row[3] - row[1]])
            errors.append(np.abs(np.clip(box, 0, 320) - [x, y, w, h]).max() / side)
            assert row[4] == pytest.approx(face["confidence"], abs=0.05)
            eyes = np.array([face["keypoints"]["left_eye"], face["keypoints"]["right_eye"]])
            assert np.abs(np.stack([row[5:7], row[10:12]], axis=1) - eyes).max() <= 0.05 * side
    assert len(errors) >= 20
    assert np.median(errors) < 0.01 and max(errors) < 0.05  # of the face's size


def test_pyramid_and_larger_minimum_face():
    from facedash.faces.cascade import pyramid

    levels = pyramid(320, 20)
    assert levels[0] == (0.6, 192) and levels[-1][1] >= 12 and len(levels) == 9
    assert all(b[1] < a[1] for a, b in zip(levels, levels[1:], strict=False))
    assert len(pyramid(320, 40)) < len(levels) and pyramid(320, 400) == []


def test_min_face_size_above_20_still_finds_the_demo_faces(demo_dataset):
    """mtcnn 1.0 returns nothing for min_face_size > 20; our pyramid stops at PNet's 12-px cell."""
    from facedash.data.images import decode
    from facedash.faces.detect import Detector, DetectorSettings

    images = [decode(item.read()) for item in demo_dataset.items[:8]]
    small = Detector().detect(images)
    large = Detector(DetectorSettings(min_face_size=60)).detect(images)
    checked = 0
    for img, a, b in zip(images, small, large, strict=True):
        to_canvas = DetectorSettings().canvas_for(*img.shape[:2]) / max(img.shape[:2])
        for face in a:
            if max(face.box[2:]) * to_canvas > 90:  # comfortably above 60 canvas pixels
                checked += 1
                assert any(
                    np.abs(np.subtract(face.box, g.box)).max() < 0.1 * face.box[3] for g in b
                )
    assert checked >= 4


@pytest.mark.parametrize("method", ["union", "min"])
def test_batched_nms_is_the_packages_bit_for_bit(method):
    """``cascade.nms`` keeps exactly the rows mtcnn's per-photo ``smart_nms_from_bboxes`` keeps."""
    from mtcnn.utils.bboxes import smart_nms_from_bboxes

    from facedash.faces.cascade import nms

    rng = np.random.default_rng(7)
    for trial in range(40):
        n = int(rng.integers(1, 120))
        xy = rng.uniform(0, 200, (n, 2))
        size = rng.uniform(5, 80, (n, 2))
        photo = rng.integers(0, 6, n).astype(float)
        score = rng.choice([0.7, 0.8, 0.9, 0.95], n) if trial % 2 else rng.uniform(0.6, 1, n)
        extra = rng.normal(size=(n, 3))  # columns after the score travel with their row
        boxes = np.column_stack([photo, xy, xy + size, score, extra])
        for threshold in (0.3, 0.5, 0.7):
            for initial_sort in (True, False):
                ours = nms(boxes.copy(), threshold, method, initial_sort)
                theirs = smart_nms_from_bboxes(
                    boxes.copy(), threshold, method=method, initial_sort=initial_sort
                )
                assert np.array_equal(ours, theirs)
    assert nms(np.empty((0, 6)), 0.5).shape == (0, 6)
    with pytest.raises(ValueError, match="method"):
        nms(boxes, 0.5, "max")
