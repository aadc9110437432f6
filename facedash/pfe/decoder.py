"""A small decoder from a 128-d embedding back to a 64 x 64 face image, and PFE samples through it.

The decoder is trained on the set's faces (stored aligned thumbnails) and augmented
copies (mirror, small shifts, scaling, rotation, brightness and contrast changes): the
input is FaceNet's embedding of the crop, the target is the crop itself at 64 x 64.
A fifth of the photos (all their augmentations with them) is held out and gives the
reconstruction error beside two baselines: always answering the mean training face, and
answering the mean training face of the right person (what an identity-only code could do).
Training adds a little Gaussian noise to each embedding (then re-normalises), which keeps
the decoder smooth around the training points: better held-out error, saner samples.

``samples`` draws from ``N(mu, diag(sigma2))`` and puts each draw back on the unit
sphere (FaceNet's embeddings live there); decoding them shows what the uncertainty
means in image space: near-identical faces for a confident embedding, varied ones for
an uncertain one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

import numpy as np

from facedash import paths
from facedash.i18n import _
from facedash.pfe.train import Cancel, Progress, TrainingCancelled, cached, pfe_dir, training_faces

SIZE = 64
DECODER_WEIGHTS = "decoder.weights.h5"
DECODER_RECORD = "decoder.json"


def augment(crops: np.ndarray, copies: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``copies`` augmented versions of each crop (the first is the crop itself); returns (images, source)."""
    import cv2

    rng = np.random.default_rng(seed)
    n, h, w = crops.shape[:3]
    out = np.empty((n * copies, h, w, 3), dtype=np.uint8)
    source = np.repeat(np.arange(n), copies)
    for k, src in enumerate(source):
        img = crops[src]
        if k % copies == 0:
            out[k] = img
            continue
        if rng.random() < 0.5:
            img = img[:, ::-1]
        angle = rng.uniform(-6, 6)
        scale = rng.uniform(0.94, 1.06)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
        m[:, 2] = m[:, 2] + rng.uniform(-0.04, 0.04, size=2) * np.array([w, h])
        img = cv2.warpAffine(
            np.ascontiguousarray(img), m, (w, h), borderMode=cv2.BORDER_REPLICATE
        ).astype(np.float32)
        img = (img - 128.0) * rng.uniform(0.85, 1.15) + 128.0 + rng.uniform(-20, 20)
        out[k] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return out, source


