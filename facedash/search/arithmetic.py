"""Group vectors and embedding arithmetic: "person + attribute" and "image - A + B", scored.

Group vectors (one per person, one per attribute value) are the median of the
group's embeddings made non-negative and L2-normalised, as the reference did, or
the plain mean, L2-normalised. The arithmetic adds a person vector and an
attribute vector ("person + attribute") or moves an image from one attribute to
another ("image - A + B"), and asks the index for the nearest faces.

Cost is linear in the number of faces ``n``: group vectors are one pass over the
faces per group, "person + attribute" asks one query per (person, attribute) pair,
and "image - A + B", which has ``n x (attributes - 1)`` possible queries, is scored
on a seeded sample of at most ``ANALOGY_SAMPLE`` of them (every query below that);
each query is one row of similarities to the ``n`` faces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facedash.errors import FacedashError
from facedash.search.index import Index, Labels, Neighbours, make_index, normalise

METHODS = ("median", "mean")
ANALOGY_SAMPLE = 2000  # "image - A + B" queries scored at most (a seeded sample above that)
METHOD_LABELS = {
    "median": "median, made non-negative, L2-normalised (the reference)",
    "mean": "mean, L2-normalised",
}


@dataclass(frozen=True)
class GroupVectors:
    """One unit vector per group label, in sorted label order."""

    labels: list[str]
    vectors: np.ndarray
    method: str
    sizes: np.ndarray

    def __getitem__(self, label: str) -> np.ndarray:
        try:
            return self.vectors[self.labels.index(label)]
        except ValueError:
            raise KeyError(f"no group {label!r}; have {', '.join(self.labels)}") from None


def group_vectors(embeddings: np.ndarray, labels: Labels, method: str = "median") -> GroupVectors:
    """The vector of each group: ``median`` (non-negative, L2-normalised) or ``mean`` (L2-normalised)."""
    if method not in METHODS:
        raise ValueError(f"unknown group-vector method {method!r}; use one of {', '.join(METHODS)}")
    emb = np.asarray(embeddings, dtype=np.float32)
    labels_arr = np.asarray(labels, dtype=object)
    if len(emb) != len(labels_arr):
        raise ValueError(f"{len(emb)} embeddings but {len(labels_arr)} labels")
    names, inverse, sizes = np.unique(
        labels_arr.astype(str), return_inverse=True, return_counts=True
    )
    out: np.ndarray = np.empty((len(names), emb.shape[1]), dtype=np.float32)
    if method == "mean":
        sums = np.zeros_like(out)
        np.add.at(sums, inverse, emb)
        out = sums / sizes[:, None]
    else:
        order = np.argsort(inverse, kind="stable")
        bounds = np.cumsum(sizes)[:-1]
        for g, block in enumerate(np.split(emb[order], bounds)):
            out[g] = np.median(block, axis=0)
        out = np.maximum(out, 0.0)
    return GroupVectors([str(n) for n in names], normalise(out), method, sizes)


def compose(*vectors: np.ndarray, signs: Sequence[float] | None = None) -> np.ndarray:
    """The L2-normalised signed sum of vectors (``person + attribute``, ``image - A + B``)."""
    stack = np.stack([np.asarray(v, dtype=np.float32) for v in vectors])
    weights = np.ones(len(stack), np.float32) if signs is None else np.asarray(signs, np.float32)
    return normalise(np.tensordot(weights, stack, axes=1))


# -- the arithmetic, evaluated -----------------------------------------------------------------
@dataclass
class ArithmeticReport:
    """Every "person + attribute" query of a set and whether the nearest faces were right."""

    method: str
    index: str
    persons: list[str]
    attributes: list[str]
    queries: list[tuple[str, str]]
    neighbours: Neighbours
    correct: np.ndarray  # (Q, k) bool: the neighbour has both the person and the attribute
    k: int
    vectors: int
    analogy: dict[str, float] = field(default_factory=dict)

    @property
    def top1(self) -> float:
        """Share of queries whose nearest face is right."""
        return float(self.correct[:, 0].mean()) if len(self.queries) else float("nan")

    @property
    def top5(self) -> float:
        """Share of queries with a right face among the 5 nearest."""
        return float(self.correct[:, :5].any(axis=1).mean()) if len(self.queries) else float("nan")

    @property
    def first_right(self) -> np.ndarray:
        """1-based rank of the first right face of each query, 0 if none in the top ``k``."""
        any_right = self.correct.any(axis=1)
        return np.where(any_right, self.correct.argmax(axis=1) + 1, 0)

    def per_attribute_top1(self) -> dict[str, float]:
        """Top-1 of the queries of each attribute value."""
        q = np.array([a for _, a in self.queries], dtype=object)
        return {a: float(self.correct[q == a, 0].mean()) for a in self.attributes if (q == a).any()}

    def summary(self) -> dict[str, Any]:
        """The ``facedash arithmetic --json`` record."""
        return {
            "queries": len(self.queries),
            "top1": round(self.top1, 4),
            "top5": round(self.top5, 4),
            "vectors": self.vectors,
            "persons": len(self.persons),
            "attributes": self.attributes,
            "method": self.method,
            "index": self.index,
            **{f"analogy_{k}": round(v, 4) for k, v in self.analogy.items()},
        }


def arithmetic_queries(
    embeddings: np.ndarray,
    persons: Labels,
    attributes: Labels,
    method: str = "median",
) -> tuple[GroupVectors, GroupVectors, list[tuple[str, str]], np.ndarray]:
    """Person and attribute vectors, and the composed query of every existing combination."""
    people = np.asarray(persons, dtype=object).astype(str)
    attrs = np.asarray(attributes, dtype=object).astype(str)
    pv = group_vectors(embeddings, people, method)
    av = group_vectors(embeddings, attrs, method)
    present = set(zip(people.tolist(), attrs.tolist(), strict=True))
    pairs = [(p, a) for p in pv.labels for a in av.labels if (p, a) in present]
    if not pairs:
        return pv, av, [], np.zeros((0, embeddings.shape[1]), np.float32)
    p_idx = np.array([pv.labels.index(p) for p, _ in pairs])
    a_idx = np.array([av.labels.index(a) for _, a in pairs])
    return pv, av, pairs, normalise(pv.vectors[p_idx] + av.vectors[a_idx])


def person_attribute_query(
    embeddings: np.ndarray,
    persons: Labels,
    attributes: Labels,
    person: str,
    attribute: str,
    method: str = "median",
) -> np.ndarray:
    """The unit query vector "person + attribute" built from the set's group vectors."""
    pv = group_vectors(embeddings, np.asarray(persons).astype(str), method)
    av = group_vectors(embeddings, np.asarray(attributes).astype(str), method)
    return compose(pv[person], av[attribute])


