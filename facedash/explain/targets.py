"""Targets: what score an explainer explains, as small callables over embeddings.

Every target here is *linear in the (L2-normalised) embedding* once it is bound
to a face: ``score = e · w`` with a weight vector ``w`` per face.

- ``TopChannel``: ``w`` = one-hot on the face's own channel of largest ``|e|``
  (tf-explain's ``class_index = argmax |embedding|``, the reference configuration);
- ``Channel(n)``: one-hot on channel ``n``;
- ``Reference(r)``: cosine similarity to a reference embedding, ``w = r / |r|``;
- ``Centroid(c)``: cosine similarity to a person's mean embedding.

Binding the weights once per face (``weights``) keeps the score of a perturbed
face comparable with the clean one (deletion curves, occlusion), and lets the
gradient pass run through one compiled function for every target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: a reference this close (cosine > 1 - SELF_TOLERANCE) to the face's own embedding is the face
#: itself: the set's embeddings come from the default backend, which may be OpenVINO int8 where
#: it is built and the fastest (its gate: cosine >= 0.99 to the TensorFlow fp32 the maps
#: differentiate; 33 of the 118 demo faces lie between 0.9948 and 0.999), while two different
#: demo photos stay at or below 0.970. A near-duplicate photo above 0.99 is refused too: its
#: gradient is as close to zero as the face's own
SELF_TOLERANCE = 1e-2


class Target:
    """Base target: ``target(embeddings) -> scores`` and the bound linear weights."""

    #: the weights depend on the face's own embedding (computed in the forward pass)
    dynamic: bool = False
    name: str = "target"

    def weights(self, embeddings: np.ndarray) -> np.ndarray:
        """Per-face weights ``(N, D)`` such that ``score = sum(e * w)``."""
        raise NotImplementedError

    def check(self, embeddings: np.ndarray) -> None:
        """Raise ``ValueError`` when the score cannot be explained for these faces."""

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        """Scores ``(N,)`` of the faces' own embeddings."""
        emb = np.asarray(embeddings, dtype=np.float32)
        return np.sum(emb * self.weights(emb), axis=1)


@dataclass
class TopChannel(Target):
    """The embedding channel with the largest absolute value (per face)."""

    dynamic: bool = True
    name: str = "top-channel"

    def weights(self, embeddings: np.ndarray) -> np.ndarray:
        """One-hot on ``argmax |e|`` of each face."""
        emb = np.asarray(embeddings)
        out = np.zeros(emb.shape, dtype=np.float32)
        out[np.arange(len(emb)), np.abs(emb).argmax(axis=1)] = 1.0
        return out


@dataclass
class Channel(Target):
    """One chosen embedding channel."""

    channel: int = 0
    name: str = "channel"

    def __post_init__(self) -> None:
        if self.channel < 0:
            raise ValueError(f"channel must be >= 0, got {self.channel}")
        self.name = f"channel:{self.channel}"

    def weights(self, embeddings: np.ndarray) -> np.ndarray:
        """One-hot on the chosen channel."""
        emb = np.asarray(embeddings)
        if self.channel >= emb.shape[1]:
            raise ValueError(
                f"channel {self.channel} does not exist: the embedding has {emb.shape[1]} channels"
            )
        out = np.zeros(emb.shape, dtype=np.float32)
        out[:, self.channel] = 1.0
        return out


@dataclass
class Reference(Target):
    """Cosine similarity to a reference embedding ``(D,)`` or one per face ``(N, D)``."""

    reference: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    name: str = "reference"
    what: str = "the reference face"

    def __post_init__(self) -> None:
        ref = np.asarray(self.reference, dtype=np.float32)
        if ref.ndim not in (1, 2) or ref.shape[-1] == 0:
            raise ValueError(f"reference must be (D,) or (N, D), got shape {ref.shape}")
        norms = np.linalg.norm(ref, axis=-1, keepdims=True)
        if np.any(norms == 0) or not np.all(np.isfinite(ref)):
            raise ValueError("reference embedding must be finite and non-zero")
        self.reference = ref / norms

    def weights(self, embeddings: np.ndarray) -> np.ndarray:
        """The unit reference, broadcast to every face."""
        emb = np.asarray(embeddings)
        ref = self.reference
        if ref.ndim == 2 and len(ref) != len(emb):
            raise ValueError(f"{len(ref)} reference embeddings for {len(emb)} faces")
        if ref.shape[-1] != emb.shape[1]:
            raise ValueError(
                f"reference has {ref.shape[-1]} dimensions, the embeddings {emb.shape[1]}"
            )
        return np.broadcast_to(ref, emb.shape).astype(np.float32)

    def check(self, embeddings: np.ndarray) -> None:
        """Refuse a face explained against its own embedding (zero gradient)."""
        emb = np.asarray(embeddings, dtype=np.float32)
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        cos = np.sum(emb * self.weights(emb), axis=1)
        if np.any(cos > 1.0 - SELF_TOLERANCE):
            raise ValueError(
                f"cannot explain a face's similarity to {self.what} when that is its own "
                "embedding: the model's output is L2-normalised, so the gradient of "
                "cos(f(x), f(x)) is exactly zero. Pick another face, or the person's centroid "
                "computed from other photos."
            )


