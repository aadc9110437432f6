"""Model cards: what each model is, how its input is prepared, how its scores are read.

A card is a description, not a loader. The built-in models (FaceNet, dlib) are cards shipped
in ``facedash/models/builtin/*.toml``; a user's model gets one in
``$FACEDASH_HOME/cards/NAME/card.toml`` (``facedash models add``). ``runtime`` names what runs
the model, and ``facedash.models.registry`` maps it to the loader when the model is first asked
for. This module imports nothing that loads a model.

A card's recipe (file hash, input size, layout, channels, normalisation, alignment, output,
L2) is hashed into ``store_id``, the model's key in the embedding store: a changed card never
reads embeddings made under another. The built-in cards keep their plain ids as keys, so
existing stores stay valid.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import shutil
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from facedash.errors import FacedashError, UnknownModel
from facedash.paths import ensure_private_dir, home

BUILTIN_DIR = Path(__file__).with_name("builtin")
FORMATS = ("onnx", "keras", "savedmodel", "openvino")
LAYOUTS = ("nhwc", "nchw")
CHANNELS = ("rgb", "bgr")
ALIGNS = ("facenet", "arcface", "dlib")
METRICS = ("cosine", "euclidean")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
# What changes a model's output, and so its key in the store.
RECIPE = (
    "runtime",
    "sha256",
    "input_size",
    "layout",
    "channels",
    "normalize",
    "align",
    "output",
    "l2",
)


class CardError(FacedashError):
    """A card that cannot be used: a bad value, a missing file, a file that changed."""


@dataclass(frozen=True)
class ModelSpec:
    """A model card: what a model is and how its scores are read."""

    id: str
    name: str  # the title shown in the app
    input_size: int
    dim: int
    metric: str  # the metric its default threshold is published for
    default_thresholds: Mapping[str, float]
    threshold_source: str
    preprocessing: str
    runtime: str  # what runs it: a key of facedash.models.registry.RUNTIMES
    params: int | None = None
    notes: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    # Non-empty when the model aligns faces its own way: its Embedder then has
    # ``align(image, face) -> crop`` and this string replaces the alignment
    # settings' key in the store (margin and rotation do not apply to it).
    align_key: str = ""
    layout: str = "nhwc"
    channels: str = "rgb"
    normalize: str = "prewhiten"  # prewhiten | unit | "MEAN,STD" | dlib (its own)
    align: str = "facenet"  # facenet (eye-levelled crop) | arcface (5-point template) | dlib (chip)
    output: str = ""  # which output, when the model has several
    l2: bool = True  # embeddings L2-normalised before they are compared
    path: str = ""  # the model file or folder (a user's card)
    sha256: str = ""  # its content hash when registered
    trust_code: bool = False  # a Keras file whose loading runs Python code (Lambda layers)
    builtin: bool = True
    added: str = ""

    @property
    def store_id(self) -> str:
        """The model's key in the store: the id for a built-in, ``id~<recipe hash>`` for a user's card."""
        return self.id if self.builtin else f"{self.id}~{self.recipe_hash}"

    @property
    def recipe_hash(self) -> str:
        """A short hash of everything on the card that changes the model's output."""
        recipe = {k: getattr(self, k) for k in RECIPE}
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]

    def batch(self, faces: Any) -> np.ndarray:
        """``faces`` as an array of aligned crops ``(N, S, S, 3)`` at this card's size, else ``ValueError``."""
        faces = np.asarray(faces)
        size = self.input_size
        if faces.ndim != 4 or faces.shape[1:] != (size, size, 3):
            raise ValueError(f"faces must have shape (N, {size}, {size}, 3), got {faces.shape}")
        return faces

    def normalization(self) -> tuple[str, float, float]:
        """``("prewhiten"|"unit"|"affine"|"dlib", mean, std)`` of the card's ``normalize``."""
        return parse_normalize(self.normalize)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``facedash models list --json``)."""
        out = asdict(self)
        out["default_thresholds"] = dict(self.default_thresholds)
        out["extra"] = dict(self.extra)
        out["store_id"] = self.store_id
        return out


def parse_normalize(text: str) -> tuple[str, float, float]:
    """``prewhiten``, ``unit`` (x/255), ``dlib``, or ``MEAN,STD`` ((x − MEAN)/STD)."""
    text = text.strip().lower()
    if text in ("prewhiten", "unit", "dlib"):
        return text, 0.0, 1.0
    parts = text.split(",")
    try:
        mean, std = (float(p) for p in parts)
    except ValueError:
        raise CardError(
            f"--normalize {text!r}: use prewhiten, unit (x/255) or MEAN,STD such as 127.5,127.5"
        ) from None
    if not (math.isfinite(mean) and math.isfinite(std)) or std <= 0:
        raise CardError(f"--normalize {text!r}: the standard deviation must be a positive number")
    return "affine", mean, std


def _choice(value: Any, options: tuple[str, ...], what: str) -> str:
    value = str(value).lower()
    if value not in options:
        raise CardError(f"{what} {value!r}: use one of {', '.join(options)}")
    return value


def from_toml(data: Mapping[str, Any], *, builtin: bool, folder: Path | None = None) -> ModelSpec:
    """A card from its TOML table; ``CardError`` says which value is wrong."""
    try:
        name = str(data["name"])
        size = int(data["input_size"])
        dim = int(data.get("dim", 0))
        runtime = str(data["runtime"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CardError(f"the card has no valid {exc}") from None
    if size < 16 or size > 1024:
        raise CardError(f"input_size {size}: a face model takes 16 to 1024 pixels")
    metric = _choice(data.get("metric", "cosine"), METRICS, "metric")
    if not builtin:
        _choice(runtime, FORMATS, "runtime")
    parse_normalize(str(data.get("normalize", "prewhiten")))
    path = str(data.get("path", ""))
    if path and folder is not None and not Path(path).is_absolute():
        path = str(folder / path)  # a copy kept beside the card
    thresholds = {k: float(v) for k, v in dict(data.get("thresholds", {})).items()}
    return ModelSpec(
        id=name,
        name=str(data.get("title", name)),
        input_size=size,
        dim=dim,
        metric=metric,
        default_thresholds=thresholds,
        threshold_source=str(data.get("threshold_source", "")),
        preprocessing=str(data.get("preprocessing", "")) or describe(data),
        runtime=runtime,
        params=int(data["params"]) if "params" in data else None,
        notes=str(data.get("notes", "")),
        align_key=str(data.get("align_key", "")),
        layout=_choice(data.get("layout", "nhwc"), LAYOUTS, "layout"),
        channels=_choice(data.get("channels", "rgb"), CHANNELS, "channels"),
        normalize=str(data.get("normalize", "prewhiten")).lower(),
        align=_choice(data.get("align", "facenet"), ALIGNS, "align"),
        output=str(data.get("output", "")),
        l2=bool(data.get("l2", True)),
        path=path,
        sha256=str(data.get("sha256", "")),
        trust_code=bool(data.get("trust_code", False)),
        builtin=builtin,
        added=str(data.get("added", "")),
    )


def describe(data: Mapping[str, Any]) -> str:
    """A card's input preparation in words (alignment, size, channels, layout, normalisation)."""
    kind, mean, std = parse_normalize(str(data.get("normalize", "prewhiten")))
    how = {
        "prewhiten": "per-image prewhitening",
        "unit": "x / 255",
        "affine": f"(x - {mean:g}) / {std:g}",
        "dlib": "dlib's own",
    }[kind]
    return (
        f"{data.get('align', 'facenet')} alignment, {data.get('input_size')} px "
        f"{str(data.get('channels', 'rgb')).upper()} {str(data.get('layout', 'nhwc')).upper()}, {how}"
    )


