"""Files -> faces -> embeddings: batched, resumable, with progress.

``embed_dataset`` walks a ``Dataset`` in chunks of photos. For each chunk it
reads and hashes the files, looks up what the store already has, decodes only
the photos with missing work, detects faces in one batched call, aligns the
selected faces, embeds them in one batched call, and commits the chunk to the
store before moving on. A run killed half-way therefore keeps every finished
chunk, and a rerun computes only what is missing. The detector and the model
are asked for only when there is work for them: a fully stored set never
imports TensorFlow.

Every file that cannot be used (unreadable, not an image, no face) ends in
``failures`` with its reason; the rest of the batch goes on. Files are read
through ``facedash.faces.reading``: a stored photo is not even opened, and a folder
that changes meanwhile is reported in ``changes``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facedash.data.datasets import Dataset, Failure
from facedash.data.images import decode
from facedash.data.store import Store
from facedash.errors import ImageError
from facedash.faces.batch import PREVIEW_SIDE, THUMB_QUALITY, detections_of, embed_faces
from facedash.faces.detect import (
    AlignSettings,
    Detector,
    DetectorSettings,
    Face,
    align_key_for,
    select,
)
from facedash.faces.probe import demo_probe
from facedash.faces.reading import SetReader
from facedash.models.backends import Choice, store_key
from facedash.models.registry import Embedder, get_embedder, plan, spec

Progress = Callable[[int, int, str], None]
__all__ = ["PREVIEW_SIDE", "THUMB_QUALITY", "EmbeddingSet", "FaceRow", "embed_dataset"]


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


def _default_detector(settings: DetectorSettings) -> Callable[[], Detector]:
    return lambda: Detector(settings)


class _Replan(Exception):
    """The loaded model runs at another precision than planned: start again under its key."""

    def __init__(self, model: Embedder) -> None:
        self.model = model


def embed_dataset(
    dataset: Dataset,
    *,
    model_id: str = "facenet",
    store: Store,
    detector_settings: DetectorSettings | None = None,
    align_settings: AlignSettings | None = None,
    get_detector: Callable[[], Detector] | None = None,
    get_model: Callable[[], Embedder] | None = None,
    progress: Progress | None = None,
    chunk: int = 32,
    backend: str | None = None,
    precision: str | None = None,
) -> EmbeddingSet:
    """Detect, align and embed every photo of ``dataset``, reusing the store.

    ``get_detector`` and ``get_model`` are called only if some work is missing
    (the app passes its cached loaders; the default is the process-wide cache).
    ``backend``/``precision``: where new embeddings are computed (None: the
    environment, else ``auto``; with ``get_model`` given: the TensorFlow reference).
    The store is read under that precision's key only; a model that loads at
    another precision (a refused backend) makes the set be read under its key.
    """
    if backend is None and precision is None and get_model is not None:
        backend = "tensorflow"
    choice = plan(model_id, backend, precision)
    if get_model is None:

        def get_model() -> Embedder:
            return get_embedder(model_id, backend=backend, precision=precision, probe=demo_probe())

    run = functools.partial(
        _embed_dataset,
        dataset,
        model_id=model_id,
        store=store,
        detector_settings=detector_settings,
        align_settings=align_settings,
        get_detector=get_detector,
        progress=progress,
        chunk=chunk,
        t0=time.perf_counter(),
    )
    try:
        return run(choice=choice, get_model=get_model)
    except _Replan as replan:
        model = replan.model
        return run(choice=plan(model_id, model.backend, model.precision), get_model=lambda: model)


def _embed_dataset(
    dataset: Dataset,
    *,
    model_id: str,
    store: Store,
    detector_settings: DetectorSettings | None,
    align_settings: AlignSettings | None,
    get_detector: Callable[[], Detector] | None,
    get_model: Callable[[], Embedder],
    progress: Progress | None,
    chunk: int,
    choice: Choice,
    t0: float,
) -> EmbeddingSet:
    key = choice.key
    det_settings = detector_settings or DetectorSettings()
    al = align_settings or AlignSettings()
    model_spec = spec(model_id)
    det_key = det_settings.key()
    # A model that aligns faces its own way (dlib) names its alignment in the key.
    align_key = align_key_for(model_spec, al)
    detector_factory = get_detector or _default_detector(det_settings)
    detector: Detector | None = None
    model: Embedder | None = None

    failures: list[Failure] = list(dataset.problems)
    failed_items: set[int] = set()
    reader = SetReader(
        store, dataset, det_key=det_key, align_key=align_key, model_id=key, policy=al.policy
    )
    hashes, detections, stored = reader.hashes, reader.detections, reader.stored
    computed = cached = 0
    total = len(dataset.items)
    report = progress or (lambda done, total, msg: None)

    for start in range(0, total, chunk):
        idx = list(range(start, min(start + chunk, total)))
        data = reader.read(idx, failures, failed_items)  # item index -> bytes, if work is left
        readable = list(data)

        # 1. Which photos need decoding: no detection yet, or a selected face not embedded.
        want: dict[int, list[int]] = {}
        for i in readable:
            if hashes[i] in detections:
                want[i] = select(detections[hashes[i]].faces, al.policy)
        stored.update(
            store.get_embeddings(
                [(hashes[i], f) for i, faces in want.items() for f in faces],
                det_key=det_key,
                align_key=align_key,
                model_id=key,
            )
        )
        needs_decode = [
            i
            for i in readable
            if (
                hashes[i] not in detections
                or any((hashes[i], f) not in stored for f in want.get(i, []))
            )
        ]
        images: dict[int, np.ndarray] = {}
        for i in needs_decode:
            try:
                images[i] = decode(data[i])
            except ImageError as exc:
                failures.append(Failure(dataset.items[i].name, str(exc)))
                failed_items.add(i)

        # 2. Detect, in one batched call, the photos not yet detected.
        to_detect = [i for i in images if hashes[i] not in detections]
        if to_detect:
            report(start, total, f"Finding faces in {len(to_detect)} photos")
            if detector is None:
                detector = detector_factory()
            new = detections_of(
                detector, [images[i] for i in to_detect], [hashes[i] for i in to_detect]
            )
            store.put_detections(new, det_key)
            detections.update({d.image_hash: d for d in new})
            for i in to_detect:
                want[i] = select(detections[hashes[i]].faces, al.policy)

        # 3. Align and embed, in one batched call, the selected faces not yet embedded.
        pending: dict[tuple[str, int], int] = {}
        for i in images:
            for f in want.get(i, []):
                if (hashes[i], f) not in stored:
                    pending.setdefault((hashes[i], f), i)
        jobs = [(h, f, i) for (h, f), i in pending.items()]
        if jobs:
            report(start, total, f"Embedding {len(jobs)} faces")
            if model is None:
                model = get_model()
                if store_key(model_spec.store_id, model.precision) != key:
                    raise _Replan(model)
            done = embed_faces(
                model, model_id, al, [(images[i], detections[h].faces[f]) for h, f, i in jobs]
            )
            rows = [(h, f, v, t) for (h, f, _), (v, t) in zip(jobs, done, strict=True)]
            store.put_embeddings(rows, det_key=det_key, align_key=align_key, model_id=key)
            for h, f, v, t in rows:
                stored[(h, f)] = _Fresh(v, t)
        report(min(start + chunk, total), total, "Stored")

    # 4. Assemble the result in the set's order.
    out_rows: list[FaceRow] = []
    vectors_out: list[np.ndarray] = []
    thumbs: list[bytes | None] = []
    previews: dict[str, bytes | None] = {}
    no_face: list[tuple[str, str]] = []
    for i, item in enumerate(dataset.items):
        image_hash = hashes.get(i)
        if image_hash is None or i in failed_items or image_hash not in detections:
            continue
        det = detections[image_hash]
        previews[image_hash] = det.preview
        if not det.faces:
            failures.append(Failure(item.name, "no face found"))
            no_face.append((item.name, image_hash))
            continue
        for f in select(det.faces, al.policy):
            emb = stored.get((image_hash, f))
            if emb is None:  # pragma: no cover - every selected face was embedded above
                failures.append(Failure(item.name, f"face {f} could not be embedded"))
                continue
            if isinstance(emb, _Fresh):
                computed += 1
            else:
                cached += 1
            face: Face = det.faces[f]
            out_rows.append(
                FaceRow(
                    name=item.name,
                    person=item.person,
                    attributes=dict(item.attributes),
                    image_hash=image_hash,
                    face_index=f,
                    faces_in_image=len(det.faces),
                    box=face.box,
                    landmarks=face.landmarks,
                    confidence=face.confidence,
                    width=det.width,
                    height=det.height,
                )
            )
            vectors_out.append(emb.vector)
            thumbs.append(emb.thumb)
    changes = reader.changes()
    dim = model_spec.dim
    matrix = (
        np.stack(vectors_out).astype(np.float32) if vectors_out else np.zeros((0, dim), np.float32)
    )
    return EmbeddingSet(
        dataset=dataset.name,
        model_id=model_id,
        det_key=det_key,
        align_key=align_key,
        rows=out_rows,
        embeddings=matrix,
        thumbs=thumbs,
        previews=previews,
        failures=failures,
        images=total,
        computed=computed,
        cached=cached,
        seconds=time.perf_counter() - t0,
        no_face=no_face,
        backend=model.backend if model is not None else choice.backend,
        precision=choice.precision,
        model_key=key,
        note=" ".join(
            filter(None, [getattr(model, "note", "") if model else choice.note, changes])
        ),
        root=str(dataset.root) if dataset.root is not None else "",
        changes=changes,
    )


@dataclass(frozen=True)
class _Fresh:
    """An embedding computed in this run (counted as ``computed``)."""

    vector: np.ndarray
    thumb: bytes | None
