"""Face verification: pairs, scores, one vectorised threshold sweep, and what follows from it.

One module per job; every name is re-exported here, so ``from facedash import
verification as V`` reaches all of them:

* ``pairs``: pairs of a set as index arrays (every pair, the counts, a balanced sample);
* ``pairs_file``: LFW ``pairs.txt`` files, parsed and resolved against a set;
* ``scores``: the score registry ``SCORES`` (cosine, Euclidean; ``register_score`` for more);
* ``sweep``: counts and rates at every distinct threshold from one sort (``Sweep``);
* ``intervals``: bootstrap intervals over people, and per-subgroup sweeps;
* ``operating_points``: named thresholds saved in the store;
* ``report``: the summary record, the worst errors, JSON and CSV text.

This package imports nothing from the layers above it: the PFE package registers
its ``mls`` score here when it is imported (``import facedash.pfe``). Two private
helpers stay reachable here for the code that uses them: ``_clean`` (strict JSON) and
``_auc`` (the trapezoidal AUC).
"""

from __future__ import annotations

from facedash.verification.intervals import (
    Bootstrap,
    Interval,
    Subgroup,
    bootstrap,
    subgroup_sweeps,
    subgroups,
    subgroups_at,
)
from facedash.verification.operating_points import OperatingPoint, OperatingPoints
from facedash.verification.pairs import Pairs, all_pairs, pair_counts, sample_pairs
from facedash.verification.pairs_file import (
    PairsFile,
    PairsFileError,
    face_keys,
    pairs_from_file,
    parse_pairs,
    read_pairs_file,
)
from facedash.verification.report import (
    TARGET_FARS,
    failing_pairs,
    report_csv,
    report_json,
    summary,
)
from facedash.verification.report import _clean as _clean
from facedash.verification.scores import (
    SCORES,
    HasEmbeddings,
    ScoreFn,
    ScoreKind,
    cosine,
    euclidean,
    pair_scores,
    register_score,
    score_kind,
)
from facedash.verification.sweep import Confusion, Sweep, sweep
from facedash.verification.sweep import _auc as _auc

__all__ = [
    "SCORES",
    "TARGET_FARS",
    "Bootstrap",
    "Confusion",
    "HasEmbeddings",
    "Interval",
    "OperatingPoint",
    "OperatingPoints",
    "Pairs",
    "PairsFile",
    "PairsFileError",
    "ScoreFn",
    "ScoreKind",
    "Subgroup",
    "Sweep",
    "all_pairs",
    "bootstrap",
    "cosine",
    "euclidean",
    "face_keys",
    "failing_pairs",
    "pair_counts",
    "pair_scores",
    "pairs_from_file",
    "parse_pairs",
    "read_pairs_file",
    "register_score",
    "report_csv",
    "report_json",
    "sample_pairs",
    "score_kind",
    "subgroup_sweeps",
    "subgroups",
    "subgroups_at",
    "summary",
    "sweep",
]
