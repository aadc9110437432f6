"""int8 FaceNet: the quantisation recipe, its probe set, and the gate every int8 load passes.

The recipe (``RECIPE``) is one dict: how NNCF quantises (accuracy control on held-out
validation faces, the PERFORMANCE preset, statistics on 300 calibration images) and how the
calibration set is made from the demo's aligned crops (which share calibrates, which
validates, which is kept back as probes, and the variants each calibration crop
adds: its mirror, small shifts and rescales, and mild degradations). Its short hash
(``recipe_id``) names the build in the store key (``facenet@int8-<hash>``) and in
the cache folder, so two recipes never share embeddings or a converted model.

The probe set (``ProbeSet``) is made by ``facedash.faces.probe.demo_probe_set`` (this
layer reads no data set) and stored with the int8 build: every crop, its person,
its fp32 embedding and its role. ``gate`` (a pure function) then judges an int8
model from that stored data only: on the probe faces (used neither to calibrate nor
to validate) minimum cosine to fp32 at least ``MIN_COSINE`` and mean at least
``MIN_MEAN_COSINE``; over all stored crops' pairs, ROC-AUC within ``MAX_AUC_DELTA``
of fp32's, leave-one-out 1-NN identities unchanged, and at most
``MAX_DECISION_CHANGES`` of the pairs changing their same/different decision at
fp32's equal-error-rate threshold.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facedash.errors import FacedashError

MIN_COSINE = 0.99
MIN_MEAN_COSINE = 0.997
MAX_AUC_DELTA = 0.001
MAX_DECISION_CHANGES = 0.005
ROLES = ("calibration", "validation", "probe")

RECIPE: dict[str, Any] = {
    "method": "quantize_with_accuracy_control",
    "preset": "PERFORMANCE",
    "fast_bias_correction": True,  # full bias correction: +7 min here, and not needed
    "subset_size": 300,  # calibration images NNCF collects statistics on (of 858)
    "metric": "mean cosine to fp32 on the validation faces and their mirrors",
    "max_drop": 0.001,
    "calibration": {
        "set": "demo (5-celebrity-faces), every aligned crop, roles by person",
        # of each person's crops in sorted order: index % 10 -> role
        "split": {"calibration": [0, 1, 2, 3, 4], "validation": [5, 6], "probe": [7, 8, 9]},
        "variants": [
            "mirror",
            "shift:+6,0",
            "shift:-6,0",
            "shift:0,+6",
            "shift:0,-6",
            "scale:0.9",
            "scale:1.1",
            "blur:1.5",
            "jpeg:30",
            "noise:8",
            "dark:0.5",
            "downscale:0.4",
        ],
        "version": 1,
    },
}


def recipe_id(recipe: dict[str, Any] | None = None) -> str:
    """The recipe's short hash (8 hex digits): part of the store key and the cache folder."""
    blob = json.dumps(recipe or RECIPE, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:8]


class ProbeMismatch(FacedashError):
    """A stored probe set contradicts itself or its recipe."""


@dataclass(frozen=True)
class ProbeSet:
    """Aligned crops, their people and roles, and the calibration variants made from them."""

    crops: np.ndarray  # (N, 160, 160, 3) uint8
    people: np.ndarray  # (N,) str
    roles: np.ndarray  # (N,) str, one of ROLES
    variants: np.ndarray = field(default_factory=lambda: np.zeros((0, 160, 160, 3), np.uint8))

    def of(self, role: str) -> np.ndarray:
        """The crops with that role."""
        return self.crops[self.roles == role]

    def calibration_images(self) -> np.ndarray:
        """What NNCF calibrates on: the calibration crops and their variants."""
        return np.concatenate([self.of("calibration"), self.variants])

    def fingerprint(self) -> str:
        """SHA-256 of the calibration images (recorded with the build)."""
        digest = hashlib.sha256()
        for part in (self.calibration_images(), self.of("validation")):
            digest.update(np.ascontiguousarray(part).tobytes())
        return digest.hexdigest()

    def counts(self) -> dict[str, int]:
        """How many crops have each role, and how many calibration images in all."""
        out = {r: int(np.sum(self.roles == r)) for r in ROLES}
        out["calibration_images"] = out["calibration"] + len(self.variants)
        return out


