"""The one model layer: a registry of embedding models, each loaded once per process."""

from facedash.models.backends import Choice, store_key
from facedash.models.cards import MODELS, ModelSpec, spec
from facedash.models.registry import (
    Embedder,
    describe,
    get_embedder,
    get_model,
    load_embedder,
    load_model,
    plan,
)

__all__ = [
    "MODELS",
    "Choice",
    "Embedder",
    "ModelSpec",
    "describe",
    "get_embedder",
    "get_model",
    "load_embedder",
    "load_model",
    "plan",
    "spec",
    "store_key",
]
