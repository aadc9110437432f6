"""dlib's face-recognition ResNet (128-d), run by ``dlib-bin``.

The weights come from the ``face-recognition-models`` package. That package's
``__init__`` imports ``pkg_resources`` (gone from recent setuptools), so its
folder is found with ``importlib.util.find_spec`` and never imported. The
``face_recognition`` package is not used: dlib is called directly.

dlib's network expects its own 150x150 face chip: five landmarks from dlib's
5-point shape predictor, found inside the detector's (MTCNN's) box, are mapped
to a canonical face with 25% padding. On the demo set this gives ROC-AUC 0.997
against 0.90 for our eye-levelled crop resized to 150 px, so the model aligns
faces itself (``align``; the registry's ``align_key`` tells the pipeline).
Descriptors are returned as dlib computes them (not re-normalised), so the
published Euclidean threshold 0.6 applies.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

from facedash.errors import AssetMissing
from facedash.faces.types import Face
from facedash.models.cards import MODELS, ModelSpec

SHAPE_FILE = "shape_predictor_5_face_landmarks.dat"
NET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
PADDING = 0.25
BATCH = 32


def weights_dir() -> Path:
    """The ``models`` folder of the installed ``face-recognition-models`` package (not imported)."""
    found = importlib.util.find_spec("face_recognition_models")
    locations = list(found.submodule_search_locations or []) if found else []
    for loc in locations:
        folder = Path(loc) / "models"
        if (folder / NET_FILE).is_file() and (folder / SHAPE_FILE).is_file():
            return folder
    raise AssetMissing(
        "dlib weights (face-recognition-models)",
        locations[0] if locations else "site-packages",
        fix="pip install face-recognition-models==0.3.0 dlib-bin==20.0.1.post1",
    )


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError:
        raise AssetMissing(
            "the dlib runtime", "site-packages", fix="pip install dlib-bin==20.0.1.post1"
        ) from None
    return dlib


class DlibEmbedder:
    """dlib's shape predictor + ResNet; thread-safe (one lock around dlib calls)."""

    spec: ModelSpec = MODELS["dlib"]
    device = "CPU"
    backend = "dlib"
    precision = "fp32"

    def __init__(self, folder: Path | None = None) -> None:
        dlib = _import_dlib()
        folder = folder or weights_dir()
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(folder / SHAPE_FILE))
        self._net = dlib.face_recognition_model_v1(str(folder / NET_FILE))
        self._lock = threading.Lock()
        if dlib.DLIB_USE_CUDA:
            self.device = "CUDA"

    def landmarks(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The five dlib landmarks (5, 2) inside the detector's box."""
        x, y, w, h = face.box
        rect = self._dlib.rectangle(round(x), round(y), round(x + w), round(y + h))
        with self._lock:
            shape = self._shape(np.ascontiguousarray(image), rect)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)

    def align(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The dlib 150x150 face chip of ``face`` (uint8 RGB)."""
        return self.chip(image, face, self.spec.input_size)

    def chip(self, image: np.ndarray, face: Face, size: int) -> np.ndarray:
        """Dlib's ``size`` x ``size`` face chip of ``face`` (uint8 RGB): also a user card's ``align = "dlib"``."""
        image = np.ascontiguousarray(image)
        x, y, w, h = face.box
        rect = self._dlib.rectangle(round(x), round(y), round(x + w), round(y + h))
        with self._lock:
            shape = self._shape(image, rect)
            chip = self._dlib.get_face_chip(image, shape, size=size, padding=PADDING)
        return np.asarray(chip, dtype=np.uint8)

    def embed(self, faces: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
        """Descriptors ``(N, 128)`` of face chips ``(N, 150, 150, 3)`` uint8."""
        faces = self.spec.batch(faces)
        out = np.empty((len(faces), self.spec.dim), dtype=np.float32)
        for start in range(0, len(faces), batch_size):
            chunk = [
                np.ascontiguousarray(f, dtype=np.uint8) for f in faces[start : start + batch_size]
            ]
            with self._lock:
                vectors = self._net.compute_face_descriptor(chunk)
            out[start : start + len(chunk)] = np.asarray(vectors, dtype=np.float32)
        return out


def load(root: Path | None = None) -> DlibEmbedder:
    """Load dlib's shape predictor and ResNet (``root`` is unused: the weights ship in a package)."""
    return DlibEmbedder()
