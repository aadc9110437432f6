"""Pictures of faces for galleries: pure array functions, no I/O."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from facedash.data.images import decode_jpeg
from facedash.faces.pipeline import EmbeddingSet, FaceRow

BOX_COLOUR = (0, 200, 120)


def preview_with_box(
    preview: bytes, row: FaceRow, *, colour: tuple[int, int, int] = BOX_COLOUR
) -> np.ndarray:
    """The stored photo preview with the face box and the five landmarks drawn on it."""
    image = Image.fromarray(decode_jpeg(preview))
    scale = image.width / max(row.width, 1)
    x, y, w, h = (v * scale for v in row.box)
    draw = ImageDraw.Draw(image)
    width = max(2, round(image.width / 120))
    draw.rectangle([x, y, x + w, y + h], outline=colour, width=width)
    for px, py in np.asarray(row.landmarks) * scale:
        r = width
        draw.ellipse([px - r, py - r, px + r, py + r], fill=(255, 80, 80))
    return np.asarray(image)


def caption(row: FaceRow) -> str:
    """A short gallery caption: person, and how many faces the photo held."""
    extra = (
        f" · face {row.face_index + 1} of {row.faces_in_image}" if row.faces_in_image > 1 else ""
    )
    return f"{row.person}{extra}"


def thumbnails(result: EmbeddingSet) -> list[np.ndarray]:
    """The aligned-face thumbnails of every face, decoded."""
    blank = np.zeros((160, 160, 3), dtype=np.uint8)
    return [decode_jpeg(t) if t else blank for t in result.thumbs]


def short_name(name: str, limit: int = 36) -> str:
    """A file name cut in the middle to ``limit`` characters for captions."""
    if len(name) <= limit:
        return name
    keep = (limit - 1) // 2
    return f"{name[:keep]}…{name[-keep:]}"
