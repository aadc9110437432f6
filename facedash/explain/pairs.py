"""Pair maps of both signs, and the field's yardsticks for them: decision flips, deletion, insertion.

A face-verification decision is about a *pair*: its cosine ``s = ê_A · ê_B`` against a threshold.
Each method here gives, for a pair (A, B), a map of what makes the pair similar on each face
and, where it can, a map of what makes it dissimilar (``PairMaps``, ``(2, S, S)`` each):

* ``xssab`` (after Huber et al., WACV 2024: similarity score argument backpropagation). The
  cosine is a sum of per-dimension *arguments* ``p_i = ê_A,i ê_B,i``; the positive ones argue
  "same person", the negative ones "different people". Their two sums,
  ``S+ = Σ_{p_i > 0} p_i`` and ``S- = -Σ_{p_i < 0} p_i`` (``s = S+ - S-``), are backpropagated to
  both faces separately. A pixel's value is the first-order change of that sum when the pixel
  is replaced by the blurred face, ``∇S · (x - blur(x))`` summed over the colour channels (the
  model's own input space), lightly smoothed (σ = S/40): the similar map is S+'s, the
  dissimilar map S-'s. The maps keep their sign (a negative value: blurring that pixel would
  *raise* the sum), so the order of deletion is the predicted effect's; pages show the
  positive part. One forward and two backward passes per pair: white-box, Keras only.
* ``gradcam``: Grad-CAM on a layer, each face against the other's embedding (similar only).
* ``corrrise``: ``facedash.explain.corrrise`` (black-box, any model; both signs).
* ``occlusion``: grey patches on each face against the other's embedding; the drop of the score
  is the similar map, its rise the dissimilar one (Keras only: it runs the Keras model).

The yardsticks that judge these maps over a set's pairs are in ``facedash.explain.flips``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from facedash.explain.corrrise import PairMaps, blurred, corrrise

Embed = Callable[[np.ndarray], np.ndarray]
WHITE_BOX = ("xssab", "gradcam", "occlusion")
PAIR_METHODS = ("xssab", "gradcam", "corrrise", "occlusion")
SIGNED = ("xssab", "corrrise", "occlusion")  # the methods with dissimilar maps
DEFAULT_MASKS = 200


def _smooth(maps: np.ndarray, size: int) -> np.ndarray:
    import cv2

    sigma = size / 40
    return np.stack([cv2.GaussianBlur(m, (0, 0), sigmaX=sigma, sigmaY=sigma) for m in maps])


def _xssab_fn(model: Any) -> Callable:
    from facedash.explain.base import FUNCTIONS

    def build() -> Callable:
        import tensorflow as tf

        size = int(model.input_shape[1])

        @tf.function(input_signature=[tf.TensorSpec([2, size, size, 3], tf.float32)])
        def grads(x: Any) -> Any:
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(x)
                e = tf.math.l2_normalize(model(x, training=False), axis=1)
                p = e[0] * e[1]
                positive = tf.reduce_sum(tf.nn.relu(p))
                negative = tf.reduce_sum(tf.nn.relu(-p))
            g_pos = tape.gradient(positive, x)
            g_neg = tape.gradient(negative, x)
            del tape
            return g_pos, g_neg, positive - negative

        return grads

    return FUNCTIONS.get(model, "xssab", build)


def xssab(model: Any, a: np.ndarray, b: np.ndarray) -> PairMaps:
    """Similar and dissimilar maps of the pair from its positive and negative arguments (see above)."""
    from facedash.explain.base import prepare_of

    t0 = time.perf_counter()
    prepare = prepare_of(model)
    faces = np.stack([a, b])
    x = prepare(faces).astype(np.float32)
    away = x - prepare(np.stack([blurred(a), blurred(b)])).astype(np.float32)
    g_pos, g_neg, score = _xssab_fn(model)(x)
    size = a.shape[0]
    similar = (np.asarray(g_pos) * away).sum(axis=-1)
    dissimilar = (np.asarray(g_neg) * away).sum(axis=-1)
    return PairMaps(
        similar=_smooth(similar, size),
        dissimilar=_smooth(dissimilar, size),
        score=float(score),
        masks=0,
        seconds=time.perf_counter() - t0,
    )


def _reference_maps(model: Any, method: str, faces: np.ndarray, layer: str | None) -> Any:
    from facedash.explain.base import embed, prepare_of
    from facedash.explain.methods import make
    from facedash.explain.targets import parse_target

    emb = embed(model, prepare_of(model)(faces))
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    target = parse_target("reference", reference=emb[::-1])
    return make(method, model, layer=layer).explain(faces, target)


def gradcam_pair(model: Any, a: np.ndarray, b: np.ndarray, layer: str) -> PairMaps:
    """Grad-CAM of each face against the other's embedding (similar maps only)."""
    t0 = time.perf_counter()
    e = _reference_maps(model, "gradcam", np.stack([a, b]), layer)
    return PairMaps(
        similar=np.clip(e.maps, 0, None),
        dissimilar=np.zeros_like(e.maps),
        score=float(e.scores[0]),
        masks=0,
        seconds=time.perf_counter() - t0,
    )


def occlusion_pair(model: Any, a: np.ndarray, b: np.ndarray) -> PairMaps:
    """Occlusion of each face against the other's embedding: the score's drop and its rise."""
    t0 = time.perf_counter()
    e = _reference_maps(model, "occlusion", np.stack([a, b]), None)
    return PairMaps(
        similar=np.clip(e.maps, 0, None),
        dissimilar=np.clip(-e.maps, 0, None),
        score=float(e.scores[0]),
        masks=0,
        seconds=time.perf_counter() - t0,
    )


def pair_maps(
    method: str,
    a: np.ndarray,
    b: np.ndarray,
    *,
    embed: Embed,
    model: Any = None,
    layer: str | None = None,
    masks: int = DEFAULT_MASKS,
    seed: int = 0,
) -> PairMaps:
    """The pair's maps by ``method`` (``PAIR_METHODS``); white-box methods need the Keras ``model``."""
    if method not in PAIR_METHODS:
        raise ValueError(f"unknown pair method {method!r}; use one of {', '.join(PAIR_METHODS)}")
    if method in WHITE_BOX and model is None:
        raise ValueError(f"{method} needs the model's gradients (a Keras model); use corrrise")
    if method == "xssab":
        return xssab(model, a, b)
    if method == "gradcam":
        from facedash.explain.methods import DEFAULT_LAYER

        return gradcam_pair(model, a, b, layer or DEFAULT_LAYER)
    if method == "occlusion":
        return occlusion_pair(model, a, b)
    return corrrise(embed, a, b, n_masks=masks, seed=seed)