def targets(images: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Crops resized to ``size`` x ``size``, float32 in [0, 1]."""
    import cv2

    return (
        np.stack(
            [cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images]
        ).astype(np.float32)
        / 255.0
    )


def build_decoder(
    dim: int = 128, size: int = SIZE, width: int = 128, seed: int = 0, batchnorm: bool = True
) -> Any:
    """Dense to 4 x 4 x width, then transposed convolutions doubling the side up to ``size``."""
    import keras
    from keras import layers

    steps = int(np.log2(size // 4))
    if 4 * 2**steps != size:
        raise ValueError(f"size must be 4 times a power of two, got {size}")
    init = keras.initializers.HeNormal(seed=seed)
    x_in = keras.Input((dim,), name="embedding")
    x = layers.Dense(4 * 4 * width, kernel_initializer=init, name="project")(x_in)
    x = layers.Reshape((4, 4, width))(x)
    x = layers.LeakyReLU(0.2)(x)
    ch = width
    for k in range(steps):
        ch = max(16, ch // 2) if k else ch
        x = layers.Conv2DTranspose(
            ch, 4, strides=2, padding="same", kernel_initializer=init, name=f"up{k}"
        )(x)
        if batchnorm:
            x = layers.BatchNormalization(name=f"bn{k}")(x)
        x = layers.LeakyReLU(0.2)(x)
    out = layers.Conv2D(3, 3, padding="same", activation="sigmoid", name="image")(x)
    return keras.Model(x_in, out, name="pfe_decoder")


class Decoder:
    """A trained decoder with its record; thread-safe ``decode``."""

    def __init__(self, model: Any, record: dict[str, Any]) -> None:
        import threading

        import tensorflow as tf

        self.model = model
        self.record = record
        self._forward = tf.function(
            lambda z: model(z, training=False),
            input_signature=[tf.TensorSpec([None, int(model.input.shape[1])], tf.float32)],
        )
        self._lock = threading.Lock()

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Images ``(N, 64, 64, 3)`` uint8 of embeddings ``(N, 128)``."""
        import tensorflow as tf

        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        with self._lock:
            out = self._forward(tf.constant(z)).numpy()
        return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def samples(mu: np.ndarray, sigma2: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` draws from ``N(mu, diag(sigma2))``, each re-normalised to the unit sphere."""
    mu = np.asarray(mu, dtype=np.float64).ravel()
    sigma2 = np.asarray(sigma2, dtype=np.float64).ravel()
    if mu.shape != sigma2.shape or np.any(sigma2 < 0):
        raise ValueError("mu and sigma2 must be 1-d arrays of one length, sigma2 >= 0")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    z = mu + np.sqrt(sigma2) * np.random.default_rng(seed).standard_normal((n, len(mu)))
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def sample_spread(images: np.ndarray) -> float:
    """Mean per-pixel standard deviation across a grid of decoded samples (grey levels)."""
    return float(np.asarray(images, dtype=np.float64).std(axis=0).mean())


def split_photos(people: np.ndarray, fraction: float = 0.2, seed: int = 0) -> np.ndarray:
    """Held-out mask: ``fraction`` of each person's photos (at least one where a person has 3+)."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(people), dtype=bool)
    for p in np.unique(people):
        idx = rng.permutation(np.flatnonzero(people == p))
        k = int(round(fraction * len(idx))) if len(idx) >= 3 else 0
        held[idx[: max(k, 1 if len(idx) >= 3 else 0)]] = True
    return held


def train_decoder(
    result: Any,
    *,
    embedder: Any = None,
    copies: int = 6,
    epochs: int = 20,
    batch_size: int = 32,
    learning_rate: float = 2e-3,
    loss: str = "mse",
    batchnorm: bool = False,
    input_noise: float = 0.05,
    seed: int = 0,
    root: Any = None,
    save: bool = True,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Decoder:
    """Train the decoder on the set's faces and augmentations; held-out photos give its error."""
    import keras
    import tensorflow as tf

    started = time.perf_counter()
    faces = training_faces(result, embedder)
    crops, people, extractor = faces.crops, faces.people, faces.extractor
    images, source = augment(crops, copies, seed)

    def compute() -> dict[str, np.ndarray]:
        report = None
        if progress is not None:

            def report(done: int, total: int) -> None:
                progress(done, total, _("Embedding the faces and their augmented copies"))

        return {"embeddings": extractor(images, progress=report)[1]}

    key = hashlib.sha256(b"decoder-aug:" + images.tobytes()).hexdigest()[:24]
    z = cached("decoder", key, compute)["embeddings"]
    y = targets(images)
    held_photo = split_photos(people, 0.2, seed)
    held = held_photo[source]
    keras.utils.set_random_seed(seed)
    model = build_decoder(z.shape[1], SIZE, seed=seed, batchnorm=batchnorm)
    optimizer = keras.optimizers.Adam(learning_rate)
    z_t, y_t = tf.constant(z[~held]), tf.constant(y[~held])

    @tf.function
    def step(idx: Any) -> Any:
        with tf.GradientTape() as tape:
            zb = tf.gather(z_t, idx)
            if input_noise > 0:  # train on nearby points of the sphere: a smoother decoder
                zb = tf.math.l2_normalize(zb + input_noise * tf.random.normal(tf.shape(zb)), axis=1)
            pred = model(zb, training=True)
            err = pred - tf.gather(y_t, idx)
            value = tf.reduce_mean(tf.square(err) if loss == "mse" else tf.abs(err))
        grads = tape.gradient(value, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return value

    rng = np.random.default_rng(seed)
    n_train = int((~held).sum())
    losses: list[float] = []
    fit_start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(n_train)
        ep = []
        for start in range(0, n_train - batch_size + 1, batch_size):
            if cancel is not None and cancel():
                raise TrainingCancelled(
                    "decoder training cancelled; the previous decoder (if any) is kept"
                )
            ep.append(float(step(tf.constant(order[start : start + batch_size]))))
        losses.append(float(np.mean(ep)))
        if progress is not None:
            progress(
                epoch + 1,
                epochs,
                _("Training the decoder: epoch {epoch}/{epochs}, {loss} {value}").format(
                    epoch=epoch + 1, epochs=epochs, loss=loss, value=f"{losses[-1]:.4f}"
                ),
            )
    fit_seconds = time.perf_counter() - fit_start
    decoder = Decoder(model, {})
    clean_held = held & (np.arange(len(source)) % copies == 0)
    mean_face = y[~held].mean(axis=0)
    if clean_held.any():
        pred = decoder.decode(z[clean_held]).astype(np.float32) / 255.0
        mse = float(np.mean((pred - y[clean_held]) ** 2))
        base = float(np.mean((mean_face - y[clean_held]) ** 2))
        person_of = people[source]
        person_mean = {p: y[~held & (person_of == p)].mean(axis=0) for p in np.unique(people)}
        target_means = np.stack([person_mean[p] for p in person_of[clean_held]])
        base_person = float(np.mean((target_means - y[clean_held]) ** 2))
    else:
        mse = base = base_person = float("nan")
    decoder.record = {
        "kind": "pfe-decoder",
        "model_id": result.model_id,
        "dataset": result.dataset,
        "trained_on": (
            f"{int((~held_photo).sum())} faces of {len(np.unique(people))} people "
            f"(stored aligned 160 x 160 thumbnails) x {copies} (the face + {copies - 1} augmented "
            "copies: mirror, shift, scale, rotation, brightness, contrast), as 64 x 64 targets"
        ),
        "train_faces": int((~held_photo).sum()),
        "heldout_faces": int(held_photo.sum()),
        "people": int(len(np.unique(people))),
        "copies": copies,
        "size": SIZE,
        "epochs": epochs,
        "loss": loss,
        "losses": losses,
        "heldout_mse": mse,
        "heldout_mse_mean_face": base,
        "heldout_mse_person_mean_face": base_person,
        "batchnorm": batchnorm,
        "input_noise": input_noise,
        "heldout_psnr_db": float(10 * np.log10(1.0 / mse)) if mse == mse and mse > 0 else None,
        "fit_seconds": round(fit_seconds, 2),
        "seconds": round(time.perf_counter() - started, 2),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if save:
        save_decoder(decoder, root)
    return decoder


def save_decoder(decoder: Decoder, root: Any = None) -> None:
    """Write the decoder's weights and record into ``pfe_dir(root)``."""
    folder = paths.ensure_private_dir(pfe_dir(root))
    tmp = folder / ("tmp-" + DECODER_WEIGHTS)
    decoder.model.save_weights(str(tmp))
    os.replace(tmp, folder / DECODER_WEIGHTS)
    (folder / (DECODER_RECORD + ".tmp")).write_text(json.dumps(decoder.record, indent=1))
    os.replace(folder / (DECODER_RECORD + ".tmp"), folder / DECODER_RECORD)


def read_decoder_record(root: Any = None) -> dict[str, Any] | None:
    """The saved decoder's record, or None."""
    folder = pfe_dir(root)
    if not (folder / DECODER_RECORD).exists() or not (folder / DECODER_WEIGHTS).exists():
        return None
    return json.loads((folder / DECODER_RECORD).read_text())


def load_decoder(root: Any = None) -> Decoder | None:
    """The saved decoder, or None when none has been trained."""
    record = read_decoder_record(root)
    if record is None:
        return None
    model = build_decoder(
        128, int(record.get("size", SIZE)), batchnorm=bool(record.get("batchnorm", True))
    )
    model.load_weights(str(pfe_dir(root) / DECODER_WEIGHTS))
    return Decoder(model, record)
