"""Cached PFE objects for the Uncertainty page (and any page that wants MLS scores).

The head and decoder are loaded once per saved version (their ``trained_at`` is the
cache key, so training a new one takes effect at once); the feature extractor once per
model. All three are thread-safe.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from facedash.ui import cache


@st.cache_resource(show_spinner="Loading the uncertainty head ...")
def head(trained_at: str) -> Any:
    """The saved uncertainty head (``trained_at`` is the cache key)."""
    from facedash.pfe import train

    return train.load_head()


@st.cache_resource(show_spinner="Loading the decoder ...")
def decoder(trained_at: str) -> Any:
    """The saved decoder (``trained_at`` is the cache key)."""
    from facedash.pfe import decoder as dec

    return dec.load_decoder()


@st.cache_resource(show_spinner="Preparing the feature extractor ...")
def extractor(model_id: str) -> Any:
    """FaceNet's pooled-feature extractor for ``model_id``."""
    from facedash.pfe.head import FeatureExtractor

    return FeatureExtractor(cache.model(model_id))


@st.cache_data(show_spinner="Computing σ² of every face ...", max_entries=8)
def set_sigma2(set_key: str, trained_at: str, _result: Any) -> np.ndarray:
    """σ² of every face of the current set under the saved head."""
    from facedash.pfe import sigma2_of_set

    return sigma2_of_set(_result, cache.model(_result.model_id), head(trained_at))


def set_key(result: Any) -> str:
    """A content key for an EmbeddingSet (its embeddings and names)."""
    import hashlib

    h = hashlib.sha256(np.ascontiguousarray(result.embeddings).tobytes())
    h.update("|".join(result.names.astype(str).tolist()).encode())
    return h.hexdigest()[:24]


def head_record_for(result: Any) -> dict[str, Any] | None:
    """The saved head's record when one fits ``result``'s model, else None (reads JSON, no TensorFlow)."""
    from facedash.pfe import train

    record = train.read_record()
    if record is None or record.get("model_id", "facenet") != result.model_id:
        return None
    return record


def current_sigma2(result: Any) -> np.ndarray | None:
    """σ² of every face of ``result`` under the saved head, or None when no head fits this model.

    This runs the model and the head (TensorFlow) the first time per set and head;
    pages that only offer σ² ask ``head_record_for`` first and call this on demand.
    """
    record = head_record_for(result)
    if record is None:
        return None
    return set_sigma2(set_key(result), record["trained_at"], result)


def train_head(result: Any, progress: Any) -> Any:
    """Train and save the uncertainty head on ``result`` with the server's model and detector."""
    from facedash.detect import DetectorSettings
    from facedash.pfe import train

    return train.train(
        result,
        embedder=cache.model(result.model_id),
        detector=cache.detector(DetectorSettings()),
        progress=progress,
    )


def train_decoder(result: Any, progress: Any) -> Any:
    """Train and save the decoder (embedding → 64×64 face) on ``result``."""
    from facedash.pfe import decoder as dec

    return dec.train_decoder(result, embedder=cache.model(result.model_id), progress=progress)


def degraded_gaussian(
    crop: np.ndarray, blur: float, extractor: Any, head: Any, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A face blurred by ``blur`` and its Gaussian embedding: (image, μ, σ²)."""
    from facedash.pfe import analysis

    out = analysis.explore(crop, {"blur": blur}, extractor, head, seed=seed)
    feats, mu = extractor(out["image"][None])
    return out["image"], mu[0], head.sigma2(feats)[0]
