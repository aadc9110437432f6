"""FaceNet on OpenVINO: converted once from the Keras model, cached, checked at every load.

The first load converts the reference Keras model object with
``openvino.convert_model`` (int8: then quantises it with NNCF on the probe's
aligned faces) and caches the result (``facedash.models.ircache``) together
with a fixed handful of aligned faces and their fp32 reference embeddings: the
agreement probe. The caller hands in the reference model and the probe's faces
(``facedash.faces.probe`` cuts them from the demo set), so this module never
reads a data set or runs the detector; a load from the cache needs neither.
Every load then compiles the cached model for the CPU at the asked precision and
embeds those faces: a minimum cosine to the reference below ``MIN_COSINE``
refuses the backend (``BackendRefused``) and the caller falls back to
TensorFlow. A load from the cache imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facedash import assets
from facedash.errors import AssetMissing, FacedashError
from facedash.models import int8, ircache
from facedash.models.backends import ProbeSource
from facedash.models.cards import MODELS, ModelSpec
from facedash.models.facenet import embed_prewhitened, prewhiten

ReferenceSource = Callable[[], Any]
"""The fp32 reference embedder (with its Keras ``model``), loaded when first called."""

BATCH = 32
AGREEMENT_FACES = 8
MIN_COSINE = 0.999
# OpenVINO's names for the precisions; int8 runs its unquantised ops in f32.
_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}


class BackendRefused(FacedashError):
    """A fast backend could not be used (not installed, conversion failed, disagreed)."""


@dataclass(frozen=True)
class Agreement:
    """How closely a backend's embeddings match the fp32 reference on fixed demo faces."""

    faces: int
    min_cosine: float
    mean_cosine: float
    threshold: float = MIN_COSINE
    gate: int8.Gate | None = None  # int8: the full gate on the stored probe set

    @property
    def passed(self) -> bool:
        """Every face at or above the threshold (int8: every figure of its gate in bounds)."""
        if self.gate is not None:
            return self.gate.passed
        return self.min_cosine >= self.threshold

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "faces": self.faces,
            "min_cosine": round(self.min_cosine, 6),
            "mean_cosine": round(self.mean_cosine, 6),
            "threshold": self.threshold,
            "passed": self.passed,
            **({"gate": self.gate.as_dict()} if self.gate is not None else {}),
        }


def agreement(embeddings: np.ndarray, reference: np.ndarray) -> Agreement:
    """Cosine of each embedding to its reference, summarised."""
    a = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    b = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    cos = np.sum(a * b, axis=1)
    return Agreement(len(cos), float(cos.min()), float(cos.mean()), MIN_COSINE)


def _cache_entry(precision: str, root: Path | None) -> ircache.Entry:
    from facedash.models.backends import openvino_version

    folder = f"int8-{int8.recipe_id()}" if precision == "int8" else precision
    return ircache.entry(
        "facenet", assets.WEIGHTS_SHA256, "openvino", openvino_version() or "none", folder, root
    )


def _convert(reference: Any) -> Any:
    """The reference Keras model converted to an OpenVINO model."""
    import openvino as ov

    size = MODELS["facenet"].input_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns about the input structure; harmless
        return ov.convert_model(reference.model, input=[(-1, size, size, 3)])


def _probe_set(probe: ProbeSource) -> int8.ProbeSet:
    make = getattr(probe, "probe_set", None)
    if make is None:
        raise BackendRefused(
            "an int8 build needs a labelled probe set (facedash.faces.probe.demo_probe)"
        )
    probe_set: int8.ProbeSet = make(int8.RECIPE["calibration"])
    return probe_set


def build(
    precision: str, root: Path | None, *, reference: ReferenceSource, probe: ProbeSource
) -> ircache.Entry:
    """Convert (and for int8 quantise) FaceNet and write its cache entry with its probe; return it.

    int8 stores its whole probe set (crops, people, roles, fp32 embeddings) and the
    recipe; the other precisions a handful of crops and their fp32 embeddings.
    """
    import openvino as ov

    e = _cache_entry(precision, root)
    t0 = time.perf_counter()
    fp32 = reference()
    model = _convert(fp32)
    extra: dict[str, Any] = {}
    if precision == "int8":
        ps = _probe_set(probe)
        val = ps.of("validation")
        model, info = int8.quantise(
            model, ps, fp32.embed(np.concatenate([val, val[:, :, ::-1]])), prewhiten
        )
        stored = {
            "crops": ps.crops,
            "embeddings": fp32.embed(ps.crops),
            "people": ps.people.astype(str),
            "roles": ps.roles.astype(str),
        }
        extra = {
            "recipe": int8.RECIPE,
            "recipe_id": int8.recipe_id(),
            "counts": ps.counts(),
            "calibration_sha256": ps.fingerprint(),
            **info,
        }
    else:
        crops = probe(AGREEMENT_FACES)
        stored = {"crops": crops, "embeddings": fp32.embed(crops)}

    def produce(tmp: Path) -> None:
        ov.save_model(model, str(tmp / "model.xml"), compress_to_fp16=False)
        np.savez(tmp / "reference.npz", **stored)

    ircache.write(e, produce, {"convert_seconds": round(time.perf_counter() - t0, 2), **extra})
    return e


