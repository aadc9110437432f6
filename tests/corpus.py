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


def write_corpus(folder: Path, demo_items) -> dict[str, str]:
    """Write every awkward input into ``folder/<person>/``; return {relative name: expected reason or 'ok'}."""
    person = folder / "corpus_person"
    person.mkdir(parents=True, exist_ok=True)
    face = demo_items[0].read()
    face_img = Image.open(io.BytesIO(face)).convert("RGB")
    group = Image.new("RGB", (face_img.width * 3, face_img.height))
    for k, item in enumerate(demo_items[:3]):
        group.paste(
            Image.open(io.BytesIO(item.read())).convert("RGB").resize(face_img.size),
            (k * face_img.width, 0),
        )
    expected = {
        "empty.jpg": "empty file",
        "text.jpg": "text file",
        "doc.jpg": "PDF",
        "truncated.jpg": "truncated",
        "truncated.png": "truncated",
        "tiny.png": "too small",
        "bomb.png": "refused before decoding",
        "noise.png": "no face found",
        "sixteen.png": "no face found",
        "cmyk.jpg": "ok",
        "palette.gif": "ok",
        "animated.gif": "ok",
        "rgba.png": "ok",
        "gray.tiff": "ok",
        "rotated.jpg": "ok",
        "group.jpg": "ok",
        'Zoë O\'Brien "quoted" 1.jpg': "ok",
    }
    big = encode(noise_image((400, 400)), "PNG")
    jpeg_big = encode(noise_image((400, 400)), "JPEG")
    sixteen = (np.linspace(0, 65535, 200 * 160).reshape(160, 200)).astype(np.uint16)
    files = {
        "empty.jpg": b"",
        "text.jpg": b"This is a plain text file with a .jpg name.\n",
        "doc.jpg": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "truncated.jpg": jpeg_big[: len(jpeg_big) // 3],
        "truncated.png": big[: len(big) // 3],
        "tiny.png": encode(Image.new("RGB", (1, 1)), "PNG"),
        "bomb.png": png_bomb(),
        "noise.png": encode(noise_image((240, 200), seed=9), "PNG"),
        "sixteen.png": encode(Image.fromarray(sixteen), "PNG"),
        "cmyk.jpg": encode(face_img.convert("CMYK"), "JPEG", quality=92),
        "palette.gif": encode(face_img.convert("P"), "GIF"),
        "animated.gif": encode(
            face_img, "GIF", save_all=True, append_images=[noise_image(face_img.size)], duration=80
        ),
        "rgba.png": encode(face_img.convert("RGBA"), "PNG"),
        "gray.tiff": encode(face_img.convert("L"), "TIFF"),
        "rotated.jpg": rotated_with_exif(face),
        "group.jpg": encode(group, "JPEG", quality=92),
        'Zoë O\'Brien "quoted" 1.jpg': face,
    }
    for name, data in files.items():
        (person / name).write_bytes(data)
    return {f"corpus_person/{k}": v for k, v in expected.items()}
