"""tf-explain's methods behind the same interface (and the reference configuration).

The reference is a well-known blog post's use of ``tf_explain.core.GradCAM`` on
FaceNet: ``class_index = argmax |embedding|``, ``layer_name="Block8_6_Conv2d_1x1"``,
its default guided gradients. Keras 3 notes: tf-explain must always be given
``layer_name`` (its automatic choice reads ``layer.output_shape``, which Keras 3
layers lack), and its ``explain`` returns an overlay on the model input (here
prewhitened) in a BGR-mixed colour pipeline, so facedash calls its computing
steps and overlays on the uint8 crop itself.

Targets other than a single channel are given to tf-explain as a model whose
output is the score: ``[s]`` for Grad-CAM and Integrated Gradients (class 0),
``softmax([s, 0])`` for SmoothGrad, whose loss is a cross-entropy: its gradient
is then ``-(1 - σ(s)) ∇s``, the score's gradient up to a positive factor per
sample (the map takes absolute values).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from facedash.explain.base import Attribution, Explainer, bind
from facedash.explain.targets import Target


def _groups(weights: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Faces sharing the same bound weight row: ``[(row, face indices), ...]``."""
    rows, inverse = np.unique(weights, axis=0, return_inverse=True)
    return [(rows[g], np.flatnonzero(inverse.ravel() == g)) for g in range(len(rows))]


def _channel_of(row: np.ndarray) -> int | None:
    """The channel index when ``row`` is one-hot, else None."""
    nz = np.flatnonzero(row)
    return int(nz[0]) if len(nz) == 1 and row[nz[0]] == 1.0 else None


def score_model(model: Any, row: np.ndarray, *, softmax_pair: bool = False) -> Any:
    """A functional Keras model whose output is the score ``e · row`` (shape (N, 1) or (N, 2))."""
    import keras

    w = keras.ops.convert_to_tensor(np.asarray(row, np.float32)[None, :])
    score = keras.ops.sum(model.output * w, axis=-1, keepdims=True)
    if softmax_pair:
        score = keras.ops.softmax(keras.ops.concatenate([score, score * 0.0], axis=-1), axis=-1)
    return keras.Model(model.inputs, score)


class TfExplainGradCAM(Explainer):
    """tf-explain's GradCAM: guided gradients, spatially averaged weights, no ReLU."""

    name = "tfexplain-gradcam"
    label = "Grad-CAM (tf-explain)"
    uses_layer: ClassVar[bool] = True

    def attribute(self, x: np.ndarray, target: Target) -> Attribution:
        """One tf-explain call per group of faces with the same target weights."""
        from tf_explain.core.grad_cam import GradCAM

        w, emb = bind(target, self.model, x)
        maps: np.ndarray | None = None
        for row, idx in _groups(w):
            channel = _channel_of(row)
            model, cls = (
                (self.model, channel) if channel is not None else (score_model(self.model, row), 0)
            )
            outputs, grads = GradCAM.get_gradients_and_filters(model, x[idx], self.layer, cls, True)
            cams = np.stack(
                [np.asarray(c) for c in GradCAM.generate_ponderated_output(outputs, grads)]
            )
            if maps is None:
                maps = np.zeros((len(x), *cams.shape[1:]), dtype=np.float32)
            maps[idx] = cams
        assert maps is not None
        return maps, emb, w


def tfexplain_reference(
    model: Any, x: np.ndarray, layer: str = "Block8_6_Conv2d_1x1"
) -> np.ndarray:
    """tf-explain ``GradCAM.explain`` exactly as the blog ran it, one face at a time (the benchmark's baseline).

    Returns the overlays it draws (``(N, S, S, 3)`` uint8, RGB): each call rebuilds
    tf-explain's gradient model, which is what makes this slow.
    """
    from tf_explain.core.grad_cam import GradCAM

    from facedash.explain.base import embed

    emb = embed(model, x)
    explainer = GradCAM()
    out = [
        explainer.explain((x[i : i + 1], None), model, int(np.abs(e).argmax()), layer_name=layer)
        for i, e in enumerate(emb)
    ]
    return np.stack(out)


class _GradientsBase(Explainer):
    heavy: ClassVar[bool] = True

    def _per_group(
        self,
        x: np.ndarray,
        target: Target,
        run: Callable[[Any, np.ndarray, int], np.ndarray],
        softmax_pair: bool,
    ) -> Attribution:
        w, emb = bind(target, self.model, x)
        maps = np.zeros((len(x), self.size, self.size), dtype=np.float32)
        for row, idx in _groups(w):
            channel = _channel_of(row)
            if channel is not None and not softmax_pair:
                model, cls = self.model, channel
            else:
                model, cls = score_model(self.model, row, softmax_pair=softmax_pair), 0
            for s in range(0, len(idx), self.batch_size):
                part = idx[s : s + self.batch_size]
                maps[part] = run(model, x[part], cls)
        return maps, emb, w


class SmoothGrad(_GradientsBase):
    """tf-explain's SmoothGrad: mean gradient over noisy copies; map = Σ_c |grad|."""

    name = "smoothgrad"
    label = "SmoothGrad (tf-explain)"

    def __init__(
        self,
        model: Any,
        *,
        layer: str | None = None,
        num_samples: int = 16,
        noise: float = 0.5,
        seed: int = 0,
        batch_size: int = 4,
    ) -> None:
        super().__init__(model, layer=layer, batch_size=batch_size)
        self.num_samples, self.noise, self.seed = num_samples, noise, seed

    def attribute(self, x: np.ndarray, target: Target) -> Attribution:
        """``Σ_c |mean_k ∇(x + ε_k)|``."""
        from tf_explain.core.smoothgrad import SmoothGrad as TfSmoothGrad

        def run(model: Any, xb: np.ndarray, cls: int) -> np.ndarray:
            np.random.seed(self.seed)  # tf-explain draws its noise from numpy's global RNG
            noisy = TfSmoothGrad.generate_noisy_images(xb, self.num_samples, self.noise)
            grads = TfSmoothGrad.get_averaged_gradients(noisy, model, cls, self.num_samples)
            return np.abs(np.asarray(grads)).sum(axis=-1)

        return self._per_group(x, target, run, softmax_pair=True)


class IntegratedGradients(_GradientsBase):
    """tf-explain's Integrated Gradients from the mean-grey baseline (0 after prewhitening).

    tf-explain returns the path-averaged gradient; facedash multiplies it by
    ``x - baseline`` as in the paper, so the attributions sum to ``s(x) - s(0)``
    (up to the Riemann sum's error). Map = ``|Σ_c IG_c|``.
    """

    name = "integrated-gradients"
    label = "Integrated Gradients (tf-explain)"

    def __init__(
        self, model: Any, *, layer: str | None = None, steps: int = 16, batch_size: int = 4
    ) -> None:
        super().__init__(model, layer=layer, batch_size=batch_size)
        self.steps = steps

    def attribute(self, x: np.ndarray, target: Target) -> Attribution:
        """``|Σ_c x_c · mean_k ∇s(k x / K)|``."""
        from tf_explain.core.integrated_gradients import IntegratedGradients as TfIG

        def run(model: Any, xb: np.ndarray, cls: int) -> np.ndarray:
            path = TfIG.generate_interpolations(xb, self.steps).astype(np.float32)
            grads = np.asarray(TfIG.get_integrated_gradients(path, model, cls, self.steps))
            return np.abs((grads * xb).sum(axis=-1))

        return self._per_group(x, target, run, softmax_pair=False)
