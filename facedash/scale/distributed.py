"""Embedding a set on a Ray cluster, into the same store under the same keys.

The driver lists the set, asks the store (through ``facedash.faces.reading``) which
photos are already done and hands only the others to a Ray Data pipeline: a pool
of actors (``EmbedWorker``), each loading the detector and the model once, reads,
decodes (the project's safe decoder), detects, aligns and embeds a batch of photos
with the very functions the local pipeline uses (``facedash.faces.batch``) and returns
one row per photo (content hash, detection, or the failure reason) and one per
face (embedding, thumbnail). The driver commits each batch to the store as it
arrives, so a killed run keeps what finished and a rerun computes only the rest.
With ``out_dir`` the rows are written as Parquet shards on the cluster instead,
and ``facedash ingest DIR`` (``ingest``) loads them into a store later.

Weights reach the workers through ``FACEDASH_HOME``, a path every node must be
able to read; a worker never downloads anything, and a node without the weights
says so. Failed tasks are retried and dead actors restarted ``MAX_RETRIES`` times.
"""

from __future__ import annotations

import math
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facedash.data import filehashes
from facedash.data.datasets import Dataset, Failure, ImageItem
from facedash.data.images import content_hash, decode
from facedash.data.store import Detection, Store, _faces_from_json, _faces_json
from facedash.errors import FacedashError, ImageError
from facedash.faces.batch import detections_of, embed_faces
from facedash.faces.detect import AlignSettings, Detector, DetectorSettings, align_key_for, select
from facedash.faces.probe import demo_probe
from facedash.faces.reading import SetReader
from facedash.models.backends import store_key
from facedash.models.registry import plan, spec
from facedash.paths import home
from facedash.scale.raycluster import (
    MAX_RETRIES,
    RayRunError,
    connect,
    first_line,
    import_ray,
)

Progress = Callable[[int, int, str], None]
COLUMNS = (
    "kind index path size mtime_ns image_hash reason width height faces preview "
    "face_index vector thumb det_key align_key model_key backend precision"
).split()


class Stopped(FacedashError):
    """The run was stopped after ``stop_after`` batches (what was committed is kept)."""


def _row(kind: str, rec: dict[str, Any], **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS, None)
    # Integers stay integers (a None would make pandas turn mtime_ns into a float).
    row.update(dict.fromkeys(("size", "mtime_ns", "width", "height", "face_index"), -1))
    row.update(kind=kind, index=int(rec["index"]), path=rec["path"], **values)
    return row


