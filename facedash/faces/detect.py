"""Face detection (MTCNN) and alignment.

``Detector`` runs the ``mtcnn`` package's networks (their weights ship in its
wheel) through ``facedash.faces.cascade`` on batches of equal-size letterboxed
canvases (boxes are scaled back to the photo). Every face comes with its box, five landmarks and the
detector's confidence.

``align`` rotates a face so its eyes are level, crops the box plus a margin and
resizes it to the model's input, returning the affine map too, so landmarks and
saliency maps can move between the photo and the aligned crop.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from facedash.faces.types import Face
from facedash.models.tfsetup import tf_device

Policy = Literal["largest", "all"]
Runtime = Literal["openvino", "tensorflow"]


@dataclass(frozen=True)
class DetectorSettings:
    """What changes detection results; part of every store key.

    Every photo is searched on a square, letterboxed canvas whose side is the one
    of ``canvases`` nearest its longer side (on a log scale): photos of one canvas
    size share a batch, and a photo's result depends on the photo alone, not on
    the batch it came in (MTCNN pads mixed-size batches, which changes results).

    ``runtime`` runs MTCNN's networks: ``openvino`` (fp32 on the CPU, the default: 2-3x
    TensorFlow's speed here, see ``facedash.faces.mtcnn_nets``) or ``tensorflow`` (the
    wheel's Keras models, on the GPU when TensorFlow sees one).
    """

    min_face_size: int = 20
    canvases: tuple[int, ...] = (320, 640, 1024)
    threshold_onet: float = 0.8
    runtime: Runtime = "openvino"

    def key(self) -> str:
        """Stable string identifying these settings (the runtime too: its floats differ in the last bits)."""
        sides = "-".join(str(c) for c in self.canvases)
        cascade = "cascade" if self.runtime == "tensorflow" else f"cascade-{self.runtime}-fp32"
        return (
            f"mtcnn-1.0-{cascade}:min{self.min_face_size}:canvas{sides}:onet{self.threshold_onet:g}"
        )

    def canvas_for(self, height: int, width: int) -> int:
        """Canvas side for a photo: the nearest of ``canvases`` to its longer side."""
        side = max(height, width)
        return min(self.canvases, key=lambda c: abs(np.log(side / c)))


@dataclass(frozen=True)
class AlignSettings:
    """How a detected face becomes the model's input crop; part of every store key."""

    margin: float = 0.1
    rotate: bool = True
    policy: Policy = "largest"

    def key(self, size: int) -> str:
        """Stable string identifying these settings at a given output size."""
        return f"align:m{self.margin:g}:rot{int(self.rotate)}:{size}px"


def select(faces: Sequence[Face], policy: Policy) -> list[int]:
    """Indices of the faces to keep: the largest one, or all of them."""
    if not faces:
        return []
    if policy == "all":
        return list(range(len(faces)))
    if policy == "largest":
        return [max(range(len(faces)), key=lambda i: faces[i].area)]
    raise ValueError(f"unknown face policy {policy!r}; use 'largest' or 'all'")


def alignment_matrix(
    face: Face, size: int, *, margin: float = 0.0, rotate: bool = True
) -> np.ndarray:
    """2x3 affine map from photo pixels to the aligned ``size`` x ``size`` crop.

    The crop is the face box grown by ``margin`` (a fraction of its width and height
    on each side), turned about the box centre so the eyes are level.
    """
    x, y, w, h = face.box
    cx, cy = x + w / 2.0, y + h / 2.0
    angle = 0.0
    if rotate:
        (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]
        angle = float(np.arctan2(ry - ly, rx - lx))
    cos, sin = np.cos(-angle), np.sin(-angle)
    rot = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    to_centre = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    cw, ch = w * (1 + 2 * margin), h * (1 + 2 * margin)
    scale = np.array([[size / cw, 0.0, size / 2.0], [0.0, size / ch, size / 2.0], [0.0, 0.0, 1.0]])
    return (scale @ rot @ to_centre)[:2]


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine map to (N, 2) points."""
    return np.asarray(points, dtype=np.float64) @ matrix[:, :2].T + matrix[:, 2]


def align(
    image: np.ndarray, face: Face, size: int, *, margin: float = 0.0, rotate: bool = True
) -> np.ndarray:
    """The aligned ``size`` x ``size`` RGB crop of one face (uint8)."""
    import cv2

    matrix = alignment_matrix(face, size, margin=margin, rotate=rotate)
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )


class Detector:
    """MTCNN over batches of photos; safe to share between threads.

    Detection runs in fp32 whatever the embedding backend, on the settings' runtime:
    OpenVINO on the CPU by default, TensorFlow (on the GPU when it sees one) when the
    settings say ``tensorflow``. The pyramid's area resize and the crops between the
    stages are TensorFlow's on both.
    """

    precision = "fp32"

    def __init__(self, settings: DetectorSettings | None = None, *, batch_size: int = 16) -> None:
        import time

        from facedash.faces.cascade import Cascade
        from facedash.models.tfsetup import configure

        t0 = time.perf_counter()
        configure()
        self.settings = settings or DetectorSettings()
        self.batch_size = batch_size
        runtime = self.settings.runtime
        self.device = "CPU:0" if runtime == "openvino" else tf_device()
        self._cascade = Cascade.from_package(self.settings.min_face_size, self.device, runtime)
        self.backend = runtime
        self._lock = threading.Lock()
        self.load_seconds = round(time.perf_counter() - t0, 2)

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Faces of each photo (same order as ``images``)."""
        import tensorflow as tf

        out: list[list[Face]] = [[] for _ in images]
        groups: dict[int, list[int]] = {}
        for i, img in enumerate(images):
            groups.setdefault(self.settings.canvas_for(*img.shape[:2]), []).append(i)
        for side, members in sorted(groups.items()):
            for start in range(0, len(members), self.batch_size):
                chunk = members[start : start + self.batch_size]
                canvases, scales = zip(*(letterbox(images[i], side) for i in chunk), strict=True)
                with self._lock, tf.device(self.device):
                    results = self._cascade(np.stack(canvases), self.settings.threshold_onet)
                for i, found, scale in zip(chunk, results, scales, strict=True):
                    height, width = images[i].shape[:2]
                    out[i] = [_clip(_to_face(row, scale), width, height) for row in found]
        return out


