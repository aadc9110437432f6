"""Plain types of faces that every layer may use: a face's box, landmarks and confidence.

Imports nothing else of facedash, so the model layer (dlib's chip needs a box and
landmarks) can use them without reaching into the detector.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass(frozen=True)
class Face:
    """One detected face: box ``(x, y, w, h)`` in photo pixels, landmarks (5, 2), confidence."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray = field(repr=False)
    confidence: float

    @property
    def area(self) -> float:
        """Box area in pixels."""
        return self.box[2] * self.box[3]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "box": [round(v, 2) for v in self.box],
            "landmarks": {
                k: [round(float(a), 2) for a in p]
                for k, p in zip(LANDMARKS, self.landmarks, strict=True)
            },
            "confidence": round(self.confidence, 5),
        }
