"""Photographic conditions made by deterministic transforms, embedded by the real model.

The demo set has no expression labels. What it can honestly offer as a second
attribute is the condition a photo was taken in, made here on purpose: each
aligned face crop is turned grayscale, mirrored, darkened or blurred, and the
transformed crop is embedded by the real model. The result is a set of
``len(conditions) x faces`` rows whose ``condition`` attribute is known exactly
(and whose ``source`` attribute names the original photo).

``UNSEEN`` are further transforms (brighter, hue-rotated, sepia, noisy) that no
training here ever uses: tests and benchmarks build held-out JAFFE-named sets with
them (``facedash.search.jaffe_format``) to check that what was learnt on ``CONDITIONS``
carries over to attributes never seen.

Cost is linear in the number of faces and memory bounded: the crops are
transformed and embedded ``chunk`` faces at a time, for at most ``SAMPLE_FACES``
faces of a set (a seeded sample in proportion to each person's faces, every
person kept: group vectors are means, and 500 faces x 5 conditions give each
group hundreds of faces, where 100,000 faces would cost 500,000 embeddings). The transformed crops'
embeddings are kept in the SQLite store under the SHA-256 of the transformed
crop's pixels, so a killed run keeps what it finished; and the whole view (its
embeddings and crop hashes) is kept beside the store (``views/``, keyed by the
set's faces, model, settings and transforms), so a later run reads one file and
transforms nothing. Thumbnails of transformed crops are made when asked for
(``LazyThumbs``), never all at once.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast, overload

import numpy as np

from facedash.data import thumbnails
from facedash.data.arraycache import read_cached, view_cache_dir, write_cached
from facedash.data.images import decode_jpeg, encode_jpeg
from facedash.data.store import Store
from facedash.errors import FacedashError
from facedash.faces.pipeline import THUMB_QUALITY, EmbeddingSet
from facedash.models.registry import Embedder

CONDITIONS = ("original", "grayscale", "mirrored", "darker", "blurred")
UNSEEN = ("brighter", "hue", "sepia", "noisy")  # held-out transforms: never trained on
CONDITION_LABELS = {
    "original": "original crop (re-embedded from the stored aligned face)",
    "grayscale": "grayscale (luma, BT.601)",
    "mirrored": "mirrored left-right",
    "darker": "darker (gamma 2.2 on [0, 1] pixel values)",
    "blurred": "blurred (Gaussian, sigma 2.5 px)",
    "brighter": "brighter (gamma 0.5 on [0, 1] pixel values)",
    "hue": "hue rotated by 120 degrees (R, G, B -> B, R, G)",
    "sepia": "sepia tone",
    "noisy": "Gaussian noise, std 20 grey levels (seeded by the pixels)",
}
DET_KEY = "transformed-crop:v1"  # the store's detection key for synthetic crops
DARK_GAMMA = 2.2  # a power, not a scale: prewhitening would undo a uniform scale exactly
BRIGHT_GAMMA = 0.5
BLUR_SIGMA = 2.5
NOISE_STD = 20.0
SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)
VIEW_VERSION = "1"  # part of every view-cache key: bump when a transform changes
CHUNK = 256  # source faces transformed and embedded at a time
# Faces of a set that get the conditions (a seeded, per-person sample): 500 faces x 5 conditions
# embed in about 10 s on a 2-core CPU, so a first visit stays under 15 s; the condition vectors of
# a 1,944-face set's 500-face samples keep cosine 0.99 to the whole set's (docs/arithmetic.md).
SAMPLE_FACES = 500


def _noise(image: np.ndarray) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(np.ascontiguousarray(image).tobytes()).digest()[:8])
    return np.random.default_rng(seed).normal(0.0, NOISE_STD, image.shape).astype(np.float32)


def apply_condition(crops: np.ndarray, condition: str) -> np.ndarray:
    """A batch of uint8 images ``(N, H, W, 3)`` under ``condition`` (a new array).

    Each image's result depends on that image only (the noise is seeded by its
    pixels), so chunking a batch never changes a result.
    """
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[-1] != 3 or crops.dtype != np.uint8:
        raise ValueError(f"crops must be uint8 (N, H, W, 3), got {crops.dtype} {crops.shape}")
    if condition == "original":
        return crops.copy()
    if condition == "mirrored":
        return crops[:, :, ::-1, :].copy()
    if condition == "hue":
        return crops[..., [2, 0, 1]].copy()
    if condition in _GAMMAS:  # a pixel's result depends on its value only: one table lookup
        return _gamma_table(_GAMMAS[condition])[crops]
    if condition == "grayscale":  # rounded once per pixel, then copied to the three channels
        luma = crops.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.repeat(_to_uint8(luma)[..., None], 3, axis=-1)
    x = crops.astype(np.float32)
    if condition == "sepia":
        x = x @ SEPIA.T
    elif condition == "noisy":
        x = x + np.stack([_noise(c) for c in crops])
    elif condition == "blurred":
        from scipy.ndimage import gaussian_filter

        x = gaussian_filter(x, sigma=(0, BLUR_SIGMA, BLUR_SIGMA, 0), mode="reflect")
    else:
        known = ", ".join(CONDITIONS + UNSEEN)
        raise ValueError(f"unknown condition {condition!r}; use one of {known}")
    return _to_uint8(x)


_GAMMAS = {"darker": DARK_GAMMA, "brighter": BRIGHT_GAMMA}


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """Rounded to the nearest integer and clipped to [0, 255], in place where it can."""
    np.rint(x, out=x)
    np.clip(x, 0, 255, out=x)
    return x.astype(np.uint8)


@functools.cache
def _gamma_table(gamma: float) -> np.ndarray:
    """``255 (v / 255) ** gamma`` of every uint8 value ``v``, rounded.

    The same float32 arithmetic as on a whole image, once per value.
    """
    v = np.arange(256, dtype=np.float32)
    return _to_uint8(255.0 * (v / 255.0) ** gamma)


def crop_hash(crop: np.ndarray) -> str:
    """A synthetic content hash of a transformed crop: SHA-256 of its shape and pixels."""
    digest = hashlib.sha256(f"crop:{crop.shape}:".encode())
    digest.update(np.ascontiguousarray(crop).tobytes())
    return digest.hexdigest()


class LazyThumbs(Sequence[bytes | None]):
    """The thumbnails of a condition set, made from the source thumbnails when asked for.

    Row ``j`` is source face ``j % n`` under condition ``j // n`` (the set's order).
    """

    def __init__(self, sources: Sequence[bytes], conditions: Sequence[str]) -> None:
        self.sources = list(sources)
        self.conditions = list(conditions)

    def __len__(self) -> int:
        return len(self.sources) * len(self.conditions)

    def _where(self, j: int) -> tuple[bytes, str]:
        if not -len(self) <= j < len(self):
            raise IndexError(f"thumbnail {j} of {len(self)}")
        c, i = divmod(j % len(self), len(self.sources))
        return self.sources[i], self.conditions[c]

    def crop(self, j: int) -> np.ndarray:
        """The transformed crop of row ``j`` (uint8 ``(H, W, 3)``)."""
        jpeg, condition = self._where(j)
        return apply_condition(decode_jpeg(jpeg)[None], condition)[0]

    def crops(self, rows: Sequence[int]) -> np.ndarray:
        """The transformed crops of ``rows`` as one ``(N, H, W, 3)`` batch."""
        return np.stack([self.crop(int(j)) for j in rows])

    @overload
    def __getitem__(self, j: int) -> bytes | None: ...
    @overload
    def __getitem__(self, j: slice) -> list[bytes | None]: ...
    def __getitem__(self, j: int | slice) -> bytes | None | list[bytes | None]:
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(len(self)))]
        jpeg, condition = self._where(j)
        if condition == "original":
            return jpeg
        return encode_jpeg(self.crop(j), THUMB_QUALITY)

    def __iter__(self) -> Iterator[bytes | None]:
        return (self[j] for j in range(len(self)))


Progress = Callable[[int, int, str], None]


def condition_set(
    result: EmbeddingSet,
    *,
    conditions: Sequence[str] = CONDITIONS,
    store: Store | None = None,
    get_model: Callable[[], Embedder] | None = None,
    limit: int | None = None,
    sample: int | None = None,
    chunk: int = CHUNK,
    progress: Progress | None = None,
) -> EmbeddingSet:
    """Every face of ``result`` (the first ``limit``, or a ``sample``) under every condition.

    The transformed crops are embedded by the real model. ``sample``: at most that many
    faces, drawn by ``person_sample`` (seed 0). Rows get the attributes ``condition`` and ``source`` (the original file name).
    Crops come from the stored aligned thumbnails; with ``store`` the transformed
    crops' embeddings are read from and written to it, and the finished view is
    kept beside it. The model is asked for only when some crop is not stored yet.
    """
    unknown = [c for c in conditions if c not in CONDITIONS + UNSEEN]
    if unknown:
        raise ValueError(f"unknown condition(s) {unknown}; use some of {', '.join(CONDITIONS)}")
    started = time.perf_counter()
    keep = [i for i, t in enumerate(result.thumbs) if t is not None][:limit]
    if sample is not None and len(keep) > sample:
        keep = person_sample(keep, result.people, sample)
    if not keep:
        raise ValueError("the set has no aligned face crops to transform")
    if get_model is None:
        from facedash.faces.probe import demo_probe
        from facedash.models.registry import get_embedder

        def get_model() -> Embedder:  # the set's own backend and precision: keys never mix
            return get_embedder(
                result.model_id,
                backend=getattr(result, "backend", None) or None,
                precision=getattr(result, "precision", None) or None,
                probe=demo_probe(),
            )

    n, d = len(keep), result.embeddings.shape[1]
    key = "conditions-" + thumbnails.set_key(
        [result.rows[i].image_hash for i in keep],
        [result.rows[i].face_index for i in keep],
        _model_key(result),
        result.det_key,
        result.align_key,
        tuple(conditions),
        VIEW_VERSION,
        (DARK_GAMMA, BRIGHT_GAMMA, BLUR_SIGMA, NOISE_STD),
    )
    folder = view_cache_dir(store)
    held = read_cached(folder, key)
    computed = 0
    if held is not None and held["embeddings"].shape == (len(conditions) * n, d):
        vectors, hashes = held["embeddings"], held["hashes"].astype(str)
    else:
        vectors = np.empty((len(conditions) * n, d), np.float32)
        hashes = np.empty(len(conditions) * n, dtype="<U64")
        for start in range(0, n, chunk):
            rows = keep[start : start + chunk]
            crops = np.stack([decode_jpeg(result.thumbs[i]) for i in rows])  # type: ignore[arg-type]
            for c, condition in enumerate(conditions):
                slots = c * n + start + np.arange(len(rows))
                computed += _embed_chunk(
                    apply_condition(crops, condition),
                    result,
                    store,
                    get_model,
                    vectors,
                    hashes,
                    slots,
                )
            if progress is not None:
                progress(min(start + chunk, n), n, "Transforming and embedding the faces")
        write_cached(folder, key, {"embeddings": vectors, "hashes": hashes})
    rows_out = [
        replace(
            src,
            name=f"{src.name} [{condition}]",
            attributes={**src.attributes, "condition": condition, "source": src.name},
            image_hash=str(hashes[c * n + j]),
            face_index=0,
        )
        for c, condition in enumerate(conditions)
        for j, src in enumerate(result.rows[i] for i in keep)
    ]
    thumbs = LazyThumbs([cast(bytes, result.thumbs[i]) for i in keep], conditions)
    return EmbeddingSet(
        dataset=f"{result.dataset} x photographic conditions (synthetic)",
        model_id=result.model_id,
        det_key=DET_KEY,
        align_key=result.align_key,
        rows=rows_out,
        embeddings=np.asarray(vectors, dtype=np.float32),
        thumbs=cast(list, thumbs),
        previews={},
        failures=list(result.failures),
        images=len(rows_out),
        computed=computed,
        cached=len(rows_out) - computed,
        seconds=time.perf_counter() - started,
    )


def person_sample(faces: Sequence[int], people: np.ndarray, size: int, seed: int = 0) -> list[int]:
    """``size`` of ``faces`` in proportion to each person's faces, every person kept, in order.

    A seeded shuffle ranks each person's faces; a face's share of its person (rank / count)
    orders the draw, so the first faces taken are one of each person, then the sample
    grows evenly across people. A set with more people than ``size`` gets one face each.
    """
    ids = np.asarray(faces, dtype=np.int64)
    if not len(ids):
        return []
    order = np.random.default_rng(seed).permutation(len(ids))
    _names, who, counts = np.unique(
        np.asarray(people)[ids[order]], return_inverse=True, return_counts=True
    )
    by_person = np.argsort(who, kind="stable")
    rank = np.empty(len(order))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank[by_person] = (np.arange(len(order)) - np.repeat(starts, counts)) / np.repeat(
        counts, counts
    )
    size = max(size, len(counts))
    return sorted(ids[order][np.argsort(rank, kind="stable")[:size]].tolist())


def _embed_chunk(
    made: np.ndarray,
    result: EmbeddingSet,
    store: Store | None,
    get_model: Callable[[], Embedder],
    vectors: np.ndarray,
    hashes: np.ndarray,
    slots: np.ndarray,
) -> int:
    """Fill ``vectors[slots]`` and ``hashes[slots]`` for transformed crops; return how many were embedded."""
    hs = [crop_hash(c) for c in made]
    keys = {"det_key": DET_KEY, "align_key": result.align_key, "model_id": _model_key(result)}
    stored = store.get_embeddings([(h, 0) for h in hs], **keys) if store is not None else {}
    missing = [j for j, h in enumerate(hs) if (h, 0) not in stored]
    for j, h in enumerate(hs):
        hashes[slots[j]] = h
        if (h, 0) in stored:
            vectors[slots[j]] = stored[(h, 0)].vector
    if missing:
        fresh = np.asarray(get_model().embed(made[missing]), dtype=np.float32)
        vectors[slots[missing]] = fresh
        if store is not None:  # thumbnails of transformed crops are made when shown
            store.put_embeddings(
                [(hs[j], 0, v, None) for j, v in zip(missing, fresh, strict=True)], **keys
            )
    return len(missing)


CONDITIONS_PATTERN = "conditions"


@dataclass(frozen=True)
class AttributeView:
    """A set ready for the arithmetic: its faces, one attribute value each, and their sources."""

    result: EmbeddingSet
    column: str
    values: np.ndarray
    sources: np.ndarray
    synthetic: bool
    faces_total: int = 0  # faces of the set
    faces_used: int = 0  # faces the view was made from (fewer than faces_total: a sample)

    @functools.cached_property
    def persons(self) -> np.ndarray:
        """Person of each face, as str (computed once per view)."""
        return self.result.people.astype(str)

    def crops(self, rows: Sequence[int]) -> np.ndarray:
        """The aligned uint8 crops of ``rows`` (transformed ones are made from their source)."""
        thumbs = self.result.thumbs
        if isinstance(thumbs, LazyThumbs):
            return thumbs.crops(rows)
        missing = [int(j) for j in rows if thumbs[int(j)] is None]
        if missing:
            raise FacedashError(f"faces {missing[:5]} have no stored crop")
        return np.stack([decode_jpeg(cast(bytes, thumbs[int(j)])) for j in rows])


def attribute_view(
    result: EmbeddingSet,
    pattern: str | None = None,
    *,
    store: Store | None = None,
    get_model: Callable[[], Embedder] | None = None,
    progress: Progress | None = None,
    sample: int | None = None,
) -> AttributeView:
    """The faces of ``result`` labelled by the attribute ``pattern``.

    ``"jaffe"`` reads the expression parsed from JAFFE file names, ``"conditions"``
    makes the synthetic photographic conditions, any other value names an
    attribute column (a manifest column). ``None`` picks ``jaffe`` when the set has
    expressions, else ``conditions``. Faces without a value are left out. ``sample``: the
    conditions view's faces at most (``None``: ``SAMPLE_FACES``; 0: every face).
    """
    have = result.attribute_names
    if pattern is None:
        pattern = "jaffe" if "expression" in have else CONDITIONS_PATTERN
    if pattern == CONDITIONS_PATTERN:
        made = condition_set(
            result,
            store=store,
            get_model=get_model,
            sample=SAMPLE_FACES if sample is None else (sample or None),
            progress=progress,
        )
        values = np.array([r.attributes["condition"] for r in made.rows], dtype=object)
        sources = np.array([r.attributes["source"] for r in made.rows], dtype=object)
        faces = sum(t is not None for t in result.thumbs)
        used = len(made.rows) // len(CONDITIONS)
        return AttributeView(made, "condition", values, sources, True, faces, used)
    column = "expression" if pattern == "jaffe" else pattern
    if column not in have:
        hint = (
            "no file names in the JAFFE pattern (KA.HA1.29.tiff)"
            if pattern == "jaffe"
            else (f"no attribute column {column!r}")
        )
        raise FacedashError(
            f"the set has {hint}; its attribute columns: {', '.join(have) or 'none'} "
            f"(or use '{CONDITIONS_PATTERN}' for synthetic photographic conditions)"
        )
    keep = [i for i, r in enumerate(result.rows) if r.attributes.get(column, "")]
    sub = _subset(result, keep)
    values = np.array([r.attributes[column] for r in sub.rows], dtype=object)
    sources = np.array([r.name for r in sub.rows], dtype=object)
    return AttributeView(sub, column, values, sources, False, len(keep), len(keep))


def _subset(result: EmbeddingSet, keep: Sequence[int]) -> EmbeddingSet:
    if len(keep) == len(result.rows):
        return result
    idx = np.asarray(keep, dtype=np.int64)
    return replace(
        result,
        rows=[result.rows[i] for i in keep],
        embeddings=result.embeddings[idx] if len(idx) else result.embeddings[:0],
        thumbs=[result.thumbs[i] for i in keep],
    )


def _model_key(result: Any) -> str:
    """The store key of ``result``'s embeddings (``facenet``, ``facenet@bf16`` ...).

    Transformed faces are embedded at the set's own precision and stored under the same key.
    """
    return getattr(result, "model_key", "") or result.model_id
