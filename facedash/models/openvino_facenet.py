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
from facedash.models import ircache
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

    @property
    def passed(self) -> bool:
        """Every face at or above the threshold."""
        return self.min_cosine >= self.threshold

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "faces": self.faces,
            "min_cosine": round(self.min_cosine, 6),
            "mean_cosine": round(self.mean_cosine, 6),
            "threshold": self.threshold,
            "passed": self.passed,
        }


def agreement(embeddings: np.ndarray, reference: np.ndarray) -> Agreement:
    """Cosine of each embedding to its reference, summarised."""
    a = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    b = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    cos = np.sum(a * b, axis=1)
    return Agreement(len(cos), float(cos.min()), float(cos.mean()), MIN_COSINE)


def _cache_entry(precision: str, root: Path | None) -> ircache.Entry:
    from facedash.models.backends import openvino_version

    return ircache.entry(
        "facenet", assets.WEIGHTS_SHA256, "openvino", openvino_version() or "none", precision, root
    )


def _convert(precision: str, reference: Any, probe: ProbeSource) -> Any:
    """The reference Keras model converted to an OpenVINO model (int8: quantised on the probe's faces)."""
    import openvino as ov

    size = MODELS["facenet"].input_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns about the input structure; harmless
        model = ov.convert_model(reference.model, input=[(-1, size, size, 3)])
    if precision == "int8":
        import nncf

        calibration = prewhiten(probe(None))
        model = nncf.quantize(
            model,
            nncf.Dataset([calibration[i : i + 1] for i in range(len(calibration))]),
            preset=nncf.QuantizationPreset.MIXED,
            subset_size=len(calibration),
        )
    return model


def build(
    precision: str, root: Path | None, *, reference: ReferenceSource, probe: ProbeSource
) -> ircache.Entry:
    """Convert (and for int8 quantise) FaceNet and write its cache entry with its probe; return it."""
    import openvino as ov

    e = _cache_entry(precision, root)
    t0 = time.perf_counter()
    fp32 = reference()
    model = _convert(precision, fp32, probe)
    crops = probe(AGREEMENT_FACES)
    reference_embeddings = fp32.embed(crops)

    def produce(tmp: Path) -> None:
        ov.save_model(model, str(tmp / "model.xml"), compress_to_fp16=False)
        np.savez(tmp / "reference.npz", crops=crops, embeddings=reference_embeddings)

    ircache.write(e, produce, {"convert_seconds": round(time.perf_counter() - t0, 2)})
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
        reference = {"crops": ref["crops"], "embeddings": ref["embeddings"]}
    return OpenVINOEmbedder(compiled, precision, e), reference


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
    embedder.agreement = agreement(embedder.embed(stored["crops"]), stored["embeddings"])
    embedder.load_seconds = round(time.perf_counter() - t0, 2)
    embedder.note = note
    if check and not embedder.agreement.passed:
        raise BackendRefused(
            f"OpenVINO {precision} disagrees with the fp32 reference: min cosine "
            f"{embedder.agreement.min_cosine:.4f} < {MIN_COSINE} on "
            f"{embedder.agreement.faces} demo faces"
        )
    return embedder
