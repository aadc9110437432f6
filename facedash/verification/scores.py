"""Pair scores: the registry ``SCORES`` and the built-in cosine and Euclidean scores.

A score is one ``ScoreKind``: a function of the set and the pair indices, and
whether a higher value means "same person". Cosine similarity (higher is same)
and Euclidean distance (lower is same) are built in; another package adds its own
with ``register_score`` (the PFE package registers ``mls`` when it is imported),
so this package never imports the layers above it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from facedash.verification.pairs import Pairs


class HasEmbeddings(Protocol):
    """Anything with an ``(N, d)`` embedding matrix (an ``EmbeddingSet``)."""

    embeddings: np.ndarray


ScoreFn = Callable[[HasEmbeddings, np.ndarray, np.ndarray], np.ndarray]
_CHUNK = 1 << 16


def _pairwise(
    emb: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    op: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    out = np.empty(len(i), dtype=np.float64)
    for start in range(0, len(i), _CHUNK):
        sl = slice(start, start + _CHUNK)
        out[sl] = op(emb[i[sl]], emb[j[sl]])
    return out


def cosine(es: HasEmbeddings, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Cosine similarity of each pair (higher means same)."""
    emb = np.asarray(es.embeddings, dtype=np.float64)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    unit = emb / np.where(norms > 0, norms, 1.0)
    return _pairwise(unit, i, j, lambda a, b: np.einsum("ij,ij->i", a, b))


def euclidean(es: HasEmbeddings, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Euclidean distance of each pair (lower means same)."""
    emb = np.asarray(es.embeddings, dtype=np.float64)
    return _pairwise(emb, i, j, lambda a, b: np.sqrt(np.einsum("ij,ij->i", a - b, a - b)))


@dataclass(frozen=True)
class ScoreKind:
    """A pair score: how to compute it and which way it points."""

    id: str
    name: str
    higher_is_same: bool
    fn: ScoreFn
    unit: str = ""

    @property
    def rule(self) -> str:
        """The decision rule in words."""
        return "score ≥ t means same" if self.higher_is_same else "score ≤ t means same"


SCORES: dict[str, ScoreKind] = {
    "cosine": ScoreKind("cosine", "Cosine similarity", True, cosine, "similarity"),
    "euclidean": ScoreKind("euclidean", "Euclidean distance", False, euclidean, "distance"),
}

# Scores that another part of facedash registers when it is imported: the hint for each.
_REGISTERED_ELSEWHERE = {
    "mls": (
        "the mls score is registered by the PFE part of facedash: `import facedash.pfe` "
        "before asking for it (it comes with facedash: `pip install -e .`)"
    ),
}


def register_score(kind: ScoreKind) -> ScoreKind:
    """Add ``kind`` to ``SCORES`` (after the scores already there); returns it.

    Registering an id again replaces its entry in place, so importing a module twice
    (or reloading it) keeps the order of ``SCORES``.
    """
    if not isinstance(kind, ScoreKind):
        raise TypeError(f"register_score takes a ScoreKind, got {type(kind).__name__}")
    if not kind.id:
        raise ValueError("a score needs an id")
    SCORES[kind.id] = kind
    return kind


def score_kind(score: str) -> ScoreKind:
    """The registered score ``score``; ``ValueError`` names the known ones."""
    try:
        return SCORES[score]
    except KeyError:
        hint = f"; {_REGISTERED_ELSEWHERE[score]}" if score in _REGISTERED_ELSEWHERE else ""
        raise ValueError(f"unknown score {score!r}; known: {', '.join(SCORES)}{hint}") from None


def pair_scores(es: HasEmbeddings, pairs: Pairs, score: str = "cosine") -> np.ndarray:
    """The score of every pair (float64), in the score's own units."""
    return score_kind(score).fn(es, pairs.i, pairs.j)
