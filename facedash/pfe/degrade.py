"""Deterministic image degradations at graded strengths, on aligned uint8 face crops.

Every degradation takes a strength ``s`` in ``[0, 1]`` (0 leaves the crop untouched,
1 is the strongest) and returns a new uint8 array of the same shape; the input is
never modified. Random parts (noise, where the occluder sits) come from a seeded
generator, so the same call always gives the same pixels.

=============  ==========================================================
kind           what strength ``s`` means
=============  ==========================================================
``blur``       Gaussian blur, sigma = 6 s pixels (on a 160 px crop)
``downscale``  shrink to 0.1^s of the side (geometric: 63%, 40%, 25%, 16%, 10%), then back up
``jpeg``       JPEG quality 5 + 90 (1 - s)^2 (63, 37, 19, 9, 5 at s = 0.2 ... 1)
``noise``      additive Gaussian noise, std 60 s grey levels
``occlusion``  a grey square covering 55 s of the crop's area
``darkness``   under-exposure: brightness times (1 - 0.96 s), plus sensor read noise of
               std 2 grey levels, rounded to uint8 (a dark photo keeps few levels)
=============  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

VERSION = "2"  # part of every feature-cache key: bump when a degradation changes
KINDS = ("blur", "downscale", "jpeg", "noise", "occlusion", "darkness")
LEVELS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def _check(image: np.ndarray, s: float) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.dtype} {image.shape}")
    if not 0.0 <= float(s) <= 1.0:
        raise ValueError(f"strength must lie in [0, 1], got {s}")
    return image


def blur(image: np.ndarray, s: float, seed: int = 0) -> np.ndarray:
    """Gaussian blur with sigma ``6 s`` px (scaled to the crop size)."""
    import cv2

    image = _check(image, s)
    sigma = 6.0 * s * image.shape[0] / 160.0
    if sigma <= 0:
        return image.copy()
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma)


def downscale(image: np.ndarray, s: float, seed: int = 0) -> np.ndarray:
    """Shrink to ``0.1 ** s`` of the side (area filter), then back up (bilinear)."""
    import cv2

    image = _check(image, s)
    h, w = image.shape[:2]
    f = 0.1**s
    if s <= 0:
        return image.copy()
    small = cv2.resize(
        image, (max(2, round(w * f)), max(2, round(h * f))), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def jpeg(image: np.ndarray, s: float, seed: int = 0) -> np.ndarray:
    """Re-encode as JPEG with quality ``5 + 90 (1 - s)^2``."""
    import cv2

    image = _check(image, s)
    if s <= 0:
        return image.copy()
    quality = int(round(5 + 90 * (1.0 - s) ** 2))
    ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        raise ValueError("JPEG encoding failed")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if decoded is None:  # pragma: no cover
        raise ValueError("JPEG decoding failed")
    return np.ascontiguousarray(decoded[:, :, ::-1])


def noise(image: np.ndarray, s: float, seed: int = 0) -> np.ndarray:
    """Add Gaussian noise of std ``60 s`` grey levels (seeded), clipped to uint8."""
    image = _check(image, s)
    if s <= 0:
        return image.copy()
    rng = np.random.default_rng(seed)
    out = image.astype(np.float32) + rng.normal(0.0, 60.0 * s, size=image.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def occlusion(image: np.ndarray, s: float, seed: int = 0) -> np.ndarray:
    """Cover ``55 s`` of the area with a grey square; its centre is seeded, inside the central half."""
    image = _check(image, s)
    out = image.copy()
    if s <= 0:
        return out
    h, w = image.shape[:2]
    side = int(round(np.sqrt(0.55 * s * h * w)))
    rng = np.random.default_rng(seed)
    cy = int(rng.uniform(0.3, 0.7) * h)
    cx = int(rng.uniform(0.3, 0.7) * w)
    y0 = int(np.clip(cy - side // 2, 0, h - side))
    x0 = int(np.clip(cx - side // 2, 0, w - side))
    out[y0 : y0 + side, x0 : x0 + side] = 128
    return out


def darkness(image: np.ndarray, s: float, seed: int = 0) -> np.ndarray:
    """Under-expose: brightness times ``1 - 0.96 s`` plus read noise (std 2, seeded), rounded.

    Prewhitening would undo a pure scaling; what a dark photo really loses is the
    signal-to-noise ratio and the number of grey levels, which this keeps.
    """
    image = _check(image, s)
    if s <= 0:
        return image.copy()
    rng = np.random.default_rng(seed)
    out = image.astype(np.float32) * (1.0 - 0.96 * s) + rng.normal(0.0, 2.0, size=image.shape)
    out = np.rint(out)
    return np.clip(out, 0, 255).astype(np.uint8)


DEGRADATIONS: dict[str, Callable[[np.ndarray, float, int], np.ndarray]] = {
    "blur": blur,
    "downscale": downscale,
    "jpeg": jpeg,
    "noise": noise,
    "occlusion": occlusion,
    "darkness": darkness,
}


def apply(image: np.ndarray, kind: str, s: float, seed: int = 0) -> np.ndarray:
    """One degradation ``kind`` at strength ``s``."""
    try:
        fn = DEGRADATIONS[kind]
    except KeyError:
        raise ValueError(f"unknown degradation {kind!r}; known: {', '.join(KINDS)}") from None
    return fn(image, float(s), seed)


def degrade(image: np.ndarray, strengths: Mapping[str, float], seed: int = 0) -> np.ndarray:
    """Several degradations in the fixed order of ``KINDS`` (only the non-zero ones)."""
    unknown = set(strengths) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown degradation(s) {sorted(unknown)}; known: {', '.join(KINDS)}")
    out = _check(image, 0.0)
    for k, kind in enumerate(KINDS):
        s = float(strengths.get(kind, 0.0))
        if s > 0:
            out = apply(out, kind, s, seed + k)
    return out if out is not image else image.copy()


def apply_batch(images: np.ndarray, kind: str, s: float, seed: int = 0) -> np.ndarray:
    """``apply`` to every crop of an ``(N, H, W, 3)`` batch (crop ``n`` gets seed ``seed + n``)."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"expected an (N, H, W, 3) batch, got {images.shape}")
    return np.stack([apply(im, kind, s, seed + n) for n, im in enumerate(images)])
