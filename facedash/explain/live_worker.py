"""The Live page's worker process: frames detected, explained and drawn outside the server.

``LiveWorker`` runs ``LiveProcessor.process`` (``facedash.explain.live``) in a child
interpreter with its own TensorFlow (one intra-op thread by default), so the frame's work
shares no GIL with the stream's Python (aiortc's event loop, VP8 decoding and encoding) and
does not spread over the core the stream needs. Frames and overlays cross in a memory buffer
both processes map (``Frames``: an anonymous memory file, never on disk); the socket between
them carries the settings and the findings. Measured: docs/camera.md.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from facedash.explain.live import (
    LIVE_DETECTOR,
    FrameResult,
    Labels,
    LiveProcessor,
    LiveSettings,
    People,
    WorkerError,
    measure,
)

WORKER_IDLE_S = 120.0  # the worker process ends after this long without a request
WORKER_START_S = 120.0  # the most a worker process may take to load the model
FRAME_BYTES = 1920 * 1080 * 3  # frames up to this size go through shared memory


def _worker_main() -> None:
    """The worker process's entry point: its end of the socket pair is ``argv[1]``."""
    import sys
    from multiprocessing.connection import Connection

    conn = Connection(int(sys.argv[1]))
    try:
        model_id, people, threads, idle = conn.recv()
    except (EOFError, OSError):
        return
    _serve(conn, model_id, people, threads, idle, Frames(int(sys.argv[2])))


class Frames:
    """Two frame buffers in memory that the server and its worker process both map.

    An anonymous memory file (``memfd_create``: RAM, never a file on disk) of
    ``2 * FRAME_BYTES``: the frame goes in the first half, its overlay comes back in
    the second. A request and its reply alternate under the worker's lock, so one
    buffer each way is enough; the pipe then carries a few hundred bytes a frame
    instead of two 0.9 MB pickles, each of which took several context switches.
    """

    def __init__(self, fd: int | None = None) -> None:
        import mmap

        if fd is None:
            fd = os.memfd_create("facedash-live", os.MFD_CLOEXEC)
            os.ftruncate(fd, 2 * FRAME_BYTES)
        self.fd = fd
        self._map = mmap.mmap(fd, 2 * FRAME_BYTES)

    @staticmethod
    def fits(image: np.ndarray) -> bool:
        """Whether ``image`` fits one buffer (a frame up to 1920 x 1080 RGB)."""
        return image.dtype == np.uint8 and image.nbytes <= FRAME_BYTES

    def view(self, half: int, shape: tuple[int, ...]) -> np.ndarray:
        """The uint8 array ``shape`` in buffer ``half`` (0: frames in, 1: overlays out)."""
        n = int(np.prod(shape))
        return np.frombuffer(self._map, np.uint8, n, half * FRAME_BYTES).reshape(shape)

    def put(self, half: int, image: np.ndarray) -> tuple[int, ...]:
        """Copy ``image`` into buffer ``half``; its shape."""
        self.view(half, image.shape)[...] = image
        return image.shape

    def close(self) -> None:
        """Unmap and close the memory file (the other side's mapping stays valid)."""
        self._map.close()
        os.close(self.fd)