def analogy_query(
    embeddings: np.ndarray,
    attributes: Labels,
    image: int,
    target: str,
    method: str = "median",
) -> np.ndarray:
    """The unit query vector "image - its attribute + target"."""
    attrs = np.asarray(attributes).astype(str)
    av = group_vectors(embeddings, attrs, method)
    return compose(embeddings[image], av[attrs[image]], av[target], signs=[1, -1, 1])


def evaluate_arithmetic(
    embeddings: np.ndarray,
    persons: Labels,
    attributes: Labels,
    *,
    method: str = "median",
    index: Index | str = "exact",
    k: int = 5,
    sources: Labels | None = None,
    analogy_sample: int | None = ANALOGY_SAMPLE,
    seed: int = 0,
) -> ArithmeticReport:
    """Top-1 / top-k of "person + attribute" over every person x attribute combination.

    A neighbour is right when it has both the query's person and its attribute.
    The analogy "image - A + B" is scored too (``analogy``): with ``sources``
    (which original photo each face was made from) it is right when the nearest
    face other than the image itself is the same source photo under attribute B,
    else when it is the same person under B. At most ``analogy_sample`` analogy
    queries are scored, a sample drawn with ``seed`` (``None`` or 0: all of them).
    """
    emb = normalise(embeddings)
    people = np.asarray(persons, dtype=object).astype(str)
    attrs = np.asarray(attributes, dtype=object).astype(str)
    if not (len(emb) == len(people) == len(attrs)):
        raise ValueError("embeddings, persons and attributes must have the same length")
    if len(set(attrs.tolist())) < 2:
        raise FacedashError(
            "the set needs at least two attribute values for the arithmetic "
            f"(has {sorted(set(attrs.tolist()))})"
        )
    pv, av, pairs, queries = arithmetic_queries(emb, people, attrs, method)
    idx = index if isinstance(index, Index) else make_index(emb, index)
    found = idx.search(queries, k)
    qp = np.array([p for p, _ in pairs], dtype=object)[:, None]
    qa = np.array([a for _, a in pairs], dtype=object)[:, None]
    correct = (people[found.ids] == qp) & (attrs[found.ids] == qa)
    report = ArithmeticReport(
        method=method,
        index=idx.kind,
        persons=pv.labels,
        attributes=av.labels,
        queries=pairs,
        neighbours=found,
        correct=correct,
        k=found.ids.shape[1],
        vectors=len(emb),
    )
    report.analogy = evaluate_analogy(
        emb,
        people,
        attrs,
        av,
        idx,
        None if sources is None else np.asarray(sources),
        sample=analogy_sample,
        seed=seed,
    )
    return report


