"""``facedash doctor``: this machine, and where each model runs and how closely it agrees.

The machine: the CPU and its flags (``avx512_bf16``, ``amx_bf16``, ``amx_int8``:
shown, no longer deciding anything), the GPUs TensorFlow sees, OpenVINO's version.
Then the backend race that ``auto`` runs once per machine (``race``: each backend
and precision with its faces/s and agreement figures on the probe faces, the pick
and why; measured now when ``auto`` asks and nothing is cached). Then
each model is loaded as the app would load it: the embedding model on the
chosen backend (backend, precision, device, load seconds, agreement with the
fp32 reference, where the converted model is cached), the TensorFlow reference
the explainers use, and the face detector. Anything missing gets one line with
the fix. Exit status 0 when nothing needs fixing, else 1.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import subprocess
import time
from typing import Any

from facedash.commands.common import emit
from facedash.errors import AssetMissing

GPU_HINT = (
    "install the CUDA build: `make setup` picks requirements-gpu.txt when `nvidia-smi -L` "
    "lists a GPU (or: pip install -r requirements-gpu.txt)"
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``doctor`` sub-command."""
    p = sub.add_parser(
        "doctor", help="this machine, and the backend, precision and agreement of every model"
    )
    p.add_argument(
        "--backend",
        choices=["auto", "tensorflow", "openvino"],
        default=None,
        help="check this backend (default: $FACEDASH_BACKEND, else auto)",
    )
    p.add_argument(
        "--build-int8",
        action="store_true",
        help="quantise FaceNet to int8 with NNCF if not built yet (minutes), then race it",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_doctor)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def nvidia_smi_gpus() -> list[str]:
    """GPUs that ``nvidia-smi -L`` lists (empty without the driver)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.startswith("GPU")]


def machine() -> dict[str, Any]:
    """The CPU, its flags, the GPUs seen by the driver and by TensorFlow, backend versions."""
    from facedash.models import backends
    from facedash.models.tfsetup import configure

    configure()
    import tensorflow as tf

    cpu = backends.cpu()
    tf_build = next(
        (p for p in ("tensorflow", "tensorflow-cpu", "tensorflow_cpu") if _version(p)), None
    )
    return {
        "cpu": cpu["model"],
        "cores": cpu["cores"],
        "flags": cpu["flags"],
        "nvidia_smi": nvidia_smi_gpus(),
        "tensorflow": tf.__version__,
        "tensorflow_package": tf_build,
        "tensorflow_cuda": bool(tf.test.is_built_with_cuda()),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "openvino": backends.openvino_version(),
        "nncf": _version("nncf"),
    }


def _timed(load: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    obj = load()
    return obj, round(time.perf_counter() - t0, 2)


def models(backend: str | None) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Load each model as the app does; describe it. Returns (models, problems)."""
    from facedash.faces import mtcnn_nets
    from facedash.faces.detect import Detector
    from facedash.faces.probe import demo_probe
    from facedash.models import describe, get_model, load_embedder, store_key

    problems: list[dict[str, str]] = []
    out: list[dict[str, Any]] = []
    embedder, seconds = _timed(
        lambda: load_embedder("facenet", backend=backend, probe=demo_probe())
    )
    record = describe(embedder)
    record["load_seconds"] = seconds
    record.update(role="embedding", store_key=store_key("facenet", record["precision"]))
    out.append(record)
    if record["note"]:
        problems.append(
            {
                "what": f"facenet: {record['note']}",
                "fix": _refusal_fix(record["note"]),
            }
        )
    reference, seconds = _timed(lambda: get_model("facenet"))
    ref = describe(reference)
    ref.update(
        role="reference (explainers, gradients)", load_seconds=seconds or ref["load_seconds"]
    )
    out.append(ref)
    detector, seconds = _timed(Detector)
    out.append(
        {
            "model": "mtcnn",
            "role": "face detector",
            "backend": detector.backend,
            "precision": detector.precision,
            "device": detector.device,
            "load_seconds": seconds,
            "agreement": None,
            "cache": str(mtcnn_nets.cache_entry().folder)
            if detector.backend == "openvino"
            else None,
            "note": "MTCNN's networks in fp32 whatever the embedding backend; OpenVINO on the "
            "CPU (TensorFlow with DetectorSettings(runtime='tensorflow'))",
        }
    )
    return out, problems


