"""FaceNet on OpenVINO: converted once from the Keras model, cached, checked at every load.

The first load converts the reference Keras model object with
``openvino.convert_model`` (int8: then quantises it with NNCF on the demo set's
aligned faces) and caches the result (``facedash.models.ircache``) together
with a fixed handful of aligned demo faces and their fp32 reference embeddings.
Every load then compiles the cached model for the CPU at the asked precision and
embeds those faces: a minimum cosine to the reference below ``MIN_COSINE``
refuses the backend (``BackendRefused``) and the caller falls back to
TensorFlow. A load from the cache imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facedash import assets
from facedash.errors import AssetMissing, FacedashError
from facedash.models import ircache
from facedash.models.facenet import prewhiten
from facedash.models.registry import MODELS, ModelSpec

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


def demo_crops(root: Path | None = None, limit: int | None = AGREEMENT_FACES) -> np.ndarray:
    """Aligned 160 px crops of demo faces, cut by the reference (TensorFlow) detector.

    ``limit`` photos spread evenly over the sorted demo set (photos without a face
    are skipped); ``None``: every photo.
    """
    from facedash.datasets import load_demo
    from facedash.detect import AlignSettings, Detector, align, select
    from facedash.images import decode

    items = load_demo(root).items
    order = list(range(len(items)))
    if limit is not None:  # an even spread first, the rest as spares
        step = max(1, len(items) // limit)
        order = order[::step] + [i for i in order if i % step]
    detector = Detector()
    settings = AlignSettings()
    size = MODELS["facenet"].input_size
    crops: list[np.ndarray] = []
    for start in range(0, len(order), 16):
        chunk = order[start : start + 16]
        photos = [decode(items[i].read()) for i in chunk]
        for photo, faces in zip(photos, detector.detect(photos), strict=True):
            for f in select(faces, settings.policy):
                crops.append(
                    align(photo, faces[f], size, margin=settings.margin, rotate=settings.rotate)
                )
        if limit is not None and len(crops) >= limit:
            break
    return np.stack(crops[:limit] if limit is not None else crops)


def _cache_entry(precision: str, root: Path | None) -> ircache.Entry:
    from facedash.models.backends import openvino_version

    return ircache.entry(
        "facenet", assets.WEIGHTS_SHA256, "openvino", openvino_version() or "none", precision, root
    )


def _convert(precision: str, root: Path | None) -> Any:
    """The reference Keras model converted to an OpenVINO model (int8: quantised on demo faces)."""
    import openvino as ov

    from facedash.models.registry import get_model

    reference = get_model("facenet", root)
    size = MODELS["facenet"].input_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns about the input structure; harmless
        model = ov.convert_model(reference.model, input=[(-1, size, size, 3)])  # type: ignore[attr-defined]
    if precision == "int8":
        import nncf

        calibration = prewhiten(demo_crops(root, limit=None))
        model = nncf.quantize(
            model,
            nncf.Dataset([calibration[i : i + 1] for i in range(len(calibration))]),
            preset=nncf.QuantizationPreset.MIXED,
            subset_size=len(calibration),
        )
    return model


def build(precision: str, root: Path | None = None) -> ircache.Entry:
    """Convert (and for int8 quantise) FaceNet and write its cache entry; return the entry."""
    import openvino as ov

    from facedash.models.registry import get_model

    e = _cache_entry(precision, root)
    t0 = time.perf_counter()
    model = _convert(precision, root)
    crops = demo_crops(root)
    reference = get_model("facenet", root).embed(crops)

    def produce(tmp: Path) -> None:
        ov.save_model(model, str(tmp / "model.xml"), compress_to_fp16=False)
        np.savez(tmp / "reference.npz", crops=crops, embeddings=reference)

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
        faces = np.asarray(faces)
        size = self.spec.input_size
        if faces.ndim != 4 or faces.shape[1:] != (size, size, 3):
            raise ValueError(f"faces must have shape (N, {size}, {size}, 3), got {faces.shape}")
        out = np.empty((len(faces), self.spec.dim), dtype=np.float32)
        with self._lock:
            for start in range(0, len(faces), batch_size):
                batch = prewhiten(faces[start : start + batch_size])
                result = self._request.infer({0: batch})
                out[start : start + len(batch)] = next(iter(result.values()))
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


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
    precision: str = "fp32", root: Path | None = None, *, check: bool = True
) -> OpenVINOEmbedder:
    """FaceNet on OpenVINO at ``precision``, from the cache (built or rebuilt when needed).

    Raises ``BackendRefused`` naming what went wrong: OpenVINO missing, a failed
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
                embedder, reference = _compile(e, precision)
            except Exception as exc:  # noqa: BLE001 - any unreadable cache is rebuilt
                why = f"OpenVINO could not read it ({type(exc).__name__})"
        if embedder is None:
            if why != "not built yet":
                note = f"the converted model in {e.folder} was unusable ({why}); rebuilt"
            try:
                build(precision, root)
                embedder, reference = _compile(e, precision)
            except AssetMissing as exc:  # the demo faces the check needs
                raise BackendRefused(f"no agreement check possible: {exc}") from None
            except FacedashError:
                raise
            except Exception as exc:  # noqa: BLE001 - conversion failures become a message
                raise BackendRefused(
                    f"converting FaceNet to OpenVINO {precision} failed: {type(exc).__name__}: {exc}"
                ) from None
    embedder.agreement = agreement(embedder.embed(reference["crops"]), reference["embeddings"])
    embedder.load_seconds = round(time.perf_counter() - t0, 2)
    embedder.note = note
    if check and not embedder.agreement.passed:
        raise BackendRefused(
            f"OpenVINO {precision} disagrees with the fp32 reference: min cosine "
            f"{embedder.agreement.min_cosine:.4f} < {MIN_COSINE} on "
            f"{embedder.agreement.faces} demo faces"
        )
    return embedder
