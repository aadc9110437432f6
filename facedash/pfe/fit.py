"""The head's training loop: P x K batches of genuine pairs, mean ``-MLS`` minimised.

The face model stays frozen (stage-wise training, as in PFE): only the small head is
trained, on pooled features computed once (``facedash.pfe.data``), on batches of P
people x K crops, minimising the mean ``-MLS`` over the genuine pairs of each batch
(no impostor pair is ever used).

``fit_gate`` fits the learned half of the head's face check (``facedash.pfe.head``): a
logistic regression of faces (every training crop, clean and degraded) against
non-face crops (``facedash.pfe.nonface``) on the same pooled features, classes weighted
to balance, on standardised features whose scaling is then folded into the weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from facedash.errors import FacedashError
from facedash.i18n import _
from facedash.pfe.data import Progress

Cancel = Callable[[], bool]


class TrainingCancelled(FacedashError):
    """Training was stopped by its cancel flag; nothing was saved."""


def batches(
    labels: np.ndarray, people_per_batch: int, per_person: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """One epoch of P x K batches: each batch draws P people and K distinct items of each."""
    labels = np.asarray(labels)
    groups = {p: rng.permutation(np.flatnonzero(labels == p)) for p in np.unique(labels)}
    groups = {p: g for p, g in groups.items() if len(g) >= 2}
    if not groups:
        raise FacedashError("no person has two training faces: nothing to form genuine pairs")
    k = max(2, per_person)
    steps = max(1, sum(len(g) for g in groups.values()) // (k * min(people_per_batch, len(groups))))
    cursor = {p: 0 for p in groups}
    out = []
    names = list(groups)
    for _unused in range(steps):
        chosen = rng.choice(len(names), size=min(people_per_batch, len(names)), replace=False)
        idx = []
        for c in chosen:
            p = names[c]
            g = groups[p]
            take = min(k, len(g))
            if cursor[p] + take > len(g):
                groups[p] = g = rng.permutation(g)
                cursor[p] = 0
            idx.append(g[cursor[p] : cursor[p] + take])
            cursor[p] += take
        out.append(np.concatenate(idx))
    return out


def fit_head(
    features: np.ndarray,
    mu: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int = 60,
    people_per_batch: int = 8,
    per_person: int = 8,
    learning_rate: float = 1e-2,
    hidden: int = 32,
    dropout: float = 0.0,
    weight_decay: float = 5e-3,
    seed: int = 0,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> tuple[Any, list[float]]:
    """Train a fresh head on genuine pairs only (minimise mean ``-MLS``); returns it and the loss per epoch."""
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    import keras
    import tensorflow as tf

    from facedash.pfe.head import build_head
    from facedash.pfe.mls import genuine_pairs

    keras.utils.set_random_seed(seed)
    model = build_head(
        features.shape[1],
        mu.shape[1],
        hidden=hidden,
        seed=seed,
        dropout=dropout,
        weight_decay=weight_decay,
    )
    optimizer = keras.optimizers.Adam(learning_rate)
    feats_t = tf.constant(features, tf.float32)
    mu_t = tf.constant(mu, tf.float32)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([None], tf.int64),
        ]
    )
    def step(batch: Any, i: Any, j: Any) -> Any:
        x = tf.gather(feats_t, batch)
        m = tf.gather(mu_t, batch)
        with tf.GradientTape() as tape:
            log_s2 = model(x, training=True)
            s = tf.exp(tf.gather(log_s2, i)) + tf.exp(tf.gather(log_s2, j))
            d2 = tf.square(tf.gather(m, i) - tf.gather(m, j))
            nll = tf.reduce_mean(0.5 * tf.reduce_sum(d2 / s + tf.math.log(s), axis=1))
            total = nll + tf.add_n(model.losses) if model.losses else nll
        grads = tape.gradient(total, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return nll

    rng = np.random.default_rng(seed)
    losses: list[float] = []
    for epoch in range(epochs):
        epoch_losses = []
        for batch in batches(labels, people_per_batch, per_person, rng):
            if cancel is not None and cancel():
                raise TrainingCancelled("training cancelled; the previous head (if any) is kept")
            i, j = genuine_pairs(labels[batch])
            epoch_losses.append(float(step(tf.constant(batch), tf.constant(i), tf.constant(j))))
        losses.append(float(np.mean(epoch_losses)))
        if progress is not None:
            progress(
                epoch + 1,
                epochs,
                _("Training the head: epoch {epoch}/{epochs}, -MLS {loss}").format(
                    epoch=epoch + 1, epochs=epochs, loss=f"{losses[-1]:.1f}"
                ),
            )
    return model, losses


def fit_gate(
    faces: np.ndarray, nonfaces: np.ndarray, *, c: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(kernel (D,), bias ())`` of the face logit ``x @ kernel + bias`` on pooled features."""
    from sklearn.linear_model import LogisticRegression

    if len(faces) == 0 or len(nonfaces) == 0:
        raise FacedashError("the face check needs face crops and non-face crops")
    x = np.concatenate([faces, nonfaces]).astype(np.float64)
    y = np.concatenate([np.ones(len(faces)), np.zeros(len(nonfaces))])
    mean, std = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-6)
    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=seed)
    clf.fit((x - mean) / std, y)
    w = clf.coef_[0] / std
    return w, np.asarray(clf.intercept_[0] - float(w @ mean))
