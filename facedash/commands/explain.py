"""``facedash explain IMAGE``: a saliency map of the largest face in a photo.

``.png`` writes the overlay on the photo, ``.npy`` the raw map at the photo's
size (zero outside the aligned crop). ``--json`` prints the method, layer,
target, score, face box, region shares and both deletion AUCs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from facedash.errors import FacedashError

TARGET_HELP = "top-channel, channel:N, reference (needs --reference) or centroid (nearest person)"


def register(sub: Any) -> None:
    """Add the ``explain`` sub-command."""
    from facedash.explain.methods import METHODS

    p = sub.add_parser("explain", help="where the model looks on one face (Grad-CAM and friends)")
    p.add_argument("image", help="a photo; its largest face is explained")
    p.add_argument("--reference", help="a second photo: explain the similarity to its face")
    p.add_argument("--target", default=None, help=f"what to explain: {TARGET_HELP}")
    p.add_argument(
        "--method",
        default=None,
        choices=[*METHODS, "corrrise"],
        help="saliency method (corrrise: a pair's similar and dissimilar maps, any model)",
    )
    p.add_argument("--model", default="facenet", help="the model (corrrise: any registered one)")
    p.add_argument("--masks", type=int, default=300, help="corrrise: random masks (default: 300)")
    p.add_argument("--seed", type=int, default=0, help="corrrise: the masks' seed")
    p.add_argument("--layer", default=None, help="layer for CAM methods (see the Attention page)")
    p.add_argument(
        "--out", dest="explain_out", required=True, help="FILE.png (overlay) or FILE.npy"
    )
    p.add_argument(
        "--centroids",
        default=None,
        help="face set for --target centroid: a folder, zip or manifest (default: the demo set)",
    )
    p.add_argument("--margin", type=float, default=None, help="crop margin (fraction)")
    p.add_argument("--no-rotate", action="store_true", help="do not level the eyes")
    p.add_argument("--steps", type=int, default=10, help="deletion-curve steps")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_explain)


def _face(path: str, detector: Any, settings: Any) -> tuple[np.ndarray, Any, np.ndarray]:
    """Photo, its largest face and that face's aligned crop."""
    from facedash.errors import ImageError
    from facedash.explain.crops import face_from_photo

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    try:
        return face_from_photo(data, detector, settings)
    except FacedashError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def _to_photo(
    heat: np.ndarray, matrix: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """A crop-space map warped back onto the photo, and the mask of the crop's footprint."""
    import cv2

    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(
        heat.astype(np.float32),
        matrix,
        (width, height),
        flags=flags,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    inside = cv2.warpAffine(
        np.ones_like(heat, np.float32),
        matrix,
        (width, height),
        flags=flags,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return warped, inside


def cmd_explain(args: argparse.Namespace) -> int:
    """Explain the largest face of ``args.image``."""
    out = Path(args.explain_out)
    if out.suffix.lower() not in (".png", ".npy"):
        raise FacedashError("--out must end in .png or .npy")
    target_spec = args.target or ("reference" if args.reference else "top-channel")
    if target_spec == "reference" and not args.reference:
        raise FacedashError("--target reference needs --reference IMAGE")
    if args.method == "corrrise":
        from facedash.commands.common import align_settings
        from facedash.commands.pairmaps import cmd_corrrise

        args.faces = "largest"
        return cmd_corrrise(args, align_settings(args))
    from facedash.explain import DEFAULT_LAYER, DEFAULT_METHOD, REFERENCE_LAYER, parse_target

    if args.model != "facenet":
        raise FacedashError(
            f"--method {args.method or DEFAULT_METHOD} needs FaceNet's gradients; for {args.model} "
            "use --method corrrise with --reference"
        )
    from facedash.explain.analysis import analyse
    from facedash.explain.methods import METHODS
    from facedash.explain.overlay import overlay, png_bytes
    from facedash.explain.regions import REGIONS
    from facedash.faces.detect import AlignSettings, Detector, aligned_landmarks, alignment_matrix
    from facedash.models import get_model

    defaults = AlignSettings()
    settings = AlignSettings(
        margin=defaults.margin if args.margin is None else args.margin, rotate=not args.no_rotate
    )
    reference_like = target_spec == "top-channel" and args.method is None and args.layer is None
    method = args.method or ("gradcam" if reference_like else DEFAULT_METHOD)
    layer = args.layer or (REFERENCE_LAYER if reference_like else DEFAULT_LAYER)
    detector = Detector()
    embedder = get_model("facenet")
    image, face, crop = _face(args.image, detector, settings)
    reference = centroid = None
    extra: dict[str, Any] = {}
    if target_spec == "reference":
        _, _, ref_crop = _face(args.reference, detector, settings)
        reference = embedder.embed(ref_crop[None])[0]
    elif target_spec == "centroid":
        centroid, extra["person"] = _nearest_centroid(embedder.embed(crop[None])[0], args, settings)
    try:
        target = parse_target(target_spec, reference=reference, centroid=centroid)
        lm = aligned_landmarks(face, 160, margin=settings.margin, rotate=settings.rotate)
        a = analyse(
            embedder.model,  # type: ignore[attr-defined]
            crop[None],
            lm[None],
            method=method,
            layer=layer if METHODS[method].uses_layer else None,
            target=target,
            steps=args.steps,
        )
    except ValueError as exc:
        raise FacedashError(str(exc)) from None
    matrix = alignment_matrix(face, 160, margin=settings.margin, rotate=settings.rotate)
    height, width = image.shape[:2]
    if out.suffix.lower() == ".npy":
        raw, _ = _to_photo(a.explanation.maps[0], matrix, width, height)
        np.save(out, raw)
    else:
        heat, inside = _to_photo(a.heat[0], matrix, width, height)
        blended = overlay(image, heat, opacity=0.5)
        mask = inside[..., None] > 0.5
        out.write_bytes(png_bytes(np.where(mask, blended, image)))
    rec = a.records()[0]
    payload = {
        "method": method,
        "layer": a.explanation.layer,
        "target": a.explanation.target,
        "score": rec["score"],
        "face_box": [round(float(v), 2) for v in face.box],
        "regions": {r: round(rec[f"share_{r}"], 4) for r in REGIONS},
        "deletion_auc": rec["deletion_auc"],
        "random_deletion_auc": rec["random_deletion_auc"],
        "out": str(out),
        **extra,
    }
    shares = ", ".join(f"{r} {100 * payload['regions'][r]:.0f}%" for r in REGIONS)
    text = (
        f"{METHODS[method].label} of {payload['target']} (score {payload['score']:.3f})"
        f"{' at ' + str(payload['layer']) if payload['layer'] else ''}\n"
        f"Regions: {shares}\nDeletion AUC {payload['deletion_auc']:.3f} "
        f"(random order {payload['random_deletion_auc']:.3f})\nWrote {out}"
    )
    from facedash.commands.common import emit

    emit(args, payload, text)
    return 0


def _nearest_centroid(
    embedding: np.ndarray, args: argparse.Namespace, settings: Any
) -> tuple[np.ndarray, str]:
    """The centroid of the person nearest to ``embedding`` in the chosen face set."""
    from facedash.data.datasets import load_demo, load_path
    from facedash.data.store import Store
    from facedash.explain.targets import nearest_centroid, person_centroids
    from facedash.faces.pipeline import embed_dataset

    dataset = load_path(args.centroids) if args.centroids else load_demo()
    result = embed_dataset(dataset, store=Store(), align_settings=settings)
    if not len(result.rows):
        raise FacedashError("the centroid face set has no faces")
    names, cents = person_centroids(result.embeddings, result.people)
    best, cos = nearest_centroid(embedding, names, cents)
    if not args.json:
        print(f"facedash: centroid of {names[best]} (cosine {cos:.3f})", file=sys.stderr)
    return cents[best], names[best]
