"""The agreement probe: aligned demo faces that check a converted model against the reference.

A fast backend (OpenVINO) is converted from the reference model once and checked on
known faces before it is used. The model layer never reads a data set, so the faces
come from here and are handed to it (``get_embedder(..., probe=demo_probe(root))``);
it calls the probe only when a converted model has to be built, and stores the crops
and their fp32 embeddings with that model's cache entry.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from facedash.data.datasets import load_demo
from facedash.data.images import decode
from facedash.faces.detect import AlignSettings, Detector, align, select
from facedash.models.backends import ProbeSource
from facedash.models.cards import MODELS
from facedash.models.openvino_facenet import AGREEMENT_FACES


def demo_crops(root: Path | None = None, limit: int | None = AGREEMENT_FACES) -> np.ndarray:
    """Aligned 160 px crops of demo faces, cut by the reference (TensorFlow) detector.

    ``limit`` photos spread evenly over the sorted demo set (photos without a face
    are skipped); ``None``: every photo.
    """
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


def demo_probe(root: Path | None = None) -> ProbeSource:
    """The demo set's aligned faces as a probe source: called with how many (``None``: all)."""
    return functools.partial(demo_crops, root)
