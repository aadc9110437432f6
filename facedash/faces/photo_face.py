"""One photo's face, found, aligned and embedded like the set's faces, with nothing stored.

The photo (a camera frame or an upload) goes through the pipeline's own steps: the
MTCNN detector, the largest face (the ``largest`` policy), the model's alignment
(``batch.embed_faces``'s: the model's own for dlib, else the set's margin and
rotation) and the set's embedder. Nothing is written to the store or to disk: the
caller keeps the result (the app, in the browser session's memory only).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from facedash.data.images import decode
from facedash.errors import FacedashError
from facedash.faces.detect import AlignSettings, Face, aligned_landmarks, crop_for, select
from facedash.models.cards import spec


class NoFace(FacedashError):
    """The detector found no face in the photo."""


@dataclass(frozen=True)
class PhotoFace:
    """The largest face of one photo: its aligned crop, landmarks in the crop, embedding."""

    crop: np.ndarray  # uint8 (S, S, 3), the model's input
    landmarks: np.ndarray  # (5, 2) in crop pixels
    embedding: np.ndarray  # (d,)
    faces_found: int  # how many faces the detector found (the largest is used)
    face: Face  # the chosen face, in photo pixels
    digest: str  # the photo's content key

    @property
    def several(self) -> bool:
        """More than one face was found (the largest is used)."""
        return self.faces_found > 1


def digest(data: bytes) -> str:
    """A short content key for a photo's bytes."""
    return hashlib.sha256(data).hexdigest()[:20]


def largest_face(data: bytes, detector: Any) -> tuple[np.ndarray, Face, int]:
    """The photo decoded, its largest face and how many the detector found; ``NoFace`` if none."""
    image = decode(data)
    faces = detector.detect([image])[0]
    if not faces:
        raise NoFace("no face found in the photo")
    return image, faces[select(faces, "largest")[0]], len(faces)


def photo_face(
    data: bytes,
    detector: Any,
    embedder: Any,
    model_id: str,
    settings: AlignSettings | None = None,
) -> PhotoFace:
    """The largest face of the photo ``data``, aligned and embedded like the set's faces.

    ``detector`` and ``embedder`` are the set's (the app passes the same cached ones
    the set was made with). Raises ``NoFace`` when there is none, ``ImageError``
    (a ``FacedashError``) when the bytes are not a readable image.
    """
    s = settings or AlignSettings()
    image, face, found = largest_face(data, detector)
    crop = crop_for(spec(model_id), embedder, image, face, s)
    lms = aligned_landmarks(face, crop.shape[0], margin=s.margin, rotate=s.rotate)
    vector = np.asarray(embedder.embed(crop[None])[0], dtype=np.float32)
    return PhotoFace(crop, lms, vector, found, face, digest(data))


def pair_score(kind: Any, a: np.ndarray, b: np.ndarray) -> float:
    """The verification score ``kind`` (a ``ScoreKind`` on embeddings only) of two embeddings."""

    class _Two:
        embeddings = np.stack([np.asarray(a, np.float64), np.asarray(b, np.float64)])

    return float(kind.fn(_Two(), np.array([0]), np.array([1]))[0])
