"""Exact aligned crops, re-created from the photos (the stored thumbnails are lossy JPEG)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from facedash.faces.detect import AlignSettings, Face, align


def face_of(row: Any) -> Face:
    """The detector's ``Face`` of an embedded row."""
    return Face(tuple(row.box), np.asarray(row.landmarks, dtype=np.float64), float(row.confidence))


def aligned_crop(
    data: bytes, row: Any, settings: AlignSettings | None = None, size: int = 160
) -> np.ndarray:
    """The exact aligned uint8 crop the pipeline embedded for ``row`` (photo bytes in)."""
    from facedash.data.images import decode

    s = settings or AlignSettings()
    return align(decode(data), face_of(row), size, margin=s.margin, rotate=s.rotate)


def aligned_crops(
    dataset: Any, rows: Sequence[Any], settings: AlignSettings | None = None, size: int = 160
) -> np.ndarray:
    """Aligned crops ``(N, size, size, 3)`` of ``rows`` (from ``EmbeddingSet.rows``), read from ``dataset``.

    Rows are matched to the dataset's items by name; each photo is decoded once.
    """
    items = {item.name: item for item in dataset.items}
    decoded: dict[str, np.ndarray] = {}
    out = np.empty((len(rows), size, size, 3), dtype=np.uint8)
    s = settings or AlignSettings()
    from facedash.data.images import decode

    for i, row in enumerate(rows):
        if row.name not in items:
            raise ValueError(f"{row.name!r} is not in the data set {dataset.name!r}")
        if row.name not in decoded:
            decoded[row.name] = decode(items[row.name].read())
        out[i] = align(decoded[row.name], face_of(row), size, margin=s.margin, rotate=s.rotate)
    return out


def face_from_photo(
    data: bytes, detector: Any, settings: AlignSettings | None = None, size: int = 160
) -> tuple[np.ndarray, Face, np.ndarray]:
    """The photo, its largest face and that face's aligned crop; ``FacedashError`` if none."""
    from facedash.faces.photo_face import largest_face

    s = settings or AlignSettings()
    image, face, _found = largest_face(data, detector)
    return image, face, align(image, face, size, margin=s.margin, rotate=s.rotate)