def check_stored(
    crops: np.ndarray, people: np.ndarray, roles: np.ndarray, embeddings: np.ndarray
) -> None:
    """Raise ``ProbeMismatch`` (one line) when a stored probe contradicts itself."""
    n = len(crops)
    if not (len(people) == len(roles) == len(embeddings) == n):
        raise ProbeMismatch(
            f"the stored probe has {n} crops but {len(people)} people, {len(roles)} roles "
            f"and {len(embeddings)} fp32 embeddings"
        )
    unknown = sorted(set(map(str, roles)) - set(ROLES))
    if unknown:
        raise ProbeMismatch(f"the stored probe has unknown roles {unknown}")
    if not np.any(roles == "probe"):
        raise ProbeMismatch("the stored probe has no held-out probe faces")
    if len(set(map(str, people))) < 2:
        raise ProbeMismatch("the stored probe has fewer than two people: no impostor pairs")
    norms = np.linalg.norm(embeddings, axis=1)
    if not np.all(np.isfinite(norms)) or np.any(np.abs(norms - 1.0) > 1e-3):
        raise ProbeMismatch("the stored fp32 embeddings are not unit vectors")


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _pairs(e: np.ndarray, people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    iu = np.triu_indices(len(e), 1)
    return (e @ e.T)[iu], (people[:, None] == people[None, :])[iu]


def auc(scores: np.ndarray, same: np.ndarray) -> float:
    """ROC-AUC of genuine over impostor scores (ties count one half)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    g = int(same.sum())
    i = len(same) - g
    if g == 0 or i == 0:
        return float("nan")
    return float((ranks[same].sum() - g * (g + 1) / 2) / (g * i))


def eer_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The score where the false match and false non-match rates cross (the midpoint)."""
    candidates = np.unique(scores)
    gen, imp = np.sort(scores[same]), np.sort(scores[~same])
    fnmr = np.searchsorted(gen, candidates, side="left") / max(len(gen), 1)
    fmr = 1.0 - np.searchsorted(imp, candidates, side="left") / max(len(imp), 1)
    k = int(np.argmin(np.abs(fnmr - fmr)))
    return float(candidates[k])


def loo_predictions(e: np.ndarray, people: np.ndarray) -> np.ndarray:
    """Each face's nearest other face's person (leave-one-out 1-NN)."""
    sim = e @ e.T
    np.fill_diagonal(sim, -np.inf)
    return people[np.argmax(sim, axis=1)]


@dataclass(frozen=True)
class Gate:
    """How an int8 model's embeddings compare with fp32's on the stored probe set."""

    probe_faces: int
    min_cosine: float
    mean_cosine: float
    pairs: int
    auc: float
    auc_fp32: float
    loo_changes: int
    decision_changes: float
    threshold: float
    counts: dict[str, int] = field(default_factory=dict)
    recipe: str = ""

    @property
    def auc_delta(self) -> float:
        """int8's AUC minus fp32's."""
        return self.auc - self.auc_fp32

    def failures(self) -> list[str]:
        """Each figure outside its bound, in words (empty: passed)."""
        out = []
        if not self.min_cosine >= MIN_COSINE:  # NaN fails too
            out.append(f"min cosine {self.min_cosine:.4f} < {MIN_COSINE}")
        if not self.mean_cosine >= MIN_MEAN_COSINE:
            out.append(f"mean cosine {self.mean_cosine:.4f} < {MIN_MEAN_COSINE}")
        if not abs(self.auc_delta) <= MAX_AUC_DELTA:
            out.append(f"AUC moved {self.auc_delta:+.4f} (bound {MAX_AUC_DELTA})")
        if self.loo_changes:
            out.append(f"{self.loo_changes} leave-one-out identities changed")
        if not self.decision_changes <= MAX_DECISION_CHANGES:
            out.append(
                f"{self.decision_changes:.2%} of pairs changed decision "
                f"(bound {MAX_DECISION_CHANGES:.1%})"
            )
        return out

    @property
    def passed(self) -> bool:
        """Every figure within its bound."""
        return not self.failures()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``doctor --json``)."""
        return {
            "recipe": self.recipe,
            "counts": self.counts,
            "probe_faces": self.probe_faces,
            "min_cosine": round(self.min_cosine, 6),
            "mean_cosine": round(self.mean_cosine, 6),
            "pairs": self.pairs,
            "auc": round(self.auc, 6),
            "auc_fp32": round(self.auc_fp32, 6),
            "auc_delta": round(self.auc_delta, 6),
            "loo_changes": self.loo_changes,
            "decision_changes": round(self.decision_changes, 6),
            "eer_threshold_fp32": round(self.threshold, 6),
            "bounds": {
                "min_cosine": MIN_COSINE,
                "mean_cosine": MIN_MEAN_COSINE,
                "auc_delta": MAX_AUC_DELTA,
                "loo_changes": 0,
                "decision_changes": MAX_DECISION_CHANGES,
            },
            "failures": self.failures(),
            "passed": self.passed,
        }


def gate(
    embeddings: np.ndarray,
    reference: np.ndarray,
    people: np.ndarray,
    probe: np.ndarray,
    *,
    counts: dict[str, int] | None = None,
    recipe: str = "",
) -> Gate:
    """Judge ``embeddings`` (int8) against ``reference`` (fp32) of the same faces.

    ``probe`` marks the faces used neither to calibrate nor to validate: the cosine
    bounds apply to them; the pair figures use every face.
    """
    a, b = _unit(embeddings), _unit(reference)
    people = np.asarray(people).astype(str)
    probe = np.asarray(probe, dtype=bool)
    cos = np.sum(a * b, axis=1)[probe]
    sa, same = _pairs(a, people)
    sb, _ = _pairs(b, people)
    t = eer_threshold(sb, same)
    changes = float(np.mean((sa >= t) != (sb >= t))) if len(sa) else 0.0
    loo = int(np.sum(loo_predictions(a, people) != loo_predictions(b, people)))
    return Gate(
        probe_faces=int(probe.sum()),
        min_cosine=float(cos.min()) if len(cos) else float("nan"),
        mean_cosine=float(cos.mean()) if len(cos) else float("nan"),
        pairs=len(sa),
        auc=auc(sa, same),
        auc_fp32=auc(sb, same),
        loo_changes=loo,
        decision_changes=changes,
        threshold=t,
        counts=dict(counts or {}),
        recipe=recipe,
    )


def quantise(
    model: Any,
    probe: ProbeSet,
    validation_reference: np.ndarray,
    prewhiten: Any,
    recipe: dict[str, Any] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """``model`` (OpenVINO, fp32) quantised by ``recipe`` on ``probe``; and what NNCF did.

    ``validation_reference`` holds the fp32 embeddings of the validation crops
    followed by their mirrors' (the accuracy-control metric compares against them).
    """
    with _nncf_output_to_stderr():
        return _quantise(model, probe, validation_reference, prewhiten, recipe or RECIPE)


@contextlib.contextmanager
def _nncf_output_to_stderr() -> Iterator[None]:
    """NNCF logs and draws progress bars on stdout; a CLI's ``--json`` owns stdout."""
    import logging
    import sys

    from nncf.common.logging import nncf_logger

    handlers = [h for h in nncf_logger.handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.stream for h in handlers]
    for h in handlers:
        h.setStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for h, stream in zip(handlers, streams, strict=True):
            h.setStream(stream)