def int8_status(race_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """int8 here: NNCF, the recipe, whether it is built (and how long that took), its gate figures."""
    from facedash.models import backends, int8, ircache

    out: dict[str, Any] = {
        "nncf": _version("nncf"),
        "recipe": int8.recipe_id(),
        "store_key": backends.store_key("facenet", "int8"),
        "built": False,
    }
    if out["nncf"] is None:
        out["fix"] = backends.NNCF_HINT
        return out
    if backends.openvino_version() is not None:
        from facedash.models import openvino_facenet

        meta = ircache.check(openvino_facenet._cache_entry("int8", None))[0]
        if meta is not None:
            out.update(
                built=True,
                build_seconds=meta.get("convert_seconds"),
                counts=meta.get("counts"),
                calibration_sha256=meta.get("calibration_sha256"),
            )
    row = next((r for r in race_rows if (r["backend"], r["precision"]) == ("openvino", "int8")), {})
    out.update(
        faces_per_s=row.get("faces_per_s"),
        passed=row.get("passed", False),
        reason=row.get("reason", ""),
        gate=row.get("gate"),
    )
    return out


def backend_race(backend: str | None, build_int8: bool = False) -> dict[str, Any]:
    """The backend race for FaceNet on this CPU: its table (run now when ``auto`` needs it).

    ``candidates``: per backend and precision, faces/s on the probe batch and the gate
    figures against TensorFlow fp32; ``pick`` and ``pick_reason``; the CPU it ran on.
    """
    from facedash.faces.probe import demo_probe
    from facedash.models import backends, race
    from facedash.models.registry import get_model, race_table

    asked = backends.requested(backend)
    out: dict[str, Any] = {
        "cpu": backends.cpu()["model"],
        "cores": backends.cpu()["cores"],
        "decides": asked == ("auto", "auto") and not backends.tensorflow_gpus(),
        "cache": str(race.cache_path()),
        "cached": race.read() is not None,
        "candidates": [],
        "pick": None,
        "pick_reason": "",
    }
    table: dict[str, Any] | None
    try:
        if build_int8:  # quantise (minutes) and race it, whatever auto is asked
            from facedash.models.cards import spec

            threshold = float(spec("facenet").default_thresholds.get("cosine", 0.6))
            table = race.run(
                None,
                lambda: get_model("facenet"),
                demo_probe(),
                threshold=threshold,
                build_int8=True,
            )
        else:
            table = race_table(probe=demo_probe(), run=out["decides"])
    except AssetMissing as exc:
        out["pick_reason"] = f"not measured: {exc.args[0] if exc.args else exc}"
        return out
    if table is None:
        out["pick_reason"] = "not measured: auto is not asked for, or a GPU decides"
        return out
    out.update(cache=str(race.cache_path()), cached=True)  # an int8 built just now keys it anew
    for key in ("candidates", "pick", "pick_reason", "faces", "repeats", "gate", "seconds"):
        out[key] = table.get(key)
    out.update(loadavg=table.get("loadavg"), measured_at=table.get("measured_at"))
    return out


def _refusal_fix(note: str) -> str:
    from facedash.models.backends import OPENVINO_HINT

    if "not installed" in note and "OpenVINO" in note:
        return OPENVINO_HINT
    if "nncf" in note.lower():
        return "pip install -r requirements-convert.txt (NNCF; int8 is optional)"
    if "disagrees" in note:
        return "nothing to do: embeddings stay on the fp32 reference (FACEDASH_BACKEND=tensorflow silences this)"
    return "delete the converted model's folder under $FACEDASH_HOME/models and run again"


def cmd_doctor(args: argparse.Namespace) -> int:
    """Run the checks and print them (or one JSON object)."""
    from facedash.data.store import Store
    from facedash.models import backends, plan

    report: dict[str, Any] = {"machine": machine()}
    m = report["machine"]
    problems: list[dict[str, str]] = []
    info: list[str] = []
    if m["openvino"] is None:
        problems.append(
            {
                "what": "OpenVINO is not installed (the fast CPU backend)",
                "fix": backends.OPENVINO_HINT,
            }
        )
    if m["nvidia_smi"] and not m["gpus"]:
        problems.append(
            {
                "what": f"nvidia-smi lists {len(m['nvidia_smi'])} GPU(s) but TensorFlow sees none",
                "fix": GPU_HINT,
            }
        )
    if not m["nvidia_smi"]:
        info.append("no NVIDIA GPU (nvidia-smi lists none): TensorFlow runs on the CPU")
    report["race"] = backend_race(args.backend, getattr(args, "build_int8", False))
    report["int8"] = int8_status(report["race"].get("candidates") or [])
    if report["race"].get("pick_reason"):
        info.append(f"auto on this CPU ({m['cpu']}): {report['race']['pick_reason']}")
    choice = plan("facenet", args.backend)
    report["backend"] = {
        "asked": backends.requested(args.backend)[0],
        "backend": choice.backend,
        "precision": choice.precision,
        "store_key": choice.key,
    }
    try:
        report["models"], found = models(args.backend)
        problems.extend(found)
    except AssetMissing as exc:
        report["models"] = []
        problems.append({"what": str(exc).split(". Fix")[0], "fix": exc.fix})
    store = Store()
    report["store"] = {"path": str(store.path), "embeddings": store.model_keys()}
    report["problems"] = problems
    report["info"] = info
    report["ok"] = not problems
    emit(args, report, _text(report))
    return 0 if report["ok"] else 1


def _int8_text(q: dict[str, Any]) -> list[str]:
    """int8's recipe, build and gate figures, in one or two lines."""
    if not q:
        return []
    if q.get("nncf") is None:
        return [f"int8: NNCF is not installed ({q.get('fix', '')})"]
    if not q.get("built"):
        return [f"int8 (recipe {q['recipe']}): not built here (facedash doctor --build-int8)"]
    g = q.get("gate") or {}
    head = f"int8 (recipe {q['recipe']}, built in {q.get('build_seconds')} s, {q.get('counts')})"
    if not g:
        return [head]
    return [
        head,
        f"  gate {'passed' if g['passed'] else 'FAILED'}: min cosine {g['min_cosine']:.4f}, "
        f"mean {g['mean_cosine']:.5f} on {g['probe_faces']} held-out faces; AUC "
        f"{g['auc_delta']:+.5f}; {g['loo_changes']} leave-one-out changes; "
        f"{g['decision_changes']:.2%} of {g['pairs']} pairs change decision",
    ]


def _text(report: dict[str, Any]) -> str:
    m = report["machine"]
    flags = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in m["flags"].items())
    lines = [
        f"CPU: {m['cpu']} ({m['cores']} cores); {flags}",
        f"GPUs seen by TensorFlow {m['tensorflow']} ({m['tensorflow_package']}): "
        + (", ".join(m["gpus"]) or "none"),
        f"OpenVINO: {m['openvino'] or 'not installed'}; NNCF (int8): {m['nncf'] or 'not installed'}",
        f"Backend: asked {report['backend']['asked']} -> {report['backend']['backend']} "
        f"{report['backend']['precision']} (store key {report['backend']['store_key']})",
    ]
    for rec in report["models"]:
        agreement = rec.get("agreement")
        agrees = (
            f"min cosine {agreement['min_cosine']:.6f} on {agreement['faces']} demo faces"
            if agreement
            else "is the reference"
        )
        lines.append(
            f"  {rec['model']:8s} {rec['role']}: {rec['backend']} {rec['precision']} on "
            f"{rec['device']}, loaded in {rec['load_seconds']} s; agreement: {agrees}"
        )
        if rec.get("cache"):
            lines.append(f"           converted model cached in {rec['cache']}")
        if rec.get("note"):
            lines.append(f"           note: {rec['note']}")
    lines += _race_text(report.get("race") or {})
    lines += _int8_text(report.get("int8") or {})
    keys = ", ".join(f"{k}: {n}" for k, n in report["store"]["embeddings"].items()) or "empty"
    lines.append(f"Store {report['store']['path']}: {keys}")
    lines += [f"Note: {line}" for line in report["info"]]
    lines += [f"Problem: {p['what']}. Fix: {p['fix']}" for p in report["problems"]]
    lines.append("OK" if report["ok"] else f"{len(report['problems'])} problem(s)")
    return "\n".join(lines)


