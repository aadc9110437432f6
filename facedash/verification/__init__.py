"""Face verification: pairs, scores, one vectorised threshold sweep, and what follows from it.

One module per job; every name is re-exported here, so ``from facedash import
verification as V`` reaches all of them:

* ``pairs``: pairs of a set as index arrays (every pair, the counts, a balanced sample);
* ``pairs_file``: LFW ``pairs.txt`` files, parsed and resolved against a set;
* ``scores``: the score registry ``SCORES`` (cosine, Euclidean; ``register_score`` for more);
* ``sweep``: counts and rates at every distinct threshold from one sort (``Sweep``);
* ``intervals``: bootstrap intervals over people, and per-subgroup sweeps;
* ``operating_points``: named thresholds saved in the store;
* ``report``: the summary record, the worst errors, JSON and CSV text;
* ``det``: the DET curve (FNMR against FMR) as scikit-learn's ``det_curve``, and thinned;
* ``protocol``: development → evaluation (a threshold chosen on one split, reported on another);
* ``acquisition``: failure to acquire (FTA) and the transaction rates that count it.

The vocabulary follows the library's history and ISO/IEC 19795-1 side by side: a false
accept is a false match (FAR = FMR), a false reject a false non-match (FRR = FNMR).

This package imports nothing from the layers above it: the PFE package registers
its ``mls`` score here when it is imported (``import facedash.pfe``). Two private
helpers stay reachable here for the code that uses them: ``_clean`` (strict JSON) and
``_auc`` (the trapezoidal AUC).
"""

from __future__ import annotations

from facedash.verification.acquisition import (
    Acquisition,
    Transaction,
    acquisition,
    transaction_rates,
)
from facedash.verification.det import DET_POINTS, det_curve, det_points
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
from facedash.verification.protocol import (
    CRITERIA,
    Criterion,
    DevEval,
    Split,
    accept_nothing,
    choose_threshold,
    dev_eval,
    error_rates,
    split_of,
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
    "CRITERIA",
    "DET_POINTS",
    "SCORES",
    "TARGET_FARS",
    "Acquisition",
    "Bootstrap",
    "Confusion",
    "Criterion",
    "DevEval",
    "HasEmbeddings",
    "Interval",
    "OperatingPoint",
    "OperatingPoints",
    "Pairs",
    "PairsFile",
    "PairsFileError",
    "ScoreFn",
    "ScoreKind",
    "Split",
    "Subgroup",
    "Sweep",
    "Transaction",
    "accept_nothing",
    "acquisition",
    "all_pairs",
    "bootstrap",
    "choose_threshold",
    "cosine",
    "det_curve",
    "det_points",
    "dev_eval",
    "error_rates",
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
    "split_of",
    "subgroup_sweeps",
    "subgroups",
    "subgroups_at",
    "summary",
    "sweep",
    "transaction_rates",
]
