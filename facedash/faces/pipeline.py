"""Files -> faces -> embeddings: batched, resumable, pipelined, with progress.

``embed_dataset`` walks a ``Dataset`` in chunks of photos. For each chunk it
reads and hashes the files, looks up what the store already has, decodes only
the photos with missing work, detects faces in one batched call, aligns the
selected faces, embeds them in one batched call, and commits the chunk to the
store. A run killed half-way therefore keeps every finished chunk, and a rerun
computes only what is missing. The detector and the model are asked for only
when there is work for them: a fully stored set never imports TensorFlow.

The stages of neighbouring chunks overlap (``facedash.faces.lanes``): while the
detector works on one chunk, the embedder works on the one before and a thread
pool decodes the one after (and makes its previews). Which photos each batch
holds is decided between steps, on the calling thread, exactly as a plain loop
would, so the rows, their order and their embeddings are the plain loop's
(``pipelined=False`` runs the same steps on the calling thread alone).

Every file that cannot be used (unreadable, not an image, no face) ends in
``failures`` with its reason; the rest of the batch goes on. Files are read
through ``facedash.faces.reading``: a stored photo is not even opened, and a folder
that changes meanwhile is reported in ``changes``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from facedash.data.datasets import Dataset, Failure
from facedash.data.images import decode
from facedash.data.store import Store
from facedash.errors import ImageError
from facedash.faces.batch import (
    PREVIEW_SIDE,
    THUMB_QUALITY,
    detections_of,
    embed_faces,
    preview_of,
)
from facedash.faces.detect import (
    AlignSettings,
    Detector,
    DetectorSettings,
    Face,
    align_key_for,
    select,
)
from facedash.faces.embedding_set import EmbeddingSet, FaceRow
from facedash.faces.lanes import Lanes, first_error
from facedash.faces.probe import demo_probe
from facedash.faces.reading import SetReader
from facedash.models.backends import Choice, store_key
from facedash.models.registry import Embedder, get_embedder, plan, spec

Progress = Callable[[int, int, str], None]
EmbedHook = Callable[[Embedder, list[tuple[str, int]], np.ndarray], np.ndarray]
"""``(model, face keys (image hash, face index), aligned crops) -> embeddings``: embeds in
place of ``model.embed`` and may keep what else the same pass gives (``facedash embed``: σ²)."""
__all__ = ["PREVIEW_SIDE", "THUMB_QUALITY", "EmbeddingSet", "FaceRow", "embed_dataset"]
# Photos per chunk. Kept at the plain loop's 32: MTCNN's boxes are not bitwise independent of
# the batch (one demo photo's box moves 0.37 px between a batch of six and one of one, cosine
# 0.993), so another size would change stored results; with 32 the pipeline's are bitwise
# the plain loop's (tests/test_pipeline_lanes.py, bench/embed_set.py for the timings).
CHUNK = 32


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
    chunk: int = CHUNK,
    backend: str | None = None,
    precision: str | None = None,
    pipelined: bool = True,
    embed_hook: EmbedHook | None = None,
) -> EmbeddingSet:
    """Detect, align and embed every photo of ``dataset``, reusing the store.

    ``get_detector`` and ``get_model`` are called only if some work is missing
    (the app passes its cached loaders; the default is the process-wide cache).
    ``backend``/``precision``: where new embeddings are computed (None: the
    environment, else ``auto``; with ``get_model`` given: the TensorFlow reference).
    The store is read under that precision's key only; a model that loads at
    another precision (a refused backend) makes the set be read under its key.
    ``progress(done, total, message)`` is called on the calling thread (``done``:
    photos of the chunks finished). ``pipelined=False``: the same steps on the
    calling thread alone (the same results, slower). ``embed_hook`` embeds each batch of
    new faces instead of ``model.embed`` (on the embedding thread).
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
        pipelined=pipelined,
        embed_hook=embed_hook,
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
    pipelined: bool,
    embed_hook: EmbedHook | None,
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
    chunks = [range(s, min(s + chunk, total)) for s in range(0, total, chunk)]
    decoded: dict[int, dict[int, tuple[np.ndarray, bytes | None]]] = {}  # chunk -> photos
    finished = 0  # photos of the chunks done

    def to_decode(c: int) -> list[tuple[int, bytes, bool]]:
        """Read chunk ``c``: (item, bytes, make its preview) of the photos to decode."""
        data = reader.read(list(chunks[c]), failures, failed_items)  # only photos with work left
        # 1. Which photos need decoding: no detection yet, or a selected face not embedded.
        want = {
            i: select(detections[hashes[i]].faces, al.policy)
            for i in data
            if hashes[i] in detections
        }
        stored.update(
            store.get_embeddings(
                [(hashes[i], f) for i, faces in want.items() for f in faces],
                det_key=det_key,
                align_key=align_key,
                model_id=key,
            )
        )
        return [
            (i, data[i], hashes[i] not in detections)
            for i in data
            if i not in want or any((hashes[i], f) not in stored for f in want[i])
        ]

    # Step s decodes chunk s + 1 (a thread pool), detects chunk s and embeds chunk s - 1
    # (a thread each); what each batch holds is decided here, between steps.
    with Lanes(inline=not pipelined) as lanes:
        for step in range(-1, len(chunks) + 1):
            ahead, now, behind = step + 1, step, step - 1
            jobs: list[tuple[str, int, int]] = []
            to_detect: list[int] = []
            error: BaseException | None = None
            try:
                if ahead < len(chunks):
                    lanes.map("decode", _decode, to_decode(ahead))

                # 2. Detect, in one batched call, the photos not yet detected.
                if 0 <= now < len(chunks):
                    images = decoded[now]
                    to_detect = [i for i in images if hashes[i] not in detections]
                if to_detect:
                    report(finished, total, f"Finding faces in {len(to_detect)} photos")
                    if detector is None:
                        detector = detector_factory()
                    lanes.run(
                        "detect",
                        functools.partial(
                            detections_of,
                            detector,
                            [images[i][0] for i in to_detect],
                            [hashes[i] for i in to_detect],
                            [images[i][1] for i in to_detect],
                        ),
                    )

                # 3. Align and embed, in one batched call, the selected faces not yet embedded.
                if behind >= 0:
                    images = decoded[behind]
                    pending: dict[tuple[str, int], int] = {}
                    for i in images:
                        found = detections.get(hashes[i])
                        for f in select(found.faces, al.policy) if found else []:
                            if (hashes[i], f) not in stored:
                                pending.setdefault((hashes[i], f), i)
                    jobs = [(h, f, i) for (h, f), i in pending.items()]
                if jobs:
                    report(finished, total, f"Embedding {len(jobs)} faces")
                    if model is None:
                        model = get_model()
                        if store_key(model_spec.store_id, model.precision) != key:
                            raise _Replan(model)
                    faces = [(images[i][0], detections[h].faces[f]) for h, f, i in jobs]
                    hook = embed_hook and functools.partial(
                        embed_hook, model, [j[:2] for j in jobs]
                    )
                    lanes.run(
                        "embed", functools.partial(embed_faces, model, model_id, al, faces, hook)
                    )
            except BaseException as exc:  # noqa: BLE001 - raised below, once the lanes are done
                error = exc

            # The step's barrier: commit what every lane finished, then raise what failed.
            done = lanes.wait()
            photos = decoded.setdefault(ahead, {}) if ahead < len(chunks) else {}
            for outcome in done.get("decode", []):
                if isinstance(outcome, BaseException):
                    continue
                i, image, preview, reason = outcome
                if image is not None:
                    photos[i] = (image, preview)
                else:
                    failures.append(Failure(dataset.items[i].name, str(reason)))
                    failed_items.add(i)
            new = done.get("detect")
            if isinstance(new, list):
                store.put_detections(new, det_key)
                detections.update({d.image_hash: d for d in new})
            vectors = done.get("embed")
            if isinstance(vectors, list):
                rows = [(h, f, v, t) for (h, f, _), (v, t) in zip(jobs, vectors, strict=True)]
                store.put_embeddings(rows, det_key=det_key, align_key=align_key, model_id=key)
                for h, f, v, t in rows:
                    stored[(h, f)] = _Fresh(v, t)
            error = error or first_error([new, vectors, *done.get("decode", [])])
            if error is not None:
                raise error
            if behind >= 0:
                decoded.pop(behind)
                finished = chunks[behind].stop
                report(finished, total, "Stored")

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


def _decode(
    job: tuple[int, bytes, bool],
) -> tuple[int, np.ndarray | None, bytes | None, str | None]:
    """(item, photo, its preview if asked for, None), or (item, None, None, why it cannot be used)."""
    i, data, make_preview = job
    try:
        image = decode(data)
    except ImageError as exc:
        return i, None, None, str(exc)
    return i, image, preview_of(image) if make_preview else None, None


@dataclass(frozen=True)
class _Fresh:
    """An embedding computed in this run (counted as ``computed``)."""

    vector: np.ndarray
    thumb: bytes | None