def _quantise(
    model: Any,
    probe: ProbeSet,
    validation_reference: np.ndarray,
    prewhiten: Any,
    r: dict[str, Any],
) -> tuple[Any, dict[str, Any]]:
    import nncf

    calibration = prewhiten(probe.calibration_images())
    validation = probe.of("validation")
    validation = prewhiten(np.concatenate([validation, validation[:, :, ::-1]]))
    calib_ds = nncf.Dataset([calibration[i : i + 1] for i in range(len(calibration))])
    preset = getattr(nncf.QuantizationPreset, r["preset"])
    if r["method"] != "quantize_with_accuracy_control":
        return nncf.quantize(
            model,
            calib_ds,
            preset=preset,
            subset_size=min(len(calibration), r.get("subset_size", len(calibration))),
            fast_bias_correction=r["fast_bias_correction"],
        ), {}
    ref = _unit(validation_reference)
    items = [(validation[i : i + 1], ref[i]) for i in range(len(validation))]

    def validate(compiled: Any, data: Any) -> tuple[float, list[float]]:
        cos = []
        for x, want in data:
            got = np.asarray(next(iter(compiled(x).values())))[0]
            cos.append(float(got @ want / max(float(np.linalg.norm(got)), 1e-12)))
        return float(np.mean(cos)), cos

    quantised = nncf.quantize_with_accuracy_control(
        model,
        calib_ds,
        nncf.Dataset(items, lambda item: item[0]),
        validate,
        max_drop=r["max_drop"],
        preset=preset,
        subset_size=min(len(calibration), r.get("subset_size", len(calibration))),
        fast_bias_correction=r["fast_bias_correction"],
    )
    fq = sum(op.get_type_name() == "FakeQuantize" for op in quantised.get_ops())
    return quantised, {"fake_quantize_ops": int(fq)}
