"""Degraded copies of a set's faces: ``--degrade blur:3,jpeg:20`` in each kind's own units.

A copy keeps its face's person, photo and box; only the aligned crop changes
(``facedash.pfe.degrade``, whose strengths run from 0 to 1). On the command line each kind
takes the unit one reads it in, converted here to that strength:

=============  ==========================================  =====================
kind           value                                       strength ``s``
=============  ==========================================  =====================
``blur``       Gaussian sigma in pixels of a 160 px crop   ``sigma / 6``
``jpeg``       JPEG quality, 5 ... 95                      ``1 - sqrt((q - 5) / 90)``
``noise``      noise std in grey levels, 0 ... 60          ``std / 60``
``occlusion``  percent of the crop covered, 0 ... 55       ``percent / 55``
``darkness``   percent of the brightness taken, 0 ... 96   ``percent / 96``
``downscale``  percent of the side kept, 10 ... 100        ``-log10(percent / 100)``
=============  ==========================================  =====================
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from facedash.pfe import degrade

UNITS = {
    "blur": "sigma px",
    "jpeg": "quality",
    "noise": "std",
    "occlusion": "% covered",
    "darkness": "% darker",
    "downscale": "% of side",
}
RANGES = {
    "blur": (0.0, 6.0),
    "jpeg": (5.0, 95.0),
    "noise": (0.0, 60.0),
    "occlusion": (0.0, 55.0),
    "darkness": (0.0, 96.0),
    "downscale": (10.0, 100.0),
}


def strength(kind: str, value: float) -> float:
    """The ``facedash.pfe.degrade`` strength (0 ... 1) of ``value`` in ``kind``'s own unit."""
    if kind not in RANGES:
        raise ValueError(f"unknown degradation {kind!r}; known: {', '.join(RANGES)}")
    low, high = RANGES[kind]
    if not low <= value <= high:
        raise ValueError(f"{kind} takes {UNITS[kind]} from {low:g} to {high:g}, got {value:g}")
    if kind == "blur":
        return value / 6.0
    if kind == "jpeg":
        return 1.0 - math.sqrt((value - 5.0) / 90.0)
    if kind == "noise":
        return value / 60.0
    if kind == "occlusion":
        return value / 55.0
    if kind == "darkness":
        return value / 96.0
    return -math.log10(value / 100.0)


def parse(text: str) -> dict[str, float]:
    """``"blur:3,jpeg:20"`` -> ``{"blur": 3.0, "jpeg": 20.0}`` (values checked, order kept)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        kind, sep, value = part.partition(":")
        kind = kind.strip().lower()
        if not sep:
            raise ValueError(f"write each degradation as KIND:VALUE (e.g. blur:3), got {part!r}")
        if kind in out:
            raise ValueError(f"{kind} is listed twice")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{kind}'s value must be a number, got {value!r}") from None
        strength(kind, number)  # checks the kind and the range
        out[kind] = number
    if not out:
        raise ValueError("--degrade lists no degradation")
    return out


def copies(
    crops: np.ndarray, kinds: Mapping[str, float], *, strengths: bool = False, seed: int = 0
) -> tuple[np.ndarray, list[str]]:
    """One degraded copy of every crop per kind: ``(copies (K*N, ...), kind of each)``.

    ``kinds`` holds values in each kind's own unit, or strengths (0 ... 1) with ``strengths``.
    Crop ``n`` of kind number ``k`` gets seed ``seed + k * N + n``.
    """
    crops = np.asarray(crops)
    parts, labels = [], []
    for k, (kind, value) in enumerate(kinds.items()):
        s = float(value) if strengths else strength(kind, float(value))
        parts.append(degrade.apply_batch(crops, kind, s, seed=seed + k * len(crops)))
        labels += [kind] * len(crops)
    if not parts:
        return crops[:0], []
    return np.concatenate(parts), labels


def combined(crops: np.ndarray, strengths: Mapping[str, float], seed: int = 0) -> np.ndarray:
    """One copy of every crop with all of ``strengths`` (0 ... 1) applied together, in ``KINDS`` order."""
    return np.stack(
        [degrade.degrade(c, strengths, seed=seed + n) for n, c in enumerate(np.asarray(crops))]
    )
