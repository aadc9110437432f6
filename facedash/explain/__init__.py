"""Saliency for face embeddings: which pixels make an embedding (or a similarity) what it is.

Explainers are small strategies over one base (``base.Explainer``); targets are
callables that turn embeddings into the score being explained (``targets``).
The gradient methods (Grad-CAM, Grad-CAM++, HiResCAM, LayerCAM) share one
batched ``GradientTape`` pass (``gradcam``); occlusion, tf-explain's methods,
region shares and faithfulness checks live in their own modules. Nothing here
imports TensorFlow at import time.
"""

from facedash.explain.base import Explainer, Explanation
from facedash.explain.methods import DEFAULT_LAYER, DEFAULT_METHOD, METHODS, REFERENCE_LAYER, make
from facedash.explain.targets import (
    Centroid,
    Channel,
    Reference,
    Target,
    TopChannel,
    parse_target,
)

__all__ = [
    "DEFAULT_LAYER",
    "DEFAULT_METHOD",
    "METHODS",
    "REFERENCE_LAYER",
    "Centroid",
    "Channel",
    "Explainer",
    "Explanation",
    "Reference",
    "Target",
    "TopChannel",
    "make",
    "parse_target",
]
