"""Nearest-neighbour search, group vectors and embedding arithmetic, one module per job.

- ``index``: the nearest-neighbour index (``ExactIndex`` in numpy, ``NGTIndex`` over
  NGT's graph) and ``normalise``;
- ``arithmetic``: person / attribute vectors, "person + attribute" and
  "image - A + B" queries, and their evaluation (``evaluate_arithmetic``);
- ``cmc``: leave-one-out face search, rank-k and the CMC curve (``identification``).

Every name is re-exported here, so ``from facedash import search`` then
``search.make_index(...)`` or ``search.evaluate_arithmetic(...)`` works as before.
"""

from __future__ import annotations

from facedash.search.arithmetic import (
    METHOD_LABELS,
    METHODS,
    ArithmeticReport,
    GroupVectors,
    analogy_queries,
    analogy_query,
    arithmetic_queries,
    compose,
    evaluate_analogy,
    evaluate_arithmetic,
    group_vectors,
    person_attribute_query,
)
from facedash.search.cmc import Identification, identification
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
    "INDEX_KINDS",
    "METHODS",
    "METHOD_LABELS",
    "QUERY_BATCH",
    "ArithmeticReport",
    "ExactIndex",
    "GroupVectors",
    "Identification",
    "Index",
    "Labels",
    "NGTIndex",
    "Neighbours",
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
]
