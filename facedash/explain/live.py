"""A live attention mirror: webcam frames in, overlay frames out, the latest frame wins.

``LiveProcessor`` takes frames from a stream (``submit``, never blocking) and hands
back overlay frames (``latest``). One worker thread processes one frame at a time:
the largest face is found (MTCNN on the frame scaled to ``LIVE_DETECTOR``'s canvas),
aligned like the set's faces, and explained by a CAM method against the chosen
person; that one gradient pass gives the face's embedding too (TensorFlow fp32,
the reference). A frame that arrives while another is being processed replaces
the one waiting, so at most one frame waits and the delay stays bounded.

The overlay is the processed frame itself: the heat map warped back from the
aligned crop onto the face, the face's box, the nearest person of the set, the
score against the chosen person and the decision at the threshold.

Counters: a frame is *processed* when its face was found, embedded and explained
and its overlay was handed back to the stream (the first ``latest`` call that
returns it). ``stats`` gives processed frames/s over a sliding window and the
delay from the frame's arrival (``submit``) to that hand-back.

Nothing from the stream is stored: the processor holds the waiting frame and the
latest result in memory only, and ``close`` drops both.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from facedash.explain.methods import DEFAULT_LAYER, make
from facedash.explain.overlay import colorize
from facedash.explain.targets import Reference, nearest_centroid, person_centroids
from facedash.faces.detect import AlignSettings, DetectorSettings, alignment_matrix, select
from facedash.faces.types import Face

TARGET_FPS = 8.0
WINDOW_S = 5.0  # the sliding window of the rates
IDLE_S = 10.0  # the worker thread ends after this long without a frame
#: the frame is searched on a 320 px canvas (a 640 x 480 frame at half size): faces from
#: about 80 px wide in the frame are found (40 px on the canvas)
LIVE_DETECTOR = DetectorSettings(min_face_size=40, canvases=(320,))
#: the methods fast enough to be candidates (one gradient pass per face)
CAM_METHODS = ("gradcam", "gradcam++", "hirescam", "layercam")
FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
GREEN, RED, WHITE, YELLOW = (40, 200, 90), (230, 50, 50), (255, 255, 255), (255, 220, 60)


@dataclass(frozen=True)
class People:
    """The set's people: names and each one's mean embedding (unit embeddings averaged)."""

    names: list[str]
    means: np.ndarray  # (P, D)

    @classmethod
    def of(cls, embeddings: np.ndarray, people: Sequence[str] | np.ndarray) -> People:
        """The people of a set from its embeddings and each face's person."""
        names, means = person_centroids(embeddings, np.asarray(people))
        return cls(names, means)

    def nearest(self, embedding: np.ndarray) -> tuple[str, float]:
        """The person whose mean embedding is most cosine-similar, and that cosine."""
        k, cos = nearest_centroid(embedding, self.names, self.means)
        return self.names[k], cos

    def score(self, embedding: np.ndarray, person: str) -> float:
        """Mean cosine similarity to ``person``'s faces: ``e · mean(e_i)`` (unit ``e``, ``e_i``)."""
        e = np.asarray(embedding, np.float64)
        e = e / max(float(np.linalg.norm(e)), 1e-12)
        return float(e @ self.means[self.names.index(person)])


@dataclass(frozen=True)
class Labels:
    """The overlay's texts (format strings), in the viewer's language."""

    nearest: str = "nearest: {name} ({cos:.2f})"
    score: str = "vs {person}: {score:.3f} at {t:.3f}"
    accept: str = "ACCEPT"
    reject: str = "REJECT"
    no_face: str = "No face found"
    failed: str = "Not explained: {why}"


@dataclass(frozen=True)
class LiveSettings:
    """What each frame is explained with and decided at."""

    person: str
    threshold: float
    method: str = "gradcam"
    layer: str | None = DEFAULT_LAYER
    opacity: float = 0.45
    align: AlignSettings = field(default_factory=AlignSettings)


