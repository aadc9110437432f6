"""``facedash explain PHOTO --reference PHOTO2 --method corrrise``: both signs of a pair's map, for any model.

CorrRISE (``facedash.explain.corrrise``) needs only the model's forward pass, so it runs on
every registered model (``--model``): ONNX, OpenVINO, dlib, Keras. ``--out map.npy`` writes
``map.similar.npy`` and ``map.dissimilar.npy`` beside it: float32 ``(2, S, S)`` at the model's
aligned crop (face A, face B).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from facedash.commands.common import emit
from facedash.errors import FacedashError, ImageError


def _photo(path: str, detector: Any, embedder: Any, model: str, settings: Any) -> Any:
    from facedash.faces.photo_face import photo_face

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    try:
        return photo_face(data, detector, embedder, model, settings)
    except FacedashError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def cmd_corrrise(args: argparse.Namespace, settings: Any) -> int:
    """CorrRISE of the pair (``args.image``, ``args.reference``) under ``args.model``."""
    from facedash.explain.corrrise import corrrise, deletion_aucs
    from facedash.faces.detect import Detector
    from facedash.models import get_model
    from facedash.models.cards import spec

    if not args.reference:
        raise FacedashError("--method corrrise explains a pair: give --reference IMAGE")
    out = Path(args.explain_out)
    if out.suffix.lower() != ".npy":
        raise FacedashError("--method corrrise writes .npy maps: --out FILE.npy")
    card = spec(args.model)
    embedder = get_model(args.model)
    detector = Detector()
    a = _photo(args.image, detector, embedder, args.model, settings)
    b = _photo(args.reference, detector, embedder, args.model, settings)
    maps = corrrise(embedder.embed, a.crop, b.crop, n_masks=args.masks, seed=args.seed)
    deletion, random = deletion_aucs(embedder.embed, a.crop, b.crop, maps.similar, steps=args.steps)
    files = {}
    for kind in ("similar", "dissimilar"):
        path = out.with_name(f"{out.stem}.{kind}.npy")
        np.save(path, getattr(maps, kind).astype(np.float32))
        files[kind] = str(path)
    payload = {
        "method": "corrrise",
        "model": card.id,
        "masks": maps.masks,
        "score": maps.score,
        **files,
        "shape": list(maps.similar.shape),
        "deletion_auc": deletion,
        "random_deletion_auc": random,
        "seconds": round(maps.seconds, 2),
    }
    text = (
        f"CorrRISE ({maps.masks} masks) of the pair under {card.id}: cosine {maps.score:.3f}\n"
        f"Deletion AUC of the similar maps {deletion:.3f} (random order {random:.3f})\n"
        f"Wrote {files['similar']} and {files['dissimilar']} (face A, face B)"
    )
    emit(args, payload, text)
    return 0
