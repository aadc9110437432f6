"""Bad and unusual inputs, generated on the fly (nothing binary is committed)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def face_photo(demo_folder: Path, person: str = "ben_afflek", index: int = 0) -> bytes:
    files = sorted((demo_folder / "train" / person).glob("*.jpg"))
    return files[index].read_bytes()


def rotated_with_exif(jpeg: bytes, orientation: int = 6) -> bytes:
    """Rotate the pixels and record the inverse in EXIF, as a phone camera does."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    # Orientation 6 means "rotate 90 degrees clockwise to display": store it turned the other way.
    stored = image.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(stored, "JPEG", exif=exif.tobytes(), quality=92)


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG that declares width x height pixels (its data would inflate to ~GBs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * width
    raw = zlib.compress(row * 64, 9)  # only a few rows: the header alone must get it refused
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def noise_image(size: tuple[int, int] = (200, 160), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def zip_bytes(entries: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    return buf.getvalue()
