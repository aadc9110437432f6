"""The method registry and the network's blocks offered to the layer picker."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from facedash.explain.base import Explainer
from facedash.explain.gradcam import GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM
from facedash.explain.occlusion import Occlusion
from facedash.explain.tfexplain import IntegratedGradients, SmoothGrad, TfExplainGradCAM

METHODS: dict[str, type[Explainer]] = {
    cls.name: cls
    for cls in (
        GradCAM,
        GradCAMPlusPlus,
        HiResCAM,
        LayerCAM,
        Occlusion,
        SmoothGrad,
        IntegratedGradients,
        TfExplainGradCAM,
    )
}
REFERENCE_LAYER = "Block8_6_Conv2d_1x1"
DEFAULT_METHOD = "hirescam"
DEFAULT_LAYER = "Block35_5_Activation"
DEFAULT_TARGET = "centroid"

_BLOCK = re.compile(
    r"^(Conv2d_\w+_Activation|Block(35|17|8)_\d+_(Conv2d_1x1|Activation)|Mixed_6a|Mixed_7a)$"
)

#: layer kinds with a spatial output that no CAM explains at (they only copy or pad)
_NOT_EXPLAINED = {"InputLayer", "ZeroPadding2D", "Dropout", "SpatialDropout2D", "Cropping2D"}


@dataclass(frozen=True)
class Block:
    """One layer the CAM methods can explain at."""

    name: str
    height: int
    width: int
    channels: int

    @property
    def label(self) -> str:
        """``Block8_6_Conv2d_1x1 · 3×3×1792``."""
        return f"{self.name} · {self.height}×{self.width}×{self.channels}"


def blocks(model: Any) -> list[Block]:
    """The layers the CAM methods can explain at, input to output.

    FaceNet's blocks (stem activations, each block's 1x1 projection and output) where the
    model has them; for a Keras model of other names, every layer with a spatial output
    (at least 2x2) that is not an input, padding or dropout layer.
    """
    out = [Block(ly.name, *_hwc(ly)) for ly in model.layers if _BLOCK.match(ly.name)]
    if out:
        return out
    for ly in model.layers:
        shape = getattr(ly, "output", None)
        shape = getattr(shape, "shape", None)
        if shape is None or len(shape) != 4 or type(ly).__name__ in _NOT_EXPLAINED:
            continue
        if (shape[1] or 0) >= 2 and (shape[2] or 0) >= 2:
            out.append(Block(ly.name, *_hwc(ly)))
    return out


def _hwc(layer: Any) -> tuple[int, int, int]:
    _, h, w, c = layer.output.shape
    return int(h), int(w), int(c)


def default_layer(model: Any) -> str | None:
    """``DEFAULT_LAYER`` where the model has it, else its deepest layer still 7x7 or larger.

    FaceNet's default (17x17) keeps the eyes, nose and mouth apart; another network gets
    its deepest layer of comparable resolution (the last one listed when none is that fine).
    """
    listed = blocks(model)
    if not listed:
        return None
    if any(b.name == DEFAULT_LAYER for b in listed):
        return DEFAULT_LAYER
    fine = [b for b in listed if min(b.height, b.width) >= 7]
    return (fine or listed)[-1].name


def make(method: str, model: Any, *, layer: str | None = None, **options: Any) -> Explainer:
    """An explainer by registry name (``gradcam``, ``gradcam++``, ``hirescam``, ``layercam``, ...)."""
    try:
        cls = METHODS[method]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}") from None
    return cls(model, layer=layer if cls.uses_layer else None, **options)
