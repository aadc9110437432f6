"""Class-activation maps from ONE batched ``GradientTape`` pass.

``layer_gradients`` runs a compiled function once per batch: activations ``A``
of the chosen layer, the embedding ``e``, the score ``s = e · w`` (``w`` bound
by the target; for the top-channel target it is built in-graph from
``argmax |e|``) and ``∂s/∂A``. Every CAM variant is then a few lines of numpy
over ``(A, ∂s/∂A)``:

- Grad-CAM: ``Σ_k α_k A_k``, ``α_k = mean_ij g_kij``; by default as tf-explain (the
  reference): guided ``g = ∂s/∂A · [A > 0] · [∂s/∂A > 0]`` and no ReLU (the display
  min-max scales the map); ``guided=False, relu=True`` gives the paper's version;
- Grad-CAM++: ``α_k = Σ_ij a_kij relu(g_kij)``, ``a = g² / (2g² + Σ_ij A · g³)``;
- HiResCAM: ``relu(Σ_k g_k ⊙ A_k)`` (element-wise, no spatial averaging);
- LayerCAM: ``relu(Σ_k relu(g_k) ⊙ A_k)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from facedash.explain.base import FUNCTIONS, Attribution, Explainer
from facedash.explain.targets import Target


def _gradient_fn(model: Any, layer: str) -> Any:
    def build() -> Any:
        import keras
        import tensorflow as tf

        size = model.input_shape[1]
        dim = model.output_shape[-1]
        grad_model = keras.Model(model.inputs, [model.get_layer(layer).output, model.output])

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, size, size, 3], tf.float32),
                tf.TensorSpec([None, dim], tf.float32),
                tf.TensorSpec([], tf.bool),
            ]
        )
        def fn(x: Any, w: Any, top: Any) -> Any:
            with tf.GradientTape() as tape:
                acts, emb = grad_model(x, training=False)
                top_w = tf.one_hot(tf.argmax(tf.abs(emb), axis=1), dim, dtype=emb.dtype)
                w_eff = tf.stop_gradient(tf.where(top, top_w, w))
                score = tf.reduce_sum(emb * w_eff, axis=1)
            grads = tape.gradient(score, acts)
            return acts, grads, emb, w_eff

        return fn

    return FUNCTIONS.get(model, ("gradients", layer), build)


def layer_gradients(
    model: Any, layer: str, x: np.ndarray, target: Target, *, batch_size: int = 16
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Activations, gradients of the target score, embeddings and bound weights, batched."""
    fn = _gradient_fn(model, layer)
    dim = int(model.output_shape[-1])
    static = None if target.dynamic else target.weights(np.zeros((len(x), dim), np.float32))
    parts: list[tuple[np.ndarray, ...]] = []
    for s in range(0, len(x), batch_size):
        xb = x[s : s + batch_size]
        wb = static[s : s + batch_size] if static is not None else np.zeros((len(xb), dim))
        out = fn(xb, np.asarray(wb, np.float32), bool(target.dynamic))
        parts.append(tuple(np.asarray(t) for t in out))
    acts, grads, emb, w = (np.concatenate(p) for p in zip(*parts, strict=True))
    return acts, grads, emb, w


class _CamBase(Explainer):
    uses_layer: ClassVar[bool] = True

    def attribute(self, x: np.ndarray, target: Target) -> Attribution:
        """CAM maps at the layer's resolution."""
        assert self.layer is not None
        acts, grads, emb, w = layer_gradients(
            self.model, self.layer, x, target, batch_size=self.batch_size
        )
        target.check(emb)
        return self.cam(acts, grads), emb, w

    @staticmethod
    def cam(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class GradCAM(_CamBase):
    """Grad-CAM; ``guided=True`` reproduces tf-explain's ``GradCAM`` (the reference)."""

    name = "gradcam"
    label = "Grad-CAM"

    def __init__(
        self,
        model: Any,
        *,
        layer: str | None = None,
        guided: bool = True,
        relu: bool = False,
        batch_size: int = 16,
    ) -> None:
        super().__init__(model, layer=layer, batch_size=batch_size)
        self.guided = guided
        self.relu = relu

    def cam(self, acts: np.ndarray, grads: np.ndarray) -> np.ndarray:  # type: ignore[override]
        """``Σ_k mean(g_k) A_k`` with (guided) gradients ``g``."""
        if self.guided:
            grads = grads * (acts > 0) * (grads > 0)
        alpha = grads.mean(axis=(1, 2))
        out = np.einsum("nhwk,nk->nhw", acts, alpha)
        return np.maximum(out, 0) if self.relu else out


class GradCAMPlusPlus(_CamBase):
    """Grad-CAM++ (Chattopadhay et al. 2018), with the usual exponential-score closed form."""

    name = "gradcam++"
    label = "Grad-CAM++"

    @staticmethod
    def cam(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """``relu(Σ_k (Σ_ij a_kij relu(g_kij)) A_k)``."""
        g2, g3 = grads**2, grads**3
        total = acts.sum(axis=(1, 2), keepdims=True)
        denom = 2 * g2 + total * g3
        a = np.divide(g2, denom, out=np.zeros_like(g2), where=denom != 0)
        alpha = (a * np.maximum(grads, 0)).sum(axis=(1, 2))
        return np.maximum(np.einsum("nhwk,nk->nhw", acts, alpha), 0)


class HiResCAM(_CamBase):
    """HiResCAM (Draelos & Carin 2020): element-wise gradient times activation."""

    name = "hirescam"
    label = "HiResCAM"

    @staticmethod
    def cam(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """``relu(Σ_k g_k ⊙ A_k)``."""
        return np.maximum((grads * acts).sum(axis=-1), 0)


class LayerCAM(_CamBase):
    """LayerCAM (Jiang et al. 2021): positive gradients times activation, per position."""

    name = "layercam"
    label = "LayerCAM"

    @staticmethod
    def cam(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """``relu(Σ_k relu(g_k) ⊙ A_k)``."""
        return np.maximum((np.maximum(grads, 0) * acts).sum(axis=-1), 0)
