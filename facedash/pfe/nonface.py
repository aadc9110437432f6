"""Crops that are not faces, so that the uncertainty head learns what a non-face is.

PFE's loss only ever sees genuine pairs of faces: nothing in it says what a crop with
no face should get. These deterministic generators make such crops (uint8, 160 x 160),
for training (with an extra loss term that pushes their uncertainty above the faces')
and for checking that every one of them gets a lower confidence than any blurred face:

==============  =======================================================================
kind            what it is
==============  =======================================================================
``noise``       Gaussian noise, grey or coloured, at a random level, sometimes smoothed
``flat``        one colour, sometimes with a linear gradient and faint sensor noise
``texture``     gratings, checkerboards, stripes, dots and smooth random "clouds"
``background``  random square crops of a set's photos that stay clear of every face box
==============  =======================================================================

Background crops come from the set's stored photo previews (``EmbeddingSet.previews``,
at most 256 px a side) and its face boxes; photos with more than one face are skipped
(only the chosen face has a box in the set). Every crop is drawn from a generator
seeded by ``(seed, n)``, so the same call always gives the same pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

VERSION = "1"  # part of the feature-cache key: bump when a generator changes
KINDS = ("noise", "flat", "texture", "background")
SIZE = 160
Background = tuple[np.ndarray, tuple[float, float, float, float]]  # photo, face box (x, y, w, h)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def noise(rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """Gaussian noise around a random grey level; coloured or grey; half the time smoothed."""
    import cv2

    channels = 3 if rng.random() < 0.5 else 1
    x: np.ndarray = rng.normal(rng.uniform(40, 215), rng.uniform(10, 80), (size, size, channels))
    if rng.random() < 0.5:
        x = cv2.GaussianBlur(x.astype(np.float32), (0, 0), float(rng.uniform(0.7, 3.0)))
        x = x.reshape(size, size, channels)
    return _u8(np.broadcast_to(x, (size, size, 3)))


def flat(rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """One colour; sometimes a linear gradient across it; faint sensor noise half the time."""
    colour = rng.uniform(0, 255, 3)
    x: np.ndarray = np.broadcast_to(colour, (size, size, 3)).astype(np.float64)
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:size, 0:size] / size - 0.5
        ramp = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None]
        x = x + rng.uniform(20, 90) * ramp * rng.choice([-1, 1], 3)
    if rng.random() < 0.5:
        x = x + rng.normal(0, rng.uniform(0.5, 3.0), x.shape)
    return _u8(x)


def texture(rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """A grating, checkerboard, stripes, dots or smooth clouds in two random colours."""
    import cv2

    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    style = rng.integers(0, 5)
    if style == 0:  # sinusoidal grating
        f, theta = rng.uniform(2, 24) / size, rng.uniform(0, np.pi)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * f * (np.cos(theta) * xx + np.sin(theta) * yy))
    elif style == 1:  # checkerboard
        cell = rng.integers(4, 41)
        t = ((xx // cell + yy // cell) % 2).astype(np.float32)
    elif style == 2:  # stripes of random widths
        widths = rng.integers(2, 30, 64)
        edges = np.cumsum(widths)
        t = (np.searchsorted(edges, xx if rng.random() < 0.5 else yy) % 2).astype(np.float32)
    elif style == 3:  # dots on a ground
        t = np.zeros((size, size), np.float32)
        for _ in range(int(rng.integers(10, 80))):
            cx, cy, r = rng.uniform(0, size, 2).tolist() + [float(rng.uniform(2, 14))]
            t[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = 1.0
    else:  # smooth random clouds
        t = cv2.GaussianBlur(
            rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), float(rng.uniform(4, 20))
        )
        t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    return _u8(a * t[..., None] + b * (1.0 - t[..., None]))


def background(
    rng: np.random.Generator, backgrounds: Sequence[Background], size: int = SIZE
) -> np.ndarray | None:
    """A random square crop of one photo that overlaps its face box (grown by 25%) by under 5%."""
    for _ in range(40):
        image, (bx, by, bw, bh) = backgrounds[int(rng.integers(len(backgrounds)))]
        h, w = image.shape[:2]
        side = int(rng.uniform(0.25, 0.6) * min(h, w))
        if side < 24:
            continue
        x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        gx, gy, gw, gh = bx - 0.125 * bw, by - 0.125 * bh, 1.25 * bw, 1.25 * bh
        ix = max(0.0, min(x0 + side, gx + gw) - max(x0, gx))
        iy = max(0.0, min(y0 + side, gy + gh) - max(y0, gy))
        if ix * iy < 0.05 * side * side:
            return _resize(image[y0 : y0 + side, x0 : x0 + side], size)
    return None


def backgrounds_of(result: Any, people: Sequence[str] | None = None) -> list[Background]:
    """Each single-face photo of an ``EmbeddingSet`` (its preview) with its face box, in preview pixels."""
    from facedash.data.images import decode_jpeg

    out: list[Background] = []
    keep = None if people is None else set(people)
    for row in result.rows:
        preview = result.previews.get(row.image_hash)
        if (
            preview is None
            or row.faces_in_image != 1
            or (keep is not None and row.person not in keep)
        ):
            continue
        image = decode_jpeg(preview)
        s = image.shape[1] / max(row.width, 1)
        x, y, w, h = row.box
        out.append((image, (x * s, y * s, w * s, h * s)))
    return out


def make(
    n: int,
    *,
    seed: int = 0,
    backgrounds: Sequence[Background] = (),
    kinds: Sequence[str] = KINDS,
    size: int = SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` non-face crops ``(n, size, size, 3)`` uint8 and their kinds, the kinds in turn.

    A background crop is replaced by a texture when there is no photo to crop from.
    """
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown non-face kind(s) {sorted(unknown)}; known: {', '.join(KINDS)}")
    crops = np.empty((n, size, size, 3), np.uint8)
    made = np.empty(n, dtype=object)
    for k in range(n):
        rng = np.random.default_rng([seed, k])
        kind = kinds[k % len(kinds)]
        crop = None
        if kind == "background" and backgrounds:
            crop = background(rng, backgrounds, size)
        if crop is None:
            kind = kind if kind != "background" else "texture"
            crop = {"noise": noise, "flat": flat, "texture": texture}[kind](rng, size)
        crops[k], made[k] = crop, kind
    return crops, made
