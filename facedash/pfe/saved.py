"""The trained head on disk: its folder (``$FACEDASH_HOME/pfe``), weights and JSON record.

Writes are atomic (a temporary name, then a rename); ``read_record`` needs no
TensorFlow, ``load_head`` rebuilds the head from the record's config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from facedash import paths

HEAD_WEIGHTS = "head.weights.h5"
HEAD_RECORD = "head.json"


def pfe_dir(root: Path | str | None = None) -> Path:
    """Folder of the trained PFE head and decoder: ``root`` or ``$FACEDASH_HOME/pfe``."""
    return Path(root) if root is not None else paths.home() / "pfe"


def save_head(head: Any, root: Path | str | None = None) -> Path:
    """Write the head's weights and its JSON record into ``pfe_dir(root)``; returns the folder."""
    folder = paths.ensure_private_dir(pfe_dir(root))
    from facedash.pfe.head import has_gate

    config = {
        "in_dim": int(head.model.input.shape[1]),
        "dim": int(head.model.output.shape[1]),
        "hidden": int(head.model.get_layer("fc1").units),
        "gate": has_gate(head.model),
    }
    head.record["config"] = config
    tmp = folder / ("tmp-" + HEAD_WEIGHTS)
    head.model.save_weights(str(tmp))
    os.replace(tmp, folder / HEAD_WEIGHTS)
    text = json.dumps(head.record, indent=1, default=_jsonable)
    (folder / (HEAD_RECORD + ".tmp")).write_text(text)
    os.replace(folder / (HEAD_RECORD + ".tmp"), folder / HEAD_RECORD)
    return folder


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def read_record(root: Path | str | None = None) -> dict[str, Any] | None:
    """The saved head's training record, or None (no TensorFlow needed)."""
    path = pfe_dir(root) / HEAD_RECORD
    if not path.exists() or not (pfe_dir(root) / HEAD_WEIGHTS).exists():
        return None
    return json.loads(path.read_text())


def load_head(root: Path | str | None = None) -> Any:
    """The saved ``UncertaintyHead``, or None when none has been trained."""
    record = read_record(root)
    if record is None:
        return None
    from facedash.pfe.head import UncertaintyHead, build_head

    config = record.get("config", {})
    model = build_head(
        config.get("in_dim", 1792),
        config.get("dim", 128),
        config.get("hidden", 128),
        gate=bool(config.get("gate", False)),
    )
    model.load_weights(str(pfe_dir(root) / HEAD_WEIGHTS))
    return UncertaintyHead(model, record)
