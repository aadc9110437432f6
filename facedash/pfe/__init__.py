"""Probabilistic Face Embeddings (Shi & Jain, ICCV 2019): each face as a Gaussian N(mu, sigma^2).

``mls`` (scores, loss, fusion), ``degrade`` (graded degradations), ``head`` (the
uncertainty head and FaceNet feature extractor), ``train`` (training, evaluation,
saving), ``decoder`` (embedding -> face image), ``score`` (scoring with a trained head).

Importing this package registers the verification score ``mls`` (``MLS``) with
``facedash.verification`` and loads nothing else: no model, no TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from facedash.pfe.score import pair_mls
from facedash.verification import ScoreKind, register_score

MLS = register_score(
    ScoreKind("mls", "Mutual likelihood score (PFE)", True, pair_mls, "log-likelihood")
)
"""The verification score ``mls``: ``score_kind("mls")`` once this package is imported."""


def sigma2_for(
    result: Any, *, embedder: Any = None, head: Any = None, root: Any = None
) -> np.ndarray | None:
    """``sigma^2`` ``(N, 128)`` of every face of an ``EmbeddingSet``; None when no head is trained.

    Rows without a stored thumbnail get NaN. ``head`` defaults to the saved head
    (``$FACEDASH_HOME/pfe``); ``embedder`` to ``get_model(result.model_id)``.
    """
    from facedash.pfe import train

    if head is None:
        if train.read_record(root) is None:
            return None
        head = train.load_head(root)
    if head.record.get("model_id", "facenet") != result.model_id:
        return None
    if embedder is None:
        from facedash.models import get_model

        embedder = get_model(result.model_id)
    return sigma2_of_set(result, embedder, head)


def sigma2_of_set(result: Any, embedder: Any, head: Any) -> np.ndarray:
    """``sigma^2`` of every face of ``result`` with this head (cached per set and head)."""
    from facedash.pfe import train
    from facedash.pfe.head import FeatureExtractor

    out = np.full((len(result.rows), 128), np.nan)
    if not len(result.rows):
        return out
    crops, rows = train.clean_crops(result)
    variants = train.Variants(
        np.arange(len(crops)), np.array(["clean"] * len(crops), dtype=object), np.zeros(len(crops))
    )
    feats, _ = train.variant_features(FeatureExtractor(embedder), crops, variants)
    out[rows] = head.sigma2(feats)
    return out
