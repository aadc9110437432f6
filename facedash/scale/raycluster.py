"""Reaching a Ray cluster, and Ray's failures said in one line (for ``facedash.scale.distributed``).

Ray is optional: ``import_ray`` names the install command when it is missing. ``connect``
checks a remote address with one TCP connection first (``ray.init`` waits minutes on a
dead one), and ``first_line`` turns Ray's many-line errors into the line a user needs:
the facedash error inside, a node without the weights, or a worker process that died.
"""

from __future__ import annotations

import importlib
import logging
import re
import socket
from typing import Any

from facedash.errors import FacedashError
from facedash.paths import home

__all__ = [
    "MAX_RETRIES",
    "RAY_HINT",
    "RayMissing",
    "RayRunError",
    "connect",
    "first_line",
    "import_ray",
]

RAY_HINT = 'pip install "facedash[ray]" (or: make setup RAY=1)'
MAX_RETRIES = 3  # Ray retries a failed task, and restarts a dead actor, this many times


class RayMissing(FacedashError):
    """``--engine ray`` without Ray installed."""


class RayRunError(FacedashError):
    """The cluster could not be reached, or the run failed after its retries."""


def import_ray() -> Any:
    """The ``ray`` module, or ``RayMissing`` naming the install command."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise RayMissing(f"--engine ray needs Ray, which is not installed: {RAY_HINT}") from None


def connect(address: str | None = None, *, num_cpus: int | None = None) -> bool:
    """Join the cluster at ``address`` (None: start a local one); True when this call started Ray."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address:
        _check_reachable(address)
    env = {"env_vars": {"FACEDASH_HOME": str(home())}}
    try:
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            runtime_env=env,
        )
    except Exception as exc:  # ConnectionError, RuntimeError, grpc errors ...
        where = address or "a local cluster"
        raise RayRunError(f"cannot reach the Ray cluster at {where}: {first_line(exc)}") from None
    return True


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """One TCP connection to ``[ray://]host:port`` first: ``ray.init`` waits minutes on a dead one."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local": Ray finds the cluster itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayRunError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}"
        ) from None


def first_line(exc: BaseException) -> str:
    """The facedash error inside a Ray error when there is one, else its last line."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, FacedashError):
            return str(e)
        e = getattr(e, "cause", None) or e.__cause__
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    marked = [ln for ln in lines if "not found or not verified" in ln]
    died = _died(str(exc))
    return (marked or ([died] if died else []) or lines or [type(exc).__name__])[-1]


def _died(text: str) -> str | None:
    """Ray's many-line "the actor's worker process has died" as one line (None: not that)."""
    exit_type = re.search(r"Worker exit type: (\w+)", text)
    if not exit_type or "worker process has died" not in text:
        return None
    where = re.search(r"pid: (\d+)", text), re.search(r"ip: ([\w.:-]+)", text)
    detail = re.search(r"Worker exit detail: ([^.]*)", text)
    pid, ip = (m.group(1) if m else "?" for m in where)
    return (
        f"a worker process died after Ray had restarted it {MAX_RETRIES} times "
        f"(pid {pid} on {ip}, {exit_type.group(1)}: {detail.group(1) if detail else 'no detail'}; "
        "a crash, or the OOM killer: check that node's memory and its Ray logs)"
    )