def to_toml(card: ModelSpec) -> str:
    """The card as TOML (only what ``from_toml`` reads; strings quoted as JSON, which TOML accepts)."""
    fields: dict[str, Any] = {
        "name": card.id,
        "title": card.name,
        "runtime": card.runtime,
        "path": card.path,
        "sha256": card.sha256,
        "input_size": card.input_size,
        "dim": card.dim,
        "layout": card.layout,
        "channels": card.channels,
        "normalize": card.normalize,
        "align": card.align,
        "output": card.output,
        "metric": card.metric,
        "l2": card.l2,
        "trust_code": card.trust_code,
        "threshold_source": card.threshold_source,
        "preprocessing": card.preprocessing,
        "notes": card.notes,
        "added": card.added,
    }
    lines = ["# A facedash model card (facedash models add). Edit with care: the store keys by it."]
    for key, value in fields.items():
        lines.append(f"{key} = {_toml_value(value)}")
    lines += ["", "[thresholds]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in card.default_thresholds.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


@functools.cache
def builtin_cards() -> dict[str, ModelSpec]:
    """The cards shipped with facedash, by id (FaceNet first)."""
    out: dict[str, ModelSpec] = {}
    for name in ("facenet", "dlib"):
        with (BUILTIN_DIR / f"{name}.toml").open("rb") as f:
            out[name] = from_toml(tomllib.load(f), builtin=True)
    return out


MODELS: Mapping[str, ModelSpec] = builtin_cards()
"""The built-in cards (FaceNet and dlib); ``all_cards`` adds the user's."""


def cards_dir(root: Path | None = None) -> Path:
    """Where the user's cards live: ``$FACEDASH_HOME/cards``."""
    return (root or home()) / "cards"


def _read_card(folder: Path) -> ModelSpec:
    try:
        with (folder / "card.toml").open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CardError(
            f"{folder / 'card.toml'} is unreadable ({type(exc).__name__}: {exc})"
        ) from None
    card = from_toml(data, builtin=False, folder=folder)
    if card.id != folder.name:
        raise CardError(f"{folder / 'card.toml'} names {card.id!r}, not its folder {folder.name!r}")
    return card


def user_cards(root: Path | None = None) -> tuple[dict[str, ModelSpec], dict[str, str]]:
    """The user's cards by name, and the card folders that could not be read (name -> why)."""
    cards: dict[str, ModelSpec] = {}
    problems: dict[str, str] = {}
    folder = cards_dir(root)
    if not folder.is_dir():
        return cards, problems
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            cards[sub.name] = _read_card(sub)
        except CardError as exc:
            problems[sub.name] = str(exc)
    return cards, problems


def all_cards(root: Path | None = None) -> dict[str, ModelSpec]:
    """Every usable card: the built-ins, then the user's in name order."""
    return {**MODELS, **user_cards(root)[0]}


def spec(model_id: str, root: Path | None = None) -> ModelSpec:
    """The card of a registered model; ``UnknownModel`` names the known ids."""
    if model_id in MODELS:
        return MODELS[model_id]
    folder = cards_dir(root) / model_id
    if NAME_RE.fullmatch(model_id) and (folder / "card.toml").is_file():
        return _read_card(folder)
    known = ", ".join(all_cards(root))
    raise UnknownModel(f"unknown model {model_id!r}; known: {known}")


def check_name(name: str, root: Path | None = None) -> str:
    """A name usable for a new card, or ``CardError`` saying why not."""
    if not NAME_RE.fullmatch(name):
        raise CardError(
            f"model name {name!r}: 1 to 40 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if name in MODELS or (cards_dir(root) / name).exists():
        raise CardError(f"a model named {name!r} is already registered (facedash models list)")
    return name


def write_card(card: ModelSpec, root: Path | None = None, *, copy_from: Path | None = None) -> Path:
    """Write a new card (and, with ``copy_from``, a copy of the model beside it) atomically."""
    check_name(card.id, root)
    base = ensure_private_dir(cards_dir(root))
    tmp = base / f".{card.id}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    try:
        if copy_from is not None:
            target = tmp / copy_from.name
            if copy_from.is_dir():
                shutil.copytree(copy_from, target)
            else:
                shutil.copy2(copy_from, target)
                bin_file = copy_from.with_suffix(".bin")  # an OpenVINO IR's weights
                if copy_from.suffix == ".xml" and bin_file.is_file():
                    shutil.copy2(bin_file, tmp / bin_file.name)
            card = replace(card, path=copy_from.name)
        (tmp / "card.toml").write_text(to_toml(card))
        tmp.rename(base / card.id)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return base / card.id


def remove_card(name: str, root: Path | None = None) -> Path:
    """Remove a user's card (and any copy of the model kept beside it); built-ins stay."""
    if name in MODELS:
        raise CardError(f"{name!r} is built in and cannot be removed")
    folder = cards_dir(root) / name
    if not NAME_RE.fullmatch(name) or not folder.is_dir():
        raise UnknownModel(f"no registered model named {name!r} (facedash models list)")
    shutil.rmtree(folder)
    return folder
