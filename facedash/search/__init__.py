"""Nearest-neighbour search, group vectors and embedding arithmetic, one module per job.

- ``index``: the nearest-neighbour index (``ExactIndex`` in numpy, ``NGTIndex`` over
  NGT's graph) and ``normalise``;
- ``arithmetic``: person / attribute vectors, "person + attribute" and
  "image - A + B" queries, and their evaluation (``evaluate_arithmetic``; the
  analogy queries are a seeded sample of at most ``ANALOGY_SAMPLE``);
- ``cmc``: leave-one-out face search, rank-k and the CMC curve (``identification``;
  at most ``PROBE_SAMPLE`` probes, in blocks: never an n x n matrix);
- ``features``: the FaceNet layers a triplet head can read (``FEATURES``), and a set's
  features computed once and kept beside the store (``view_features``).

Every name is re-exported here, so ``from facedash import search`` then
``search.make_index(...)`` or ``search.evaluate_arithmetic(...)`` works as before.
"""

from __future__ import annotations

from facedash.search.arithmetic import (
    ANALOGY_SAMPLE,
    METHOD_LABELS,
    METHODS,
    ArithmeticReport,
    GroupVectors,
    analogy_pairs,
    analogy_queries,
    analogy_query,
    arithmetic_queries,
    compose,
    evaluate_analogy,
    evaluate_arithmetic,
    group_vectors,
    person_attribute_query,
    sample_queries,
)
from facedash.search.cmc import PROBE_SAMPLE, Identification, identification
from facedash.search.features import DEFAULT_FEATURE, FEATURES, Feature, view_features
from facedash.search.index import (
    INDEX_KINDS,
    QUERY_BATCH,
    ExactIndex,
    Index,
    Labels,
    Neighbours,
    NGTIndex,
    make_index,
    ngt_available,
    normalise,
    recall_at_k,
)

__all__ = [
    "ANALOGY_SAMPLE",
    "DEFAULT_FEATURE",
    "FEATURES",
    "INDEX_KINDS",
    "METHODS",
    "METHOD_LABELS",
    "QUERY_BATCH",
    "ArithmeticReport",
    "ExactIndex",
    "Feature",
    "GroupVectors",
    "Identification",
    "Index",
    "Labels",
    "NGTIndex",
    "Neighbours",
    "PROBE_SAMPLE",
    "analogy_pairs",
    "analogy_queries",
    "analogy_query",
    "arithmetic_queries",
    "compose",
    "evaluate_analogy",
    "evaluate_arithmetic",
    "group_vectors",
    "identification",
    "make_index",
    "ngt_available",
    "normalise",
    "person_attribute_query",
    "recall_at_k",
    "sample_queries",
    "view_features",
]
