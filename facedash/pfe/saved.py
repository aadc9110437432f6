"""The trained heads on disk: one folder per model, each with the weights and a JSON record.

FaceNet's head (the demo's, trained at set-up) lives in ``$FACEDASH_HOME/pfe`` beside the
decoder, as it always has; every other model's in ``$FACEDASH_HOME/pfe/models/<store key>``,
the key of its card in the embedding store (``NAME~<recipe hash>`` for a user's card,
``ModelSpec.store_id``): a changed card (a new file, another normalisation ...) finds no
head and never reads one trained for what the card was before. Training a head for one
model never touches another's. ``root`` (the CLI's ``--pfe-dir``) replaces
``$FACEDASH_HOME/pfe`` throughout; ``model`` is a card's name (None: FaceNet).

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
FACENET = "facenet"  # whose head lives in pfe_dir() itself
MODELS = "models"  # pfe_dir() / MODELS / <store key>: every other model's head


def pfe_dir(root: Path | str | None = None) -> Path:
    """Folder of FaceNet's PFE head and the decoder: ``root`` or ``$FACEDASH_HOME/pfe``."""
    return Path(root) if root is not None else paths.home() / "pfe"


def model_key(model: str | None) -> str:
    """The store key a model's head is filed under (``UnknownModel`` for a card that is gone)."""
    from facedash.models.cards import spec

    return spec(model or FACENET).store_id


def head_dir(model: str | None = None, root: Path | str | None = None) -> Path:
    """Folder of ``model``'s head: ``pfe_dir(root)`` for FaceNet, else ``pfe_dir(root)/models/<store key>``."""
    if model is None or model == FACENET:
        return pfe_dir(root)
    return pfe_dir(root) / MODELS / model_key(model)


def save_head(head: Any, root: Path | str | None = None) -> Path:
    """Write the head's weights and its JSON record into its model's folder; returns the folder.

    The model is the record's ``model_id`` (FaceNet when it names none): ``head_dir``.
    """
    model = head.record.get("model_id") or FACENET
    if model != FACENET:
        head.record["model_key"] = model_key(model)
    folder = paths.ensure_private_dir(head_dir(model, root))
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


def _folder(model: str | None, root: Path | str | None) -> Path | None:
    from facedash.errors import UnknownModel

    try:
        return head_dir(model, root)
    except UnknownModel:  # a card removed since: no head to find
        return None


def read_record(
    root: Path | str | None = None, *, model: str | None = None
) -> dict[str, Any] | None:
    """``model``'s saved head's training record (FaceNet's when None), or None (no TensorFlow needed)."""
    folder = _folder(model, root)
    if folder is None:
        return None
    path = folder / HEAD_RECORD
    if not path.exists() or not (folder / HEAD_WEIGHTS).exists():
        return None
    return json.loads(path.read_text())


def heads(root: Path | str | None = None) -> dict[str, dict[str, Any]]:
    """Every saved head's record by its folder's store key (FaceNet's as ``facenet``)."""
    out: dict[str, dict[str, Any]] = {}
    folders = [(FACENET, pfe_dir(root))]
    if (pfe_dir(root) / MODELS).is_dir():
        folders += [(p.name, p) for p in sorted((pfe_dir(root) / MODELS).iterdir()) if p.is_dir()]
    for key, folder in folders:
        if (folder / HEAD_RECORD).exists() and (folder / HEAD_WEIGHTS).exists():
            out[key] = json.loads((folder / HEAD_RECORD).read_text())
    return out


def load_head(root: Path | str | None = None, *, model: str | None = None) -> Any:
    """``model``'s saved ``UncertaintyHead`` (FaceNet's when None), or None when none has been trained."""
    record = read_record(root, model=model)
    if record is None:
        return None
    from facedash.pfe.head import UncertaintyHead, build_head

    config = record.get("config", {})
    net = build_head(
        config.get("in_dim", 1792),
        config.get("dim", 128),
        config.get("hidden", 128),
        gate=bool(config.get("gate", False)),
    )
    folder = _folder(model, root)
    assert folder is not None  # read_record found the record there
    net.load_weights(str(folder / HEAD_WEIGHTS))
    return UncertaintyHead(net, record)
