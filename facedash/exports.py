"""Embeddings with their metadata as CSV, Parquet, and a TensorBoard Embedding Projector bundle.

Everything returns bytes (for download buttons) or writes files; nothing here
needs TensorFlow. The projector bundle is the four files the standalone
Embedding Projector (projector.tensorflow.org, "Load") and TensorBoard read:
``tensors.tsv`` (one vector per line), ``metadata.tsv`` (a header, then one row
per vector), ``sprite.png`` (every thumbnail in a square grid, at most
8192 x 8192 pixels) and ``projector_config.pbtxt``.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

SPRITE_MAX = 8192
SPRITE_THUMB = 64


def table(embeddings: np.ndarray, metadata: Any) -> Any:
    """One row per face: the metadata columns, then ``e0 .. e{D-1}``."""
    import pandas as pd

    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or len(metadata) != x.shape[0]:
        raise ValueError(f"{len(metadata)} metadata rows for embeddings of shape {x.shape}")
    dims = pd.DataFrame(x, columns=[f"e{i}" for i in range(x.shape[1])])
    return pd.concat([metadata.reset_index(drop=True), dims], axis=1)


def csv_bytes(embeddings: np.ndarray, metadata: Any) -> bytes:
    """The table as UTF-8 CSV."""
    return table(embeddings, metadata).to_csv(index=False).encode("utf-8")


def parquet_bytes(embeddings: np.ndarray, metadata: Any) -> bytes:
    """The table as Parquet (metadata columns, plus an ``embedding`` list column of float32)."""
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or len(metadata) != x.shape[0]:
        raise ValueError(f"{len(metadata)} metadata rows for embeddings of shape {x.shape}")
    frame = metadata.reset_index(drop=True).copy()
    frame["embedding"] = list(x)
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def _tsv_cell(value: object) -> str:
    return str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def sprite(thumbs: Sequence[bytes | None], *, thumb: int = SPRITE_THUMB) -> tuple[bytes, int]:
    """All thumbnails in one square PNG grid, row-major; returns the PNG and the cell side.

    The cell side shrinks when needed so that the sprite stays within
    ``SPRITE_MAX`` x ``SPRITE_MAX`` (the Projector's limit).
    """
    n = len(thumbs)
    if n == 0:
        raise ValueError("no thumbnails to put in a sprite")
    per_row = math.ceil(math.sqrt(n))
    side = max(1, min(thumb, SPRITE_MAX // per_row))
    grid = Image.new("RGB", (per_row * side, per_row * side))
    for i, data in enumerate(thumbs):
        if not data:
            continue
        opened = Image.open(io.BytesIO(data))
        opened.draft("RGB", (side, side))
        image = opened.convert("RGB").resize((side, side), Image.Resampling.BILINEAR)
        grid.paste(image, ((i % per_row) * side, (i // per_row) * side))
    buf = io.BytesIO()
    grid.save(buf, format="PNG", optimize=True)
    return buf.getvalue(), side


def projector_files(
    embeddings: np.ndarray,
    metadata: Any,
    thumbs: Sequence[bytes | None] | None = None,
    *,
    tensor_name: str = "facedash",
    thumb: int = SPRITE_THUMB,
) -> dict[str, bytes]:
    """The Embedding Projector bundle as ``{file name: bytes}``.

    ``metadata`` is a DataFrame, one row per face (its columns become
    ``metadata.tsv``'s header); ``thumbs`` (optional) become ``sprite.png``.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or len(metadata) != x.shape[0]:
        raise ValueError(f"{len(metadata)} metadata rows for embeddings of shape {x.shape}")
    if thumbs is not None and len(thumbs) != x.shape[0]:
        raise ValueError(f"{len(thumbs)} thumbnails for {x.shape[0]} faces")
    tensors = "".join("\t".join(f"{v:.7g}" for v in row) + "\n" for row in x.tolist())
    columns = [str(c) for c in metadata.columns]
    lines = ["\t".join(_tsv_cell(c) for c in columns)]
    lines += ["\t".join(_tsv_cell(v) for v in row) for row in metadata.itertuples(index=False)]
    files = {
        "tensors.tsv": tensors.encode("utf-8"),
        "metadata.tsv": ("\n".join(lines) + "\n").encode("utf-8"),
    }
    config = [
        "embeddings {",
        f'  tensor_name: "{tensor_name}"',
        f"  tensor_shape: {x.shape[0]}",
        f"  tensor_shape: {x.shape[1]}",
        '  tensor_path: "tensors.tsv"',
        '  metadata_path: "metadata.tsv"',
    ]
    if thumbs is not None:
        png, side = sprite(thumbs, thumb=thumb)
        files["sprite.png"] = png
        config += [
            "  sprite {",
            '    image_path: "sprite.png"',
            f"    single_image_dim: {side}",
            f"    single_image_dim: {side}",
            "  }",
        ]
    config.append("}")
    files["projector_config.pbtxt"] = ("\n".join(config) + "\n").encode("utf-8")
    return files


def projector_zip(files: dict[str, bytes]) -> bytes:
    """The bundle as one zip (for a download button)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def write_projector(files: dict[str, bytes], folder: Path | str) -> Path:
    """Write the bundle into ``folder`` (created if needed) and return it."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    return out
