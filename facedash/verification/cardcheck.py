"""Does a model card fit its model? The demo faces through it, and the other cards tried when not.

``check_model`` embeds the demo set with a registered model (through the store, as every job
does) and reports what a face model should show on it: the embedding size, the norms before
L2 normalisation, leave-one-out 1-NN accuracy, ROC-AUC over every pair, faces per second.
FaceNet and dlib get 100% leave-one-out and AUC above 0.99 on these faces. The other
preparations (channel order, normalisation, and layout where the input allows both) are
tried on the same aligned faces and ranked by leave-one-out, then by decidability
d' = (mean genuine − mean impostor score) / sqrt((var genuine + var impostor) / 2). The card is
probably wrong when its leave-one-out falls far below a face model's, or when another
preparation separates the people clearly better (d' more than ``D_PRIME_MARGIN`` higher);
the best one is then named with the flags that would give it. Among near-equals (d' within
``TIE``) the one that changes fewest flags is named. Five people are a small set: a face model
is robust enough that a slightly wrong normalisation still separates them, so only a clear
gap is called wrong.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from facedash.data.datasets import load_demo
from facedash.data.images import decode_jpeg
from facedash.data.store import Store
from facedash.faces.pipeline import embed_dataset
from facedash.models.cards import ModelSpec, spec
from facedash.models.registry import get_model
from facedash.models.user import prepare
from facedash.verification.pairs import all_pairs
from facedash.verification.sweep import sweep

PLAUSIBLE_LOO = 0.9  # below this on the demo faces a face model's card is probably wrong
D_PRIME_MARGIN = 0.04  # another preparation this much more decidable: the card is probably wrong
TIE = 0.02
NORMALIZATIONS = ("prewhiten", "127.5,127.5", "127.5,128", "unit", "0,1")


@dataclass
class CardCheck:
    """What the demo faces say about a model and its card."""

    model: str
    faces: int
    dim: int
    norm_mean: float
    norm_min: float
    norm_max: float
    loo_1nn: float
    auc: float
    d_prime: float
    faces_per_second: float
    plausible: bool
    tried: list[dict[str, Any]] = field(default_factory=list)
    suggestion: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def loo_and_auc(embeddings: np.ndarray, people: np.ndarray, metric: str) -> tuple[float, float]:
    """Leave-one-out 1-NN accuracy and ROC-AUC over every pair, under ``metric``."""
    loo, auc, _ = separation(embeddings, people, metric)
    return loo, auc


def separation(
    embeddings: np.ndarray, people: np.ndarray, metric: str
) -> tuple[float, float, float]:
    """Leave-one-out 1-NN accuracy, ROC-AUC over every pair and decidability d', under ``metric``."""
    x = np.asarray(embeddings, dtype=np.float64)
    if metric == "cosine":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        sims = x @ x.T
    else:
        sq = (x**2).sum(1)
        sims = -np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0))
    pairs = all_pairs(people)
    scores = sims[pairs.i, pairs.j]
    same = np.asarray(pairs.same, dtype=bool)
    auc = sweep(scores, same).auc if same.any() and (~same).any() else float("nan")
    d_prime = float("nan")
    if same.sum() > 1 and (~same).sum() > 1:
        spread = np.sqrt((scores[same].var() + scores[~same].var()) / 2)
        d_prime = float((scores[same].mean() - scores[~same].mean()) / max(spread, 1e-12))
    np.fill_diagonal(sims, -np.inf)
    loo = float((people[sims.argmax(1)] == people).mean())
    return loo, float(auc), d_prime


def _flags(card: ModelSpec, base: ModelSpec) -> str:
    """The ``models add`` flags that turn ``base``'s preparation into ``card``'s."""
    out: list[str] = []
    if card.layout != base.layout:
        out.append(f"--layout {card.layout}")
    if card.channels != base.channels:
        out.append(f"--channels {card.channels}")
    if card.normalize != base.normalize:
        out.append(f"--normalize {card.normalize}")
    return " ".join(out)


def alternatives(
    card: ModelSpec, embedder: Any, crops: np.ndarray, people: np.ndarray
) -> list[dict[str, Any]]:
    """Every channel order and normalisation (and layout, where the input allows both) on ``crops``."""
    shape = tuple(getattr(embedder.session, "input_shape", ()))
    layouts = [card.layout]
    if len(shape) == 4 and shape[1] in (3, None) and shape[3] in (3, None):
        layouts = ["nhwc", "nchw"]
    out: list[dict[str, Any]] = []
    for layout, channels, normalize in itertools.product(layouts, ("rgb", "bgr"), NORMALIZATIONS):
        trial = replace(card, layout=layout, channels=channels, normalize=normalize)
        try:
            raw = embedder.session.run(prepare(trial, crops), card.output).reshape(len(crops), -1)
        except Exception:  # noqa: BLE001 - a layout the model refuses is simply not a fit
            continue
        if not np.isfinite(raw).all():
            continue
        loo, auc, d_prime = separation(raw, people, card.metric)
        flags = _flags(trial, card)
        out.append(
            {
                "layout": layout,
                "channels": channels,
                "normalize": normalize,
                "loo_1nn": loo,
                "auc": auc,
                "d_prime": d_prime,
                "flags": flags,
                "changes": flags.count("--"),
            }
        )
    out.sort(key=lambda r: (-r["loo_1nn"], -r["d_prime"]))
    return out


def best_of(tried: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The best preparation: top leave-one-out, and among near-equal d' the fewest changed flags."""
    if not tried:
        return None
    top = tried[0]
    near = [
        r
        for r in tried
        if r["loo_1nn"] == top["loo_1nn"] and r["d_prime"] >= top["d_prime"] * (1 - TIE)
    ]
    return min(near, key=lambda r: (r["changes"], -r["d_prime"]))


def check_model(
    model_id: str, *, store: Store | None = None, root: Path | None = None
) -> CardCheck:
    """Embed the demo faces with ``model_id`` and judge its card (see the module docstring)."""
    card = spec(model_id, root)
    embedder = get_model(model_id, root)
    result = embed_dataset(
        load_demo(root), model_id=model_id, store=store or Store(), backend="auto"
    )
    thumbs = {i: t for i, t in enumerate(result.thumbs) if t is not None}
    keep = list(thumbs)
    people = np.asarray(result.people)[keep]
    crops = np.stack([decode_jpeg(thumbs[i]) for i in keep])
    t0 = time.perf_counter()
    raw = embedder.embed(crops)
    seconds = max(time.perf_counter() - t0, 1e-9)
    norms = getattr(embedder, "last_norms", None)
    norms = np.linalg.norm(raw, axis=1) if norms is None else np.asarray(norms)
    loo, auc, d_prime = separation(np.asarray(result.embeddings)[keep], people, card.metric)
    check = CardCheck(
        model=model_id,
        faces=len(people),
        dim=int(result.embeddings.shape[1]),
        norm_mean=float(norms.mean()),
        norm_min=float(norms.min()),
        norm_max=float(norms.max()),
        loo_1nn=loo,
        auc=auc,
        d_prime=d_prime,
        faces_per_second=len(crops) / seconds,
        plausible=loo >= PLAUSIBLE_LOO,
    )
    if hasattr(embedder, "session"):  # a user's model: its runtime can take other preparations
        check.tried = alternatives(card, embedder, crops, people)
        best = best_of(check.tried)
        clearly_better = best is not None and (
            best["loo_1nn"] > loo or best["d_prime"] > d_prime * (1 + D_PRIME_MARGIN)
        )
        if best is not None and best["flags"] and clearly_better:
            check.plausible = False
            check.suggestion = best
    return check
