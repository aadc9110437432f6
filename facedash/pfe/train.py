"""Training the uncertainty head, the whole job: split, embed, fit, evaluate held out, refit, save.

``train`` runs it end to end; its parts live in one module each and are re-exported
here, so ``from facedash.pfe import train`` then ``train.load_head()`` works as before:

- ``facedash.pfe.data``: the clean crops, the people split, the degraded variants and
  the on-disk cache of their features;
- ``facedash.pfe.fit``: the training loop (P x K batches of genuine pairs, ``-MLS``) and
  the face gate (faces against non-face crops, on the same features);
- ``facedash.pfe.nonface``: the non-face crops (noise, flat colour, textures, background
  crops of the set's photos) for the gate and for the held-out check;
- ``facedash.pfe.saved``: the head's folder, weights and record on disk.

The held-out figures (``heldout_figures``) are measured here, by the model trained
without the held-out people, and kept in the record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facedash.i18n import N_, _, ngettext
from facedash.pfe import degrade, nonface
from facedash.pfe import evaluate as ev
from facedash.pfe.data import (
    Progress,
    TrainingFaces,
    Variants,
    cache_dir,
    cached,
    clean_crops,
    detector_scores,
    evaluation_variants,
    split_people,
    training_faces,
    training_variants,
    variant_features,
)
from facedash.pfe.fit import Cancel, TrainingCancelled, batches, fit_gate, fit_head
from facedash.pfe.saved import (
    HEAD_RECORD,
    HEAD_WEIGHTS,
    head_dir,
    heads,
    load_head,
    pfe_dir,
    read_record,
    save_head,
)

__all__ = [
    "HEAD_RECORD",
    "HEAD_WEIGHTS",
    "INPUTS_NOTE",
    "Cancel",
    "HeldOut",
    "Progress",
    "TrainingCancelled",
    "TrainingFaces",
    "Variants",
    "batches",
    "cache_dir",
    "cached",
    "clean_crops",
    "detector_scores",
    "evaluation_variants",
    "fit_head",
    "head_dir",
    "heads",
    "heldout_figures",
    "load_head",
    "pfe_dir",
    "read_record",
    "save_head",
    "split_people",
    "train",
    "training_faces",
    "training_variants",
    "variant_features",
]

INPUTS_NOTE = N_(
    "the stored aligned face thumbnails (160 x 160 JPEG, quality 90, MTCNN 5-point alignment) "
    "as clean faces, plus synthetic degradations of them"
)
INPUTS_NOTE_SIZED = N_(
    "the stored aligned face thumbnails ({size} x {size} JPEG, quality 90, aligned as the "
    "model's card says) as clean faces, plus synthetic degradations of them"
)  # another model's head: ``record["input_size"]`` fills it in


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
    nonface_sigma2: np.ndarray | None = None  # sigma^2 of non-face crops (held-out photos)
    nonface_kinds: np.ndarray | None = None


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
        **(
            {}
            if data.nonface_sigma2 is None
            else {
                "nonface": ev.nonface_order(
                    confidence(data.sigma2),
                    data.kinds,
                    data.strengths,
                    data.source,
                    confidence(data.nonface_sigma2),
                    np.asarray(data.nonface_kinds),
                )
            }
        ),
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
    nonfaces: int = 400,
    heldout_nonfaces: int = 200,
    refit_all: bool = True,
    root: Path | str | None = None,
    save: bool = True,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Any:
    """Train, evaluate on held-out people, and (by default) save the head; returns the ``UncertaintyHead``.

    ``detector`` (a ``facedash.faces.detect.Detector``) scores the held-out crops for the
    risk-control comparison; without one the TAR gain is not computed.

    ``nonfaces`` non-face crops (``facedash.pfe.nonface``, backgrounds from the training
    people's photos) fit the learned half of the head's face check against the training
    crops (0: no face check); another ``heldout_nonfaces`` (200), with backgrounds from the
    held-out people's photos, are checked against the held-out faces and their blurred
    copies (``record["heldout"]["nonface"]``).

    The head is ``result.model_id``'s: it reads that model's features
    (``facedash.pfe.features.extractor_for``: FaceNet's pooled ``AvgPool``, a Keras model's
    pooled input of its embedding layers, else the model's embedding before L2), predicts one
    log sigma^2 per dimension of that model's embedding, and is saved in that model's folder
    (``facedash.pfe.saved.head_dir``): FaceNet's head is never replaced by another model's.

    With ``refit_all`` (the default) the head that is returned and saved is trained again,
    with the same settings, on every person once the held-out figures are measured: a head
    fitted on a few people gives those people lower variances than new ones, which would
    bias the page's ranking of the set. The record keeps the held-out figures (measured by
    the split model) and says which head was saved.
    """
    from facedash.pfe.head import FACE_SCORE, GATE_SLOPE, UncertaintyHead, with_gate

    started = time.perf_counter()
    report = progress or (lambda done, total, msg: None)
    faces = training_faces(result, embedder)
    crops, people, extractor = faces.crops, faces.people, faces.extractor

    def pooled(x: np.ndarray) -> np.ndarray:  # the columns the PFE layers read (not ONet's)
        return x[:, :-1] if getattr(extractor, "face_score", False) else x

    train_people, held_people = split_people(people, heldout_fraction, seed)

    train_faces = np.flatnonzero(np.isin(people, train_people))
    tv = training_variants(train_faces, variants_per_face, seed)
    report(
        0,
        1,
        ngettext("Embedding {n} training crop", "Embedding {n} training crops", len(tv)).format(
            n=len(tv)
        ),
    )
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
    report(
        0,
        1,
        ngettext("Embedding {n} held-out crop", "Embedding {n} held-out crops", len(hv)).format(
            n=len(hv)
        ),
    )
    h_feats, h_mu = variant_features(extractor, crops, hv, progress)
    det = None
    if detector is not None:
        report(
            0,
            1,
            ngettext(
                "Running the face detector on {n} held-out crop",
                "Running the face detector on {n} held-out crops",
                len(hv),
            ).format(n=len(hv)),
        )
        det = detector_scores(detector, crops, hv)
    neg = None
    if nonfaces:
        report(
            0,
            1,
            ngettext(
                "Embedding {n} non-face crop", "Embedding {n} non-face crops", nonfaces
            ).format(n=nonfaces),
        )
        neg = nonface_features(extractor, result, train_people, nonfaces, seed, progress)
    report(
        0,
        1,
        ngettext(
            "Embedding {n} held-out non-face crop",
            "Embedding {n} held-out non-face crops",
            heldout_nonfaces,
        ).format(n=heldout_nonfaces),
    )
    h_neg, h_neg_kinds = nonface_features(
        extractor, result, held_people, heldout_nonfaces, seed + 7919, progress, kinds=True
    )
    fit_start = time.perf_counter()
    model, losses = fit_head(
        pooled(feats),
        mu,
        labels,
        epochs=epochs,
        people_per_batch=people_per_batch,
        per_person=per_person,
        seed=seed,
        progress=progress,
        cancel=cancel,
    )
    if neg is not None:
        gate = fit_gate(pooled(feats), pooled(neg), seed=seed)
        model = with_gate(model, *gate)
    fit_seconds = time.perf_counter() - fit_start
    split_model = model
    refit_losses: list[float] | None = None
    if refit_all:
        hv_train = training_variants(
            np.flatnonzero(np.isin(people, held_people)), variants_per_face, seed + 1
        )
        report(
            0,
            1,
            ngettext(
                "Embedding {n} more crop to refit on every person",
                "Embedding {n} more crops to refit on every person",
                len(hv_train),
            ).format(n=len(hv_train)),
        )
        f2, m2 = variant_features(extractor, crops, hv_train, progress)
        all_labels = np.unique(
            np.concatenate([people[tv.face], people[hv_train.face]]), return_inverse=True
        )[1]
        model, refit_losses = fit_head(
            pooled(np.concatenate([feats, f2])),
            np.concatenate([mu, m2]),
            all_labels,
            epochs=epochs,
            people_per_batch=people_per_batch,
            per_person=per_person,
            seed=seed,
            progress=progress,
            cancel=cancel,
        )
        if neg is not None:
            held_neg = nonface_features(extractor, result, held_people, nonfaces, seed + 1)
            gate = fit_gate(
                pooled(np.concatenate([feats, f2])),
                pooled(np.concatenate([neg, held_neg])),
                seed=seed,
            )
            model = with_gate(model, *gate)
    features = dict(getattr(extractor, "features", {"text": "AvgPool"}))
    size = int(crops.shape[1])
    record: dict[str, Any] = {
        "kind": "pfe-uncertainty-head",
        "model_id": result.model_id,
        "dataset": result.dataset,
        "align": result.align_key,
        "inputs": INPUTS_NOTE
        if features.get("layer") == "AvgPool" and size == 160
        else INPUTS_NOTE_SIZED,
        "input_size": size,
        "feature_layer": features["text"],
        "features": features,
        "embedding_dim": int(mu.shape[1]),
        "faces": int(len(crops)),
        "train_people": train_people,
        "heldout_people": held_people,
        "train_crops": int(len(tv)),
        "train_degradations": {k: int(np.sum(tv.kind == k)) for k in ("clean", *degrade.KINDS)},
        "heldout_crops": int(len(hv)),
        "heldout_nonface_crops": int(heldout_nonfaces),
        "levels": list(degrade.LEVELS),
        "nonface_crops": int(nonfaces),
        "face_check": (
            f"score = logistic face logit on the head's features ({len(tv)} face crops against "
            f"{nonfaces} non-face crops, nonface v{nonface.VERSION}) + MTCNN ONet's face logit; "
            f"below {FACE_SCORE:g}, sigma^2 grows by e^{GATE_SLOPE:g} per unit of score"
            if nonfaces
            else None
        ),
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
            N_("refit on every person after the held-out evaluation")
            if refit_all
            else N_("the split model (never saw the held-out people)")
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
        nonface_sigma2=UncertaintyHead(split_model, {}).sigma2(h_neg),
        nonface_kinds=h_neg_kinds,
    )
    record["heldout"] = heldout_figures(held)
    split_head = UncertaintyHead(split_model, {})
    faces_score, nf_score = split_head.face_score(h_feats), split_head.face_score(h_neg)
    if faces_score is not None and nf_score is not None:
        sharp = np.isin(hv.kind, ["clean", "blur"])
        record["face_score_threshold"] = FACE_SCORE
        record["heldout"]["nonface"]["face_score"] = {
            "clean_and_blurred_min": float(faces_score[sharp].min()),
            "every_face_min": float(faces_score.min()),
            "nonface_max": float(nf_score.max()),
        }
    record["seconds"] = round(time.perf_counter() - started, 2)
    if save:
        save_head(head, root)  # into result.model_id's own folder
    return head


def nonface_features(
    extractor: Any,
    result: Any,
    people: list[str],
    n: int,
    seed: int,
    progress: Progress | None = None,
    *,
    kinds: bool = False,
) -> Any:
    """Features of ``n`` non-face crops (backgrounds from ``people``'s photos), cached.

    The crops are made at the extractor's input size. With ``kinds`` returns ``(features, kinds)``.
    """
    import hashlib

    size = int(getattr(extractor, "size", nonface.SIZE))
    crops, made = nonface.make(
        n, seed=seed, backgrounds=nonface.backgrounds_of(result, people), size=size
    )

    def compute() -> dict[str, np.ndarray]:
        report = None
        if progress is not None:

            def report(done: int, total: int) -> None:
                progress(done, total, _("Embedding non-face crops"))

        return {"features": extractor(crops, progress=report)[0]}

    what = getattr(extractor, "tag", "facenet-avgpool")  # FaceNet's keys stay as they were
    prefix = f"nonface-v{nonface.VERSION}:{extractor.dim}:"
    tag = (prefix if what == "facenet-avgpool" else f"{prefix}{what}:").encode()
    key = hashlib.sha256(tag + crops.tobytes()).hexdigest()
    feats = cached("nonface", key[:24], compute)["features"]
    return (feats, made) if kinds else feats
