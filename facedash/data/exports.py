"""Embeddings with their metadata as CSV, Parquet, and a TensorBoard Embedding Projector bundle.

Everything returns bytes (for download buttons) or writes files; nothing here
needs TensorFlow. The projector bundle is the four files the standalone
Embedding Projector (projector.tensorflow.org, "Load") and TensorBoard read:
``tensors.tsv`` (one vector per line), ``metadata.tsv`` (a header, then one row
per vector), ``sprite.png`` (every thumbnail in a square grid, at most
8192 x 8192 pixels) and ``projector_config.pbtxt``.

Paths stay portable (``path`` relative to the set's folder) and every format says
which folder that is: a ``root`` column (the metadata's, from
``EmbeddingSet.frame``), Parquet's file-level metadata ``facedash.root``, and in the
Projector bundle a ``README.txt`` and a comment atop ``projector_config.pbtxt``, so
``root / path`` opens from any working directory. Sets with no folder on disk
(uploads, zips) have an empty root.
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
ROOT_KEY = b"facedash.root"  # Parquet file-level metadata: the set's absolute root


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


def set_root(metadata: Any) -> str | None:
    """The one ``root`` every row of ``metadata`` shares; None without a ``root`` column or with several."""
    if "root" not in getattr(metadata, "columns", ()):
        return None
    roots = {str(v) for v in metadata["root"].tolist()}
    return roots.pop() if len(roots) == 1 else None


def parquet_bytes(embeddings: np.ndarray, metadata: Any, *, root: str | None = None) -> bytes:
    """The table as Parquet (metadata columns, plus an ``embedding`` list column of float32).

    ``root`` (default: the metadata's ``root`` column, when every row shares one) is
    also written as the file-level metadata ``facedash.root``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or len(metadata) != x.shape[0]:
        raise ValueError(f"{len(metadata)} metadata rows for embeddings of shape {x.shape}")
    frame = metadata.reset_index(drop=True).copy()
    frame["embedding"] = list(x)
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    root = set_root(metadata) if root is None else root
    if root is not None:
        arrow = arrow.replace_schema_metadata(
            {**(arrow.schema.metadata or {}), ROOT_KEY: root.encode("utf-8")}
        )
    buf = io.BytesIO()
    pq.write_table(arrow, buf)
    return buf.getvalue()


def parquet_root(source: Any) -> str | None:
    """The ``facedash.root`` a Parquet file (path or file object) records, or None."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(source).metadata or {}
    return meta[ROOT_KEY].decode("utf-8") if ROOT_KEY in meta else None


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
    root: str | None = None,
) -> dict[str, bytes]:
    """The Embedding Projector bundle as ``{file name: bytes}``.

    ``metadata`` is a DataFrame, one row per face (its columns become
    ``metadata.tsv``'s header); ``thumbs`` (optional) become ``sprite.png``.
    ``root`` (the set's absolute folder, "" for a set with none on disk; default:
    the metadata's ``root`` column when every row shares one) adds ``README.txt``
    and a comment atop ``projector_config.pbtxt`` saying where the ``path`` column's
    photos are; the Projector and TensorBoard ignore both.
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
    root = set_root(metadata) if root is None else root
    if root is not None:
        config.insert(0, f"# facedash root: {_tsv_cell(root) or '(none: not a folder on disk)'}")
        files["README.txt"] = _readme(root, tensor_name).encode("utf-8")
    files["projector_config.pbtxt"] = ("\n".join(config) + "\n").encode("utf-8")
    return files


def _readme(root: str, tensor_name: str) -> str:
    where = (
        f"The photos are in {root}\nThe 'path' column of metadata.tsv is relative to that folder:\n"
        "root/path opens each photo from any working directory.\n"
        if root
        else "The photos were uploaded (or read from a zip): they are not files in a folder on\n"
        "disk, so the root is empty and 'path' is the uploaded file's name.\n"
    )
    return (
        f"facedash embeddings of {tensor_name!r} for the TensorBoard Embedding Projector.\n"
        "Load tensors.tsv and metadata.tsv at https://projector.tensorflow.org, or put the\n"
        "folder in a TensorBoard log directory (projector_config.pbtxt).\n\n"
        f"root: {root}\n{where}"
    )


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
