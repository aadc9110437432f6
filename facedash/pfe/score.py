"""Scoring with a trained head: one image file -> aligned crop -> (mu, sigma^2, confidence)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from facedash.errors import FacedashError, ImageError
from facedash.pfe.mls import confidence


def aligned_crop(image: np.ndarray, size: int = 160) -> np.ndarray:
    """An image taken as an already aligned face crop, resized to ``size`` x ``size``."""
    import cv2

    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def crops_from_files(
    files: list[str | Path],
    *,
    aligned: bool,
    detector: Any = None,
    size: int = 160,
    card: Any = None,
    embedder: Any = None,
) -> tuple[list[np.ndarray | None], list[str | None]]:
    """One crop per file (the largest face, aligned as the pipeline does) or the error for it.

    With ``card`` (and its ``embedder``) the face is aligned as that model's card says, at its
    input size; else FaceNet's way at ``size``.
    """
    from facedash.data.images import decode
    from facedash.faces.detect import AlignSettings, align, crop_for, select

    if card is not None:
        size = int(card.input_size)

    images: list[np.ndarray | None] = []
    errors: list[str | None] = []
    for f in files:
        try:
            images.append(decode(Path(f).read_bytes()))
            errors.append(None)
        except (OSError, ImageError) as exc:
            images.append(None)
            errors.append(str(exc))
    if aligned:
        return [None if im is None else aligned_crop(im, size) for im in images], errors
    if detector is None:
        raise ValueError("a detector is needed unless the images are aligned crops")
    todo = [n for n, im in enumerate(images) if im is not None]
    present = [im for im in images if im is not None]
    found = detector.detect(present) if present else []
    crops: list[np.ndarray | None] = [None] * len(files)
    settings = AlignSettings()
    for n, image, faces in zip(todo, present, found, strict=True):
        keep = select(faces, "largest")
        if not keep:
            errors[n] = "no face found (use --aligned for a face crop)"
            continue
        crops[n] = (
            crop_for(card, embedder, image, faces[keep[0]], settings)
            if card is not None
            else align(image, faces[keep[0]], size, margin=settings.margin, rotate=settings.rotate)
        )
    return crops, errors


def score_crops(crops: np.ndarray, embedder: Any, head: Any) -> dict[str, np.ndarray]:
    """``mu``, ``sigma2``, ``confidence`` and ``mean_sigma2`` of aligned uint8 crops ``(N, S, S, 3)``.

    ``S`` is the model's input size; the features are those its head reads (``extractor_for``).
    """
    from facedash.pfe.features import extractor_for

    if head is None:
        raise FacedashError(
            "no uncertainty head is trained yet. Fix: run `facedash pfe train --demo`"
        )
    feats, mu = extractor_for(embedder)(np.asarray(crops))
    sigma2 = head.sigma2(feats)
    return {
        "mu": mu,
        "sigma2": sigma2,
        "confidence": confidence(sigma2),
        "mean_sigma2": sigma2.mean(axis=1),
    }
