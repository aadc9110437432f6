"""A small projection head trained with a triplet loss on frozen FaceNet features.

The reference experiment trained its network with a triplet loss that pulls
images together when they share the person *or* the attribute. Here the face
model stays frozen and a linear head is trained on its features
(``facedash.search.features``: the 128-d embedding, or a layer before it where
photographic attributes survive):

    g(x) = normalise(((x - m) / s) W + b)

``m`` and ``s`` standardise each input dimension (the training faces' mean and
standard deviation), and ``W`` starts as the top principal axes of the
standardised training features, so training starts from the plain standardised
space and only moves from there. Training uses Keras (TensorFlow backend, a
plain ``GradientTape`` loop). With ``loss="either"`` (the default, the
reference's) a positive shares the person or the attribute with the anchor and a
negative shares neither; ``loss="sum"`` adds a person triplet loss and an
attribute triplet loss. Over a batch, ``mining="all"`` averages every violating
triplet,

    L = mean over (a, p, n) with a positive loss of max(0, d(a, p) - d(a, n) + margin),

and ``mining="hard"`` keeps, per anchor, the farthest positive and the nearest
negative; ``d = 2 - 2 cos`` is the squared distance between unit vectors. At most
``max_faces`` training faces are used (a seeded sample), so training time does not
grow with the set. The trained head is kept as numpy arrays, so applying it needs
no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from facedash.search import Labels, normalise

LOSSES = ("either", "sum")
MININGS = ("all", "hard")
MAX_FACES = 4000  # training faces at most (a seeded sample of larger sets)


@dataclass(frozen=True)
class TripletHead:
    """A trained head: ``transform(x) = normalise(((x - mean) / scale) @ weight + bias)``."""

    weight: np.ndarray
    bias: np.ndarray
    losses: tuple[float, ...]
    margin: float
    mean: np.ndarray
    scale: np.ndarray
    feature: str = "embedding"

    def standardise(self, features: np.ndarray) -> np.ndarray:
        """Inputs standardised by the training faces' mean and standard deviation."""
        return (np.asarray(features, dtype=np.float32) - self.mean) / self.scale

    def transform(self, features: np.ndarray) -> np.ndarray:
        """The head's unit vectors for ``(N, d)`` features (numpy only)."""
        return normalise(self.standardise(features) @ self.weight + self.bias)


def standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and standard deviation (floored, so constant inputs stay finite)."""
    x = np.asarray(x, dtype=np.float32)
    return x.mean(axis=0), np.maximum(x.std(axis=0), 1e-6)


def principal_axes(z: np.ndarray, dim: int) -> np.ndarray:
    """The top ``dim`` principal axes ``(d, dim)`` of standardised inputs ``z``."""
    z = np.asarray(z, dtype=np.float64)
    z = z - z.mean(axis=0)
    values, vectors = np.linalg.eigh(z.T @ z)
    return vectors[:, np.argsort(-values)[:dim]].astype(np.float32)


def split_groups(groups: Labels, *, holdout: float = 0.3, seed: int = 0) -> np.ndarray:
    """A boolean mask of held-out faces: whole groups (e.g. source photos) drawn at random."""
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be between 0 and 1, got {holdout}")
    names, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    rng = np.random.default_rng(seed)
    n_out = max(1, min(len(names) - 1, round(holdout * len(names))))
    out = np.zeros(len(names), bool)
    out[rng.permutation(len(names))[:n_out]] = True
    return out[inverse]


def _codes(labels: Labels) -> np.ndarray:
    return np.unique(np.asarray(labels).astype(str), return_inverse=True)[1].astype(np.int32)


def train_triplet_head(
    features: np.ndarray,
    persons: Labels,
    attributes: Labels,
    *,
    epochs: int = 40,
    batch_size: int = 128,
    margin: float = 0.2,
    learning_rate: float = 1e-3,
    seed: int = 0,
    loss: str = "either",
    mining: str = "all",
    dim: int = 128,
    max_faces: int | None = MAX_FACES,
    feature: str = "embedding",
    progress: Callable[[int, int, float], None] | None = None,
) -> TripletHead:
    """Train the head on frozen ``features`` with the "person or attribute" triplet loss."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {', '.join(LOSSES)}")
    if mining not in MININGS:
        raise ValueError(f"unknown mining {mining!r}; use one of {', '.join(MININGS)}")
    raw = np.asarray(features, dtype=np.float32)
    if raw.ndim != 2 or len(raw) < 3:
        raise ValueError(f"need at least 3 feature rows (N, d) to train, got {raw.shape}")
    p_codes, a_codes = _codes(persons), _codes(attributes)
    if len(p_codes) != len(raw) or len(a_codes) != len(raw):
        raise ValueError("features, persons and attributes must have the same length")
    rng = np.random.default_rng(seed)
    if max_faces and len(raw) > max_faces:
        pick = np.sort(rng.choice(len(raw), size=int(max_faces), replace=False))
        raw, p_codes, a_codes = raw[pick], p_codes[pick], a_codes[pick]
    mean, scale = standardiser(raw)
    x = (raw - mean) / scale
    w0 = principal_axes(x, min(dim, x.shape[1]))

    import tensorflow as tf

    tf.random.set_seed(seed)
    weight = tf.Variable(w0, name="head_weight")
    bias = tf.Variable(tf.zeros((w0.shape[1],)), name="head_bias")
    import keras

    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)

    def batch_hard(d: tf.Tensor, pos: tf.Tensor, neg: tf.Tensor) -> tf.Tensor:
        hardest_pos = tf.reduce_max(tf.where(pos, d, -1.0), axis=1)
        hardest_neg = tf.reduce_min(tf.where(neg, d, 5.0), axis=1)
        valid = tf.logical_and(tf.reduce_any(pos, axis=1), tf.reduce_any(neg, axis=1))
        per_anchor = tf.nn.relu(hardest_pos - hardest_neg + margin)
        return tf.reduce_sum(tf.where(valid, per_anchor, 0.0)) / tf.maximum(
            tf.reduce_sum(tf.cast(valid, tf.float32)), 1.0
        )

    def batch_all(d: tf.Tensor, pos: tf.Tensor, neg: tf.Tensor) -> tf.Tensor:
        valid = tf.logical_and(pos[:, :, None], neg[:, None, :])
        t = tf.nn.relu(d[:, :, None] - d[:, None, :] + margin)
        t = tf.where(valid, t, 0.0)
        active = tf.reduce_sum(tf.cast(t > 1e-6, tf.float32))
        return tf.reduce_sum(t) / tf.maximum(active, 1.0)

    mine = batch_all if mining == "all" else batch_hard

    def loss_fn(xb: tf.Tensor, pb: tf.Tensor, ab: tf.Tensor) -> tf.Tensor:
        z = tf.math.l2_normalize(tf.matmul(xb, weight) + bias, axis=1)
        d = 2.0 - 2.0 * tf.matmul(z, z, transpose_b=True)
        same_p = tf.equal(pb[:, None], pb[None, :])
        same_a = tf.equal(ab[:, None], ab[None, :])
        not_self = tf.logical_not(tf.eye(tf.shape(xb)[0], dtype=tf.bool))
        if loss == "either":
            either = tf.logical_or(same_p, same_a)
            return mine(d, tf.logical_and(either, not_self), tf.logical_not(either))
        return mine(d, tf.logical_and(same_p, not_self), tf.logical_not(same_p)) + mine(
            d, tf.logical_and(same_a, not_self), tf.logical_not(same_a)
        )

    @tf.function(reduce_retracing=True)
    def step(xb: tf.Tensor, pb: tf.Tensor, ab: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(xb, pb, ab)
        grads = tape.gradient(loss, [weight, bias])
        optimizer.apply_gradients(zip(grads, [weight, bias], strict=True))
        return loss

    losses: list[float] = []
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        total, batches = 0.0, 0
        for start in range(0, len(x), batch_size):
            b = order[start : start + batch_size]
            if len(b) < 3:
                continue
            total += float(
                step(tf.constant(x[b]), tf.constant(p_codes[b]), tf.constant(a_codes[b]))
            )
            batches += 1
        losses.append(total / max(batches, 1))
        if progress is not None:
            progress(epoch + 1, epochs, losses[-1])
    return TripletHead(
        weight=weight.numpy().astype(np.float32),
        bias=bias.numpy().astype(np.float32),
        losses=tuple(losses),
        margin=margin,
        mean=mean,
        scale=scale,
        feature=feature,
    )


@dataclass(frozen=True)
class HeadComparison:
    """Arithmetic accuracy on held-out faces: plain embedding, features without a head, the head."""

    head: TripletHead
    heldout: np.ndarray  # boolean mask of the faces the head never saw
    rows: list[dict[str, object]]


def compare_head(
    embeddings: np.ndarray,
    persons: Labels,
    attributes: Labels,
    groups: Labels,
    *,
    features: np.ndarray | None = None,
    feature: str = "embedding",
    method: str = "median",
    holdout: float = 0.3,
    seed: int = 0,
    epochs: int = 40,
    loss: str = "either",
    progress: Callable[[int, int, float], None] | None = None,
) -> HeadComparison:
    """Train the head on part of the set and score the arithmetic before / after on the rest.

    Whole ``groups`` (e.g. the source photo of every transformed copy) are held
    out, so no view of a held-out photo is seen in training. The head reads
    ``features`` (named ``feature``; default: the embeddings themselves). Rows:
    the plain embedding (before), the features standardised with no head (when
    they are not the embedding), and the head's output space (after).
    """
    from facedash.search import evaluate_arithmetic

    people = np.asarray(persons).astype(str)
    attrs = np.asarray(attributes).astype(str)
    src = np.asarray(groups).astype(str)
    x = np.asarray(embeddings if features is None else features, dtype=np.float32)
    out = split_groups(src, holdout=holdout, seed=seed)
    head = train_triplet_head(
        x[~out],
        people[~out],
        attrs[~out],
        epochs=epochs,
        seed=seed,
        loss=loss,
        feature=feature,
        progress=progress,
    )
    spaces = [("plain embedding", "embedding", normalise(embeddings))]
    if features is not None and feature != "embedding":
        spaces.append(("features, no head", feature, normalise(head.standardise(x))))
    spaces.append(("triplet head", feature, head.transform(x)))
    rows: list[dict[str, object]] = []
    for label, name, vectors in spaces:
        rep = evaluate_arithmetic(
            vectors[out], people[out], attrs[out], method=method, sources=src[out], seed=seed
        )
        rows.append(
            {
                "embedding": label,
                "features": name,
                "faces (held out)": int(out.sum()),
                "queries": len(rep.queries),
                "top-1": rep.top1,
                "top-5": rep.top5,
                "image - A + B top-1": rep.analogy.get("top1", float("nan")),
                "image - A + B top-5": rep.analogy.get("top5", float("nan")),
            }
        )
    return HeadComparison(head=head, heldout=out, rows=rows)
