"""Face-image quality measured the field's way: the Error-versus-Discard Characteristic (EDC).

One module per concern:

* ``edc``: the EDC in its two forms (fixed threshold, Schlett et al.; re-thresholded, the
  CR-FIQA evaluation code's), its partial area, the oracle and random references: pure numpy;
* ``measures``: the measures' names and rules (higher = better, never NaN) and the ones that
  need no model (``face_size``, ``sharpness``, SER-FIQ's and PFE's formulas);
* ``scorer``: the model-dependent measures of aligned crops (``pfe``, ``norm``, ``serfiq``,
  ``detector``) and which of them apply to a model;
* ``degraded``: degraded copies of a set's faces (``--degrade blur:3,jpeg:20``);
* ``study``: a set's faces and their pairs, every measure's curve, and the CSV files that
  let anyone recompute one.

Importing this package loads no model and no TensorFlow.
"""

from __future__ import annotations

from facedash.quality.edc import (
    FORMS,
    GRID,
    PAUC_UPTO,
    RANDOM_ORDERS,
    Curve,
    curve,
    oracle,
    partial_area,
    random_curve,
)
from facedash.quality.measures import NAMES, fill_unscored, pair_quality

__all__ = [
    "FORMS",
    "GRID",
    "NAMES",
    "PAUC_UPTO",
    "RANDOM_ORDERS",
    "Curve",
    "curve",
    "fill_unscored",
    "oracle",
    "pair_quality",
    "partial_area",
    "random_curve",
]
