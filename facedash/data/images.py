"""Safe image decoding: formats, EXIF orientation, size limits, colour modes.

``decode`` turns the bytes of one file into an ``(H, W, 3)`` uint8 RGB array, or
raises ``ImageError`` with a reason a person can read. Size limits are checked
from the header, before any pixel is decoded, so a decompression bomb costs
nothing.
"""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facedash.errors import ImageError

FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF", "GIF"})
EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
MAX_PIXELS = 40_000_000  # 40 MP: larger photos are refused before decoding
MAX_BYTES = 64 * 1024 * 1024
MIN_SIDE = 20  # MTCNN cannot find a face in fewer pixels than this

# We check sizes ourselves, before decoding; Pillow's own guard would only warn.
Image.MAX_IMAGE_PIXELS = None


def content_hash(data: bytes) -> str:
    """SHA-256 of a file's bytes: the key of everything stored about it."""
    return hashlib.sha256(data).hexdigest()


def _sniff(data: bytes) -> str:
    head = data[:512].lstrip()
    if head.startswith(b"%PDF"):
        return "a PDF document, not an image"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive, not an image"
    if head[:1] in (b"<", b"{") or all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "a text file, not an image"
    return "not an image in a supported format (JPEG, PNG, WebP, BMP, TIFF, GIF)"


def _to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        gray = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        gray = ((arr - lo) / (hi - lo or 1.0) * 255.0).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "P", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def decode(data: bytes, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Decode image bytes to an RGB uint8 array, honouring EXIF orientation.

    Raises ``ImageError`` for: empty files, non-images, unsupported formats,
    images above ``max_pixels`` (refused from the header), images too small to
    hold a face, and truncated or corrupt data.
    """
    if not data:
        raise ImageError("empty file (0 bytes)")
    if len(data) > max_bytes:
        raise ImageError(
            f"file is {len(data) / 2**20:.0f} MiB, above the {max_bytes // 2**20} MiB limit"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError(_sniff(data)) from None
    except Exception as exc:  # Pillow raises many types for broken headers
        raise ImageError(f"unreadable image header ({exc})") from None
    if im.format not in FORMATS:
        raise ImageError(f"{im.format} images are not supported")
    width, height = im.size
    if width * height > max_pixels:
        raise ImageError(
            f"{width}x{height} pixels ({width * height / 1e6:.0f} MP) is above the "
            f"{max_pixels / 1e6:.0f} MP limit; refused before decoding"
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"{width}x{height} pixels is too small to hold a face")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)  # animated GIF / multi-page TIFF: the first frame
            im.load()
            upright: Image.Image = ImageOps.exif_transpose(im) or im
            return _to_rgb(upright)
    except ImageError:
        raise
    except Exception as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason or isinstance(exc, (OSError, SyntaxError, ValueError)):
            raise ImageError(f"truncated or corrupt image data ({reason})") from None
        raise ImageError(f"cannot decode image ({reason})") from None


def limit_side(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink ``image`` so its longer side is at most ``max_side``; return it and the scale."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale >= 1.0:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = Image.fromarray(image).resize(size, Image.Resampling.BILINEAR)
    return np.asarray(small), scale


def encode_jpeg(image: np.ndarray, quality: int = 88) -> bytes:
    """JPEG bytes of an RGB uint8 array (thumbnails, previews)."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    """RGB array from JPEG bytes written by ``encode_jpeg``."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