def _serve(
    conn: Any, model_id: str, people: People, threads: int, idle: float, frames: Frames
) -> None:
    """The worker process's loop: one request at a time over ``conn`` until told to stop.

    Requests: ``("process", image, arrived, settings, labels)`` gives a ``FrameResult``,
    ``("measure", frame, settings, methods, repeats)`` the methods' rates. It ends on
    ``("stop",)``, when the server's end of the pipe closes, or after ``idle`` seconds
    without a request (the server starts a new one with the next frame).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from facedash.faces.detect import Detector
    from facedash.models import get_model

    try:
        model = get_model(model_id).model  # type: ignore[attr-defined]  # the Keras model
        engine = LiveProcessor(
            Detector(LIVE_DETECTOR), model, people, LiveSettings(people.names[0], 0.0)
        )
    except Exception as exc:  # noqa: BLE001 - reported to the server, which shows it
        conn.send((False, f"{type(exc).__name__}: {exc}"))
        return
    conn.send((True, "ready"))
    explainers: dict[tuple[str, str | None], Any] = {}

    def explainer(s: LiveSettings) -> Any:
        key = (s.method, s.layer)
        if key not in explainers:
            explainers[key] = engine.explainer_for(s)
        return explainers[key]

    while True:
        try:
            if not conn.poll(idle):
                return
            request = conn.recv()
        except (EOFError, OSError):
            return
        op, args = request[0], request[1:]
        try:
            if op == "process":
                image, arrived, settings, labels = args
                if isinstance(image, tuple):  # the frame is in the shared buffer
                    image = frames.view(0, image)
                engine.labels = labels
                reply: Any = engine.process(image, arrived, settings, explainer(settings))
                if Frames.fits(reply.image):
                    reply.image = frames.put(1, reply.image)
            elif op == "measure":
                frame, settings, methods, repeats = args
                engine.settings = settings
                reply = measure(engine, frame, methods, repeats)
            else:
                return
        except Exception as exc:  # noqa: BLE001 - the frame fails, the worker goes on
            conn.send((False, f"{type(exc).__name__}: {exc}"))
            continue
        conn.send((True, reply))


class LiveWorker:
    """Frames processed in a process of their own, one at a time.

        The stream (aiortc's event loop, VP8 decoding and encoding) runs in the server
        process; the detection and the gradient pass run in a child interpreter
        (``python -c``, not a fork) with its own TensorFlow, so they share no GIL with the
        stream, and with ``threads`` intra-op threads. The process loads the model itself (``get_model(model_id)``, the same
        reference model), starts on the first request and ends after ``idle`` seconds
        without one. Frames and overlays cross in a memory buffer both processes map
    (``Frames``), overwritten by the next, and are kept nowhere.
    """

    def __init__(
        self, model_id: str, people: People, *, threads: int = 2, idle: float = WORKER_IDLE_S
    ) -> None:
        self.model_id, self.people, self.threads, self.idle = model_id, people, threads, idle
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Any = None
        self._frames: Frames | None = None

    def _start(self) -> None:
        """A new worker process, ready: its model loaded (or ``WorkerError``).

        A fresh interpreter, not a fork of this one (which runs TensorFlow's threads),
        talking over a socket pair.
        """
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        ours, theirs = socket.socketpair()
        frames = Frames()
        code = "from facedash.explain.live_worker import _worker_main; _worker_main()"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(theirs.fileno()), str(frames.fd)],
            pass_fds=[theirs.fileno(), frames.fd],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        conn = Connection(ours.detach())
        try:
            conn.send((self.model_id, self.people, self.threads, self.idle))
            if not conn.poll(WORKER_START_S):
                raise WorkerError(f"the worker process did not start in {WORKER_START_S:g} s")
            ok, why = conn.recv()
            if not ok:
                raise WorkerError(why)
        except (EOFError, OSError, WorkerError) as exc:
            conn.close()
            frames.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)
            if isinstance(exc, WorkerError):
                raise
            raise WorkerError(f"the worker process ended (exit code {proc.returncode})") from None
        self._proc, self._conn, self._frames = proc, conn, frames

    def _call(self, *request: Any) -> Any:
        with self._lock:
            for attempt in (0, 1):  # an idle worker has ended: start a new one, once
                if self._proc is None or self._proc.poll() is not None:
                    self._drop()
                    self._start()
                frames = self._frames
                assert frames is not None
                try:
                    if request[0] == "process" and Frames.fits(request[1]):
                        request = ("process", frames.put(0, request[1]), *request[2:])
                    self._conn.send(request)
                    ok, reply = self._conn.recv()
                    if ok and isinstance(reply, FrameResult) and isinstance(reply.image, tuple):
                        reply.image = frames.view(1, reply.image).copy()
                    break
                except (EOFError, OSError, BrokenPipeError) as exc:
                    self._drop()
                    if attempt:
                        raise WorkerError(f"the worker process ended: {exc}") from None
        if not ok:
            raise WorkerError(reply)
        return reply

    def process(
        self, image: np.ndarray, arrived: float, settings: LiveSettings, labels: Labels
    ) -> FrameResult:
        """One frame, processed in the worker process."""
        return self._call("process", np.asarray(image, np.uint8), arrived, settings, labels)

    def measure(
        self, frame: np.ndarray, settings: LiveSettings, methods: list[str], repeats: int
    ) -> dict[str, float]:
        """``measure`` run in the worker process (where the stream's frames are processed)."""
        return self._call("measure", np.asarray(frame, np.uint8), settings, methods, repeats)

    def _drop(self) -> None:
        proc, conn, self._proc, self._conn = self._proc, self._conn, None, None
        if self._frames is not None:
            self._frames.close()
            self._frames = None
        if conn is not None:
            try:
                conn.send(("stop",))
            except (OSError, ValueError):
                pass
            conn.close()
        if proc is not None:
            try:
                proc.wait(2)
            except Exception:  # noqa: BLE001 - still running: ended by force
                proc.kill()
                proc.wait(2)

    @property
    def alive(self) -> bool:
        """The worker process is running."""
        proc = self._proc
        return proc is not None and proc.poll() is None

    def close(self) -> None:
        """End the worker process (a later request starts a new one)."""
        with self._lock:
            self._drop()
