"""σ² per face, kept as they are computed: ``$FACEDASH_HOME/pfe/sigma2/faces.sqlite3``.

``facedash embed`` computes each new face's σ² in the pass that embeds it (``embedpass``)
and keeps it here; ``sigma2_of_set`` gathers a set's rows from here and computes only
the faces that have none (then keeps those too). A row is keyed by what makes its σ²:
the photo's content hash and the face's index in it, the detector and alignment settings
(``det_key``, ``align_key``), the store key of the embeddings (``model_key``: model and
precision, ``facenet@bf16``) and the head's weights (``head``: ``head_version``). Rows
hold ``log σ²`` as float32 (``σ² = exp(float64(log σ²))``, as ``UncertaintyHead.sigma2``
computes it) and where they came from (``source``: ``embed`` for the embed pass on the
aligned crop, ``thumbnail`` for the feature extractor on the stored thumbnail).

The file lives in the σ² cache folder (``sigma2_cache_dir``), so a set with no folder on
disk (an upload) writes nothing. Connections are opened per call: the embed pass writes
from its embedding thread, the app reads from its script threads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from facedash.paths import ensure_private_dir

FILE = "faces.sqlite3"
BUSY_TIMEOUT_S = 30.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sigma2 (
    head TEXT NOT NULL,
    model_key TEXT NOT NULL,
    det_key TEXT NOT NULL,
    align_key TEXT NOT NULL,
    image_hash TEXT NOT NULL,
    face_index INTEGER NOT NULL,
    log_sigma2 BLOB NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (head, model_key, det_key, align_key, image_hash, face_index)
) WITHOUT ROWID
"""


class FaceSigma2:
    """The per-face σ² table in ``folder`` (created on the first write)."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.path = self.folder / FILE

    def _connect(self) -> sqlite3.Connection:
        ensure_private_dir(self.folder)
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SCHEMA)
        return conn

    def put(
        self,
        keys: Sequence[tuple[str, int]],
        log_sigma2: np.ndarray,
        *,
        head: str,
        model_key: str,
        det_key: str,
        align_key: str,
        source: str,
    ) -> None:
        """Keep ``log σ²`` ``(N, dim)`` of the faces ``keys`` (image hash, face index)."""
        values = np.asarray(log_sigma2, dtype=np.float32)
        rows = [
            (head, model_key, det_key, align_key, h, int(f), values[n].tobytes(), source)
            for n, (h, f) in enumerate(keys)
        ]
        if not rows:
            return
        conn = self._connect()
        try:
            with conn:
                conn.executemany("INSERT OR REPLACE INTO sigma2 VALUES (?,?,?,?,?,?,?,?)", rows)
        finally:
            conn.close()

    def get(
        self,
        keys: Iterable[tuple[str, int]],
        *,
        head: str,
        model_key: str,
        det_key: str,
        align_key: str,
    ) -> dict[tuple[str, int], np.ndarray]:
        """``σ²`` (float64) of those ``keys`` that have a row under these settings."""
        if not self.path.exists():
            return {}
        wanted = set(keys)
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S)
        try:
            found = conn.execute(
                "SELECT image_hash, face_index, log_sigma2 FROM sigma2 "
                "WHERE head=? AND model_key=? AND det_key=? AND align_key=?",
                (head, model_key, det_key, align_key),
            ).fetchall()
        except sqlite3.DatabaseError:  # no table yet, or a damaged file: nothing kept
            return {}
        finally:
            conn.close()
        out = {}
        for h, f, blob in found:
            if (h, f) in wanted:
                out[(h, f)] = np.exp(np.frombuffer(blob, dtype=np.float32).astype(np.float64))
        return out

    def count(self) -> int:
        """How many rows are kept (all heads and settings)."""
        if not self.path.exists():
            return 0
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM sigma2").fetchone()[0])
        except sqlite3.DatabaseError:
            return 0
        finally:
            conn.close()
