"""Two models' uncertainty on the same faces: each face's confidence under model A and model B.

Each model has its own head (``facedash.pfe.saved``), so each face of a set gets two
confidences (``1 / harmonic mean of sigma^2``, ``facedash.pfe.mls.confidence``), one per
model. The faces are matched across the two models' sets by photo and face index
(``facedash.verification.compare.face_keys``); Spearman's rank correlation says how far
the two models agree on *which* faces are hard. The scales themselves are not comparable
(each head has its own sigma^2 scale, in its own embedding space): only the order is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from facedash.pfe.mls import confidence
from facedash.verification.compare import face_keys, shared_rows


@dataclass
class Agreement:
    """The faces both sets hold (``ia`` rows of A, ``ib`` of B) and their confidence under each model."""

    ia: np.ndarray
    ib: np.ndarray
    a: np.ndarray
    b: np.ndarray
    spearman: float

    def __len__(self) -> int:
        return len(self.ia)


def agreement(
    sigma2_a: np.ndarray, sigma2_b: np.ndarray, result_a: Any, result_b: Any
) -> Agreement:
    """Confidence of each face both sets hold (with sigma^2 under both heads), and their Spearman.

    ``sigma2_a`` has one row per face of ``result_a``, ``sigma2_b`` of ``result_b``; rows
    without sigma^2 (NaN: no stored thumbnail) are left out. Spearman is NaN under three faces.
    """
    ia, ib = shared_rows(face_keys(result_a), face_keys(result_b))
    sa, sb = np.asarray(sigma2_a, np.float64)[ia], np.asarray(sigma2_b, np.float64)[ib]
    keep = ~(np.isnan(sa).any(axis=1) | np.isnan(sb).any(axis=1)) if len(ia) else ia.astype(bool)
    ia, ib = ia[keep], ib[keep]
    ca, cb = confidence(sa[keep]), confidence(sb[keep])
    rho = float("nan")
    if len(ia) >= 3 and np.ptp(ca) > 0 and np.ptp(cb) > 0:
        from scipy.stats import spearmanr

        rho = float(spearmanr(ca, cb).statistic)
    return Agreement(ia, ib, ca, cb, rho)
