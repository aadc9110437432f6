"""Probabilistic Face Embeddings (Shi & Jain, ICCV 2019): each face as a Gaussian N(mu, sigma^2).

``mls`` (scores, loss, fusion), ``degrade`` (graded degradations), ``nonface`` (crops
that are not faces), ``head`` (the uncertainty head, its face check and FaceNet feature
extractor), ``features`` (what the head reads for any model), ``train`` (training,
evaluation, saving), ``saved`` (one head per model on disk), ``decoder`` (embedding ->
face image), ``score`` (scoring with a trained head), ``compare`` (two models' confidences
on the same faces). ``sigma2_of_set`` gives every face's sigma^2 under a head, kept on
disk per set and head; ``sigma2_for`` finds the head of the set's model.

Importing this package registers the verification score ``mls`` (``MLS``) with
``facedash.verification`` and loads nothing else: no model, no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from facedash.errors import FacedashError
from facedash.pfe.mls import pairwise_mls_scores
from facedash.pfe.perface import FaceSigma2
from facedash.verification import ScoreKind, register_score


def pair_mls(es: Any, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Mutual likelihood score of each pair ``(i[k], j[k])`` of a set (higher means same).

    The verification score ``mls`` (registered below); needs a trained
    uncertainty head for the set's model (``sigma2_for``).
    """
    sigma2 = sigma2_for(es)
    if sigma2 is None:
        raise FacedashError(
            "the mls score needs a trained uncertainty (PFE) head for this model: run "
            "`facedash pfe train --demo` or train it on the Uncertainty page"
        )
    return np.asarray(
        pairwise_mls_scores(np.asarray(es.embeddings), sigma2, i, j), dtype=np.float64
    )


MLS = register_score(
    ScoreKind("mls", "Mutual likelihood score (PFE)", True, pair_mls, "log-likelihood")
)
"""The verification score ``mls``: ``score_kind("mls")`` once this package is imported."""


def head_version(head: Any) -> str:
    """A short content key of a head's weights (two heads with one key give the same sigma^2)."""
    import hashlib

    digest = hashlib.sha256()
    for w in head.model.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return digest.hexdigest()[:16]


def sigma2_cache_dir(result: Any) -> Path | None:
    """Where a set's sigma^2 are kept: ``$FACEDASH_HOME/pfe/sigma2`` for sets in a folder on disk.

    Uploads and zips (no folder, ``root`` empty) get None: nothing of them is written.
    """
    from facedash import paths

    return paths.home() / "pfe" / "sigma2" if getattr(result, "root", "") else None


def sigma2_for(
    result: Any, *, embedder: Any = None, head: Any = None, root: Any = None
) -> np.ndarray | None:
    """``sigma^2`` ``(N, dim)`` of every face of an ``EmbeddingSet``; None when its model has no head.

    Rows without a stored thumbnail get NaN. ``head`` defaults to the head saved for
    ``result.model_id`` (``facedash.pfe.saved.head_dir``: FaceNet's in ``$FACEDASH_HOME/pfe``);
    ``embedder`` to ``get_model(result.model_id)``. The result is kept per set and head
    (``sigma2_of_set``), for sets in a folder on disk.
    """
    from facedash.pfe import train

    if head is None:
        if train.read_record(root, model=result.model_id) is None:
            return None
        head = train.load_head(root, model=result.model_id)
    if head.record.get("model_id", "facenet") != result.model_id:
        return None
    return sigma2_of_set(result, embedder, head, cache_dir=sigma2_cache_dir(result))


def sigma2_key(result: Any, head: Any) -> str:
    """The name ``sigma2_of_set`` keeps a set's sigma^2 under.

    It keys the faces' content, the model, detector and alignment settings and the head's weights.
    """
    from facedash.data import thumbnails

    return "sigma2-" + thumbnails.set_key(
        [r.image_hash for r in result.rows],
        [r.face_index for r in result.rows],
        result.model_id,
        result.det_key,
        result.align_key,
        head_version(head),
    )


def sigma2_of_set(
    result: Any,
    embedder: Any,
    head: Any,
    *,
    cache_dir: Path | None = None,
    extractor: Any = None,
    get_extractor: Callable[[], Any] | None = None,
    chunk: int = 256,
    progress: Callable[[int, int, str], None] | None = None,
) -> np.ndarray:
    """``sigma^2`` ``(N, dim)`` of every face of ``result`` with this head, ``chunk`` faces at a time.

    ``dim`` is the head's (its model's embedding size). With ``cache_dir`` the result is kept there, keyed by the set's faces (content hashes,
    model, detector and alignment settings) and the head's weights, so a later session
    or a restarted server computes nothing. The feature extractor (``extractor``, else
    ``get_extractor()``, else one over ``embedder``) is needed only on a miss, and only for
    the faces the per-face table (``facedash.pfe.perface``, in ``cache_dir``) does not hold:
    those ``facedash embed`` computed in its embedding pass, or an earlier set shared.
    """
    from facedash.data.arraycache import read_cached, write_cached
    from facedash.data.images import decode_jpeg

    out = np.full((len(result.rows), int(head.model.output.shape[1])), np.nan)
    if not len(result.rows):
        return out
    key = sigma2_key(result, head)
    held = read_cached(cache_dir, key)
    if held is not None and held["sigma2"].shape == out.shape:
        return held["sigma2"]
    table = FaceSigma2(cache_dir) if cache_dir is not None else None
    settings = {
        "head": head_version(head),
        "model_key": getattr(result, "model_key", "") or result.model_id,
        "det_key": result.det_key,
        "align_key": result.align_key,
    }
    keys = [(r.image_hash, r.face_index) for r in result.rows]
    kept = table.get(keys, **settings) if table is not None else {}
    for n, k in enumerate(keys):
        if k in kept and kept[k].shape == out.shape[1:]:
            out[n] = kept[k]
    rows = [n for n, t in enumerate(result.thumbs) if t is not None and np.isnan(out[n]).all()]
    if rows and extractor is None and get_extractor is not None:
        extractor = get_extractor()
    if rows and extractor is None:
        from facedash.pfe.features import extractor_for

        if embedder is None:
            from facedash.models import get_model

            embedder = get_model(result.model_id)
        extractor = extractor_for(embedder)
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        feats, _ = extractor(np.stack([decode_jpeg(result.thumbs[n]) for n in part]))
        logs = head.log_sigma2(feats)
        out[part] = np.exp(logs.astype(np.float64))
        if table is not None:
            table.put([keys[n] for n in part], logs, source="thumbnail", **settings)
        if progress is not None:
            progress(min(start + chunk, len(rows)), len(rows), "Computing σ² of every face")
    write_cached(cache_dir, key, {"sigma2": out})
    return out
