"""Face thumbnails as small data URIs, encoded once per set and reused by every figure.

Plotly draws a picture on a chart from a URL; a base64 ``data:`` URI keeps the
figure self-contained. Encoding 2,000 faces takes a while, so callers keep the
result (the app caches it per face set) instead of encoding on every rerun.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Sequence

from PIL import Image

THUMB_SIDE = 48
BLANK = "data:image/gif;base64,R0lGODlhAQABAAAAACw="


def data_uri(jpeg: bytes | None, side: int = THUMB_SIDE, quality: int = 80) -> str:
    """One JPEG thumbnail, shrunk to ``side`` x ``side``, as a ``data:image/jpeg`` URI."""
    if not jpeg:
        return BLANK
    opened = Image.open(io.BytesIO(jpeg))
    opened.draft("RGB", (side, side))  # let libjpeg decode at a reduced scale
    image = opened.convert("RGB").resize((side, side), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def data_uris(thumbs: Sequence[bytes | None], side: int = THUMB_SIDE) -> list[str]:
    """Every thumbnail as a data URI (missing ones as a 1-pixel blank)."""
    if side < 4:
        raise ValueError(f"thumbnail side must be at least 4 pixels, got {side}")
    return [data_uri(t, side) for t in thumbs]


def set_key(image_hashes: Sequence[str], face_indices: Sequence[int], *extra: object) -> str:
    """A short key naming one face set's faces (for caches of per-set work)."""
    h = hashlib.sha1()
    for image_hash, face in zip(image_hashes, face_indices, strict=True):
        h.update(f"{image_hash}:{face};".encode())
    for e in extra:
        h.update(repr(e).encode())
    return h.hexdigest()[:16]
