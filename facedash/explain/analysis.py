"""One call from faces to everything the page and the CLI show beside a map.

``analyse`` explains aligned faces with one method, layer and target, then
measures each map: the display heat (min-max scaled), the region shares of that
heat, and the deletion curves against a random order. ``set_average`` averages
aligned heat maps over the whole set and per person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from facedash.explain.base import Explanation, prepare_of
from facedash.explain.faithfulness import DeletionCurves, deletion_curves
from facedash.explain.methods import make
from facedash.explain.overlay import normalize
from facedash.explain.regions import REGIONS, area_shares, region_labels, region_shares
from facedash.explain.targets import Target


@dataclass
class Analysis:
    """Maps of N faces and what is measured beside each."""

    explanation: Explanation
    heat: np.ndarray  # (N, S, S) in [0, 1]
    labels: np.ndarray  # (N, S, S) region labels
    shares: np.ndarray  # (N, 4) mass shares (eyes, nose, mouth, other)
    areas: np.ndarray  # (N, 4) area shares
    curves: DeletionCurves | None

    def records(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        """One flat record per face (the CSV download and the CLI's JSON)."""
        e = self.explanation
        out = []
        for i in range(len(self.heat)):
            rec: dict[str, Any] = {
                "face": names[i] if names else i,
                "method": e.method,
                "layer": e.layer,
                "target": e.target,
                "score": float(e.scores[i]),
            }
            rec.update(
                {f"share_{r}": float(v) for r, v in zip(REGIONS, self.shares[i], strict=True)}
            )
            rec.update({f"area_{r}": float(v) for r, v in zip(REGIONS, self.areas[i], strict=True)})
            if self.curves is not None:
                rec["deletion_auc"] = float(self.curves.auc[i])
                rec["random_deletion_auc"] = float(self.curves.random_auc[i])
            out.append(rec)
        return out


def heat_of(maps: np.ndarray) -> np.ndarray:
    """Per-map min-max scaled heat ``(N, S, S)`` in [0, 1] (what the overlay shows)."""
    return np.stack([normalize(m) for m in np.asarray(maps)]).astype(np.float32)


def analyse(
    model: Any,
    faces: np.ndarray,
    landmarks: np.ndarray,
    *,
    method: str,
    layer: str | None,
    target: Target,
    steps: int = 10,
    deletion: bool = True,
    options: dict[str, Any] | None = None,
) -> Analysis:
    """Explain aligned uint8 ``faces (N, S, S, 3)`` whose aligned landmarks are ``(N, 5, 2)``."""
    explainer = make(method, model, layer=layer, **(options or {}))
    e = explainer.explain(faces, target)
    heat = heat_of(e.maps)
    size = heat.shape[1]
    lms = np.asarray(landmarks, dtype=np.float64).reshape(len(heat), 5, 2)
    labels = np.stack([region_labels(lm, size) for lm in lms])
    curves = (
        deletion_curves(model, prepare_of(model)(faces), heat, e.weights, steps=steps)
        if deletion
        else None
    )
    return Analysis(e, heat, labels, region_shares(heat, labels), area_shares(labels), curves)


def set_average(heat: np.ndarray, landmarks: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    """Mean heat over all faces and per group, with the region shares of each mean.

    Returns ``{"names": [...], "maps": (G, S, S), "shares": (G, 4), "areas": (G, 4),
    "counts": (G,)}`` with ``"All faces"`` first. The regions of a mean map come from
    the group's mean aligned landmarks.
    """
    heat = np.asarray(heat, dtype=np.float64)
    groups = np.asarray(groups, dtype=object)
    lms = np.asarray(landmarks, dtype=np.float64)
    names = ["All faces", *sorted(set(groups.tolist()))]
    masks = [np.ones(len(heat), bool)] + [groups == g for g in names[1:]]
    member = np.stack(masks).astype(np.float64)  # (G, N)
    counts = member.sum(axis=1)
    maps = np.einsum("gn,nhw->ghw", member, heat) / counts[:, None, None]
    mean_lm = np.einsum("gn,npc->gpc", member, lms) / counts[:, None, None]
    size = heat.shape[1]
    labels = np.stack([region_labels(lm, size) for lm in mean_lm])
    return {
        "names": names,
        "maps": maps.astype(np.float32),
        "shares": region_shares(maps, labels),
        "areas": area_shares(labels),
        "counts": counts.astype(int),
    }
