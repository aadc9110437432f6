"""Pair maps judged the field's way over a set's pairs: decision flips, deletion and insertion.

``measure`` judges a pair method (``facedash.explain.pairs``) over a sample of pairs as xSSAB's
Patch-LFW protocol and the deletion/insertion literature do, at one threshold ``t``:

* **decision flip at k %**: on both faces replace the top k % pixels of each face's own map by
  the blurred face; the *genuine* flip rate is the share of the genuine pairs accepted before
  (``s >= t``) that are rejected after, with the similar maps; the *impostor* flip rate the share
  of the impostor pairs rejected before that are accepted after, with the dissimilar maps. The
  same rates for random pixels (seeded) are the reference: a map that flips decisions faster
  than random pixels points at what the decision rests on.
* **deletion / insertion areas** (genuine pairs): the pair's score as each face's pixels are
  blurred most-important first (deletion), or restored most-important first into the blurred
  faces (insertion), normalised by the pair's own clean score, over 0 … 100 % in ten steps;
  the trapezoid area. Lower deletion and higher insertion are better; the random order's
  deletion area is the reference.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facedash.explain.corrrise import PairMaps, blurred
from facedash.explain.pairs import DEFAULT_MASKS, PAIR_METHODS, SIGNED, WHITE_BOX, Embed, pair_maps

KS = (5, 10, 20, 30, 50)  # percent of each face's pixels replaced, for the decision flips
STEPS = 10  # deletion / insertion curve steps


def order_of(heat: np.ndarray) -> np.ndarray:
    """Pixel indices, most important first (ties in row order)."""
    return np.argsort(-np.asarray(heat).ravel(), kind="stable")


def replace_first(
    face: np.ndarray, blur: np.ndarray, order: np.ndarray, fraction: float
) -> np.ndarray:
    """``face`` with the first ``round(fraction * S²)`` pixels of ``order`` taken from ``blur``."""
    n = int(round(fraction * len(order)))
    out = face.reshape(-1, face.shape[-1]).copy()
    out[order[:n]] = blur.reshape(-1, face.shape[-1])[order[:n]]
    return out.reshape(face.shape)


def restore_first(
    face: np.ndarray, blur: np.ndarray, order: np.ndarray, fraction: float
) -> np.ndarray:
    """``blur`` with the first ``round(fraction * S²)`` pixels of ``order`` taken from ``face``."""
    return replace_first(blur, face, order, fraction)


def _cos(ea: np.ndarray, eb: np.ndarray) -> np.ndarray:
    ea = ea / np.maximum(np.linalg.norm(ea, axis=1, keepdims=True), 1e-12)
    eb = eb / np.maximum(np.linalg.norm(eb, axis=1, keepdims=True), 1e-12)
    return np.sum(ea * eb, axis=1)


@dataclass
class PairRecord:
    """One pair's scores under a method's maps and under random pixels."""

    genuine: bool
    score: float  # the clean pair's cosine
    flipped: dict[int, float]  # k -> the pair's score with each face's top k % replaced
    random: dict[int, float]  # k -> the same with random pixels
    deletion: float | None = None  # areas (genuine pairs)
    insertion: float | None = None
    random_deletion: float | None = None
    seconds: float = 0.0  # the maps' time


def score_pair(
    embed: Embed,
    a: np.ndarray,
    b: np.ndarray,
    maps: PairMaps,
    genuine: bool,
    rng: np.random.Generator,
    *,
    signed: bool,
    ks: Sequence[int] = KS,
    steps: int = STEPS,
) -> PairRecord:
    """Every modified copy of the pair through the model in one batch per face (see the docstring)."""
    ba, bb = blurred(a), blurred(b)
    n = a.shape[0] * a.shape[1]
    heat = maps.similar if genuine else maps.dissimilar
    use_maps = genuine or signed
    orders = (order_of(heat[0]), order_of(heat[1])) if use_maps else None
    rand = (rng.permutation(n), rng.permutation(n))
    xa: list[np.ndarray] = [a]
    xb: list[np.ndarray] = [b]
    for k in ks:
        if orders is not None:
            xa.append(replace_first(a, ba, orders[0], k / 100))
            xb.append(replace_first(b, bb, orders[1], k / 100))
        xa.append(replace_first(a, ba, rand[0], k / 100))
        xb.append(replace_first(b, bb, rand[1], k / 100))
    fractions = np.linspace(0, 1, steps + 1)
    if genuine:
        for ords, fn in ((orders, replace_first), (orders, restore_first), (rand, replace_first)):
            assert ords is not None
            xa.extend(fn(a, ba, ords[0], f) for f in fractions)
            xb.extend(fn(b, bb, ords[1], f) for f in fractions)
    scores = _cos(embed(np.stack(xa)), embed(np.stack(xb)))
    clean, pos = float(scores[0]), 1
    flipped: dict[int, float] = {}
    random: dict[int, float] = {}
    for k in ks:
        if orders is not None:
            flipped[k] = float(scores[pos])
            pos += 1
        random[k] = float(scores[pos])
        pos += 1
    record = PairRecord(genuine, clean, flipped, random, seconds=maps.seconds)
    if genuine:
        m = steps + 1
        norm = clean if abs(clean) > 1e-9 else 1.0
        curves = [scores[pos + j * m : pos + (j + 1) * m] / norm for j in range(3)]
        record.deletion, record.insertion, record.random_deletion = (
            float(np.trapezoid(c, fractions)) for c in curves
        )
    return record


def flip_rate(before: np.ndarray, after: np.ndarray, threshold: float, genuine: bool) -> float:
    """Genuine: the share of pairs accepted before (``>= t``) rejected after; impostor: the reverse.

    NaN when no pair had the decision that could flip.
    """
    before, after = np.asarray(before), np.asarray(after)
    if genuine:
        eligible = before >= threshold
        flipped = eligible & (after < threshold)
    else:
        eligible = before < threshold
        flipped = eligible & (after >= threshold)
    count = int(eligible.sum())
    return float(flipped.sum() / count) if count else float("nan")


@dataclass
class MethodFigures:
    """A method's yardsticks over the sampled pairs (the ``explain-pairs`` JSON per method)."""

    flip: dict[str, float]
    random_flip: dict[str, float]
    impostor_flip: dict[str, float] | None
    random_impostor_flip: dict[str, float] | None
    deletion_auc: float
    insertion_auc: float
    random_deletion_auc: float
    ms_per_pair: float  # the median time of a pair's maps
    randomization: float | None = None  # Spearman ρ of the maps under a randomized model
    pairs: list[PairRecord] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "pairs"}
        return out


