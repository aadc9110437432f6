"""Validity figures of an uncertainty head on held-out people: pure numpy over arrays.

* ``degradation_trend``: Spearman correlation between degradation strength and the mean
  ``sigma^2`` of held-out faces, per kind and pooled over faces;
* ``clean_vs_degraded_auc``: ROC-AUC of cosine and of MLS on (degraded probe, clean gallery)
  pairs of different photos;
* ``risk_control``: TAR at a fixed FAR (cosine score) as the lowest-quality fraction of faces
  is rejected, for any quality ranking (PFE confidence, detector score, ...);
* ``nonface_order``: whether every non-face crop gets a lower confidence than every blurred
  face, and on how many faces clean > most blurred > every non-face holds.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from facedash.pfe.mls import confidence, pairwise_mls_scores

REJECT_GRID = tuple(np.round(np.arange(0.0, 0.51, 0.05), 2))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); nan if either is constant."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def degradation_trend(
    sigma2: np.ndarray, kinds: np.ndarray, strengths: np.ndarray, source: np.ndarray
) -> dict[str, object]:
    """How mean ``sigma^2`` follows degradation strength.

    ``kinds[n]`` is the degradation of item ``n`` ("clean" for none), ``strengths[n]`` its
    strength, ``source[n]`` the clean face it came from. Per kind, the clean items count as
    strength 0. Returns the per-kind Spearman of strength vs the mean over faces (``by_kind``),
    their mean (``spearman``), and the Spearman over every single item (``per_face``).
    """
    kinds = np.asarray(kinds, dtype=object)
    strengths = np.asarray(strengths, dtype=float)
    mean_s2 = np.asarray(sigma2, dtype=float).mean(axis=1)
    clean = kinds == "clean"
    by_kind: dict[str, float] = {}
    curves: dict[str, list[tuple[float, float]]] = {}
    per_face: list[float] = []
    for kind in sorted(set(kinds[~clean].tolist())):
        sel = (kinds == kind) | clean
        levels = np.unique(strengths[sel])
        means = np.array([mean_s2[sel & (strengths == lv)].mean() for lv in levels])
        by_kind[kind] = spearman(levels, means)
        curves[kind] = [(float(a), float(b)) for a, b in zip(levels, means, strict=True)]
        for src in np.unique(np.asarray(source)[sel]):
            one = sel & (np.asarray(source) == src)
            per_face.append(spearman(strengths[one], mean_s2[one]))
    levels = np.unique(strengths)
    pooled = np.array([mean_s2[strengths == lv].mean() for lv in levels])
    face_vals = [v for v in per_face if np.isfinite(v)]
    return {
        "spearman": spearman(levels, pooled),
        "pooled_curve": [(float(a), float(b)) for a, b in zip(levels, pooled, strict=True)],
        "by_kind": by_kind,
        "per_face_median": float(np.median(face_vals)) if face_vals else float("nan"),
        "curves": curves,
    }


def cross_pairs(
    probe: np.ndarray, gallery: np.ndarray, source: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """All (probe, gallery) index pairs whose items come from different photos."""
    pp, gg = np.meshgrid(np.flatnonzero(probe), np.flatnonzero(gallery), indexing="ij")
    p, g = pp.ravel(), gg.ravel()
    keep = np.asarray(source)[p] != np.asarray(source)[g]
    return p[keep], g[keep]


def clean_vs_degraded_auc(
    mu: np.ndarray,
    sigma2: np.ndarray,
    people: np.ndarray,
    kinds: np.ndarray,
    source: np.ndarray,
) -> dict[str, float]:
    """ROC-AUC of cosine and MLS on (degraded probe, clean gallery) pairs of different photos."""
    from sklearn.metrics import roc_auc_score

    kinds = np.asarray(kinds, dtype=object)
    people = np.asarray(people)
    i, j = cross_pairs(kinds != "clean", kinds == "clean", source)
    labels = people[i] == people[j]
    if labels.all() or not labels.any():
        return {"auc_cosine": float("nan"), "auc_mls": float("nan"), "pairs": int(len(i))}
    cos = np.sum(mu[i] * mu[j], axis=1)
    mls = pairwise_mls_scores(mu, sigma2, i, j)
    return {
        "auc_cosine": float(roc_auc_score(labels, cos)),
        "auc_mls": float(roc_auc_score(labels, mls)),
        "pairs": int(len(i)),
        "genuine": int(labels.sum()),
    }


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> float:
    """TAR at the threshold that accepts at most ``far`` of the impostor scores."""
    if len(genuine) == 0 or len(impostor) == 0:
        return float("nan")
    imp = np.sort(np.asarray(impostor))[::-1]
    k = int(np.floor(far * len(imp)))
    threshold = imp[k] if k < len(imp) else -np.inf
    return float(np.mean(np.asarray(genuine) > threshold))


def risk_control(
    scores_pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    same: np.ndarray,
    quality: Mapping[str, np.ndarray],
    *,
    far: float = 0.01,
    fractions: tuple[float, ...] = REJECT_GRID,
) -> dict[str, list[float]]:
    """TAR@FAR as the lowest-quality fraction of items is rejected, for each quality ranking.

    ``scores_pairs = (i, j, score)`` lists every pair considered, ``same`` whether it is
    genuine. For fraction ``r`` the ``floor(r N)`` items with the lowest quality (ties broken
    by index) are dropped, with every pair that touches them.
    """
    i, j, score = scores_pairs
    same = np.asarray(same, dtype=bool)
    out: dict[str, list[float]] = {"fraction": [float(f) for f in fractions]}
    for name, q in quality.items():
        q = np.asarray(q, dtype=float)
        n = len(q)
        rank = np.empty(n, dtype=np.int64)
        rank[np.lexsort((np.arange(n), q))] = np.arange(n)  # 0 = lowest quality
        curve = []
        for f in fractions:
            cut = int(np.floor(f * n))
            keep = (rank[i] >= cut) & (rank[j] >= cut)
            curve.append(tar_at_far(score[keep & same], score[keep & ~same], far))
        out[name] = curve
    return out


def pfe_quality(sigma2: np.ndarray) -> np.ndarray:
    """The PFE quality used for ranking: ``confidence(sigma2)``."""
    return confidence(sigma2)


def dilemma(
    mu: np.ndarray,
    sigma2: np.ndarray,
    people: np.ndarray,
    kinds: np.ndarray,
    strengths: np.ndarray,
    source: np.ndarray,
) -> dict[str, dict[str, list[float]]]:
    """Mean genuine and impostor scores (cosine and MLS) when both faces share one degradation.

    For each kind and level, the pairs are the items of that kind and level (the clean items
    at level 0), of different photos. Returns, per kind, ``level`` and the mean and standard
    deviation of ``{cosine,mls}_{genuine,impostor}``.
    """
    kinds = np.asarray(kinds, dtype=object)
    strengths = np.asarray(strengths, dtype=float)
    people = np.asarray(people)
    source = np.asarray(source)
    out: dict[str, dict[str, list[float]]] = {}
    clean = kinds == "clean"
    for kind in sorted(set(kinds[~clean].tolist())):
        rows: dict[str, list[float]] = {"level": []}
        for lv in np.unique(strengths[(kinds == kind) | clean]):
            sel = clean if lv == 0 else (kinds == kind) & (strengths == lv)
            i, j = cross_pairs(sel, sel, source)
            upper = i < j
            i, j = i[upper], j[upper]
            same = people[i] == people[j]
            cos = np.sum(mu[i] * mu[j], axis=1)
            mls = pairwise_mls_scores(mu, sigma2, i, j)
            rows["level"].append(float(lv))
            for name, s in (("cosine", cos), ("mls", mls)):
                for tag, m in (("genuine", same), ("impostor", ~same)):
                    rows.setdefault(f"{name}_{tag}", []).append(
                        float(s[m].mean()) if m.any() else float("nan")
                    )
                    rows.setdefault(f"{name}_{tag}_std", []).append(
                        float(s[m].std()) if m.any() else float("nan")
                    )
        out[kind] = rows
    return out


def nonface_order(
    conf: np.ndarray,
    kinds: np.ndarray,
    strengths: np.ndarray,
    source: np.ndarray,
    nonface_conf: np.ndarray,
    nonface_kinds: np.ndarray,
) -> dict[str, object]:
    """Faces (clean and blurred at every level) against non-face crops, by confidence.

    ``conf``, ``kinds``, ``strengths``, ``source`` describe the face crops (``source``: the
    clean face each came from). A face is *ordered* when its clean crop is more confident
    than its most blurred copy, and that copy more confident than every non-face crop.
    """
    conf = np.asarray(conf, dtype=float)
    kinds = np.asarray(kinds, dtype=object)
    strengths = np.asarray(strengths, dtype=float)
    source = np.asarray(source)
    nf = np.asarray(nonface_conf, dtype=float)
    nf_kinds = np.asarray(nonface_kinds, dtype=object)
    blurred = kinds == "blur"
    top = strengths[blurred].max() if blurred.any() else float("nan")
    ordered, faces = 0, 0
    for s in np.unique(source[blurred]):
        clean = conf[(source == s) & (kinds == "clean")]
        most = conf[(source == s) & blurred & (strengths == top)]
        if len(clean) and len(most):
            faces += 1
            ordered += int(clean.min() > most.max() > nf.max())
    lowest = float(conf[blurred].min()) if blurred.any() else float("nan")
    return {
        "crops": int(len(nf)),
        "max_confidence": float(nf.max()),
        "min_blurred_confidence": lowest,
        "below_every_blurred": bool(nf.max() < lowest),
        "by_kind": {
            str(k): {
                "crops": int((nf_kinds == k).sum()),
                "max": float(nf[nf_kinds == k].max()),
                "median": float(np.median(nf[nf_kinds == k])),
            }
            for k in sorted(set(nf_kinds.tolist()))
        },
        "blur_level": float(top),
        "faces": faces,
        "faces_ordered": ordered,
    }
