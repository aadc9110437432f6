"""Overlays as pure array functions (no I/O)."""

from __future__ import annotations

import numpy as np


def normalize(heat: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1] (a flat map becomes all zeros)."""
    h = np.asarray(heat, dtype=np.float64)
    lo, hi = float(h.min()), float(h.max())
    return np.zeros_like(h) if hi <= lo else (h - lo) / (hi - lo)


def colorize(heat: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """RGB uint8 heat image of a map (OpenCV colormap, converted from BGR)."""
    import cv2

    cmap = getattr(cv2, f"COLORMAP_{colormap.upper()}", None)
    if cmap is None:
        raise ValueError(f"unknown colormap {colormap!r}")
    grey = np.uint8(np.round(255 * normalize(heat)))
    coloured = np.asarray(cv2.applyColorMap(np.asarray(grey), cmap))  # BGR
    return coloured[..., ::-1].copy()


def overlay(
    image: np.ndarray, heat: np.ndarray, *, opacity: float = 0.5, colormap: str = "jet"
) -> np.ndarray:
    """Blend a map over a uint8 RGB image: ``(1 - a) image + a colour(map)`` (map resized if needed)."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError("image must be an RGB uint8 array (H, W, 3)")
    h = np.asarray(heat, dtype=np.float32)
    if h.shape != img.shape[:2]:
        import cv2

        h = np.asarray(
            cv2.resize(h, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR),
            dtype=np.float32,
        )
    col = colorize(h, colormap).astype(np.float32)
    out = (1.0 - opacity) * img.astype(np.float32) + opacity * col
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    """PNG bytes of an RGB uint8 array (for downloads)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
