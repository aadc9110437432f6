"""Warm before the first click: load and trace what the first pages need, in the background.

Streamlit runs a page's script only when a browser session opens, so without help the
first visitor pays for importing TensorFlow, loading FaceNet, the backend race and
tracing the gradient functions (12.7 s on the Attention page, opened 60 s after the
server started). ``facedash serve`` (and ``make app``, which runs it) starts ``start()``
in the server's process before the server listens; the thread loads, once per process:

- FaceNet on the default backend (``get_embedder``: runs the backend race first when this
  machine has none cached) and embeds a few faces through it;
- the MTCNN detector (``detector``, the process-wide one the app shares) and one detection;
- the TensorFlow FaceNet reference (``get_model``) and one explanation with the Attention
  page's default method and layer (HiResCAM at ``Block35_5_Activation``) and its deletion
  curve: the forward and gradient functions are traced then.

The app's loaders (``facedash.ui.cache``) call ``wait()`` first and then take the same
process-wide objects, so a page opened while the thread runs waits for that load instead
of starting a second one. ``status()`` says where it is: ``idle`` (never started),
``warming``, ``ready`` or ``failed`` with a one-line reason; a failure only means the
pages load what they need on demand, as without a warm-up. ``FACEDASH_WARM=0`` turns it off.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from facedash.faces.detect import Detector, DetectorSettings

MODEL = "facenet"  # what the first pages show
FACES = 4  # faces embedded and explained by the warm-up (enough to trace; little to compute)
ENV = "FACEDASH_WARM"


@dataclass(frozen=True)
class Status:
    """Where the warm-up is: ``state`` is ``idle``, ``warming``, ``ready`` or ``failed``."""

    state: str = "idle"
    reason: str = ""  # one line, when failed
    step: str = ""  # what it is doing now, while warming
    seconds: float | None = None  # how long it took, once done
    steps: dict[str, float] = field(default_factory=dict)  # seconds of each finished step

    @property
    def warming(self) -> bool:
        """True while the thread runs."""
        return self.state == "warming"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "state": self.state,
            "reason": self.reason,
            "step": self.step,
            "seconds": self.seconds,
            "steps": dict(self.steps),
        }


_lock = threading.Lock()
_status = Status()
_done = threading.Event()
_thread: threading.Thread | None = None


def enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether a server should warm up (``FACEDASH_WARM`` is not ``0``/``false``/``no``/``off``)."""
    value = (os.environ if environ is None else environ).get(ENV, "1").strip().lower()
    return value not in {"0", "false", "no", "off"}


def status() -> Status:
    """The warm-up's state now (loads nothing, never blocks)."""
    return _status


def _set(**changes: Any) -> None:
    global _status
    with _lock:
        _status = replace(_status, **changes)


def start(root: Path | None = None, *, log: bool = True) -> bool:
    """Start the warm-up thread (once per process); False when one already started."""
    global _thread, _status
    with _lock:
        if _thread is not None:
            return False
        _status = Status("warming", step="starting")
        _done.clear()
        _thread = threading.Thread(target=_run, args=(root, log), name="facedash-warm", daemon=True)
        _thread.start()
    return True


def wait(timeout: float | None = None) -> Status:
    """Block until a running warm-up has finished (at once when none runs); its status then."""
    if _status.warming and threading.current_thread() is not _thread:
        _done.wait(timeout)
    return _status


def _run(root: Path | None, log: bool) -> None:
    t0 = time.perf_counter()
    try:
        for name, step in (
            ("embedder", _warm_embedder),
            ("detector", _warm_detector),
            ("explanation", _warm_explanation),
        ):
            _set(step=name)
            s0 = time.perf_counter()
            step(root)
            _set(steps={**_status.steps, name: round(time.perf_counter() - s0, 2)})
        _set(state="ready", step="", seconds=round(time.perf_counter() - t0, 2))
    except BaseException as exc:  # noqa: BLE001 - any failure: pages load on demand
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        _set(state="failed", reason=f"{_status.step}: {reason}", step="")
        _set(seconds=round(time.perf_counter() - t0, 2))
    finally:
        _done.set()
        if log:
            _log(_status)


def _log(st: Status) -> None:
    if st.state == "ready":
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in st.steps.items())
        print(f"facedash: warmed up in {st.seconds:.1f} s ({steps})", file=sys.stderr, flush=True)
    else:
        print(
            f"facedash: warm-up failed ({st.reason}); pages load the models when they need them",
            file=sys.stderr,
            flush=True,
        )


def _faces(n: int = FACES) -> np.ndarray:
    """Face-sized uint8 inputs (seeded noise: enough to load and trace; nothing is read)."""
    from facedash.models.cards import MODELS

    size = MODELS[MODEL].input_size
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def default_backend() -> str:
    """The backend the app's sidebar starts on: ``$FACEDASH_BACKEND``, else ``auto``."""
    from facedash.errors import FacedashError
    from facedash.models.backends import requested

    try:
        return requested()[0]
    except FacedashError:
        return "auto"


def _warm_embedder(root: Path | None) -> None:
    from facedash.faces.probe import demo_probe
    from facedash.models.registry import get_embedder

    embedder = get_embedder(
        MODEL, root, backend=default_backend(), precision="auto", probe=demo_probe(root)
    )
    embedder.embed(_faces())


_detectors: dict[DetectorSettings, Detector] = {}
_detector_lock = threading.Lock()


def detector(settings: DetectorSettings | None = None) -> Detector:
    """The process-wide MTCNN ``Detector`` for ``settings`` (default settings: None), built on first use."""
    from facedash.faces.detect import Detector, DetectorSettings

    settings = settings or DetectorSettings()
    with _detector_lock:
        if settings not in _detectors:
            _detectors[settings] = Detector(settings)
        return _detectors[settings]


def _warm_detector(root: Path | None) -> None:
    from facedash.data.datasets import load_demo
    from facedash.data.images import decode

    try:
        photo = decode(load_demo(root).items[0].read())
    except Exception:  # noqa: BLE001 - no demo set: a grey canvas still builds the pyramid
        photo = np.full((320, 320, 3), 128, np.uint8)
    detector().detect([photo])


def _warm_explanation(root: Path | None) -> None:
    from facedash.explain.analysis import analyse
    from facedash.explain.methods import DEFAULT_METHOD, default_layer
    from facedash.explain.targets import TopChannel
    from facedash.models.registry import get_model

    model = get_model(MODEL, root).model  # type: ignore[attr-defined]
    faces = _faces()
    size = faces.shape[1]
    eyes_nose_mouth = np.array([[0.35, 0.4], [0.65, 0.4], [0.5, 0.55], [0.38, 0.72], [0.62, 0.72]])
    landmarks = np.repeat((eyes_nose_mouth * size)[None], len(faces), axis=0)
    analyse(
        model,
        faces,
        landmarks,
        method=DEFAULT_METHOD,
        layer=default_layer(model),
        target=TopChannel(),
    )


def reset() -> None:
    """Forget the warm-up (tests): ``idle`` again; the loaded objects stay in their caches."""
    global _thread, _status
    with _lock:
        _thread, _status = None, Status()
        _done.set()


def run_now(root: Path | None = None) -> Status:
    """Warm up in this thread (``facedash doctor``-style callers and tests); the status after."""
    start(root, log=False)
    return wait()
