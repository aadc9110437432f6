"""The Live page's parts: the webcam stream (streamlit-webrtc), the pickers, the readings.

The browser sends its camera to this server over WebRTC; each frame goes to this
session's ``LiveProcessor`` (``facedash.explain.live``), which hands back the overlay
of the latest frame it processed. No STUN/TURN server is contacted unless
``FACEDASH_ICE_SERVERS`` names some (JSON, RTCIceServer dicts): a browser on this
computer or on the same network reaches the server directly.

Privacy: frames stay in memory. The processor keeps the frame waiting and the
latest overlay only, drops both when the stream ends, and nothing from the stream
goes into a cache, the store or the disk. The method rates are measured once per
server on a face of the set, not on the stream.
"""

from __future__ import annotations

import json
import os
import weakref
from typing import Any

import numpy as np
import streamlit as st

from facedash.errors import FacedashError
from facedash.explain.live import (
    CAM_METHODS,
    LIVE_DETECTOR,
    TARGET_FPS,
    Labels,
    LiveProcessor,
    LiveSettings,
    People,
    measure,
)
from facedash.explain.live_worker import LiveWorker
from facedash.explain.methods import DEFAULT_LAYER, blocks
from facedash.i18n import N_, _
from facedash.models.cards import spec
from facedash.ui import attention as UA
from facedash.ui import cache, lang
from facedash.ui import verification as UV
from facedash.ui.keys import set_key

ICE_ENV = "FACEDASH_ICE_SERVERS"
WORKER_ENV = "FACEDASH_LIVE_WORKER"  # "thread", or a worker process's TensorFlow threads
_PROCESSORS: weakref.WeakSet[LiveProcessor] = weakref.WeakSet()  # every session's, this process
PROCESSOR = "live_processor"  # session_state: (set key, LiveProcessor)
WORKER_THREADS = 1  # the worker process's TensorFlow threads: measured best (docs/camera.md)
FRAME_RATE = 15  # frames/s asked of the camera: above the target, and half the codec work of 30
HOWTO = N_(
    r"""
**What is computed for each frame.** Your browser sends the camera to this server
(WebRTC, 640×480 at up to 15 frames/s). The server takes the newest frame, finds the
largest face with MTCNN (on the frame scaled to 320 px, so a face about 80 px wide or more
is found; every processed frame is searched again, no tracking), aligns it like the set's
faces, and runs one gradient pass of FaceNet on it: that pass gives the embedding
$e = f(x)$, $\lVert e \rVert = 1$, and the map. Frames that arrive meanwhile are dropped
(the newest one waits), so the delay stays bounded.

**The score and the map.** Against the chosen person $p$ with faces $e_1 \dots e_n$ in the
set, the score is the mean cosine similarity $s = \frac{1}{n}\sum_i e \cdot e_i = e \cdot \bar e_p$,
on the scale of the Verification page's pair scores: ACCEPT when $s \ge t$. Grad-CAM
explains that score: with $A^k$ the chosen layer's feature maps and $g^k = \partial s / \partial A^k$,
the map is $\sum_k \alpha_k A^k$, $\alpha_k = \frac{1}{Z}\sum_{ij} g^k_{ij}$ (tf-explain's
version: only $g > 0$ where $A > 0$). The nearest person is the one whose mean embedding
is most cosine-similar to $e$.

**How to read the overlay.** The heat map (red = most) is drawn where the aligned crop
came from; the box is green for ACCEPT and red for REJECT; the top lines give the nearest
person with its cosine, and the score against the chosen person at the threshold.

**How to read the rates.** A frame counts as *processed* when its face was found, embedded
and explained and its overlay went back to the stream. *Processed frames/s* and the
*delay* (from the frame's arrival at the server to its overlay going back; the way to and
from the browser is not included) are over the last 5 seconds. The method picker offers
the methods whose frame alone takes at most 1/8 s on this server (8 frames/s); the rates
beside them were measured once, on a face of the set.
"""
)
MEMORY_NOTE = N_(
    "Nothing from the stream is stored: frames stay in this server's memory while they are "
    "processed (the newest frame and overlay only), and the stream stops when you leave the page."
)
ALLOW_HELP = N_(
    "No picture, or 'access denied'? Allow the camera for this site in your browser (the camera "
    "icon in the address bar, or the site's settings), then reload the page and press Start. "
    "From another computer, open the app over https (facedash serve --https): browsers give the "
    "camera to https pages and to this computer's own address only."
)