@dataclass
class Centroid(Reference):
    """Cosine similarity to a person's mean embedding."""

    name: str = "centroid"
    what: str = "the person's centroid"

    @classmethod
    def of(cls, embeddings: np.ndarray) -> Centroid:
        """The centroid target of a group of embeddings ``(M, D)``."""
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or len(emb) == 0:
            raise ValueError("a centroid needs at least one embedding")
        return cls(reference=emb.mean(axis=0))


def parse_target(
    spec: str,
    *,
    reference: np.ndarray | None = None,
    centroid: np.ndarray | None = None,
) -> Target:
    """A target from its CLI/page name: ``top-channel``, ``channel:N``, ``reference``, ``centroid``."""
    spec = spec.strip()
    if spec == "top-channel":
        return TopChannel()
    if spec.startswith("channel:"):
        raw = spec.split(":", 1)[1]
        try:
            return Channel(channel=int(raw))
        except ValueError:
            raise ValueError(f"channel must be an integer, got {raw!r} in {spec!r}") from None
    if spec == "reference":
        if reference is None:
            raise ValueError("target 'reference' needs a reference face")
        return Reference(reference=reference)
    if spec == "centroid":
        if centroid is None:
            raise ValueError("target 'centroid' needs the person's embeddings")
        return Centroid(reference=centroid)
    raise ValueError(f"unknown target {spec!r}; use top-channel, channel:N, reference or centroid")


# -- reference vectors for whole sets ---------------------------------------------------------
def person_centroids(embeddings: np.ndarray, people: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The people (sorted) and each one's mean embedding ``(P, D)``, in one pass over the set."""
    names, codes = np.unique(np.asarray(people).astype(str), return_inverse=True)
    emb = np.asarray(embeddings, dtype=np.float64)
    sums = np.zeros((len(names), emb.shape[1]))
    np.add.at(sums, codes, emb)
    counts = np.bincount(codes, minlength=len(names))[:, None]
    return names.tolist(), (sums / np.maximum(counts, 1)).astype(np.float32)


def nearest_centroid(
    embedding: np.ndarray, names: list[str], cents: np.ndarray
) -> tuple[int, float]:
    """The index of the centroid most cosine-similar to ``embedding``, and that cosine."""
    sims = cents @ embedding / np.maximum(np.linalg.norm(cents, axis=1), 1e-12)
    best = int(np.argmax(sims))
    return best, float(sims[best] / max(float(np.linalg.norm(embedding)), 1e-12))


def centroid_of_each(embeddings: np.ndarray, people: np.ndarray) -> np.ndarray:
    """Row ``i`` is the centroid of face ``i``'s person ``(N, D)``."""
    names, cents = person_centroids(embeddings, people)
    index = {p: k for k, p in enumerate(names)}
    return cents[[index[str(p)] for p in people]]


def nearest_other(embeddings: np.ndarray, *, block: int = 2048) -> np.ndarray:
    """For each face, the index of its most similar *other* face (dot product), in blocks.

    Memory stays ``block × N`` (never the full ``N × N`` similarity matrix).
    """
    emb = np.asarray(embeddings, dtype=np.float32)
    n = len(emb)
    if n < 2:
        raise ValueError("nearest_other needs at least two faces")
    out = np.empty(n, dtype=np.int64)
    for start in range(0, n, block):
        sims = emb[start : start + block] @ emb.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = -np.inf
        out[start : start + len(sims)] = sims.argmax(axis=1)
    return out