def _rates(
    records: list[PairRecord], key: str, threshold: float, genuine: bool
) -> dict[str, float]:
    kept = [r for r in records if r.genuine == genuine]
    before = np.array([r.score for r in kept])
    out = {}
    for k in KS:
        after = np.array([getattr(r, key)[k] for r in kept])
        out[str(k)] = flip_rate(before, after, threshold, genuine)
    return out


def summarise(records: list[PairRecord], threshold: float, signed: bool) -> MethodFigures:
    """The table row of one method from its pairs' records."""
    genuine = [r for r in records if r.genuine]
    has_impostors = signed and any(not r.genuine for r in records)
    # the median: the first pair of a method also pays for compiling its TensorFlow functions
    ms = 1000 * float(np.median([r.seconds for r in records])) if records else float("nan")
    return MethodFigures(
        flip=_rates(records, "flipped", threshold, True),
        random_flip=_rates(records, "random", threshold, True),
        impostor_flip=_rates(records, "flipped", threshold, False) if has_impostors else None,
        random_impostor_flip=_rates(records, "random", threshold, False) if has_impostors else None,
        deletion_auc=float(np.mean([r.deletion for r in genuine])) if genuine else float("nan"),
        insertion_auc=float(np.mean([r.insertion for r in genuine])) if genuine else float("nan"),
        random_deletion_auc=(
            float(np.mean([r.random_deletion for r in genuine])) if genuine else float("nan")
        ),
        ms_per_pair=ms,
        pairs=records,
    )


