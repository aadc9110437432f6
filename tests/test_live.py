"""The live attention mirror: one frame's overlay, latest frame wins, the counters, the page."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tests.test_browser_camera as camera
from facedash.explain.live import (
    CAM_METHODS,
    LIVE_DETECTOR,
    FrameResult,
    LiveProcessor,
    LiveSettings,
    People,
    measure,
)
from facedash.faces.types import Face

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def detector():
    from facedash.faces.detect import Detector

    return Detector(LIVE_DETECTOR)


@pytest.fixture(scope="module")
def people(demo):
    return People.of(demo.embeddings, demo.people)


@pytest.fixture(scope="module")
def frame(demo_dataset) -> np.ndarray:
    return np.asarray(camera.demo_frame(demo_dataset))


@pytest.fixture(scope="module")
def person(demo_dataset) -> str:
    return demo_dataset.items[camera.PHOTO].person


def _processor(detector, facenet, people, person, **kw) -> LiveProcessor:
    return LiveProcessor(detector, facenet.model, people, LiveSettings(person, 0.5), **kw)


def test_a_demo_face_gets_its_overlay_and_its_person(detector, facenet, people, frame, person):
    proc = _processor(detector, facenet, people, person)
    r = proc.process(frame)
    assert r.explained and r.note == ""
    assert r.nearest == person and r.nearest_cos > 0.7
    assert r.accepted and r.score >= 0.5  # against its own person
    assert set(r.seconds) == {"detect", "align", "explain", "draw"}
    assert r.image.shape == frame.shape and r.image.dtype == np.uint8
    x, y, w, h = (int(v) for v in r.face.box)
    face_diff = np.abs(r.image[y : y + h, x : x + w].astype(int) - frame[y : y + h, x : x + w])
    assert face_diff.mean() > 10  # the heat map is blended on the face
    assert r.image[:20].mean() < frame[:20].mean() * 0.6  # the dark strip with the texts
    assert np.array_equal(r.image[-5:, -5:], frame[-5:, -5:])  # away from the face: the frame


def test_another_person_is_rejected_and_the_score_is_the_mean_pair_similarity(
    detector, facenet, people, frame, person, demo
):
    other = next(p for p in people.names if p != person)
    proc = LiveProcessor(detector, facenet.model, people, LiveSettings(other, 0.5))
    r = proc.process(frame)
    assert r.nearest == person and not r.accepted and r.score < 0.5
    theirs = demo.embeddings[np.asarray(demo.people) == other]
    pair_scores = theirs @ (r.embedding / np.linalg.norm(r.embedding))
    assert r.score == pytest.approx(float(pair_scores.mean()), abs=1e-4)


def test_a_frame_without_a_face_says_so_and_does_not_count(detector, facenet, people, person):
    proc = _processor(detector, facenet, people, person)
    grey = np.full((480, 640, 3), 110, np.uint8)
    r = proc.process(grey)
    assert not r.explained and r.note == "no-face" and r.face is None
    assert r.image[:20].mean() < 110  # the message's strip
    for _ in range(3):
        proc.submit(grey)
        time.sleep(0.3)
        proc.latest()
    s = proc.stats()
    assert s.processed == 0 and s.no_face >= 1 and s.fps == 0.0
    assert s.last is not None and s.last.note == "no-face"
    proc.close()


class _Slow(LiveProcessor):
    """The real processor's threading and counters around a fake 80 ms frame."""

    work = 0.08

    def process(self, image, arrived=None, settings=None, explainer=None):  # type: ignore[override]
        time.sleep(self.work)
        face = Face((0.0, 0.0, 1.0, 1.0), np.zeros((5, 2)), 1.0)
        return FrameResult(np.asarray(image), arrived, face, seconds={"explain": self.work})


def test_latest_frame_wins_under_load(facenet, people, person):
    proc = _Slow(None, facenet.model, people, LiveSettings(person, 0.5))
    handed = []
    for i in range(60):  # 100 frames/s offered, about 12/s can be processed
        proc.submit(np.full((4, 4, 3), i, np.uint8))
        out = proc.latest()
        if out is not None:
            handed.append(int(out[0, 0, 0]))
        time.sleep(0.01)
    time.sleep(0.3)
    handed.append(int(proc.latest()[0, 0, 0]))
    s = proc.stats()
    assert s.received == 60
    assert s.dropped >= 30  # most frames were replaced while one was processed
    assert s.processed <= 60 - s.dropped
    assert handed[-1] == 59  # the last frame offered is the last one shown
    assert handed == sorted(handed)  # never an older frame after a newer one
    assert s.processed == len(set(handed))
    proc.close()


