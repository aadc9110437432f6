"""``auto`` for FaceNet on a CPU, chosen by measurement: a race, run once per machine.

Candidates: every installed backend and precision (TensorFlow fp32, the reference;
OpenVINO fp32 and bf16; OpenVINO int8 when NNCF is installed and an int8 build of
the current recipe exists, or the caller asks for one to be built (``build_int8``:
quantisation takes minutes, see ``docs/backends.md``); ONNX Runtime fp32 where a
FaceNet ONNX conversion exists or tf2onnx can make one). Each is gated on the
caller's probe faces against TensorFlow fp32: minimum cosine at least ``MIN_COSINE``
and at most ``MAX_DECISION_CHANGES`` of the probe's pairs changing their
same/different decision at the card's published cosine threshold. int8 must also
pass its own gate on its stored held-out probe set (``facedash.models.int8.gate``:
min and mean cosine, AUC, leave-one-out identities, decisions at fp32's EER
threshold); its row carries those figures under ``gate``.
Every one that loads is then timed on the same batch (a warm-up, then best of
``REPEATS`` rounds that alternate between the candidates), and the fastest that
passes wins (``decide``, a pure function).

The table is cached as JSON in ``$FACEDASH_HOME/models/backend-race-<key>.json``,
keyed by the CPU's model name, its core count, the versions of TensorFlow,
OpenVINO, ONNX Runtime and tf2onnx, and which int8 recipe is built here (so a new
int8 build is raced once): ``cache_key``; a hit costs a file read and a stat. No
CPU flag decides anything. The probe comes from the caller
(``facedash.faces.probe.demo_probe``): this module never reads a data set.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.metadata
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from facedash import assets
from facedash.models import backends
from facedash.models.backends import ProbeSource, cpu
from facedash.paths import ensure_private_dir, home

MIN_COSINE = 0.99
MAX_DECISION_CHANGES = 0.005
FACES = 32  # the probe batch: 496 pairs
REPEATS = 5
VERSION = 2  # of the table's layout (2: int8 rows carry their gate)


@functools.cache
def _version(*packages: str) -> str | None:
    """The first of ``packages`` installed: its version (read once per process)."""
    for p in packages:
        try:
            return importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def cache_key(root: Path | None = None) -> dict[str, Any]:
    """What the measured table depends on: the CPU, its cores, the libraries, the weights."""
    c = cpu()
    return {
        "cpu": c["model"],
        "cores": c["cores"],
        "tensorflow": _version("tensorflow", "tensorflow-cpu", "tensorflow_cpu"),
        "openvino": backends.openvino_version(),
        "onnxruntime": _version("onnxruntime"),
        "tf2onnx": _version("tf2onnx"),
        "weights": assets.WEIGHTS_SHA256[:16],
        "int8": _int8_built(root),
        "layout": VERSION,
    }


def _int8_built(root: Path | None) -> str | None:
    """The int8 recipe built here (its hash), or None: a stat, no import of OpenVINO."""
    if backends.openvino_version() is None or not backends.nncf_available():
        return None
    from facedash.models import openvino_facenet

    e = openvino_facenet._cache_entry("int8", root)
    return e.folder.name if e.path("meta.json").is_file() else None


def cache_path(root: Path | None = None, key: dict[str, Any] | None = None) -> Path:
    """The table's file for this machine's key."""
    blob = json.dumps(key or cache_key(root), sort_keys=True).encode()
    digest = hashlib.sha256(blob).hexdigest()[:16]
    return (root or home()) / "models" / f"backend-race-{digest}.json"


def read(root: Path | None = None) -> dict[str, Any] | None:
    """The cached table for this machine, or None (cheap: one small file)."""
    key = cache_key(root)
    path = cache_path(root, key)
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(table, dict) or table.get("key") != key:
        return None
    return table


def decide(rows: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str]:
    """``(row, why)``: the fastest row that passed its gate; ``(None, why)`` when none did."""
    passing = [r for r in rows if r.get("passed") and r.get("faces_per_s")]
    if not passing:
        return None, "no candidate passed the gate and was timed: the TensorFlow fp32 reference"
    best = max(passing, key=lambda r: r["faces_per_s"])
    ref = next((r for r in rows if (r["backend"], r["precision"]) == ("tensorflow", "fp32")), None)
    versus = (
        f", {best['faces_per_s'] / ref['faces_per_s']:.2f}x TensorFlow fp32"
        if ref and ref.get("faces_per_s")
        else ""
    )
    others = sorted(
        (r for r in passing if r is not best), key=lambda r: r["faces_per_s"], reverse=True
    )
    runner = (
        f"; next {others[0]['backend']} {others[0]['precision']} at "
        f"{others[0]['faces_per_s']:.1f} faces/s"
        if others
        else ""
    )
    return best, (
        f"fastest that passes the gate: {best['backend']} {best['precision']} at "
        f"{best['faces_per_s']:.1f} faces/s{versus}, min cosine {best['min_cosine']:.5f}"
        f"{runner}"
    )


def gate(embeddings: np.ndarray, reference: np.ndarray, threshold: float) -> dict[str, Any]:
    """Cosine to the reference per face, and the share of pairs whose decision at ``threshold`` changes."""
    a = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    b = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    cos = np.sum(a * b, axis=1)
    iu = np.triu_indices(len(a), 1)
    same_a = (a @ a.T)[iu] >= threshold
    same_b = (b @ b.T)[iu] >= threshold
    changes = float(np.mean(same_a != same_b)) if len(iu[0]) else 0.0
    passed = float(cos.min()) >= MIN_COSINE and changes <= MAX_DECISION_CHANGES
    return {
        "min_cosine": round(float(cos.min()), 6),
        "mean_cosine": round(float(cos.mean()), 6),
        "decision_changes": round(changes, 6),
        "pairs": len(iu[0]),
        "passed": passed,
    }


def _best_rates(embedders: list[Any], crops: np.ndarray) -> list[float]:
    """Best faces/s of each embedder over ``REPEATS`` rounds that alternate between them.

    Alternating rounds spread a neighbour's load over every candidate alike.
    """
    best = [float("inf")] * len(embedders)
    for _ in range(REPEATS):
        for i, e in enumerate(embedders):
            t0 = time.perf_counter()
            e.embed(crops)
            best[i] = min(best[i], time.perf_counter() - t0)
    return [round(len(crops) / b, 1) for b in best]


Loader = Callable[[], Any]


def _candidate(backend: str, loader: Loader) -> Any:
    embedder = loader()
    if getattr(embedder, "backend", backend) != backend:  # a fallback stands in
        raise RuntimeError(getattr(embedder, "note", "") or "refused")
    return embedder


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def candidates(
    root: Path | None, reference: Loader, probe: ProbeSource, *, build_int8: bool = False
) -> list[tuple[str, str, Loader | str]]:
    """``(backend, precision, loader or the reason it cannot run)`` for every candidate here."""
    out: list[tuple[str, str, Loader | str]] = [("tensorflow", "fp32", reference)]
    if backends.openvino_version() is None:
        out.append(("openvino", "fp32", "OpenVINO is not installed"))
    else:
        from facedash.models import ircache, openvino_facenet

        def ov(p: str) -> Loader:
            return lambda: openvino_facenet.load(p, root, reference=reference, probe=probe)

        out += [("openvino", "fp32", ov("fp32")), ("openvino", "bf16", ov("bf16"))]
        int8 = openvino_facenet._cache_entry("int8", root)
        if not backends.nncf_available():
            out.append(("openvino", "int8", f"NNCF is not installed ({backends.NNCF_HINT})"))
        elif build_int8 or ircache.check(int8)[0] is not None:
            out.append(("openvino", "int8", ov("int8")))
        else:
            out.append(
                (
                    "openvino",
                    "int8",
                    "no int8 build of this recipe here (`facedash doctor --build-int8` "
                    "quantises it: minutes)",
                )
            )
    from facedash.models import onnx_facenet

    if onnx_facenet.version() is None:
        out.append(("onnxruntime", "fp32", "ONNX Runtime is not installed"))
    elif not onnx_facenet.converted(root) and not onnx_facenet.converter_available():
        out.append(
            (
                "onnxruntime",
                "fp32",
                f"tf2onnx is absent, so no FaceNet ONNX conversion ({onnx_facenet.CONVERT_HINT})",
            )
        )
    else:
        out.append(("onnxruntime", "fp32", lambda: onnx_facenet.load(root, reference=reference)))
    return out


def measure(
    root: Path | None,
    reference: Loader,
    probe: ProbeSource,
    *,
    threshold: float,
    build_int8: bool = False,
) -> list[dict[str, Any]]:
    """Gate and time every candidate on ``FACES`` probe faces; one row each.

    Each candidate is loaded and gated (its first run is the warm-up); then all are
    timed in alternating rounds, best of ``REPEATS``.
    """
    crops = probe(FACES)
    rows: list[dict[str, Any]] = []
    ref_embeddings: np.ndarray | None = None
    loaded: list[tuple[dict[str, Any], Any]] = []
    listed = (
        candidates(root, reference, probe, build_int8=True)
        if build_int8
        else candidates(root, reference, probe)
    )
    for backend, precision, loader in listed:
        row: dict[str, Any] = {
            "backend": backend,
            "precision": precision,
            "faces_per_s": None,
            "min_cosine": None,
            "mean_cosine": None,
            "decision_changes": None,
            "passed": False,
            "reason": "",
        }
        rows.append(row)
        if isinstance(loader, str):
            row["reason"] = loader
            continue
        t0 = time.perf_counter()
        if backend == "tensorflow":  # no reference, no race: its error goes to the caller
            embedder = loader()
        else:
            try:
                embedder = _candidate(backend, loader)
            except Exception as exc:  # noqa: BLE001 - a candidate that cannot load says why
                row["reason"] = f"did not load: {_first_line(exc)}"
                continue
        row["load_seconds"] = round(time.perf_counter() - t0, 2)
        out = embedder.embed(crops)  # the warm-up, and the gate's embeddings
        if ref_embeddings is None:  # the reference runs first
            ref_embeddings = out
        row.update(gate(out, ref_embeddings, threshold))
        own = getattr(getattr(embedder, "agreement", None), "gate", None)
        if own is not None:  # int8: its gate on the held-out probe set must pass too
            row["gate"] = own.as_dict()
            row["passed"] = bool(row["passed"] and own.passed)
        loaded.append((row, embedder))
    for (row, _), rate in zip(loaded, _best_rates([e for _, e in loaded], crops), strict=True):
        row["faces_per_s"] = rate
        if row["backend"] == "tensorflow":
            row["reason"] = "the fp32 reference"
        elif row["passed"]:
            row["reason"] = "passes the gate"
        else:
            row["reason"] = (
                f"fails the gate (min cosine >= {MIN_COSINE}, decision changes <= "
                f"{MAX_DECISION_CHANGES:.1%})"
            )
            if row.get("gate", {}).get("failures"):
                row["reason"] += ": " + "; ".join(row["gate"]["failures"])
    return rows


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    ensure_private_dir(path.parent)
    with path.with_suffix(".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run(
    root: Path | None,
    reference: Loader,
    probe: ProbeSource,
    *,
    threshold: float,
    measure_rows: Callable[..., list[dict[str, Any]]] | None = None,
    build_int8: bool = False,
) -> dict[str, Any]:
    """The table for this machine: from the cache, else measured now and cached (one process at a time).

    ``build_int8``: quantise int8 first when no build of the current recipe exists
    (minutes), and race it; the table is then measured again.
    """
    key = cache_key(root)
    path = cache_path(root, key)
    with _locked(path):
        table = read(root)
        if table is not None and not (build_int8 and key["int8"] is None):
            return table
        t0 = time.perf_counter()
        measure_rows = measure_rows or measure
        if build_int8:
            rows = measure_rows(root, reference, probe, threshold=threshold, build_int8=True)
        else:
            rows = measure_rows(root, reference, probe, threshold=threshold)
        key = cache_key(root)  # an int8 built just now is part of the key
        path = cache_path(root, key)
        pick, why = decide(rows)
        try:
            load = [round(float(x), 2) for x in Path("/proc/loadavg").read_text().split()[:3]]
        except (OSError, ValueError):
            load = []
        table = {
            "key": key,
            "cpu": key["cpu"],
            "cores": key["cores"],
            "faces": FACES,
            "repeats": REPEATS,
            "gate": {
                "min_cosine": MIN_COSINE,
                "max_decision_changes": MAX_DECISION_CHANGES,
                "threshold": threshold,
                "threshold_source": "the card's published cosine threshold",
            },
            "candidates": rows,
            "pick": {"backend": pick["backend"], "precision": pick["precision"]}
            if pick
            else {"backend": "tensorflow", "precision": "fp32"},
            "pick_reason": why,
            "seconds": round(time.perf_counter() - t0, 1),
            "loadavg": load,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(table, indent=1))
        os.replace(tmp, path)
        return table
