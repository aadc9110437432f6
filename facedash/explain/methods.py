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
    """The network's blocks (stem activations, each block's 1x1 projection and output), input to output."""
    out = []
    for layer in model.layers:
        if _BLOCK.match(layer.name):
            _, h, w, c = layer.output.shape
            out.append(Block(layer.name, int(h), int(w), int(c)))
    return out


def make(method: str, model: Any, *, layer: str | None = None, **options: Any) -> Explainer:
    """An explainer by registry name (``gradcam``, ``gradcam++``, ``hirescam``, ``layercam``, ...)."""
    try:
        cls = METHODS[method]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}") from None
    return cls(model, layer=layer if cls.uses_layer else None, **options)
