"""The per-batch work of embedding, shared by the local pipeline and the Ray workers.

``detections_of`` turns a batch of decoded photos into ``Detection`` rows (one
batched detector call, the stored preview), and ``embed_faces`` aligns a batch of
faces and embeds them in one batched model call (vector and thumbnail per face).
``facedash.faces.pipeline`` and ``facedash.scale.distributed`` call exactly these, so a face
embedded on a cluster is the face the local pipeline would have embedded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from facedash.data.images import encode_jpeg, limit_side
from facedash.data.store import Detection
from facedash.faces.detect import AlignSettings, Detector, Face, crop_for
from facedash.models.registry import Embedder, spec

PREVIEW_SIDE = 256
THUMB_QUALITY = 90


def preview_of(image: np.ndarray) -> bytes:
    """The stored preview of a photo: JPEG, its longer side at most ``PREVIEW_SIDE``."""
    return encode_jpeg(limit_side(image, PREVIEW_SIDE)[0])


def detections_of(
    detector: Detector,
    images: Sequence[np.ndarray],
    hashes: Sequence[str],
    previews: Sequence[bytes | None] | None = None,
) -> list[Detection]:
    """Detect the faces of ``images`` (one batched call): a ``Detection`` per photo.

    ``previews``: each photo's ``preview_of`` if already made (the pipeline makes
    them while decoding), else None to make it here.
    """
    found = detector.detect(list(images))
    made = previews if previews is not None else [None] * len(images)
    out = []
    for img, image_hash, faces, preview in zip(images, hashes, found, made, strict=True):
        jpeg = preview if preview is not None else preview_of(img)
        out.append(Detection(image_hash, img.shape[1], img.shape[0], tuple(faces), jpeg))
    return out


def embed_faces(
    model: Embedder,
    model_id: str,
    al: AlignSettings,
    faces: Sequence[tuple[np.ndarray, Face]],
    embed: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[tuple[np.ndarray, bytes]]:
    """Align ``(photo, face)`` pairs and embed them in one batched call: (vector, thumbnail) each.

    ``embed``: what embeds the aligned crops (default ``model.embed``).
    """
    model_spec = spec(model_id)
    crops = np.stack([crop_for(model_spec, model, image, face, al) for image, face in faces])
    vectors = (embed or model.embed)(crops)
    return [(v, encode_jpeg(c, THUMB_QUALITY)) for v, c in zip(vectors, crops, strict=True)]