def ice_servers() -> tuple[list[dict[str, Any]], str]:
    """The ICE servers from ``FACEDASH_ICE_SERVERS`` (none by default), and an error ('' if fine)."""
    raw = os.environ.get(ICE_ENV, "").strip()
    if not raw:
        return [], ""
    try:
        servers = json.loads(raw)
    except json.JSONDecodeError as exc:
        return [], f"{ICE_ENV}: {exc}"
    if isinstance(servers, dict):
        servers = [servers]
    if not isinstance(servers, list) or not all(
        isinstance(s, dict) and "urls" in s for s in servers
    ):
        return [], f"{ICE_ENV}: a JSON list of objects with 'urls' is expected"
    return servers, ""


def worker_threads() -> int:
    """The worker process's TensorFlow threads (``FACEDASH_LIVE_WORKER``), 0 for a thread."""
    raw = os.environ.get(WORKER_ENV, "").strip().lower()
    if raw == "thread":
        return 0
    return int(raw) if raw.isdigit() and int(raw) > 0 else WORKER_THREADS


def threshold_for(result: Any) -> tuple[float, str]:
    """The decision threshold and where it comes from, in this run's language.

    The Verification page's live threshold when it was set on this set with cosine
    similarity; else the set's EER threshold (cosine, its pairs); else the model's
    published default.
    """
    ss = st.session_state
    ctx = ss.get(UV.THRESHOLD + "_ctx")
    key = set_key(result)
    if ctx and ctx[0] == key and ctx[1] == "cosine" and UV.THRESHOLD in ss:
        return float(ss[UV.THRESHOLD]), _("the Verification page's threshold")
    try:
        pairs, _scores, sw, _hist = UV.analysis(key, "cosine", UV.ALL, 200_000, 0, "", result, None)
        if pairs.genuine and pairs.impostor:
            return float(sw.eer()[1]), _("the EER threshold on this set, with cosine similarity")
    except (FacedashError, ValueError):
        pass
    default = spec(result.model_id).default_thresholds.get("cosine", 0.6)
    return float(default), _("the model's published default")


def labels() -> Labels:
    """The overlay's texts in this run's language."""
    return Labels(
        nearest=_("nearest: {name} ({cos:.2f})"),
        score=_("vs {person}: {score:.3f} at {t:.3f}"),
        accept=_("ACCEPT"),
        reject=_("REJECT"),
        no_face=_("No face found: face the camera, come closer, light your face"),
        failed=_("Not explained: {why}"),
    )


def calibration_frame(result: Any) -> np.ndarray:
    """A 640 x 480 frame with a face of the set in it (its thumbnail, enlarged), for timing."""
    import io

    from PIL import Image

    frame = Image.new("RGB", (640, 480), (96, 104, 112))
    thumb = next((t for t in result.thumbs if t), None)
    if thumb is not None:
        face = Image.open(io.BytesIO(thumb)).convert("RGB").resize((260, 260))
        frame.paste(face, (190, 110))
    return np.asarray(frame)


@st.cache_resource(show_spinner=False, max_entries=8)
def _rates(model_id: str, layer: str, _proc: LiveProcessor, _frame: np.ndarray) -> dict[str, float]:
    """Processed frames/s of each CAM method at ``layer`` on one frame (once per server)."""
    return measure(_proc, _frame, CAM_METHODS)


def rates(model_id: str, layer: str, proc: LiveProcessor, result: Any) -> dict[str, float]:
    """``_rates`` behind a spinner in the session's language."""
    with st.spinner(_("Timing the methods on a face of the set (once per server and layer) ...")):
        return _rates(model_id, layer, proc, calibration_frame(result))


def keep_keras_state() -> None:
    """While a stream plays anywhere on this server, Streamlit's end-of-run cleanup skips Keras.

    After every script run (a fragment's timed rerun too) Streamlit calls
    ``keras.backend.clear_session()``, which clears TensorFlow's kernel cache and runs a
    full garbage collection. The stream's worker then re-instantiates its compiled
    functions on its next frame: measured here, a frame's work grew from about 0.1 s to
    2-7 s with the readings redrawn every second. Runs with no stream playing are
    cleaned up as before. (``_clean_problem_modules`` is Streamlit's private hook: if
    it is gone, nothing is changed.)
    """
    from streamlit.runtime.scriptrunner import script_runner

    original = getattr(script_runner, "_clean_problem_modules", None)
    if original is None or getattr(original, "facedash_live", False):
        return

    def clean() -> None:
        if not any(p.streaming for p in list(_PROCESSORS)):
            original()

    clean.facedash_live = True  # type: ignore[attr-defined]
    script_runner._clean_problem_modules = clean


