"""The agreement probe: aligned demo faces that check a converted model against the reference.

A fast backend (OpenVINO) is converted from the reference model once and checked on
known faces before it is used. The model layer never reads a data set, so the faces
come from here and are handed to it (``get_embedder(..., probe=demo_probe(root))``);
it calls the probe only when a converted model has to be built, and stores the crops
and their fp32 embeddings with that model's cache entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from facedash.data.datasets import load_demo
from facedash.data.images import decode
from facedash.faces.detect import AlignSettings, Detector, align, select
from facedash.models.cards import MODELS
from facedash.models.int8 import RECIPE, ProbeSet
from facedash.models.openvino_facenet import AGREEMENT_FACES


def _demo_faces(root: Path | None, limit: int | None) -> tuple[np.ndarray, list[str]]:
    """Aligned 160 px crops of demo faces and their people (see ``demo_crops``)."""
    items = load_demo(root).items
    order = list(range(len(items)))
    if limit is not None:  # an even spread first, the rest as spares
        step = max(1, len(items) // limit)
        order = order[::step] + [i for i in order if i % step]
    detector = Detector()
    settings = AlignSettings()
    size = MODELS["facenet"].input_size
    crops: list[np.ndarray] = []
    people: list[str] = []
    for start in range(0, len(order), 16):
        chunk = order[start : start + 16]
        photos = [decode(items[i].read()) for i in chunk]
        for i, photo, faces in zip(chunk, photos, detector.detect(photos), strict=True):
            for f in select(faces, settings.policy):
                crops.append(
                    align(photo, faces[f], size, margin=settings.margin, rotate=settings.rotate)
                )
                people.append(items[i].person)
        if limit is not None and len(crops) >= limit:
            break
    if limit is not None:
        crops, people = crops[:limit], people[:limit]
    return np.stack(crops), people


def demo_crops(root: Path | None = None, limit: int | None = AGREEMENT_FACES) -> np.ndarray:
    """Aligned 160 px crops of demo faces, cut by the default detector.

    ``limit`` photos spread evenly over the sorted demo set (photos without a face
    are skipped); ``None``: every photo.
    """
    return _demo_faces(root, limit)[0]


def _variant(crop: np.ndarray, spec: str, seed: int) -> np.ndarray:
    """One calibration variant of an aligned crop, by its recipe name (``kind:args``).

    Mild versions of what users feed the model (mirrors, small misalignments, blur,
    compression, sensor noise, under-exposure, low resolution). The degradation
    kinds echo ``facedash.pfe.degrade``, which sits above this layer.
    """
    import cv2

    kind, _, arg = spec.partition(":")
    h, w = crop.shape[:2]
    if kind == "mirror":
        return np.ascontiguousarray(crop[:, ::-1])
    if kind in ("shift", "scale"):
        if kind == "shift":
            dx, dy = (float(v) for v in arg.split(","))
            m = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
        else:
            m = np.asarray(cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, float(arg)))
        return np.asarray(cv2.warpAffine(crop, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
    if kind == "blur":
        return np.asarray(cv2.GaussianBlur(crop, (0, 0), sigmaX=float(arg)))
    if kind == "jpeg":
        ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, int(arg)])
        return np.asarray(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)) if ok else crop.copy()
    if kind == "noise":
        noise = np.random.default_rng(seed).normal(0.0, float(arg), crop.shape)
        return np.clip(crop + noise, 0, 255).astype(np.uint8)
    if kind == "dark":
        return np.clip(crop.astype(np.float32) * float(arg), 0, 255).astype(np.uint8)
    if kind == "downscale":
        small = cv2.resize(crop, None, fx=float(arg), fy=float(arg), interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR))
    raise ValueError(f"unknown calibration variant {spec!r}")


def probe_set(
    crops: np.ndarray, people: list[str] | np.ndarray, calibration: dict[str, Any]
) -> ProbeSet:
    """Roles (per person, by ``calibration['split']``) and calibration variants for crops."""
    people = np.asarray(people).astype(str)
    role_of = {k: role for role, ks in calibration["split"].items() for k in ks}
    roles = np.empty(len(crops), dtype=object)
    seen: dict[str, int] = {}
    for i, p in enumerate(people):
        roles[i] = role_of[seen.get(p, 0) % 10]
        seen[p] = seen.get(p, 0) + 1
    roles = roles.astype(str)
    calib = crops[roles == "calibration"]
    variants = [
        _variant(c, spec, seed=1000 * i + k)
        for i, c in enumerate(calib)
        for k, spec in enumerate(calibration["variants"])
    ]
    shape = (0, *crops.shape[1:])
    return ProbeSet(
        crops=crops,
        people=people,
        roles=roles,
        variants=np.stack(variants) if variants else np.zeros(shape, np.uint8),
    )


class DemoProbe:
    """The demo set's aligned faces as a probe source.

    Called with how many crops (``None``: all), as a ``ProbeSource``; ``probe_set()``
    gives every crop with its person, role and calibration variants (an int8 build's
    calibration and probe set, ``facedash.models.int8.RECIPE``).
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root

    def __call__(self, limit: int | None = AGREEMENT_FACES) -> np.ndarray:
        return demo_crops(self.root, limit)

    def probe_set(self, calibration: dict[str, Any] | None = None) -> ProbeSet:
        """Every demo crop with its person and role, and the calibration variants."""
        crops, people = _demo_faces(self.root, None)
        return probe_set(crops, people, calibration or RECIPE["calibration"])


def demo_probe(root: Path | None = None) -> DemoProbe:
    """The demo set's aligned faces as a probe source: called with how many (``None``: all)."""
    return DemoProbe(root)
