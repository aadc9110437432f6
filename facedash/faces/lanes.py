"""Three lanes of work stepped together, so that both cores stay busy while the result stays serial.

``embed_dataset`` works a set chunk by chunk through three stages: decoding the
photos (and their stored previews), detecting faces, and aligning and embedding
them. ``Lanes`` runs the three stages of *different* chunks at the same time:
at step ``s`` a pool decodes chunk ``s + 1``, one thread runs the detector on chunk
``s`` and another aligns and embeds chunk ``s - 1``. OpenVINO (the detector's and
the embedder's networks), TensorFlow (the detector's pyramid), Pillow and OpenCV
release the GIL while they compute, so these overlap on the cores.

``wait()`` is the step's barrier: it returns every lane's outcome (a result, or
the exception it raised) only when all have finished. The caller decides each
step's work and applies its results between steps, on its own thread, so the
bookkeeping (what is stored, what is left) is as serial as a plain loop's and
every batch is the one the plain loop would have made. ``inline=True`` runs each
piece of work at once on the calling thread: the same steps without threads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

DECODERS = 2  # threads decoding photos: one per core of the machines this was measured on


class Lanes:
    """A decode pool and two single-thread lanes (``detect``, ``embed``), stepped together."""

    def __init__(self, *, inline: bool = False, decoders: int = DECODERS) -> None:
        self.inline = inline
        self._pools: dict[str, ThreadPoolExecutor] = {}
        if not inline:
            self._pools = {
                "decode": ThreadPoolExecutor(decoders, thread_name_prefix="facedash-decode"),
                "detect": ThreadPoolExecutor(1, thread_name_prefix="facedash-detect"),
                "embed": ThreadPoolExecutor(1, thread_name_prefix="facedash-embed"),
            }
        self._running: dict[str, Future[Any] | list[Future[Any]]] = {}
        self._done: dict[str, Any] = {}

    def __enter__(self) -> Lanes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Let running work finish, drop work not started, and end the threads."""
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)

    def run(self, lane: str, fn: Callable[[], Any]) -> None:
        """Start ``fn`` on ``lane`` (``detect`` or ``embed``) for this step."""
        if self.inline:
            self._done[lane] = _outcome(fn)
        else:
            self._running[lane] = self._pools[lane].submit(fn)

    def map(self, lane: str, fn: Callable[[Any], Any], items: Iterable[Any]) -> None:
        """Start ``fn`` on every item of ``items`` in the ``decode`` pool for this step."""
        items = list(items)
        if self.inline:
            self._done[lane] = [_outcome(functools.partial(fn, x)) for x in items]
        else:
            self._running[lane] = [self._pools[lane].submit(fn, x) for x in items]

    def wait(self) -> dict[str, Any]:
        """Every lane's outcome this step, once all have finished: a result or the exception raised.

        A ``map`` lane's outcome is the list of its items' outcomes.
        """
        out, self._done = self._done, {}
        for lane, running in self._running.items():
            if isinstance(running, list):
                out[lane] = [_result(f) for f in running]
            else:
                out[lane] = _result(running)
        self._running = {}
        return out


def first_error(outcomes: Sequence[Any]) -> BaseException | None:
    """The first exception among ``outcomes``, or None."""
    for o in outcomes:
        if isinstance(o, BaseException):
            return o
    return None


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - handed to the caller, which re-raises it
        return exc


def _result(future: Future[Any]) -> Any:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - handed to the caller, which re-raises it
        return exc