def processor(result: Any, settings: LiveSettings) -> LiveProcessor:
    """The session's processor for the current set (a new one when the set changes)."""
    import av

    key = set_key(result)
    held = st.session_state.get(PROCESSOR)
    if held is not None and held[0] == key:
        proc: LiveProcessor = held[1]
        proc.configure(settings)
    else:
        if held is not None:
            held[1].close()
        people = People.of(result.embeddings, result.people)
        threads = worker_threads()
        proc = LiveProcessor(
            None if threads else cache.detector(LIVE_DETECTOR),
            UA.gradient_model(result.model_id),
            people,
            settings,
            decode=lambda frame: frame.to_ndarray(format="rgb24"),
            # once per overlay, in the encoder's format: the overlay is sent with every
            # incoming frame until the next one, and each send would convert it again
            encode=lambda image: av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
                format="yuv420p"
            ),
            worker=LiveWorker(result.model_id, people, threads=threads) if threads else None,
        )
        st.session_state[PROCESSOR] = (key, proc)
        _PROCESSORS.add(proc)
    keep_keras_state()
    proc.labels = labels()
    return proc


def layer_picker(model_id: str, where: Any) -> str | None:
    """The layer the CAM methods explain at (the Attention page's choice to begin with).

    None, with a note, when the model has no network blocks to differentiate (not FaceNet).
    """
    try:
        layer_list = blocks(UA.gradient_model(model_id))
    except AttributeError:
        layer_list = []
    if not layer_list:
        st.info(_("The Live page explains with gradients: it needs FaceNet's Keras model."))
        return None
    names = [b.name for b in layer_list]
    if st.session_state.get("live_layer") not in names:
        chosen = st.session_state.get("attention_layer")
        st.session_state["live_layer"] = chosen if chosen in names else DEFAULT_LAYER
    return where.selectbox(
        _("Layer"),
        names,
        format_func=lambda nm: layer_list[names.index(nm)].label,
        key="live_layer",
        help=_("The network's blocks, input to output, with their output size."),
    )


def offered(measured: dict[str, float]) -> list[str]:
    """The methods that keep up (at least ``TARGET_FPS`` alone); the fastest one if none does."""
    fast = [m for m, r in measured.items() if r >= TARGET_FPS]
    return fast or [max(measured, key=lambda m: measured[m])]


def method_picker(measured: dict[str, float]) -> str:
    """The method, among those that keep up; Grad-CAM first when it does, else the fastest."""
    methods = offered(measured)
    if st.session_state.get("live_method") not in methods:
        st.session_state["live_method"] = "gradcam" if "gradcam" in methods else methods[0]
    return st.selectbox(
        _("Method"),
        methods,
        format_func=lambda m: _("{method} · {rate:.1f} frames/s").format(
            method=UA.method_label(m), rate=measured[m]
        ),
        key="live_method",
        help=_("Only the methods whose frame alone takes at most 1/8 s on this server."),
    )


def rates_note(measured: dict[str, float], method: str) -> str:
    """What was measured: the chosen method's rate, Grad-CAM's beside it, the ones left out."""
    shown = _("{method}: {rate:.1f} frames/s").format
    parts = [shown(method=UA.method_label(method), rate=measured[method])]
    if method != "gradcam":
        parts.append(
            _("Grad-CAM: {rate:.1f} frames/s, below the target of {target:g}").format(
                rate=measured["gradcam"], target=TARGET_FPS
            )
        )
    slow = [m for m in measured if m not in offered(measured)]
    if slow:
        parts.append(
            _("not offered (below {target:g} frames/s): {methods}").format(
                target=TARGET_FPS,
                methods=", ".join(shown(method=UA.method_label(m), rate=measured[m]) for m in slow),
            )
        )
    parts.append(
        _(
            "occlusion, SmoothGrad, Integrated Gradients and tf-explain's Grad-CAM run many "
            "passes per face and are not offered"
        )
    )
    return _("Measured on this server, one face alone, without the stream: {parts}.").format(
        parts=_("; ").join(parts)
    )


