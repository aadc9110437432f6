"""Failure to acquire (FTA) and the "transaction" rates that count it.

A photo in which the detector finds no face is an error of the system as much as a
false non-match is (ISO/IEC 19795-1 calls it a failure to acquire), but it never
reaches the pair scores: rates over acquired faces only leave it out. Here:

* ``fta`` = photos without a face / photos searched for a face. Files that could not
  be read or decoded are not attempts and are not counted (they are listed with
  their reason among the set's failures);
* the **transaction** rates count every pair an FTA photo would have formed: its
  genuine pairs (with the other photos of its person) as **false non-matches**, its
  impostor pairs as **true non-matches** (a photo without a face matches nobody).
  So FTA raises the FNMR and lowers the FMR.

The counts come from the set's people (``pair_counts``), never from building the
FTA photos' pairs. When the acquired pairs are all pairs of the set, the transaction
rates are exact counts; when they are a balanced sample, the sampled FMR and FNMR are
weighted by the set's full pair counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facedash.verification.pairs import pair_counts
from facedash.verification.sweep import Confusion


@dataclass(frozen=True)
class Acquisition:
    """The photos searched for a face, and those where none was found (with their people)."""

    photos: int
    files: tuple[str, ...] = ()  # photos without a face
    people: tuple[str, ...] = ()  # the person of each ("" when the set does not say)
    attributes: tuple[Mapping[str, str], ...] = field(default=(), repr=False)

    @property
    def fta(self) -> float:
        """Failure-to-acquire rate: photos without a face / photos searched (0 when none)."""
        return len(self.files) / self.photos if self.photos else 0.0

    def within(self, attribute: str, value: str, photos: int) -> Acquisition:
        """The FTA photos whose ``attribute`` is ``value``, out of ``photos`` of that split."""
        keep = [k for k, a in enumerate(self.attributes) if a.get(attribute, "") == value]
        return Acquisition(
            photos,
            tuple(self.files[k] for k in keep),
            tuple(self.people[k] for k in keep),
            tuple(self.attributes[k] for k in keep),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"fta", "photos", "no_face", "files"}``."""
        return {
            "fta": self.fta,
            "photos": self.photos,
            "no_face": len(self.files),
            "files": list(self.files),
        }


def acquisition(
    es: Any, items: Sequence[Any] = (), *, attribute: str | None = None, value: str | None = None
) -> Acquisition:
    """The acquisition record of an ``EmbeddingSet`` (``es.rows``, ``es.no_face``).

    ``items`` (a ``Dataset``'s items) give each FTA photo its person and attributes;
    without them the people are unknown (""), which is enough for ``fta``. With
    ``attribute`` and ``value``, only that split's photos count.
    """
    by_name = {it.name: it for it in items}
    rows = [r for r in es.rows if attribute is None or r.attributes.get(attribute, "") == value]
    files, people, attrs = [], [], []
    for name, _ in es.no_face:
        item = by_name.get(name)
        a: Mapping[str, str] = dict(item.attributes) if item is not None else {}
        if attribute is not None and a.get(attribute, "") != value:
            continue
        files.append(name)
        people.append(item.person if item is not None else "")
        attrs.append(a)
    photos = len({r.name for r in rows}) + len(files)
    return Acquisition(photos, tuple(files), tuple(people), tuple(attrs))


@dataclass(frozen=True)
class Transaction:
    """FMR and FNMR with the FTA photos' pairs counted (and the pair counts behind them)."""

    threshold: float
    fmr: float
    fnmr: float
    genuine: int  # every genuine pair, FTA photos' included
    impostor: int
    genuine_fta: int  # of them, pairs with a photo without a face: false non-matches
    impostor_fta: int  # true non-matches

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "threshold": self.threshold,
            "fmr": self.fmr,
            "fnmr": self.fnmr,
            "pairs": {"genuine": self.genuine, "impostor": self.impostor},
            "fta_pairs": {"genuine": self.genuine_fta, "impostor": self.impostor_fta},
        }


def transaction_rates(
    conf: Confusion,
    people: Sequence[str] | np.ndarray,
    fta_people: Sequence[str] | np.ndarray,
) -> Transaction:
    """Transaction FMR and FNMR at ``conf``'s threshold (see the module docstring).

    ``people`` are the acquired faces' persons (the faces the pairs of ``conf`` were
    drawn from), ``fta_people`` the persons of the photos without a face.
    """
    acquired = np.asarray(people, dtype=object).astype(str)
    everyone = np.concatenate([acquired, np.asarray(fta_people, dtype=object).astype(str)])
    g_acq, i_acq = pair_counts(acquired)
    g_all, i_all = pair_counts(everyone)
    fnmr = (conf.frr * g_acq + (g_all - g_acq)) / g_all if g_all else 0.0
    fmr = conf.far * i_acq / i_all if i_all else 0.0
    return Transaction(
        float(conf.threshold), float(fmr), float(fnmr), g_all, i_all, g_all - g_acq, i_all - i_acq
    )