@dataclass
class FrameResult:
    """One processed frame: its overlay and what was found."""

    image: np.ndarray  # the overlay (H, W, 3) uint8
    arrived: float  # clock time the frame was submitted
    face: Face | None = None
    nearest: str = ""
    nearest_cos: float = math.nan
    score: float = math.nan
    accepted: bool | None = None
    note: str = ""  # why the frame does not count ("no-face", or the error)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    embedding: np.ndarray | None = field(default=None, repr=False)

    @property
    def explained(self) -> bool:
        """A face was found, embedded and explained."""
        return self.face is not None and not self.note


@dataclass(frozen=True)
class LiveStats:
    """The processor's counters: rates over the last ``window`` seconds, totals since start."""

    fps: float  # processed frames handed back per second
    delay_ms: float  # median arrival-to-hand-back delay of those frames
    work_ms: float  # median processing time (detect, align, explain, draw) of those frames
    received: int
    processed: int
    dropped: int  # replaced while waiting: never processed
    no_face: int
    seconds: float  # since the first frame arrived
    mean_delay_ms: float  # mean delay of every processed frame since then
    last: FrameResult | None


@lru_cache(maxsize=4)
def font(size: int) -> Any:
    """A TrueType font that has Japanese too (Noto CJK when installed), else Pillow's own."""
    from PIL import ImageFont

    for path in FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def banner(image: np.ndarray, lines: Sequence[tuple[str, tuple[int, int, int]]]) -> np.ndarray:
    """``image`` with ``lines`` of text on a dark strip across its top (in place; returned)."""
    from PIL import Image, ImageDraw

    size = max(14, image.shape[0] // 22)
    height = min(image.shape[0], (size + 8) * len(lines) + 8)
    strip = image[:height].astype(np.float32) * 0.35
    pil = Image.fromarray(strip.astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for i, (text, colour) in enumerate(lines):
        draw.text((10, 6 + i * (size + 8)), text, fill=colour, font=font(size))
    image[:height] = np.asarray(pil)
    return image


def paint_heat(
    image: np.ndarray, heat: np.ndarray, matrix: np.ndarray, opacity: float
) -> np.ndarray:
    """Blend the crop's heat map onto the frame where the aligned crop came from (in place)."""
    import cv2

    size = heat.shape[0]
    inv = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64)
    pts = corners @ inv[:, :2].T + inv[:, 2]
    h, w = image.shape[:2]
    x0, y0 = (max(0, int(np.floor(v))) for v in pts.min(axis=0))
    x1, y1 = min(w, int(np.ceil(pts[:, 0].max()))), min(h, int(np.ceil(pts[:, 1].max())))
    if x1 <= x0 or y1 <= y0:
        return image
    roi = matrix.copy()  # frame -> crop, with the ROI's origin at (x0, y0)
    roi[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    colour = cv2.warpAffine(colorize(heat), roi, (x1 - x0, y1 - y0), flags=flags)
    mask = cv2.warpAffine(
        np.full((size, size), opacity, np.float32), roi, (x1 - x0, y1 - y0), flags=flags
    )[..., None]
    part = image[y0:y1, x0:x1].astype(np.float32)
    image[y0:y1, x0:x1] = np.round(part * (1 - mask) + colour * mask).astype(np.uint8)
    return image


class WorkerError(RuntimeError):
    """The worker process failed or ended; the message says why."""


class LiveProcessor:
    """Frames in (``submit``), overlays out (``latest``); one worker thread, latest frame wins."""

    def __init__(
        self,
        detector: Any,
        model: Any,
        people: People,
        settings: LiveSettings,
        *,
        labels: Labels | None = None,
        decode: Callable[[Any], np.ndarray] = np.asarray,
        encode: Callable[[np.ndarray], Any] = lambda image: image,
        clock: Callable[[], float] = time.perf_counter,
        window: float = WINDOW_S,
        worker: Any = None,  # a LiveWorker (facedash.explain.live_worker): frames go there
    ) -> None:
        self.detector, self.model, self.people = detector, model, people
        self.worker = worker
        self.labels = labels or Labels()
        self.decode, self.encode, self.clock, self.window = decode, encode, clock, window
        self._cond = threading.Condition()
        self._pending: tuple[Any, float] | None = None
        self._result: FrameResult | None = None
        self._out: tuple[FrameResult, Any] | None = None  # the result handed back, encoded
        self._thread: threading.Thread | None = None
        self._closed = False
        self._handed: deque[tuple[float, float, float]] = deque()  # (time, delay, work)
        self.received = self.processed = self.dropped = self.no_face = 0
        self._first: float | None = None  # when the first frame arrived
        self._delay_sum = 0.0
        self.settings = settings
        self._explainer = self.explainer_for(settings)

    def explainer_for(self, s: LiveSettings) -> Any:
        """The explainer of ``s``'s method and layer (the person is checked too)."""
        if s.person not in self.people.names:
            raise ValueError(f"{s.person!r} is not a person of the set")
        return make(s.method, self.model, layer=s.layer, batch_size=1)

    def configure(self, settings: LiveSettings) -> None:
        """New settings from the next frame on (the method, layer, person, threshold)."""
        if settings == self.settings:
            return
        explainer = self.explainer_for(settings)
        with self._cond:
            self.settings, self._explainer = settings, explainer

    @property
    def streaming(self) -> bool:
        """Frames are coming in: the worker runs (it ends ``IDLE_S`` after the last frame)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    # -- the stream's side -------------------------------------------------------------------
    def submit(self, frame: Any, arrived: float | None = None) -> None:
        """Offer a frame (never blocks); one still waiting is dropped for it."""
        arrived = self.clock() if arrived is None else arrived
        with self._cond:
            if self._closed:
                return
            self.received += 1
            if self._first is None:
                self._first = arrived
            if self._pending is not None:
                self.dropped += 1
            self._pending = (frame, arrived)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="facedash-live", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def latest(self) -> Any | None:
        """The newest overlay (encoded), None before the first; its first hand-back is counted."""
        with self._cond:
            result = self._result
            if result is None:
                return None
            if self._out is not None and self._out[0] is result:
                return self._out[1]
        out = self.encode(result.image)
        now = self.clock()
        with self._cond:
            if self._out is not None and self._out[0] is result:
                return self._out[1]
            self._out = (result, out)
            if result.explained:
                self.processed += 1
                self._delay_sum += now - result.arrived
                self._handed.append((now, now - result.arrived, sum(result.seconds.values())))
            self._trim(now)
        return out

    # -- the worker --------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                if self._pending is None and not self._closed:
                    self._cond.wait(IDLE_S)
                if self._closed or self._pending is None:
                    self._thread = None  # idle: the last frame and overlay are dropped too
                    self._result = self._out = None
                    return
                frame, arrived = self._pending
                self._pending = None
                settings, explainer = self.settings, self._explainer
            result = self._run(self.decode(frame), arrived, settings, explainer)
            with self._cond:
                if self._closed:
                    return
                if not result.explained and result.note == "no-face":
                    self.no_face += 1
                self._result = result

    def _run(
        self, image: np.ndarray, arrived: float, settings: LiveSettings, explainer: Any
    ) -> FrameResult:
        """One frame, in the worker process when there is one, else in this thread."""
        if self.worker is None:
            return self.process(image, arrived, settings, explainer)
        try:
            return self.worker.process(image, arrived, settings, self.labels)
        except WorkerError as exc:
            out = banner(np.array(image, np.uint8), [(self.labels.failed.format(why=exc), YELLOW)])
            return FrameResult(out, arrived, note=str(exc))

    def process(
        self,
        image: np.ndarray,
        arrived: float | None = None,
        settings: LiveSettings | None = None,
        explainer: Any = None,
    ) -> FrameResult:
        """One frame, synchronously: find, align, explain (and embed), draw."""
        import cv2

        s, ex = settings or self.settings, explainer or self._explainer
        arrived = self.clock() if arrived is None else arrived
        image = np.array(image, dtype=np.uint8, copy=True)
        t = [time.perf_counter()]
        faces = self.detector.detect([image])[0]
        t.append(time.perf_counter())
        if not faces:
            out = banner(image, [(self.labels.no_face, YELLOW)])
            return FrameResult(out, arrived, note="no-face", seconds={"detect": t[1] - t[0]})
        face = faces[select(faces, "largest")[0]]
        size = int(self.model.input_shape[1])
        matrix = alignment_matrix(face, size, margin=s.align.margin, rotate=s.align.rotate)
        crop = cv2.warpAffine(
            image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
        )
        t.append(time.perf_counter())
        k = self.people.names.index(s.person)
        try:
            explanation = ex.explain(crop[None], Reference(reference=self.people.means[k]))
        except ValueError as exc:
            out = banner(image, [(self.labels.failed.format(why=exc), YELLOW)])
            return FrameResult(out, arrived, face, note=str(exc))
        t.append(time.perf_counter())
        emb = explanation.embeddings[0]
        name, cos = self.people.nearest(emb)
        score = self.people.score(emb, s.person)
        accepted = score >= s.threshold
        paint_heat(image, explanation.maps[0], matrix, s.opacity)
        x, y, w, h = (int(round(v)) for v in face.box)
        cv2.rectangle(image, (x, y), (x + w, y + h), GREEN if accepted else RED, 2)
        decision = self.labels.accept if accepted else self.labels.reject
        banner(
            image,
            [
                (self.labels.nearest.format(name=name, cos=cos), WHITE),
                (
                    self.labels.score.format(person=s.person, score=score, t=s.threshold)
                    + f"  {decision}",
                    GREEN if accepted else RED,
                ),
            ],
        )
        t.append(time.perf_counter())
        stages = ("detect", "align", "explain", "draw")
        seconds = {n: b - a for n, a, b in zip(stages, t, t[1:], strict=False)}
        return FrameResult(image, arrived, face, name, cos, score, accepted, "", seconds, emb)

    # -- counters ----------------------------------------------------------------------------
    def _trim(self, now: float) -> None:
        while self._handed and self._handed[0][0] < now - self.window:
            self._handed.popleft()

    def stats(self) -> LiveStats:
        """Rates over the last ``window`` seconds (0 when nothing was handed back in it), totals."""
        now = self.clock()
        with self._cond:
            self._trim(now)
            handed = list(self._handed)
            last = self._result
            totals = (self.received, self.processed, self.dropped, self.no_face)
            seconds = 0.0 if self._first is None else now - self._first
            mean = 1000 * self._delay_sum / max(self.processed, 1)
        fps = delay = work = 0.0
        if len(handed) >= 2:
            fps = (len(handed) - 1) / max(handed[-1][0] - handed[0][0], 1e-9)
        if handed:
            delay = 1000 * float(np.median([d for _, d, _ in handed]))
            work = 1000 * float(np.median([w for _, _, w in handed]))
        return LiveStats(fps, delay, work, *totals, seconds, mean, last)

    def clear(self) -> None:
        """Drop the waiting frame and the latest result (the stream ended); counters stay."""
        with self._cond:
            self._pending = self._result = self._out = None

    def close(self) -> None:
        """Stop the worker (thread and process) and drop the waiting frame and the latest result."""
        with self._cond:
            self._closed = True
            self._pending = self._result = self._out = None
            self._cond.notify_all()
        if self.worker is not None:
            self.worker.close()


def measure(
    processor: LiveProcessor, frame: np.ndarray, methods: Sequence[str], repeats: int = 5
) -> dict[str, float]:
    """Processed frames/s of each method on ``frame`` alone: detect, align, explain, draw, no stream.

    The fastest of ``repeats`` runs after a first one (which traces the gradient function):
    what the method costs, not what other work on the machine took from it at that moment.
    With a worker process, it is timed there: where the stream's frames are processed.
    """
    if processor.worker is not None:
        return processor.worker.measure(frame, processor.settings, list(methods), repeats)
    out = {}
    for method in methods:
        settings = replace(processor.settings, method=method)
        explainer = processor.explainer_for(settings)
        processor.process(frame, settings=settings, explainer=explainer)
        best = math.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            processor.process(frame, settings=settings, explainer=explainer)
            best = min(best, time.perf_counter() - t0)
        out[method] = 1.0 / best
    return out
