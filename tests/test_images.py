import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from facedash.data.images import content_hash, decode, limit_side
from facedash.errors import ImageError
from tests.corpus import encode, noise_image, png_bomb, rotated_with_exif

_y, _x = np.mgrid[0:90, 0:120]
REF = np.stack([_x * 2, _y * 2, (_x + _y)], axis=2).astype(np.uint8)  # smooth: fair to lossy codecs
BASE = Image.fromarray(REF)


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF", "WEBP"])
def test_lossless_formats_decode_exactly(fmt):
    kwargs = {"lossless": True} if fmt == "WEBP" else {}
    out = decode(encode(BASE, fmt, **kwargs))
    assert out.shape == (90, 120, 3) and out.dtype == np.uint8
    assert np.array_equal(out, REF)


def test_jpeg_decodes_close_to_source():
    out = decode(encode(BASE, "JPEG", quality=95))
    assert out.shape == REF.shape
    assert np.abs(out.astype(int) - REF).mean() < 3


def test_gif_first_frame_of_animation():
    red = Image.new("RGB", (64, 48), (255, 0, 0))
    blue = Image.new("RGB", (64, 48), (0, 0, 255))
    data = encode(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)
    out = decode(data)
    assert out.shape == (48, 64, 3)
    assert out[..., 0].mean() > 200 and out[..., 2].mean() < 50


def test_palette_gif():
    out = decode(encode(BASE.convert("P"), "GIF"))
    assert out.shape == (90, 120, 3)


def test_grayscale_tiff_becomes_rgb():
    out = decode(encode(BASE.convert("L"), "TIFF"))
    assert out.shape == (90, 120, 3)
    assert np.array_equal(out[..., 0], out[..., 1])


def test_sixteen_bit_png_scaled_to_eight_bits():
    arr = (np.linspace(0, 65535, 100 * 40).reshape(40, 100)).astype(np.uint16)
    out = decode(encode(Image.fromarray(arr), "PNG"))
    assert out.shape == (40, 100, 3)
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255


def test_rgba_composited_on_white():
    rgba = Image.new("RGBA", (50, 40), (255, 0, 0, 0))  # fully transparent red
    out = decode(encode(rgba, "PNG"))
    assert (out == 255).all()


def test_cmyk_jpeg():
    out = decode(encode(BASE.convert("CMYK"), "JPEG", quality=95))
    assert out.shape == (90, 120, 3)
    assert np.abs(out.astype(int) - REF).mean() < 6


def test_exif_orientation_is_applied():
    upright = Image.new("RGB", (80, 40), (0, 0, 0))
    upright.paste((255, 255, 255), (0, 0, 40, 40))  # left half white
    data = rotated_with_exif(encode(upright, "JPEG", quality=95))
    assert Image.open(io.BytesIO(data)).size == (40, 80)  # stored sideways
    out = decode(data)
    assert out.shape == (40, 80, 3)  # displayed upright again
    assert out[:, :40].mean() > 200 and out[:, 40:].mean() < 60


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty file"),
        (b"hello, I am a text file pretending to be a JPEG\n", "text file"),
        (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n" + bytes(range(256)), "PDF"),
        (encode(Image.new("RGB", (1, 1)), "PNG"), "too small"),
        (png_bomb(), "refused before decoding"),
    ],
    ids=["empty", "text", "pdf", "1x1", "bomb"],
)
def test_bad_inputs_have_clear_reasons(data, reason):
    with pytest.raises(ImageError, match=reason):
        decode(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files(fmt):
    data = encode(noise_image((300, 300)), fmt)
    with pytest.raises(ImageError, match="truncated|corrupt"):
        decode(data[: len(data) // 2])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_crash(data):
    try:
        out = decode(data)
    except ImageError as exc:
        assert str(exc)
    else:
        assert out.ndim == 3 and out.shape[2] == 3


def test_limit_side_and_hash():
    img = np.zeros((1000, 500, 3), np.uint8)
    small, scale = limit_side(img, 200)
    assert small.shape == (200, 100, 3) and scale == pytest.approx(0.2)
    assert limit_side(img, 5000)[1] == 1.0
    assert content_hash(b"a") != content_hash(b"b") and len(content_hash(b"")) == 64