def test_counters_are_sane(facenet, people, person):
    proc = _Slow(None, facenet.model, people, LiveSettings(person, 0.5))
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 1.5:
        proc.submit(np.zeros((4, 4, 3), np.uint8))
        proc.latest()
        time.sleep(1 / 30)
    s = proc.stats()
    assert 6 <= s.fps <= 1 / proc.work + 1  # bounded by the work per frame
    assert proc.work * 1000 <= s.delay_ms < 4 * proc.work * 1000  # the delay stays bounded
    assert s.work_ms == pytest.approx(proc.work * 1000)
    assert s.mean_delay_ms > 0 and 1.3 < s.seconds < 2.0
    assert s.received > s.processed > 0
    proc.close()
    assert proc.latest() is None and proc.stats().last is None  # close drops the frames


def test_nothing_from_the_stream_is_written(detector, facenet, people, frame, person, tmp_path):
    from facedash import paths

    def snapshot():
        return {str(p): p.stat().st_mtime_ns for p in paths.home().rglob("*") if p.is_file()}

    before = snapshot()
    proc = _processor(detector, facenet, people, person)
    for _ in range(5):
        proc.submit(frame)
        time.sleep(0.2)
        proc.latest()
    proc.close()
    assert snapshot() == before


def test_measure_times_the_cam_methods(detector, facenet, people, frame, person):
    proc = _processor(detector, facenet, people, person)
    rates = measure(proc, frame, CAM_METHODS[:2], repeats=2)
    assert set(rates) == set(CAM_METHODS[:2]) and all(r > 0.5 for r in rates.values())


def test_the_ice_servers_setting(monkeypatch):
    from facedash.ui import live as UL

    monkeypatch.delenv(UL.ICE_ENV, raising=False)
    assert UL.ice_servers() == ([], "")  # no STUN/TURN server by default
    monkeypatch.setenv(UL.ICE_ENV, '[{"urls": ["stun:stun.example.org:3478"]}]')
    assert UL.ice_servers() == ([{"urls": ["stun:stun.example.org:3478"]}], "")
    monkeypatch.setenv(UL.ICE_ENV, '{"urls": "turn:t.example.org", "username": "u"}')
    assert UL.ice_servers()[0] == [{"urls": "turn:t.example.org", "username": "u"}]
    monkeypatch.setenv(UL.ICE_ENV, "not json")
    servers, error = UL.ice_servers()
    assert servers == [] and UL.ICE_ENV in error
    monkeypatch.setenv(UL.ICE_ENV, '[{"url": "stun:x"}]')
    assert UL.ice_servers()[0] == [] and "urls" in UL.ice_servers()[1]


def test_keras_cleanup_is_skipped_only_while_a_stream_plays(monkeypatch):
    from streamlit.runtime.scriptrunner import script_runner

    from facedash.ui import live as UL

    calls = []
    monkeypatch.setattr(script_runner, "_clean_problem_modules", lambda: calls.append(1))
    UL.keep_keras_state()
    UL.keep_keras_state()  # once only

    class Fake:
        streaming = False

    fake = Fake()
    monkeypatch.setattr(UL, "_PROCESSORS", {fake})
    script_runner._clean_problem_modules()
    fake.streaming = True
    script_runner._clean_problem_modules()
    assert calls == [1]


def test_webrtc_loads_after_tensorflow():
    """TensorFlow first (RTLD_GLOBAL BoringSSL), then aiortc's SRTP: no crash, a round trip works."""
    code = (
        "import tensorflow\n"
        "from facedash.ui.live import webrtc\n"
        "webrtc()\n"
        "from pylibsrtp import Policy, Session\n"
        "key = bytes(range(30))\n"
        "tx = Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))\n"
        "rx = Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))\n"
        "rtp = bytes.fromhex('8000000100000000000000aa') + b'payload' * 4\n"
        "assert rx.unprotect(tx.protect(rtp)) == rtp\n"
        "print('ok')\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_the_live_page_renders(demo):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/live.py")
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Live"
    assert "How to read this" in [e.label for e in at.expander]
    people = at.selectbox(key="live_person")
    assert people.options == sorted(set(demo.people.tolist()))
    assert at.selectbox(key="live_layer").value == "Block35_5_Activation"
    method = at.selectbox(key="live_method")
    assert method.options and all("frames/s" in o for o in method.options)
    captions = " ".join(c.value for c in at.caption)
    assert "Decision threshold" in captions and "EER threshold on this set" in captions
    assert "Measured on this server" in captions and "Grad-CAM" in captions
    assert "Nothing from the stream is stored" in captions
    assert any("needs a browser" in i.value for i in at.info)  # no WebRTC session in AppTest
    labels = [m.label for m in at.metric]
    assert "Processed frames/s" in labels and "Delay" in labels