def sample_pairs(
    people: Sequence[str], n: int | None, seed: int = 0
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """A seeded sample of ``n`` genuine and ``n`` impostor pairs (all of each when ``n`` is None)."""
    people = list(people)
    idx = range(len(people))
    genuine = [(i, j) for i in idx for j in idx if i < j and people[i] == people[j]]
    impostor = [(i, j) for i in idx for j in idx if i < j and people[i] != people[j]]
    rng = np.random.default_rng(seed)

    def pick(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
        if n is None or n >= len(pairs):
            return pairs
        chosen = np.sort(rng.choice(len(pairs), size=n, replace=False))
        return [pairs[c] for c in chosen]

    return pick(genuine), pick(impostor)


def measure(
    method: str,
    crops: np.ndarray,
    genuine: Sequence[tuple[int, int]],
    impostor: Sequence[tuple[int, int]],
    threshold: float,
    *,
    embed: Embed,
    model: Any = None,
    layer: str | None = None,
    masks: int = DEFAULT_MASKS,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> MethodFigures:
    """A method's flips and areas over the pairs (indices into ``crops``, aligned uint8 faces)."""
    rng = np.random.default_rng(seed)
    records: list[PairRecord] = []
    pairs = [(p, True) for p in genuine]
    if method in SIGNED:  # only a dissimilar map can flip an impostor pair's decision
        pairs += [(p, False) for p in impostor]
    for done, ((i, j), same) in enumerate(pairs):
        maps = pair_maps(
            method,
            crops[i],
            crops[j],
            embed=embed,
            model=model,
            layer=layer,
            masks=masks,
            seed=seed,
        )
        records.append(
            score_pair(embed, crops[i], crops[j], maps, same, rng, signed=method in SIGNED)
        )
        if progress is not None:
            progress(done + 1, len(pairs))
    return summarise(records, threshold, method in SIGNED)


def randomization_rho(
    method: str,
    crops: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    *,
    model: Any,
    randomized: Any,
    layer: str | None = None,
    masks: int = DEFAULT_MASKS,
) -> float:
    """The largest Spearman ρ between a method's similar maps and those of the randomized model.

    Low (below ``faithfulness.RANDOMIZATION_BOUND``) means the maps depend on what the model
    learned, not on the image alone.
    """
    from facedash.explain.base import embed as embed_with
    from facedash.explain.base import prepare_of
    from facedash.explain.faithfulness import spearman

    def embed_of(m: Any) -> Embed:
        return lambda faces: embed_with(m, prepare_of(m)(faces))

    rhos = []
    for i, j in pairs:
        mine = pair_maps(
            method, crops[i], crops[j], embed=embed_of(model), model=model, layer=layer, masks=masks
        )
        theirs = pair_maps(
            method,
            crops[i],
            crops[j],
            embed=embed_of(randomized),
            model=randomized,
            layer=layer,
            masks=masks,
        )
        rhos.extend(spearman(mine.similar, theirs.similar).tolist())
    return float(max(rhos)) if rhos else float("nan")


# -- over a set ---------------------------------------------------------------------------------
@dataclass
class PairStudy:
    """Every method's figures over one seeded sample of a set's pairs (``explain-pairs``)."""

    methods: dict[str, MethodFigures]
    skipped: dict[str, str]  # method -> why it does not apply to this model
    threshold: float
    threshold_source: str  # "eer" (the set's EER threshold) or "given"
    genuine: int
    impostor: int
    masks: int
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "methods": {m: f.as_dict() for m, f in self.methods.items()},
            "skipped": self.skipped,
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            "genuine": self.genuine,
            "impostor": self.impostor,
            "masks": self.masks,
            "seed": self.seed,
            "ks": list(KS),
        }


def set_crops(result: Any) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The set's aligned crops (its stored thumbnails), their people and their embeddings."""
    from facedash.data.images import decode_jpeg

    rows = [n for n, t in enumerate(result.thumbs) if t is not None]
    if len(rows) < 2:
        raise ValueError("the set has fewer than two faces with a stored crop")
    crops = np.stack([decode_jpeg(result.thumbs[n]) for n in rows])
    return crops, [str(result.people[n]) for n in rows], np.asarray(result.embeddings)[rows]


def eer_threshold(embeddings: np.ndarray, people: Sequence[str]) -> float:
    """The cosine threshold where FMR = FNMR over every pair of the set."""
    from facedash.verification.sweep import sweep

    e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    i, j = np.triu_indices(len(e), 1)
    who = np.asarray(people)
    return sweep(np.sum(e[i] * e[j], axis=1), who[i] == who[j]).eer()[1]


def study(
    result: Any,
    methods: Sequence[str],
    embedder: Any,
    *,
    sample: int | None = 20,
    threshold: float | None = None,
    masks: int = DEFAULT_MASKS,
    seed: int = 0,
    layer: str | None = None,
    randomized: Any = None,
    randomization_pairs: int = 2,
    progress: Callable[[str, int, int], None] | None = None,
) -> PairStudy:
    """Each method's flips and areas over a seeded sample of the set's pairs.

    ``embedder`` is the set's model (``embed``; its Keras ``model`` for the white-box
    methods, where it has one). With ``randomized`` (a copy of that Keras model with its top
    blocks shuffled), each method's randomization check runs on ``randomization_pairs`` pairs.
    """
    crops, people, emb = set_crops(result)
    if threshold is None:
        t, source = eer_threshold(emb, people), "eer"
    else:
        t, source = float(threshold), "given"
    genuine, impostor = sample_pairs(people, sample, seed)
    keras = getattr(embedder, "model", None)
    out: dict[str, MethodFigures] = {}
    skipped: dict[str, str] = {}
    for method in methods:
        if method not in PAIR_METHODS:
            raise ValueError(f"unknown pair method {method!r}; use {', '.join(PAIR_METHODS)}")
        if method in WHITE_BOX and keras is None:
            skipped[method] = "needs the model's gradients (a Keras model); corrrise applies"
            continue
        report: Callable[[int, int], None] | None = None
        if progress is not None:
            report = functools.partial(progress, method)
        figures = measure(
            method,
            crops,
            genuine,
            impostor,
            t,
            embed=embedder.embed,
            model=keras,
            layer=layer,
            masks=masks,
            seed=seed,
            progress=report,
        )
        if randomized is not None and keras is not None:
            figures.randomization = randomization_rho(
                method,
                crops,
                genuine[:randomization_pairs],
                model=keras,
                randomized=randomized,
                layer=layer,
                masks=masks,
            )
        out[method] = figures
    return PairStudy(out, skipped, t, source, len(genuine), len(impostor), masks, seed)