class EmbedWorker:
    """One Ray actor: the detector and the model, loaded once, over batches of photos."""

    def __init__(
        self,
        *,
        model_id: str,
        backend: str | None,
        precision: str | None,
        det: DetectorSettings,
        al: AlignSettings,
        facedash_home: str,
    ) -> None:
        from facedash import assets
        from facedash.errors import AssetMissing, UnknownModel
        from facedash.models.registry import get_embedder

        os.environ["FACEDASH_HOME"] = facedash_home
        node = socket.gethostname()
        try:
            card = spec(model_id)
        except UnknownModel:
            raise AssetMissing(
                f"model card {model_id!r} on node {node}",
                Path(facedash_home) / "cards" / model_id,
                fix=f"facedash models add ... --name {model_id} into a FACEDASH_HOME every node "
                "can read",
            ) from None
        try:
            if card.runtime == "keras-facenet":  # a user's card carries its own file
                assets.require_weights(Path(facedash_home))
        except AssetMissing as exc:
            raise AssetMissing(
                f"FaceNet weights on node {node}",
                exc.path,
                fix="facedash assets fetch into a FACEDASH_HOME every node can read",
            ) from None
        self.model_id, self.det, self.al = model_id, det, al
        self.detector = Detector(det)
        self.model = get_embedder(
            model_id, backend=backend, precision=precision, probe=demo_probe()
        )
        self.key = store_key(card.store_id, self.model.precision)
        self.align_key = align_key_for(card, al)

    def __call__(self, batch: Any) -> Any:
        import pandas as pd

        records = [
            {"index": int(i), "path": str(p), "data": bytes(d), "listed": [int(x) for x in ls]}
            for chunk in batch.to_dict("records")
            for i, p, d, ls in zip(
                chunk["indices"], chunk["paths"], chunk["datas"], chunk["listed"], strict=True
            )
        ]
        return pd.DataFrame(self.run(records), columns=list(COLUMNS))

    def run(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Read, decode, detect, align and embed ``records`` ({index, path, data, listed})."""
        rows: list[dict[str, Any]] = []
        images, hashes, recs = [], [], []
        for rec in records:
            listed = rec.get("listed") or None
            item = ImageItem(
                name=rec["path"],
                person="",
                path=Path(rec["path"]) if rec["path"] else None,
                data=rec["data"] or None,
                listed=(int(listed[0]), int(listed[1])) if listed else None,
            )
            try:
                stat = item.stat_now()
                data = item.read()
                image_hash = content_hash(data)
                images.append(decode(data))
            except ImageError as exc:
                rows.append(_row("failed", rec, reason=str(exc)))
                continue
            hashes.append(image_hash)
            recs.append((rec, stat))
        found = detections_of(self.detector, images, hashes) if images else []
        jobs = []
        for (rec, stat), image, d in zip(recs, images, found, strict=True):
            size, mtime = stat if stat is not None else (-1, -1)
            rows.append(
                _row(
                    "photo",
                    rec,
                    size=size,
                    mtime_ns=mtime,
                    image_hash=d.image_hash,
                    width=d.width,
                    height=d.height,
                    faces=_faces_json(d.faces),
                    preview=d.preview,
                )
            )
            jobs += [(rec, d, f, image) for f in select(d.faces, self.al.policy)]
        if jobs:
            done = embed_faces(
                self.model, self.model_id, self.al, [(im, d.faces[f]) for _, d, f, im in jobs]
            )
            for (rec, d, f, _), (vector, thumb) in zip(jobs, done, strict=True):
                rows.append(
                    _row(
                        "face",
                        rec,
                        image_hash=d.image_hash,
                        face_index=f,
                        vector=np.asarray(vector, np.float32).tobytes(),
                        thumb=thumb,
                    )
                )
        for row in rows:
            row.update(
                det_key=self.det.key(),
                align_key=self.align_key,
                model_key=self.key,
                backend=self.model.backend,
                precision=self.model.precision,
            )
        return rows


def commit(store: Store, rows: Iterable[dict[str, Any]]) -> tuple[int, int, list[Failure]]:
    """Store a batch of worker rows (detections, embeddings, file hashes): (photos, faces, failures)."""
    detections: dict[str, list[Detection]] = {}
    faces: dict[tuple[str, str, str], list[tuple[str, int, np.ndarray, bytes | None]]] = {}
    seen: list[tuple[ImageItem, tuple[int, int], str]] = []
    failures: list[Failure] = []
    photos = 0
    for r in rows:
        if r["kind"] == "failed":
            failures.append(Failure(r["path"], r["reason"]))
        elif r["kind"] == "photo":
            photos += 1
            det = Detection(
                r["image_hash"],
                int(r["width"]),
                int(r["height"]),
                _faces_from_json(r["faces"]),
                r["preview"],
            )
            detections.setdefault(r["det_key"], []).append(det)
            if r["path"] and int(r["size"]) >= 0:
                item = ImageItem(name=r["path"], person="", path=Path(r["path"]))
                seen.append((item, (int(r["size"]), int(r["mtime_ns"])), r["image_hash"]))
        elif r["kind"] == "face":
            vector = np.frombuffer(r["vector"], dtype=np.float32)
            keys = (r["det_key"], r["align_key"], r["model_key"])
            faces.setdefault(keys, []).append(
                (r["image_hash"], int(r["face_index"]), vector, r["thumb"])
            )
    for det_key, dets in detections.items():
        store.put_detections(dets, det_key)
    for (det_key, align_key, model_key), embs in faces.items():
        store.put_embeddings(embs, det_key=det_key, align_key=align_key, model_id=model_key)
    filehashes.remember(store, seen)  # last: a remembered hash always has its rows
    return photos, sum(len(v) for v in faces.values()), failures


@dataclass
class RayRun:
    """What a Ray run did: photos sent, faces computed, where they ran."""

    images: int
    todo: int
    computed: int
    failures: list[Failure]
    workers: int
    seconds: float
    backend: str = ""
    precision: str = ""
    out_dir: str = ""


def run_ray(
    dataset: Dataset,
    *,
    store: Store,
    model_id: str = "facenet",
    detector_settings: DetectorSettings | None = None,
    align_settings: AlignSettings | None = None,
    backend: str | None = None,
    precision: str | None = None,
    address: str | None = None,
    workers: int | None = None,
    gpus_per_worker: float = 0.0,
    batch_size: int = 32,
    out_dir: Path | str | None = None,
    progress: Progress | None = None,
    stop_after: int | None = None,
) -> RayRun:
    """Embed the photos of ``dataset`` not yet in ``store`` on Ray; commit them (or write shards)."""
    t0 = time.perf_counter()
    det = detector_settings or DetectorSettings()
    al = align_settings or AlignSettings()
    model_spec = spec(model_id)
    key = plan(model_id, backend, precision).key
    align_key = align_key_for(model_spec, al)
    reader = SetReader(
        store, dataset, det_key=det.key(), align_key=align_key, model_id=key, policy=al.policy
    )
    todo = [i for i in range(len(dataset.items)) if not reader.complete(reader.known.get(i))]
    run = RayRun(len(dataset.items), len(todo), 0, [], 0, 0.0, out_dir=str(out_dir or ""))
    if not todo:
        run.seconds = time.perf_counter() - t0
        return run
    ray = import_ray()
    connect(address)
    resources = ray.cluster_resources()
    if gpus_per_worker > 0:
        fit = int(resources.get("GPU", 0) // gpus_per_worker)
    else:
        fit = int(resources.get("CPU", 1))
    run.workers = max(1, min(workers or fit, math.ceil(len(todo) / batch_size)))
    records = []
    for i in todo:
        item = dataset.items[i]
        records.append(
            {
                "index": i,
                "path": str(item.path) if item.path is not None and item.data is None else "",
                "data": item.data or b"",
                "listed": list(item.listed) if item.listed else [],
            }
        )
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.max_consecutive_actor_init_deaths = MAX_RETRIES  # e.g. a node without the weights
    # One row per chunk of ``batch_size`` photos, the local pipeline's chunks: MTCNN's boxes
    # move by up to ~2 px with the batch a photo is detected in, so the same batches give
    # the same faces.
    chunks = [
        {
            "indices": [r["index"] for r in part],
            "paths": [r["path"] for r in part],
            "datas": [r["data"] for r in part],
            "listed": [r["listed"] for r in part],
        }
        for part in (records[s : s + batch_size] for s in range(0, len(records), batch_size))
    ]
    ds = ray.data.from_items(chunks, override_num_blocks=len(chunks))
    with warnings.catch_warnings():  # actor restarts are still set through ray_remote_args
        warnings.simplefilter("ignore")
        ds = ds.map_batches(
            EmbedWorker,
            fn_constructor_kwargs={
                "model_id": model_id,
                "backend": backend,
                "precision": precision,
                "det": det,
                "al": al,
                "facedash_home": str(home()),
            },
            batch_size=1,  # one chunk of photos
            batch_format="pandas",
            compute=ray.data.ActorPoolStrategy(size=run.workers),
            num_cpus=0 if gpus_per_worker > 0 else 1,
            num_gpus=gpus_per_worker or None,
            max_restarts=MAX_RETRIES,
            max_task_retries=MAX_RETRIES,
        )
    report = progress or (lambda done, total, msg: None)
    msg = f"Embedding on {run.workers} Ray worker(s)"
    report(0, len(todo), msg)
    try:
        if out_dir is not None:
            ds.write_parquet(str(out_dir))
            run.seconds = time.perf_counter() - t0
            return run
        done = batches = 0
        for batch in ds.iter_batches(batch_format="pandas", batch_size=None):
            rows = batch.to_dict("records")
            photos, faces, failures = commit(store, rows)
            if rows and not run.backend:
                run.backend, run.precision = rows[0]["backend"], rows[0]["precision"]
            run.computed += faces
            run.failures += [
                Failure(dataset.items[int(r["index"])].name, r["reason"])
                for r in rows
                if r["kind"] == "failed"
            ]
            done += photos + len(failures)
            batches += 1
            report(done, len(todo), msg)
            if stop_after is not None and batches >= stop_after:
                raise Stopped(f"stopped after {batches} batches; {done} photos are in the store")
    except FacedashError:
        raise
    except Exception as exc:
        raise RayRunError(
            f"the Ray run failed (each task is retried {MAX_RETRIES} times): "
            f"{first_line(exc)}; everything committed so far is kept in the store"
        ) from None
    run.seconds = time.perf_counter() - t0
    return run


def embed_with_ray(dataset: Dataset, *, store: Store, **kwargs: Any) -> tuple[Any, RayRun]:
    """``run_ray``, then the set as ``embed_dataset`` reads it back from the store (computing 0).

    Returns (EmbeddingSet, RayRun); ``computed`` counts the faces the cluster embedded.
    """
    from facedash.faces.pipeline import embed_dataset

    run = run_ray(dataset, store=store, **kwargs)
    backend = run.backend or kwargs.get("backend")
    precision = run.precision or kwargs.get("precision")
    result = embed_dataset(
        dataset,
        model_id=kwargs.get("model_id", "facenet"),
        store=store,
        detector_settings=kwargs.get("detector_settings"),
        align_settings=kwargs.get("align_settings"),
        backend=backend,
        precision=precision,
    )
    moved = min(run.computed, result.cached)
    result.computed += moved
    result.cached -= moved
    result.seconds = run.seconds + result.seconds
    return result, run