def test_a_published_default_when_the_set_has_no_pairs(monkeypatch):
    """The threshold's last fallback: the model's published cosine threshold."""
    from facedash.ui import live as UL

    class Set:
        model_id = "facenet"

    monkeypatch.setattr(UL, "set_key", lambda result: "k")
    monkeypatch.setattr(UL.UV, "analysis", lambda *a: (_ for _ in ()).throw(ValueError("none")))
    monkeypatch.setattr(UL.st, "session_state", {})
    t, source = UL.threshold_for(Set())
    assert t == pytest.approx(0.60) and "published default" in source


def test_the_verification_threshold_wins_when_set_on_this_set(monkeypatch):
    from facedash.ui import live as UL

    monkeypatch.setattr(UL, "set_key", lambda result: "k")
    monkeypatch.setattr(
        UL.st,
        "session_state",
        {UL.UV.THRESHOLD: 0.4242, UL.UV.THRESHOLD + "_ctx": ("k", "cosine", ())},
    )
    t, source = UL.threshold_for(object())
    assert t == pytest.approx(0.4242) and "Verification page" in source
    monkeypatch.setattr(
        UL.st,
        "session_state",
        {UL.UV.THRESHOLD: 0.9, UL.UV.THRESHOLD + "_ctx": ("k", "euclidean", ())},
    )
    monkeypatch.setattr(UL.UV, "analysis", lambda *a: (_ for _ in ()).throw(ValueError("none")))

    class Set:
        model_id = "facenet"

    assert UL.threshold_for(Set())[0] == pytest.approx(0.60)  # a Euclidean threshold is not used


def test_the_calibration_frame_holds_a_face_of_the_set(demo, detector):
    from facedash.ui.live import calibration_frame

    f = calibration_frame(demo)
    assert f.shape == (480, 640, 3)
    assert detector.detect([f])[0]  # the timing frame has a face to explain


def test_a_clip_of_the_demo_face_is_what_the_browser_test_streams(demo_dataset, tmp_path):
    clip = camera.write_y4m(camera.demo_frame(demo_dataset), tmp_path / "f.y4m", frames=1)
    assert clip.stat().st_size > 640 * 480
    assert Image.open(demo_dataset.items[camera.PHOTO].path)  # the photo the clip shows


def test_a_stopped_worker_restarts_with_the_next_frame(facenet, people, person, monkeypatch):
    from facedash.explain import live

    monkeypatch.setattr(live, "IDLE_S", 0.2)
    proc = _Slow(None, facenet.model, people, LiveSettings(person, 0.5))
    proc.submit(np.zeros((4, 4, 3), np.uint8))
    time.sleep(0.6)
    assert not proc.streaming and proc.latest() is None  # idle: the frame and overlay dropped
    proc.submit(np.ones((4, 4, 3), np.uint8))
    time.sleep(0.15)
    assert int(proc.latest()[0, 0, 0]) == 1
    proc.close()


def test_the_worker_process_gives_the_threads_overlay_and_ends(
    detector, facenet, people, frame, person
):
    """The page's worker process (its own TensorFlow, frames through shared memory): the same
    face, person, score and decision as in this process; the picker's timing runs there; a
    closed worker ends its process and a later frame starts a new one."""
    from facedash.explain.live_worker import LiveWorker

    here = _processor(detector, facenet, people, person).process(frame)
    worker = LiveWorker("facenet", people, threads=1)
    proc = LiveProcessor(None, facenet.model, people, LiveSettings(person, 0.5), worker=worker)
    try:
        rates = measure(proc, frame, CAM_METHODS[:1], repeats=1)
        assert set(rates) == {"gradcam"} and rates["gradcam"] > 0.5 and worker.alive
        for _ in range(40):  # frames through the stream's side: submit, latest
            proc.submit(frame)
            time.sleep(0.1)
            if proc.latest() is not None and proc.stats().processed >= 2:
                break
        s = proc.stats()
        r = s.last
        assert s.processed >= 2 and r.explained and r.image.shape == frame.shape
        assert r.nearest == here.nearest == person and r.accepted
        assert r.score == pytest.approx(here.score, abs=1e-3)
        assert np.abs(r.image.astype(int) - here.image).mean() < 2  # the same overlay
        assert r.image.base is None or not isinstance(r.image.base, memoryview)  # a copy
        pid = worker._proc.pid
        proc.close()
        assert not worker.alive and not Path(f"/proc/{pid}").exists()
        again = LiveProcessor(None, facenet.model, people, LiveSettings(person, 0.5), worker=worker)
        assert again._run(frame, 0.0, again.settings, None).nearest == person  # restarted
        assert worker._proc.pid != pid
    finally:
        proc.close()
        worker.close()
