"""Named operating points (a threshold for a model and score, with its figures) in the store."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from facedash.verification.report import _json_default

_OP_SCHEMA = """
CREATE TABLE IF NOT EXISTS operating_points(
    name TEXT NOT NULL,
    model_id TEXT NOT NULL,
    score TEXT NOT NULL,
    dataset TEXT NOT NULL,
    threshold REAL NOT NULL,
    figures TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY(name, model_id, score)
);
"""


@dataclass(frozen=True)
class OperatingPoint:
    """A named threshold for a model and score, with the figures it gave."""

    name: str
    model_id: str
    score: str
    dataset: str
    threshold: float
    figures: Mapping[str, Any]
    created: float = 0.0


class OperatingPoints:
    """Named operating points in the facedash SQLite store (table ``operating_points``).

    Goes through the store's ``transaction``/``query``, so it shares its file,
    its thread-safety and its recovery; the table is created on first use.
    """

    def __init__(self, store: Any) -> None:
        self._store = store
        with store.transaction() as conn:
            conn.executescript(_OP_SCHEMA)

    def save(self, point: OperatingPoint) -> OperatingPoint:
        """Insert or replace ``point`` (keyed by name, model and score)."""
        if not point.name.strip():
            raise ValueError("an operating point needs a name")
        saved = OperatingPoint(**{**asdict(point), "created": time.time()})
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO operating_points VALUES(?,?,?,?,?,?,?)",
                (
                    saved.name.strip(),
                    saved.model_id,
                    saved.score,
                    saved.dataset,
                    float(saved.threshold),
                    json.dumps(dict(saved.figures), default=_json_default),
                    saved.created,
                ),
            )
        return saved

    def list(self, model_id: str | None = None, score: str | None = None) -> list[OperatingPoint]:
        """Saved points (newest first), optionally for one model and score."""
        sql = "SELECT name, model_id, score, dataset, threshold, figures, created FROM operating_points"
        where, args = [], []
        if model_id is not None:
            where.append("model_id=?")
            args.append(model_id)
        if score is not None:
            where.append("score=?")
            args.append(score)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC"
        rows = self._store.query(sql, args)
        return [OperatingPoint(n, m, sc, d, t, json.loads(f), c) for n, m, sc, d, t, f, c in rows]

    def delete(self, name: str, model_id: str, score: str) -> bool:
        """Delete one point; True if it existed."""
        with self._store.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM operating_points WHERE name=? AND model_id=? AND score=?",
                (name, model_id, score),
            )
        return cur.rowcount > 0
