"""What the PFE trainers train on: clean crops, the people split, degraded variants, cached features.

The set's stored aligned thumbnails (JPEG, at the model's input size: 160 x 160 for
FaceNet) are the clean faces. The people
are split: a held-out part (at least two people) is never trained on and gives the
validity figures. Training faces get synthetic degradations (blur, down-scaling, JPEG,
noise, occlusion, darkness at random strengths) so that low-quality inputs exist;
held-out faces get every kind at every graded strength. The face model's features
(``facedash.pfe.features``) and embeddings of every variant are computed once and cached
on disk (``cache_dir``), keyed by the crops' bytes, the degradations and which model's
features they are (the extractor's ``tag``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facedash import paths
from facedash.errors import FacedashError
from facedash.i18n import _
from facedash.pfe import degrade

Progress = Callable[[int, int, str], None]


def cache_dir() -> Path:
    """Feature cache (features and embeddings of every crop a head has seen, every model's)."""
    return paths.home() / "pfe" / "cache"


def clean_crops(result: Any) -> tuple[np.ndarray, np.ndarray]:
    """The decoded thumbnails ``(N, S, S, 3)`` and their row indices (rows with one)."""
    from facedash.data.images import decode_jpeg

    idx = np.array([n for n, t in enumerate(result.thumbs) if t is not None], dtype=np.int64)
    if len(idx) == 0:
        raise FacedashError("this face set has no stored face thumbnails to train on")
    return np.stack([decode_jpeg(result.thumbs[n]) for n in idx]), idx


@dataclass
class TrainingFaces:
    """What both trainers start from: the clean crops, their people and the feature extractor."""

    crops: np.ndarray
    people: np.ndarray
    extractor: Any


def training_faces(result: Any, embedder: Any = None) -> TrainingFaces:
    """The set's clean crops with their people, and the feature extractor of ``embedder`` (the registry's when None)."""
    from facedash.pfe.features import extractor_for

    if embedder is None:
        from facedash.models import get_model

        embedder = get_model(result.model_id)
    crops, rows = clean_crops(result)
    people = np.asarray(result.people)[rows]
    return TrainingFaces(crops, people, extractor_for(embedder))


def split_people(
    people: np.ndarray, heldout_fraction: float = 0.4, seed: int = 0
) -> tuple[list[str], list[str]]:
    """``(train people, held-out people)``: at least two held out and one to train on."""
    names = sorted(set(np.asarray(people).tolist()))
    if len(names) < 3:
        raise FacedashError(
            f"PFE training needs at least 3 people (2 held out for evaluation); this set has {len(names)}"
        )
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must lie in (0, 1), got {heldout_fraction}")
    n_held = min(len(names) - 1, max(2, int(round(heldout_fraction * len(names)))))
    order = np.random.default_rng(seed).permutation(len(names))
    held = sorted(names[k] for k in order[:n_held])
    return [p for p in names if p not in held], held


@dataclass
class Variants:
    """Which crop is made from which clean face: ``face[n]`` degraded by ``kind[n]`` at ``strength[n]``."""

    face: np.ndarray
    kind: np.ndarray
    strength: np.ndarray

    def __len__(self) -> int:
        return len(self.face)

    def render(self, crops: np.ndarray) -> np.ndarray:
        """The degraded crops (seeded by the variant's index, so deterministic)."""
        out = np.empty((len(self), *crops.shape[1:]), dtype=np.uint8)
        for n, (f, k, s) in enumerate(zip(self.face, self.kind, self.strength, strict=True)):
            out[n] = (
                crops[f] if k == "clean" else degrade.apply(crops[f], k, s, seed=int(f) * 31 + n)
            )
        return out


def training_variants(faces: np.ndarray, per_face: int, seed: int = 0) -> Variants:
    """Each face clean, plus ``per_face`` copies with a random kind at a random strength."""
    rng = np.random.default_rng(seed)
    faces = np.asarray(faces, dtype=np.int64)
    face = np.repeat(faces, per_face + 1)
    kind = np.array(["clean"] * len(face), dtype=object)
    strength = np.zeros(len(face))
    deg = np.ones(len(face), dtype=bool)
    deg[:: per_face + 1] = False
    kind[deg] = rng.choice(degrade.KINDS, size=int(deg.sum()))
    strength[deg] = rng.uniform(0.1, 1.0, size=int(deg.sum()))
    return Variants(face, kind, strength)


def evaluation_variants(faces: np.ndarray, levels: tuple[float, ...] = degrade.LEVELS) -> Variants:
    """Each face clean, plus every kind at every non-zero level."""
    faces = np.asarray(faces, dtype=np.int64)
    specs = [("clean", 0.0)] + [(k, lv) for k in degrade.KINDS for lv in levels if lv > 0]
    face = np.repeat(faces, len(specs))
    kind = np.array([k for k, _unused in specs] * len(faces), dtype=object)
    strength = np.array([s for _unused, s in specs] * len(faces), dtype=float)
    return Variants(face, kind, strength)


def _key(crops: np.ndarray, variants: Variants, what: str) -> str:
    h = hashlib.sha256(f"{what}:degrade-v{degrade.VERSION}".encode())
    for f, k, s in zip(variants.face, variants.kind, variants.strength, strict=True):
        h.update(hashlib.sha256(crops[f].tobytes()).digest())
        h.update(f"{k}:{s:.6f}".encode())
    return h.hexdigest()[:24]


def cached(
    name: str, key: str, compute: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """``compute()`` once per key; the arrays are kept as ``.npz`` in the feature cache."""
    folder = paths.ensure_private_dir(cache_dir())
    path = folder / f"{name}-{key}.npz"
    if path.exists():
        try:
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    arrays = compute()
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz")
    os.close(fd)
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)
    return arrays


def variant_features(
    extractor: Any, crops: np.ndarray, variants: Variants, progress: Progress | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Features and embeddings of every variant (from the cache when seen before)."""

    def compute() -> dict[str, np.ndarray]:
        rendered = variants.render(crops)
        report = None
        if progress is not None:

            def report(done: int, total: int) -> None:
                progress(done, total, _("Embedding the faces and their degraded copies"))

        feats, embs = extractor(rendered, progress=report)
        return {"features": feats, "embeddings": embs}

    what = getattr(extractor, "tag", "facenet-avgpool")  # FaceNet's keys stay as they were
    what += "+onet" if getattr(extractor, "face_score", False) else ""
    out = cached("features", _key(crops, variants, what), compute)
    return out["features"], out["embeddings"]


def detector_scores(detector: Any, crops: np.ndarray, variants: Variants) -> np.ndarray:
    """MTCNN's best face confidence on each variant crop (0 where it finds none)."""

    def compute() -> dict[str, np.ndarray]:
        found = detector.detect(list(variants.render(crops)))
        return {"score": np.array([max((f.confidence for f in fs), default=0.0) for fs in found])}

    return cached("mtcnn", _key(crops, variants, detector.settings.key()), compute)["score"]