def analogy_pairs(
    attributes: np.ndarray, av: GroupVectors, owners: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every "image - A + B" query whose answer exists: (image, index of B in ``av``).

    B runs over the attributes other than the image's own; a query is kept when some
    face has the image's owner (its source photo, or its person) under B. Vectorised:
    ``O(n x attributes)`` integers, no query vectors.
    """
    attrs = np.asarray(attributes).astype(str)
    a_of = np.searchsorted(np.asarray(av.labels), attrs)
    _, owner = np.unique(np.asarray(owners).astype(str), return_inverse=True)
    g = len(av.labels)
    exists = np.zeros((int(owner.max()) + 1 if len(owner) else 0, g), dtype=bool)
    exists[owner, a_of] = True
    img = np.repeat(np.arange(len(attrs)), g)
    to = np.tile(np.arange(g), len(attrs))
    keep = (to != a_of[img]) & exists[owner[img], to]
    return img[keep], to[keep]


def analogy_queries(
    embeddings: np.ndarray, attributes: np.ndarray, av: GroupVectors
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every "image - A + B" query, B running over the other attributes: (image, B, vectors)."""
    attrs = np.asarray(attributes).astype(str)
    a_of = np.searchsorted(np.asarray(av.labels), attrs)
    n, g = len(attrs), len(av.labels)
    img = np.repeat(np.arange(n), g)
    to = np.tile(np.arange(g), n)
    keep = to != a_of[img]
    img, to = img[keep], to[keep]
    return img, to, analogy_vectors(embeddings, a_of, av, img, to)


def analogy_vectors(
    embeddings: np.ndarray, a_of: np.ndarray, av: GroupVectors, img: np.ndarray, to: np.ndarray
) -> np.ndarray:
    """The unit query vectors ``image - v(its attribute) + v(B)`` of the given queries."""
    return normalise(embeddings[img] - av.vectors[a_of[img]] + av.vectors[to])


def sample_queries(total: int, sample: int | None, seed: int = 0) -> np.ndarray:
    """Indices of the queries to score: all of them, or a seeded sample of ``sample``, in order."""
    if not sample or total <= sample:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size=int(sample), replace=False))


def evaluate_analogy(
    embeddings: np.ndarray,
    persons: np.ndarray,
    attributes: np.ndarray,
    av: GroupVectors,
    index: Index,
    sources: np.ndarray | None = None,
    k: int = 5,
    *,
    sample: int | None = ANALOGY_SAMPLE,
    seed: int = 0,
) -> dict[str, float]:
    """Top-1 / top-k of "image - A + B", the image itself left out of its results.

    Right: the same source photo under B when ``sources`` are given (only queries
    where that face exists count), else any face of the same person under B. With
    more than ``sample`` such queries, a seeded sample of ``sample`` is scored;
    ``queries`` is the number scored, ``queries_total`` the number there are.
    """
    people = np.asarray(persons).astype(str)
    attrs = np.asarray(attributes).astype(str)
    owners = people if sources is None else np.asarray(sources).astype(str)
    img, to = analogy_pairs(attrs, av, owners)
    total = len(img)
    if not total:
        return {}
    pick = sample_queries(total, sample, seed)
    img, to = img[pick], to[pick]
    a_of = np.searchsorted(np.asarray(av.labels), attrs)
    queries = analogy_vectors(embeddings, a_of, av, img, to)
    target = np.array(av.labels, dtype=object)[to].astype(str)
    found = index.search(queries, k + 1).ids
    order = np.argsort(found == img[:, None], axis=1, kind="stable")[:, :k]
    ranked = np.take_along_axis(found, order, axis=1)
    hit = (attrs[ranked] == target[:, None]) & (owners[ranked] == owners[img][:, None])
    return {
        "queries": float(len(img)),
        "queries_total": float(total),
        "sample": float(sample or 0),
        "top1": float(hit[:, 0].mean()),
        "top5": float(hit.any(axis=1).mean()),
    }
