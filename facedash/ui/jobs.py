"""Long computations in a separate process: a progress bar while they run, stopped when the page reruns.

A Streamlit script cannot be interrupted inside a long C call (a t-SNE fit), so a
change of setting would wait for it. ``run_in_process`` runs the function in a
fresh (spawned) process and polls it; every poll updates the progress bar, which
is where Streamlit stops a script whose widgets changed. The ``finally`` then
terminates the worker, so an abandoned computation never keeps a core busy.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import streamlit as st

from facedash.i18n import _

_CTX = mp.get_context("spawn")  # no fork of a threaded server (TensorFlow, tornado)


class JobFailed(RuntimeError):
    """The worker process raised, or died without an answer."""


def _child(conn: Connection, fn: Callable[..., Any], args: tuple) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except ValueError as exc:  # a message for the person (e.g. a bad parameter)
        conn.send(("value", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never lost
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _stopped(code: int | None) -> str:
    return _("the worker stopped (exit code {code}) without a result").format(code=code)


def run_in_process(
    fn: Callable[..., Any], args: tuple, *, label: str, estimate_s: float, poll_s: float = 0.5
) -> Any:
    """``fn(*args)`` in a spawned process, with a progress bar (elapsed over ``estimate_s``).

    ``fn`` must be a module-level function (it is pickled). A ``ValueError`` in the
    worker is raised here as a ``ValueError``; anything else as ``JobFailed``. A
    rerun or a closed session interrupts the polling and terminates the worker.
    """
    parent, child = _CTX.Pipe(duplex=False)
    proc = _CTX.Process(target=_child, args=(child, fn, args), daemon=True)
    bar = st.progress(0.0, text=label)
    t0 = time.monotonic()
    proc.start()
    child.close()
    try:
        while not parent.poll(poll_s):
            if not proc.is_alive() and not parent.poll(0):
                raise JobFailed(_stopped(proc.exitcode))
            elapsed = time.monotonic() - t0
            bar.progress(
                min(0.99, elapsed / max(estimate_s, 1e-6)),
                text=_("{label} · {elapsed} s of about {estimate} s").format(
                    label=label, elapsed=f"{elapsed:.0f}", estimate=f"{estimate_s:.0f}"
                ),
            )
        try:
            status, value = parent.recv()
        except EOFError:
            raise JobFailed(_stopped(proc.exitcode)) from None
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(timeout=10)
        parent.close()
        bar.empty()
    if status == "value":
        raise ValueError(value)
    if status != "ok":
        raise JobFailed(value)
    return value