class OpenVINOEmbedder:
    """FaceNet compiled by OpenVINO for the CPU; thread-safe."""

    spec: ModelSpec = MODELS["facenet"]
    backend = "openvino"

    def __init__(self, compiled: Any, precision: str, entry: ircache.Entry) -> None:
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()
        self.precision = precision
        self.device = "CPU"
        self.cache_path = str(entry.folder)
        self.agreement: Agreement | None = None
        self.load_seconds = 0.0
        self.note = ""

    def embed(self, faces: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
        """L2-normalised embeddings ``(N, 128)`` of aligned uint8 faces ``(N, 160, 160, 3)``."""
        faces = self.spec.batch(faces)
        with self._lock:
            return embed_prewhitened(
                faces,
                self.spec.dim,
                lambda batch: next(iter(self._request.infer({0: batch}).values())),
                batch_size,
            )


def _compile(e: ircache.Entry, precision: str) -> tuple[OpenVINOEmbedder, dict[str, np.ndarray]]:
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(e.path("model.xml")), str(e.path("model.bin")))
    compiled = core.compile_model(
        model,
        "CPU",
        {"INFERENCE_PRECISION_HINT": _HINTS[precision], "PERFORMANCE_HINT": "LATENCY"},
    )
    with np.load(e.path("reference.npz")) as ref:
        reference = {name: ref[name] for name in ref.files}
    return OpenVINOEmbedder(compiled, precision, e), reference


def _int8_agreement(
    embedder: OpenVINOEmbedder, stored: dict[str, np.ndarray], meta: dict[str, Any]
) -> Agreement:
    """The int8 gate on the stored probe set (``BackendRefused`` when it contradicts itself)."""
    try:
        if meta.get("recipe_id") != int8.recipe_id():
            raise int8.ProbeMismatch(
                f"the build's recipe {meta.get('recipe_id')!r} is not this version's "
                f"{int8.recipe_id()!r}"
            )
        missing = sorted({"crops", "embeddings", "people", "roles"} - set(stored))
        if missing:
            raise int8.ProbeMismatch(f"the stored probe lacks {', '.join(missing)}")
        int8.check_stored(stored["crops"], stored["people"], stored["roles"], stored["embeddings"])
    except int8.ProbeMismatch as exc:
        raise BackendRefused(f"OpenVINO int8 refused: {exc} ({embedder.cache_path})") from None
    gate = int8.gate(
        embedder.embed(stored["crops"]),
        stored["embeddings"],
        stored["people"],
        stored["roles"] == "probe",
        counts=meta.get("counts", {}),
        recipe=int8.recipe_id(),
    )
    return Agreement(gate.probe_faces, gate.min_cosine, gate.mean_cosine, int8.MIN_COSINE, gate)


def load(
    precision: str = "fp32",
    root: Path | None = None,
    *,
    reference: ReferenceSource,
    probe: ProbeSource | None = None,
    check: bool = True,
) -> OpenVINOEmbedder:
    """FaceNet on OpenVINO at ``precision``, from the cache (built or rebuilt when needed).

    ``reference`` gives the fp32 model to convert and ``probe`` the faces to check
    it on; both are called only when the cache entry has to be (re)built, and the
    probe is then stored with the entry. Raises ``BackendRefused`` naming what went
    wrong: OpenVINO missing, no probe to check a new conversion with, a failed
    conversion, or (with ``check``) an agreement with the fp32 reference below
    ``MIN_COSINE``. ``AssetMissing`` (no weights) passes through.
    """
    from facedash.models.backends import OPENVINO_HINT, openvino_version

    t0 = time.perf_counter()
    assets.require_weights(root)
    if openvino_version() is None:
        raise BackendRefused(f"OpenVINO is not installed ({OPENVINO_HINT})")
    if precision not in _HINTS:
        raise BackendRefused(f"OpenVINO has no {precision!r} precision here")
    e = _cache_entry(precision, root)
    note = ""
    with ircache.building(e):
        meta, why = ircache.check(e)
        embedder: OpenVINOEmbedder | None = None
        if meta is not None:
            try:
                embedder, stored = _compile(e, precision)
            except Exception as exc:  # noqa: BLE001 - any unreadable cache is rebuilt
                why = f"OpenVINO could not read it ({type(exc).__name__})"
        if embedder is None:
            if why != "not built yet":
                note = f"the converted model in {e.folder} was unusable ({why}); rebuilt"
            if probe is None:
                raise BackendRefused(
                    f"the converted model is {why} and no faces were given to check a new "
                    "conversion with (facedash.faces.probe.demo_probe)"
                )
            try:
                build(precision, root, reference=reference, probe=probe)
                embedder, stored = _compile(e, precision)
            except AssetMissing as exc:  # the demo faces the check needs
                raise BackendRefused(f"no agreement check possible: {exc}") from None
            except FacedashError:
                raise
            except Exception as exc:  # noqa: BLE001 - conversion failures become a message
                raise BackendRefused(
                    f"converting FaceNet to OpenVINO {precision} failed: {type(exc).__name__}: {exc}"
                ) from None
    if precision == "int8":
        embedder.agreement = _int8_agreement(embedder, stored, ircache.check(e)[0] or {})
    else:
        embedder.agreement = agreement(embedder.embed(stored["crops"]), stored["embeddings"])
    embedder.load_seconds = round(time.perf_counter() - t0, 2)
    embedder.note = note
    gate = embedder.agreement.gate
    if check and gate is not None and not gate.passed:
        raise BackendRefused(
            f"OpenVINO int8 (recipe {gate.recipe}) fails its gate on {gate.probe_faces} held-out "
            f"probe faces and {gate.pairs} pairs: {'; '.join(gate.failures())}"
        )
    if check and not embedder.agreement.passed:
        raise BackendRefused(
            f"OpenVINO {precision} disagrees with the fp32 reference: min cosine "
            f"{embedder.agreement.min_cosine:.4f} < {MIN_COSINE} on "
            f"{embedder.agreement.faces} demo faces"
        )
    return embedder
