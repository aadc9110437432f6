"""Photographic conditions made by deterministic transforms, embedded by the real model.

The demo set has no expression labels. What it can honestly offer as a second
attribute is the condition a photo was taken in, made here on purpose: each
aligned face crop is turned grayscale, mirrored, darkened or blurred, and the
transformed crop is embedded by the real model. The result is a set of
``len(conditions) x faces`` rows whose ``condition`` attribute is known exactly
(and whose ``source`` attribute names the original photo).

The transformed crops' embeddings are kept in the SQLite store under the
SHA-256 of the transformed crop's pixels, so a second run embeds nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from facedash.datasets import Dataset
from facedash.errors import FacedashError
from facedash.images import decode_jpeg, encode_jpeg
from facedash.models.registry import Embedder
from facedash.pipeline import THUMB_QUALITY, EmbeddingSet
from facedash.store import Store

CONDITIONS = ("original", "grayscale", "mirrored", "darker", "blurred")
CONDITION_LABELS = {
    "original": "original crop (re-embedded from the stored aligned face)",
    "grayscale": "grayscale (luma, BT.601)",
    "mirrored": "mirrored left-right",
    "darker": "darker (gamma 2.2 on [0, 1] pixel values)",
    "blurred": "blurred (Gaussian, sigma 2.5 px)",
}
DET_KEY = "transformed-crop:v1"  # the store's detection key for synthetic crops
DARK_GAMMA = 2.2  # a power, not a scale: prewhitening would undo a uniform scale exactly
BLUR_SIGMA = 2.5


def apply_condition(crops: np.ndarray, condition: str) -> np.ndarray:
    """A batch of uint8 crops ``(N, H, W, 3)`` under ``condition`` (a new array)."""
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[-1] != 3 or crops.dtype != np.uint8:
        raise ValueError(f"crops must be uint8 (N, H, W, 3), got {crops.dtype} {crops.shape}")
    if condition == "original":
        return crops.copy()
    if condition == "mirrored":
        return crops[:, :, ::-1, :].copy()
    x = crops.astype(np.float32)
    if condition == "grayscale":
        luma = x @ np.array([0.299, 0.587, 0.114], np.float32)
        x = np.repeat(luma[..., None], 3, axis=-1)
    elif condition == "darker":
        x = 255.0 * (x / 255.0) ** DARK_GAMMA
    elif condition == "blurred":
        from scipy.ndimage import gaussian_filter

        x = gaussian_filter(x, sigma=(0, BLUR_SIGMA, BLUR_SIGMA, 0), mode="reflect")
    else:
        raise ValueError(f"unknown condition {condition!r}; use one of {', '.join(CONDITIONS)}")
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def crop_hash(crop: np.ndarray) -> str:
    """A synthetic content hash of a transformed crop: SHA-256 of its shape and pixels."""
    digest = hashlib.sha256(f"crop:{crop.shape}:".encode())
    digest.update(np.ascontiguousarray(crop).tobytes())
    return digest.hexdigest()


def condition_set(
    result: EmbeddingSet,
    *,
    conditions: Sequence[str] = CONDITIONS,
    store: Store | None = None,
    get_model: Callable[[], Embedder] | None = None,
    limit: int | None = None,
) -> EmbeddingSet:
    """Every face of ``result`` under every condition, embedded by the real model.

    Rows get the attributes ``condition`` and ``source`` (the original file name).
    Crops come from the stored aligned thumbnails; with ``store`` the transformed
    crops' embeddings are read from and written to it. The model is asked for
    only when some crop is not stored yet.
    """
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown:
        raise ValueError(f"unknown condition(s) {unknown}; use some of {', '.join(CONDITIONS)}")
    keep = [i for i, t in enumerate(result.thumbs) if t is not None][:limit]
    if not keep:
        raise ValueError("the set has no aligned face crops to transform")
    crops = np.stack([decode_jpeg(result.thumbs[i]) for i in keep])  # type: ignore[arg-type]
    if get_model is None:
        from facedash.models.registry import get_model as cached

        def get_model() -> Embedder:
            return cached(result.model_id)

    rows, vectors = [], []
    thumbs: list[bytes | None] = []
    computed = 0
    for condition in conditions:
        made = apply_condition(crops, condition)
        hashes = [crop_hash(c) for c in made]
        stored = (
            store.get_embeddings(
                [(h, 0) for h in hashes],
                det_key=DET_KEY,
                align_key=result.align_key,
                model_id=result.model_id,
            )
            if store is not None
            else {}
        )
        missing = [j for j, h in enumerate(hashes) if (h, 0) not in stored]
        vecs = np.empty((len(made), result.embeddings.shape[1]), np.float32)
        for j, h in enumerate(hashes):
            if (h, 0) in stored:
                vecs[j] = stored[(h, 0)].vector
        if missing:
            vecs[missing] = get_model().embed(made[missing])
            computed += len(missing)
        jpegs = [encode_jpeg(c, THUMB_QUALITY) for c in made]
        if store is not None and missing:
            store.put_embeddings(
                [(hashes[j], 0, vecs[j], jpegs[j]) for j in missing],
                det_key=DET_KEY,
                align_key=result.align_key,
                model_id=result.model_id,
            )
        for j, i in enumerate(keep):
            src = result.rows[i]
            rows.append(
                replace(
                    src,
                    name=f"{src.name} [{condition}]",
                    attributes={**src.attributes, "condition": condition, "source": src.name},
                    image_hash=hashes[j],
                )
            )
        vectors.append(vecs)
        thumbs.extend(jpegs)
    return EmbeddingSet(
        dataset=f"{result.dataset} x photographic conditions (synthetic)",
        model_id=result.model_id,
        det_key=DET_KEY,
        align_key=result.align_key,
        rows=rows,
        embeddings=np.concatenate(vectors).astype(np.float32),
        thumbs=thumbs,
        previews={},
        failures=list(result.failures),
        images=len(rows),
        computed=computed,
        cached=len(rows) - computed,
        seconds=0.0,
    )


# Two-letter codes for JAFFE-style file names (``BA.GR1.1.tiff``: person BA, condition grayscale).
JAFFE_CODES = {
    "original": "NE",
    "grayscale": "GR",
    "mirrored": "MI",
    "darker": "DA",
    "blurred": "BL",
}


CONDITIONS_PATTERN = "conditions"


@dataclass(frozen=True)
class AttributeView:
    """A set ready for the arithmetic: its faces, one attribute value each, and their sources."""

    result: EmbeddingSet
    column: str
    values: np.ndarray
    sources: np.ndarray
    synthetic: bool

    @property
    def persons(self) -> np.ndarray:
        """Person of each face, as str."""
        return self.result.people.astype(str)


def attribute_view(
    result: EmbeddingSet,
    pattern: str | None = None,
    *,
    store: Store | None = None,
    get_model: Callable[[], Embedder] | None = None,
) -> AttributeView:
    """The faces of ``result`` labelled by the attribute ``pattern``.

    ``"jaffe"`` reads the expression parsed from JAFFE file names, ``"conditions"``
    makes the synthetic photographic conditions, any other value names an
    attribute column (a manifest column). ``None`` picks ``jaffe`` when the set has
    expressions, else ``conditions``. Faces without a value are left out.
    """
    have = result.attribute_names
    if pattern is None:
        pattern = "jaffe" if "expression" in have else CONDITIONS_PATTERN
    if pattern == CONDITIONS_PATTERN:
        made = condition_set(result, store=store, get_model=get_model)
        values = np.array([r.attributes["condition"] for r in made.rows], dtype=object)
        sources = np.array([r.attributes["source"] for r in made.rows], dtype=object)
        return AttributeView(made, "condition", values, sources, synthetic=True)
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
    return AttributeView(sub, column, values, sources, synthetic=False)


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


def person_code(person: str) -> str:
    """Two capital letters for a person label (ben_afflek -> BA, madonna -> MA)."""
    return ("".join(w[0] for w in person.split("_") if w) + person[1:])[:2].upper()


def write_jaffe_format_set(
    dataset: Dataset, folder: Path, *, per_person: int = 1, conditions: Sequence[str] = CONDITIONS
) -> dict[str, str]:
    """Write the first photo(s) of each person under every condition as ``BA.GR1.1.tiff``.

    The whole photo is transformed (the face is then found and aligned as usual).
    Returns file name -> source id (person code + photo number).
    """
    from PIL import Image

    from facedash.images import decode

    folder = Path(folder)
    seen: dict[str, int] = {}
    sources: dict[str, str] = {}
    for item in dataset.items:
        n = seen.get(item.person, 0)
        if n >= per_person:
            continue
        seen[item.person] = n + 1
        image = decode(item.read())[None]
        code = person_code(item.person)
        for condition in conditions:
            name = f"{code}.{JAFFE_CODES[condition]}1.{n + 1}.tiff"
            Image.fromarray(apply_condition(image, condition)[0]).save(folder / name)
            sources[name] = f"{code}{n + 1}"
    return sources