def _race_text(r: dict[str, Any]) -> list[str]:
    if not r.get("candidates"):
        return [f"Backend race: {r.get('pick_reason') or 'not measured'}"] if r else []

    def fmt(v: Any, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    load = ", ".join(str(x) for x in r.get("loadavg") or []) or "?"
    lines = [
        f"Backend race on {r['cpu']} ({r['cores']} cores), {r.get('faces')} probe faces, best of "
        f"{r.get('repeats')}, load average {load}, {r.get('measured_at')} (cached in {r['cache']}):",
        f"  {'backend':12s} {'precision':9s} {'faces/s':>8s} {'min cos':>9s} {'mean cos':>9s} "
        f"{'pairs changed':>13s}  passed  reason",
    ]
    for c in r["candidates"]:
        lines.append(
            f"  {c['backend']:12s} {c['precision']:9s} {fmt(c['faces_per_s'], '.1f'):>8s} "
            f"{fmt(c['min_cosine'], '.6f'):>9s} {fmt(c['mean_cosine'], '.6f'):>9s} "
            f"{fmt(c['decision_changes'], '.2%'):>13s}  {'yes' if c['passed'] else 'no':6s}  "
            f"{c['reason']}"
        )
    pick = r.get("pick") or {}
    lines.append(
        f"  pick: {pick.get('backend')} {pick.get('precision')}: {r.get('pick_reason')}"
        + ("" if r.get("decides") else " (not used: a backend was asked for, or a GPU decides)")
    )
    return lines
