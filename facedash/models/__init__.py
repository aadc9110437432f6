"""The one model layer: a registry of embedding models, each loaded once per process."""

from facedash.models.registry import MODELS, Embedder, ModelSpec, get_model, load_model, spec

__all__ = ["MODELS", "Embedder", "ModelSpec", "get_model", "load_model", "spec"]
