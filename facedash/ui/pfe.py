"""Cached PFE objects for the Uncertainty page (and any page that wants MLS scores).

The head and decoder are loaded once per saved version (their ``trained_at`` is the
cache key, so training a new one takes effect at once); the feature extractor once per
model. All three are thread-safe.

σ² of every face of a set (``current_sigma2``) is computed once per set and head, with a
progress bar, and kept in ``$FACEDASH_HOME/pfe/sigma2`` keyed by the set's content and
the head's weights, so a later session or a restarted server computes nothing (this
session's private uploads are held in memory only); each session holds its current
set's σ². The face-check panel (clean / blurred / non-face confidences of a few faces)
is computed once per set and head for every session.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from facedash import paths
from facedash.ui import cache, keys, state


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


def set_sigma2(set_key: str, trained_at: str, result: Any) -> np.ndarray:
    """σ² of every face of the current set under the saved head: kept on disk, held in this session.

    The first time for a set and head it runs the model on every face behind a progress
    bar; later (another session, a restarted server) it reads one file.
    """
    from facedash.pfe import head_version, sigma2_of_set

    h = head(trained_at)
    key = (set_key, head_version(h))
    held = st.session_state.get("uncertainty_sigma2")
    if held is not None and held[0] == key:
        return held[1]
    private = str(state.session_store().path) == ":memory:"
    bar = st.progress(0.0, text="σ² of every face (once per set, then kept) ...")

    def report(done: int, total: int, message: str) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{message}: {done:,}/{total:,}")

    try:
        out = sigma2_of_set(
            result,
            None,
            h,
            cache_dir=None if private else paths.home() / "pfe" / "sigma2",
            get_extractor=lambda: extractor(result.model_id),
            progress=report,
        )
    finally:
        bar.empty()
    st.session_state["uncertainty_sigma2"] = (key, out)
    return out


@st.cache_data(max_entries=16, show_spinner="Risk control on this set ...")
def _set_risk_control(
    set_key: str, version: str, far: float, _result: Any, _sigma2: Any
) -> dict[str, list[float]]:
    from facedash.pfe import analysis

    det = np.array([r.confidence for r in _result.rows])
    return analysis.set_risk_control(_result.embeddings, _sigma2, _result.people, det, far=far)


def set_risk_control(
    result: Any, sigma2: np.ndarray, trained_at: str, far: float
) -> dict[str, list[float]]:
    """The set's risk-control curves (a bounded pair sample), once per set, head and FAR."""
    from facedash.pfe import head_version

    return _set_risk_control(set_key(result), head_version(head(trained_at)), far, result, sigma2)


FACE_CHOICES = 500  # faces a picker offers at most (a seeded sample of larger sets)


def face_options(n: int, limit: int = FACE_CHOICES) -> list[int]:
    """The faces a picker offers: all ``n``, or a seeded sample of ``limit`` in set order."""
    from facedash.search import sample_queries

    return sample_queries(n, limit).tolist()


def set_key(result: Any) -> str:
    """The content key of an EmbeddingSet (the shared one of ``facedash.ui.keys``)."""
    return keys.set_key(result)


@st.cache_data(max_entries=8, show_spinner="Checking faces against non-faces ...")
def _face_check(set_key: str, version: str, _result: Any, _head: Any, faces: int) -> dict:
    from facedash.images import decode_jpeg
    from facedash.pfe import analysis, nonface

    rows = [n for n, t in enumerate(_result.thumbs) if t is not None]
    people = np.asarray(_result.people)[rows]
    picked: list[int] = []
    for person in sorted(set(people.tolist())):  # one face per person in turn
        picked += [rows[k] for k in np.flatnonzero(people == person)[:2]]
    picked = sorted(picked[:faces]) if len(picked) > faces else picked
    crops = np.stack([decode_jpeg(_result.thumbs[n]) for n in picked])
    nf, kinds = nonface.make(8, seed=2024, backgrounds=nonface.backgrounds_of(_result))
    out = analysis.face_check(crops, nf, extractor(_result.model_id), _head)
    out.update(faces=picked, nonface_crops=nf, nonface_kinds=kinds)
    return out


def face_check(result: Any, trained_at: str, faces: int = 6) -> dict:
    """Clean / blurred / non-face confidences of a few faces of the set under the saved head."""
    from facedash.pfe import head_version

    h = head(trained_at)
    return _face_check(set_key(result), head_version(h), result, h, faces)


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
