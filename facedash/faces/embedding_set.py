"""What ``embed_dataset`` returns: the embedded faces of a set, in the set's order, with what went wrong.

``EmbeddingSet`` holds one ``FaceRow`` per face (where it came from), the
embedding matrix, thumbnails and previews, the files that could not be used and
where the embeddings were computed; it saves itself as .npz, .csv or .parquet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facedash.data.datasets import Failure


@dataclass
class FaceRow:
    """One embedded face and where it came from."""

    name: str
    person: str
    attributes: dict[str, str]
    image_hash: str
    face_index: int
    faces_in_image: int
    box: tuple[float, float, float, float]
    landmarks: np.ndarray = field(repr=False)
    confidence: float
    width: int
    height: int


@dataclass
class EmbeddingSet:
    """The embedded faces of a set, in the set's order, with what went wrong."""

    dataset: str
    model_id: str
    det_key: str
    align_key: str
    rows: list[FaceRow]
    embeddings: np.ndarray
    thumbs: list[bytes | None]
    previews: dict[str, bytes | None]
    failures: list[Failure]
    images: int
    computed: int
    cached: int
    seconds: float
    no_face: list[tuple[str, str]] = field(default_factory=list)  # (file name, image hash)
    # Where the embeddings were (or would now be) computed; ``model_key`` is their store key
    # (``facenet`` for fp32, ``facenet@bf16`` ...): one set never mixes precisions.
    backend: str = "tensorflow"
    precision: str = "fp32"
    model_key: str = ""
    note: str = ""  # a backend that was asked for and refused, and why (and ``changes``)
    root: str = ""  # the set's absolute folder (names are relative to it); "" when none on disk
    changes: str = ""  # how the folder changed while it was read ("" when it did not)

    @property
    def people(self) -> np.ndarray:
        """Person label of each face."""
        return np.array([r.person for r in self.rows], dtype=object)

    @property
    def names(self) -> np.ndarray:
        """File name of each face."""
        return np.array([r.name for r in self.rows], dtype=object)

    @property
    def attribute_names(self) -> list[str]:
        """Attribute columns present on any face."""
        return sorted({k for r in self.rows for k in r.attributes})

    def summary(self) -> dict[str, Any]:
        """The ``facedash embed --json`` record."""
        return {
            "images": self.images,
            "faces": len(self.rows),
            "identities": len(set(self.people.tolist())),
            "computed": self.computed,
            "cached": self.cached,
            "failed": [f.as_dict() for f in self.failures],
            "model": self.model_id,
            "dim": int(self.embeddings.shape[1]) if self.embeddings.ndim == 2 else 0,
            "seconds": round(self.seconds, 3),
            "backend": self.backend,
            "precision": self.precision,
        }

    def frame(self) -> Any:
        """Metadata as a pandas DataFrame, one row per face (no embedding columns).

        ``path`` is relative to ``root``, the set's absolute folder ("" for uploads and
        zips); an attribute named ``root`` becomes ``attr_root``.
        """
        import pandas as pd

        base = pd.DataFrame(
            {
                "path": self.names,
                "root": [self.root] * len(self.rows),
                "person": self.people,
                "face_index": [r.face_index for r in self.rows],
                "faces_in_image": [r.faces_in_image for r in self.rows],
                "confidence": [r.confidence for r in self.rows],
            }
        )
        for attr in self.attribute_names:
            base[attr if attr != "root" else "attr_root"] = [
                r.attributes.get(attr, "") for r in self.rows
            ]
        return base

    def save(self, out: Path | str) -> Path:
        """Write one row per face (path, root, person, attributes, embedding) as .npz, .csv or .parquet.

        ``path`` stays relative and ``root`` says to what: a 0-d string array in
        ``.npz``, a column in ``.csv`` and ``.parquet`` (and Parquet's file-level
        metadata ``facedash.root``).
        """
        from facedash.data import exports

        out = Path(out)
        suffix = out.suffix.lower()
        attrs = {
            a: np.array([r.attributes.get(a, "") for r in self.rows], dtype=str)
            for a in self.attribute_names
        }
        if suffix == ".npz":
            reserved = {"path", "root", "person", "embedding"}
            extra = {(a if a not in reserved else f"attr_{a}"): v for a, v in attrs.items()}
            np.savez(
                out,
                path=self.names.astype(str),
                root=np.array(self.root, dtype=str),
                person=self.people.astype(str),
                embedding=self.embeddings,
                **extra,  # type: ignore[arg-type]
            )
            return out
        if suffix == ".csv":
            out.write_bytes(exports.csv_bytes(self.embeddings, self.frame()))
            return out
        if suffix == ".parquet":
            out.write_bytes(exports.parquet_bytes(self.embeddings, self.frame(), root=self.root))
            return out
        raise ValueError(f"unsupported output format {suffix!r}; use .npz, .csv or .parquet")