def letterbox(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """Scale ``image`` so its longer side is ``side`` and pad it (bottom, right) to a square."""
    import cv2

    height, width = image.shape[:2]
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, size, interpolation=interp)
    canvas = np.zeros((side, side, 3), dtype=np.uint8)
    canvas[: resized.shape[0], : resized.shape[1]] = resized
    return canvas, scale


def _clip(face: Face, width: int, height: int) -> Face:
    """Keep a box inside the photo (MTCNN boxes may overhang the edge)."""
    x, y, w, h = face.box
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    return Face((x0, y0, max(1.0, x1 - x0), max(1.0, y1 - y0)), face.landmarks, face.confidence)


def _to_face(row: np.ndarray, scale: float) -> Face:
    """A cascade row (x1, y1, x2, y2, confidence, 5 x, 5 y) on a canvas, in photo pixels."""
    x1, y1, x2, y2 = (float(v) / scale for v in row[:4])
    points = np.stack([row[5:10], row[10:15]], axis=1).astype(np.float64) / scale
    return Face(box=(x1, y1, x2 - x1, y2 - y1), landmarks=points, confidence=float(row[4]))


def aligned_landmarks(
    row: Any, size: int, *, margin: float = 0.1, rotate: bool = True
) -> np.ndarray:
    """A face's (or a stored face row's) five landmarks ``(5, 2)`` moved onto its aligned ``size`` crop."""
    face = Face(tuple(row.box), np.asarray(row.landmarks, dtype=np.float64), float(row.confidence))
    return transform_points(
        face.landmarks, alignment_matrix(face, size, margin=margin, rotate=rotate)
    )


# insightface's five-point template for a 112 px ArcFace crop: eyes, nose tip, mouth corners.
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, shift) taking ``src`` points closest to ``dst``.

    Umeyama's least-squares estimate (1991), as ArcFace-style alignment uses it.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sigma, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, -1.0 if np.linalg.det(u) * np.linalg.det(vt) < 0 else 1.0])
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(sigma) @ sign) / s.var(0).sum())
    shift = mu_d - scale * rotation @ mu_s
    return np.hstack([scale * rotation, shift[:, None]])


def align_arcface(image: np.ndarray, face: Face, size: int) -> np.ndarray:
    """The face mapped by its five landmarks onto the ArcFace template scaled to ``size`` (uint8 RGB)."""
    import cv2

    matrix = similarity_transform(face.landmarks, ARCFACE_TEMPLATE * (size / 112.0))
    return cv2.warpAffine(
        np.ascontiguousarray(image), matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0
    )


def align_key_for(card: Any, settings: AlignSettings) -> str:
    """The store's alignment key for a model card: its own alignment's name, else the settings'."""
    if card.align_key:
        return str(card.align_key)
    if card.align == "arcface":
        return f"arcface-5pt:{card.input_size}px"
    if card.align == "dlib":
        return f"dlib-5pt:pad0.25:{card.input_size}px"
    return settings.key(card.input_size)


def crop_for(
    card: Any, embedder: Any, image: np.ndarray, face: Face, settings: AlignSettings
) -> np.ndarray:
    """A face aligned as ``card`` says: the model's own alignment (dlib), ArcFace's, dlib's chip, or ours."""
    own = getattr(embedder, "align", None) if card.align_key else None
    if own is not None:
        return np.asarray(own(image, face))
    if card.align == "arcface":
        return align_arcface(image, face, card.input_size)
    if card.align == "dlib":
        from facedash.models.registry import get_model

        return get_model("dlib").chip(image, face, card.input_size)  # type: ignore[attr-defined]
    return align(image, face, card.input_size, margin=settings.margin, rotate=settings.rotate)
