"""Training the uncertainty head: data, stage-wise training on genuine pairs, evaluation, saving.

The face model stays frozen (stage-wise training, as in PFE): its pooled features and
embeddings are computed once per input crop and cached on disk, then only the small head
is trained, on batches of P people x K crops, minimising the mean ``-MLS`` over the
genuine pairs of each batch (no impostor pair is ever used).

Inputs: the set's stored aligned thumbnails (160 x 160 JPEG) are the clean faces. The
people are split: a held-out part (at least two people) is never trained on and gives the
validity figures. Training faces get synthetic degradations (blur, down-scaling, JPEG,
noise, occlusion, darkness at random strengths) so that low-quality inputs exist;
held-out faces get every kind at every graded strength.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facedash import paths
from facedash.errors import FacedashError
from facedash.pfe import degrade
from facedash.pfe import evaluate as ev

Progress = Callable[[int, int, str], None]
Cancel = Callable[[], bool]
HEAD_WEIGHTS = "head.weights.h5"
HEAD_RECORD = "head.json"
INPUTS_NOTE = (
    "the stored aligned face thumbnails (160 x 160 JPEG, quality 90, MTCNN 5-point alignment) "
    "as clean faces, plus synthetic degradations of them"
)


class TrainingCancelled(FacedashError):
    """Training was stopped by its cancel flag; nothing was saved."""


def pfe_dir(root: Path | str | None = None) -> Path:
    """Folder of the trained PFE head and decoder: ``root`` or ``$FACEDASH_HOME/pfe``."""
    return Path(root) if root is not None else paths.home() / "pfe"


def cache_dir() -> Path:
    """Feature cache (pooled features and embeddings of every crop the head has seen)."""
    return paths.home() / "pfe" / "cache"


# -- data -----------------------------------------------------------------------------------
def clean_crops(result: Any) -> tuple[np.ndarray, np.ndarray]:
    """The decoded thumbnails ``(N, 160, 160, 3)`` and their row indices (rows with one)."""
    from facedash.images import decode_jpeg

    idx = np.array([n for n, t in enumerate(result.thumbs) if t is not None], dtype=np.int64)
    if len(idx) == 0:
        raise FacedashError("this face set has no stored face thumbnails to train on")
    return np.stack([decode_jpeg(result.thumbs[n]) for n in idx]), idx


@dataclass
class TrainingFaces:
    """What both trainers start from: the clean crops, their people and the feature extractor."""

    crops: np.ndarray
    people: np.ndarray
    extractor: Any


def training_faces(result: Any, embedder: Any = None) -> TrainingFaces:
    """The set's clean crops with their people, and a feature extractor over ``embedder`` (the registry's when None)."""
    from facedash.pfe.head import FeatureExtractor

    if embedder is None:
        from facedash.models import get_model

        embedder = get_model(result.model_id)
    crops, rows = clean_crops(result)
    people = np.asarray(result.people)[rows]
    return TrainingFaces(crops, people, FeatureExtractor(embedder))


def split_people(
    people: np.ndarray, heldout_fraction: float = 0.4, seed: int = 0
) -> tuple[list[str], list[str]]:
    """``(train people, held-out people)``: at least two held out and one to train on."""
    names = sorted(set(np.asarray(people).tolist()))
    if len(names) < 3:
        raise FacedashError(
            f"PFE training needs at least 3 people (2 held out for evaluation); this set has {len(names)}"
        )
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must lie in (0, 1), got {heldout_fraction}")
    n_held = min(len(names) - 1, max(2, int(round(heldout_fraction * len(names)))))
    order = np.random.default_rng(seed).permutation(len(names))
    held = sorted(names[k] for k in order[:n_held])
    return [p for p in names if p not in held], held


@dataclass
class Variants:
    """Which crop is made from which clean face: ``face[n]`` degraded by ``kind[n]`` at ``strength[n]``."""

    face: np.ndarray
    kind: np.ndarray
    strength: np.ndarray

    def __len__(self) -> int:
        return len(self.face)

    def render(self, crops: np.ndarray) -> np.ndarray:
        """The degraded crops (seeded by the variant's index, so deterministic)."""
        out = np.empty((len(self), *crops.shape[1:]), dtype=np.uint8)
        for n, (f, k, s) in enumerate(zip(self.face, self.kind, self.strength, strict=True)):
            out[n] = (
                crops[f] if k == "clean" else degrade.apply(crops[f], k, s, seed=int(f) * 31 + n)
            )
        return out


def training_variants(faces: np.ndarray, per_face: int, seed: int = 0) -> Variants:
    """Each face clean, plus ``per_face`` copies with a random kind at a random strength."""
    rng = np.random.default_rng(seed)
    faces = np.asarray(faces, dtype=np.int64)
    face = np.repeat(faces, per_face + 1)
    kind = np.array(["clean"] * len(face), dtype=object)
    strength = np.zeros(len(face))
    deg = np.ones(len(face), dtype=bool)
    deg[:: per_face + 1] = False
    kind[deg] = rng.choice(degrade.KINDS, size=int(deg.sum()))
    strength[deg] = rng.uniform(0.1, 1.0, size=int(deg.sum()))
    return Variants(face, kind, strength)


def evaluation_variants(faces: np.ndarray, levels: tuple[float, ...] = degrade.LEVELS) -> Variants:
    """Each face clean, plus every kind at every non-zero level."""
    faces = np.asarray(faces, dtype=np.int64)
    specs = [("clean", 0.0)] + [(k, lv) for k in degrade.KINDS for lv in levels if lv > 0]
    face = np.repeat(faces, len(specs))
    kind = np.array([k for k, _ in specs] * len(faces), dtype=object)
    strength = np.array([s for _, s in specs] * len(faces), dtype=float)
    return Variants(face, kind, strength)


def _key(crops: np.ndarray, variants: Variants, what: str) -> str:
    h = hashlib.sha256(f"{what}:degrade-v{degrade.VERSION}".encode())
    for f, k, s in zip(variants.face, variants.kind, variants.strength, strict=True):
        h.update(hashlib.sha256(crops[f].tobytes()).digest())
        h.update(f"{k}:{s:.6f}".encode())
    return h.hexdigest()[:24]


def cached(
    name: str, key: str, compute: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """``compute()`` once per key; the arrays are kept as ``.npz`` in the feature cache."""
    folder = paths.ensure_private_dir(cache_dir())
    path = folder / f"{name}-{key}.npz"
    if path.exists():
        try:
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    arrays = compute()
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz")
    os.close(fd)
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)
    return arrays


def variant_features(
    extractor: Any, crops: np.ndarray, variants: Variants, progress: Progress | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features and embeddings of every variant (from the cache when seen before)."""

    def compute() -> dict[str, np.ndarray]:
        rendered = variants.render(crops)
        report = None
        if progress is not None:

            def report(done: int, total: int) -> None:
                progress(done, total, "Embedding the faces and their degraded copies")

        feats, embs = extractor(rendered, progress=report)
        return {"features": feats, "embeddings": embs}

    out = cached("features", _key(crops, variants, "facenet-avgpool"), compute)
    return out["features"], out["embeddings"]


def detector_scores(detector: Any, crops: np.ndarray, variants: Variants) -> np.ndarray:
    """MTCNN's best face confidence on each variant crop (0 where it finds none)."""

    def compute() -> dict[str, np.ndarray]:
        found = detector.detect(list(variants.render(crops)))
        return {"score": np.array([max((f.confidence for f in fs), default=0.0) for fs in found])}

    return cached("mtcnn", _key(crops, variants, detector.settings.key()), compute)["score"]


# -- training -------------------------------------------------------------------------------
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
    for _ in range(steps):
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
                f"Training the head: epoch {epoch + 1}/{epochs}, -MLS {losses[-1]:.1f}",
            )
    return model, losses


# -- the whole job --------------------------------------------------------------------------
@dataclass
class HeldOut:
    """Held-out evaluation arrays (one row per variant crop)."""

    mu: np.ndarray
    sigma2: np.ndarray
    people: np.ndarray
    kinds: np.ndarray
    strengths: np.ndarray
    source: np.ndarray
    detector: np.ndarray | None
    names: np.ndarray = field(default_factory=lambda: np.array([]))


def heldout_figures(data: HeldOut, far: float = 0.01) -> dict[str, Any]:
    """Spearman, cosine/MLS AUC, risk-control curves and the dilemma table on held-out people."""
    from facedash.pfe.mls import confidence

    trend = ev.degradation_trend(data.sigma2, data.kinds, data.strengths, data.source)
    auc = ev.clean_vs_degraded_auc(data.mu, data.sigma2, data.people, data.kinds, data.source)
    n = len(data.mu)
    i, j = np.triu_indices(n, k=1)
    keep = data.source[i] != data.source[j]
    i, j = i[keep], j[keep]
    score = np.sum(data.mu[i] * data.mu[j], axis=1)
    quality = {"pfe": confidence(data.sigma2)}
    if data.detector is not None:
        quality["detector"] = data.detector
    curves = ev.risk_control((i, j, score), data.people[i] == data.people[j], quality, far=far)
    at10 = curves["fraction"].index(0.1)
    gain = curves["pfe"][at10] - curves["detector"][at10] if "detector" in curves else float("nan")
    return {
        "spearman_sigma_vs_degradation": trend["spearman"],
        "spearman_by_kind": trend["by_kind"],
        "spearman_per_face_median": trend["per_face_median"],
        "sigma_pooled_curve": trend["pooled_curve"],
        "auc_cosine": auc["auc_cosine"],
        "auc_mls": auc["auc_mls"],
        "auc_pairs": auc["pairs"],
        "tar_gain_at_10pct_rejection": float(gain),
        "far": far,
        "risk_control": curves,
        "sigma_curves": trend["curves"],
        "dilemma": ev.dilemma(
            data.mu, data.sigma2, data.people, data.kinds, data.strengths, data.source
        ),
        "faces": int(len(np.unique(data.source))),
        "crops": int(n),
    }


def train(
    result: Any,
    *,
    embedder: Any = None,
    detector: Any = None,
    epochs: int = 60,
    variants_per_face: int = 12,
    eval_faces_per_person: int = 10,
    heldout_fraction: float = 0.4,
    people_per_batch: int = 8,
    per_person: int = 8,
    seed: int = 0,
    refit_all: bool = True,
    root: Path | str | None = None,
    save: bool = True,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Any:
    """Train, evaluate on held-out people, and (by default) save the head; returns the ``UncertaintyHead``.

    ``detector`` (a ``facedash.detect.Detector``) scores the held-out crops for the
    risk-control comparison; without one the TAR gain is not computed.

    With ``refit_all`` (the default) the head that is returned and saved is trained again,
    with the same settings, on every person once the held-out figures are measured: a head
    fitted on a few people gives those people lower variances than new ones, which would
    bias the page's ranking of the set. The record keeps the held-out figures (measured by
    the split model) and says which head was saved.
    """
    from facedash.pfe.head import UncertaintyHead

    started = time.perf_counter()
    report = progress or (lambda done, total, msg: None)
    faces = training_faces(result, embedder)
    crops, people, extractor = faces.crops, faces.people, faces.extractor
    train_people, held_people = split_people(people, heldout_fraction, seed)

    train_faces = np.flatnonzero(np.isin(people, train_people))
    tv = training_variants(train_faces, variants_per_face, seed)
    report(0, 1, f"Embedding {len(tv)} training crops")
    feats, mu = variant_features(extractor, crops, tv, progress)
    labels = np.unique(people[tv.face], return_inverse=True)[1]

    rng = np.random.default_rng(seed)
    held_faces = np.concatenate(
        [
            np.sort(rng.permutation(np.flatnonzero(people == p))[:eval_faces_per_person])
            for p in held_people
        ]
    )
    hv = evaluation_variants(held_faces)
    report(0, 1, f"Embedding {len(hv)} held-out crops")
    h_feats, h_mu = variant_features(extractor, crops, hv, progress)
    det = None
    if detector is not None:
        report(0, 1, f"Running the face detector on {len(hv)} held-out crops")
        det = detector_scores(detector, crops, hv)
    fit_start = time.perf_counter()
    model, losses = fit_head(
        feats,
        mu,
        labels,
        epochs=epochs,
        people_per_batch=people_per_batch,
        per_person=per_person,
        seed=seed,
        progress=progress,
        cancel=cancel,
    )
    fit_seconds = time.perf_counter() - fit_start
    split_model = model
    refit_losses: list[float] | None = None
    if refit_all:
        hv_train = training_variants(
            np.flatnonzero(np.isin(people, held_people)), variants_per_face, seed + 1
        )
        report(0, 1, f"Embedding {len(hv_train)} more crops to refit on every person")
        f2, m2 = variant_features(extractor, crops, hv_train, progress)
        all_labels = np.unique(
            np.concatenate([people[tv.face], people[hv_train.face]]), return_inverse=True
        )[1]
        model, refit_losses = fit_head(
            np.concatenate([feats, f2]),
            np.concatenate([mu, m2]),
            all_labels,
            epochs=epochs,
            people_per_batch=people_per_batch,
            per_person=per_person,
            seed=seed,
            progress=progress,
            cancel=cancel,
        )
    record: dict[str, Any] = {
        "kind": "pfe-uncertainty-head",
        "model_id": result.model_id,
        "dataset": result.dataset,
        "align": result.align_key,
        "inputs": INPUTS_NOTE,
        "feature_layer": "AvgPool (1792-d, before the Bottleneck embedding layer)",
        "faces": int(len(crops)),
        "train_people": train_people,
        "heldout_people": held_people,
        "train_crops": int(len(tv)),
        "train_degradations": {k: int(np.sum(tv.kind == k)) for k in ("clean", *degrade.KINDS)},
        "heldout_crops": int(len(hv)),
        "levels": list(degrade.LEVELS),
        "epochs": epochs,
        "people_per_batch": people_per_batch,
        "per_person": per_person,
        "seed": seed,
        "losses": refit_losses if refit_losses is not None else losses,
        "final_loss": (refit_losses or losses)[-1],
        "losses_split": losses,
        "final_loss_split": losses[-1],
        "refit_on_all_people": bool(refit_all),
        "saved_head": (
            "refit on every person after the held-out evaluation"
            if refit_all
            else "the split model (never saw the held-out people)"
        ),
        "fit_seconds": round(fit_seconds, 2),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    head = UncertaintyHead(model, record)
    held = HeldOut(
        mu=h_mu.astype(np.float64),
        sigma2=UncertaintyHead(split_model, {}).sigma2(h_feats),
        people=people[hv.face],
        kinds=hv.kind,
        strengths=hv.strength,
        source=hv.face,
        detector=det,
    )
    record["heldout"] = heldout_figures(held)
    record["seconds"] = round(time.perf_counter() - started, 2)
    if save:
        save_head(head, root)
    return head


# -- persistence ----------------------------------------------------------------------------
def save_head(head: Any, root: Path | str | None = None) -> Path:
    """Write the head's weights and its JSON record into ``pfe_dir(root)``; returns the folder."""
    folder = paths.ensure_private_dir(pfe_dir(root))
    config = {
        "in_dim": int(head.model.input.shape[1]),
        "dim": int(head.model.output.shape[1]),
        "hidden": int(head.model.get_layer("fc1").units),
    }
    head.record["config"] = config
    tmp = folder / ("tmp-" + HEAD_WEIGHTS)
    head.model.save_weights(str(tmp))
    os.replace(tmp, folder / HEAD_WEIGHTS)
    text = json.dumps(head.record, indent=1, default=_jsonable)
    (folder / (HEAD_RECORD + ".tmp")).write_text(text)
    os.replace(folder / (HEAD_RECORD + ".tmp"), folder / HEAD_RECORD)
    return folder


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def read_record(root: Path | str | None = None) -> dict[str, Any] | None:
    """The saved head's training record, or None (no TensorFlow needed)."""
    path = pfe_dir(root) / HEAD_RECORD
    if not path.exists() or not (pfe_dir(root) / HEAD_WEIGHTS).exists():
        return None
    return json.loads(path.read_text())


def load_head(root: Path | str | None = None) -> Any:
    """The saved ``UncertaintyHead``, or None when none has been trained."""
    record = read_record(root)
    if record is None:
        return None
    from facedash.pfe.head import UncertaintyHead, build_head

    config = record.get("config", {})
    model = build_head(
        config.get("in_dim", 1792), config.get("dim", 128), config.get("hidden", 128)
    )
    model.load_weights(str(pfe_dir(root) / HEAD_WEIGHTS))
    return UncertaintyHead(model, record)