def translations() -> Any:
    """The stream widget's buttons and messages in this run's language."""
    return {
        "start": _("Start"),
        "stop": _("Stop"),
        "select_device": _("Select device"),
        "media_api_not_available": _("This browser gives no camera to this page"),
        "device_ask_permission": _("Please allow the app to use the camera"),
        "device_not_available": _("No camera found"),
        "device_access_denied": _("Access denied"),
    }


def webrtc() -> Any:
    """``streamlit_webrtc``, imported so that it works after TensorFlow was loaded.

    TensorFlow loads its library with ``RTLD_GLOBAL``, and it carries BoringSSL; the
    OpenSSL inside pylibsrtp's binding (aiortc's SRTP) then resolves its own calls to
    BoringSSL's functions and crashes the process on ``srtp_init``. Loaded with
    ``RTLD_DEEPBIND`` (Linux), the binding uses its own symbols first.
    """
    import sys

    if "pylibsrtp" not in sys.modules:
        flags = sys.getdlopenflags()
        sys.setdlopenflags(flags | getattr(os, "RTLD_DEEPBIND", 0))
        try:
            import pylibsrtp  # noqa: F401
        finally:
            sys.setdlopenflags(flags)
    import streamlit_webrtc

    return streamlit_webrtc


def stream(proc: LiveProcessor) -> Any:
    """The WebRTC widget: camera frames to ``proc``, its overlays back; its context, or None.

    None (with a note) where there is no browser session to stream from (``AppTest``).
    """
    rtc = webrtc()
    try:
        from streamlit_webrtc.session_info import get_this_session_info

        get_this_session_info()
    except Exception:  # AppTest's runtime is a mock without a session manager
        st.info(_("The camera stream needs a browser: open this page in one."))
        return None

    def callback(frame: Any) -> Any:
        proc.submit(frame)
        out = proc.latest()
        return frame if out is None else out

    servers, error = ice_servers()
    if error:
        st.error(
            _("The ICE servers setting is not valid, so none is used ({why}).").format(why=error)
        )
    return rtc.webrtc_streamer(
        key="live_stream",
        mode=rtc.WebRtcMode.SENDRECV,
        rtc_configuration={"iceServers": servers},
        media_stream_constraints={
            "video": {"width": 640, "height": 480, "frameRate": {"ideal": FRAME_RATE}},
            "audio": False,
        },
        video_frame_callback=callback,
        on_video_ended=proc.clear,
        async_processing=False,
        translations=translations(),
    )


def readings(proc: LiveProcessor, person: str, threshold: float, playing: bool) -> None:
    """The rates and the latest frame's findings, redrawn every second while the stream plays."""

    @st.fragment(run_every=1.0 if playing else None)
    def draw() -> None:
        lang.start()  # a timed rerun runs alone in a new script thread: settle the language
        s = proc.stats()
        m = st.columns(2)
        m[0].metric(_("Processed frames/s"), f"{s.fps:.1f}", help=_("Over the last 5 seconds."))
        m[1].metric(_("Delay"), _("{ms} ms").format(ms=f"{s.delay_ms:.0f}"))
        last = s.last
        if last is not None and last.explained:
            st.metric(
                _("Nearest person"),
                last.nearest,
                help=_("cosine similarity to their mean embedding: {cos}").format(
                    cos=f"{last.nearest_cos:.3f}"
                ),
            )
            r = st.columns(2)
            r[0].metric(_("Score against {person}").format(person=person), f"{last.score:.3f}")
            r[1].metric(
                _("Decision at {t}").format(t=f"{threshold:.4f}"),
                _("ACCEPT") if last.accepted else _("REJECT"),
            )
        elif last is not None:
            st.warning(_("No face in the latest frame: it does not count as processed."))
        elif playing:
            st.info(_("Waiting for the first frames ..."))
        st.caption(
            _(
                "Since the stream started: {received} frames received, {processed} processed in "
                "{seconds} s (mean delay {mean} ms, work {work} ms a frame), {dropped} dropped "
                "while busy, {no_face} without a face. Threshold {t}."
            ).format(
                received=s.received,
                processed=s.processed,
                seconds=f"{s.seconds:.1f}",
                mean=f"{s.mean_delay_ms:.0f}",
                work=f"{s.work_ms:.0f}",
                dropped=s.dropped,
                no_face=s.no_face,
                t=f"{threshold:.4f}",
            )
        )

    draw()
