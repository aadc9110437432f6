"""The shared model and detector under concurrent use: two sessions' work in parallel threads."""

import threading

import numpy as np

from facedash.data.datasets import Dataset
from facedash.data.store import Store
from facedash.faces.detect import Detector
from facedash.faces.pipeline import embed_dataset


def test_parallel_sessions_equal_serial(demo_dataset, facenet):
    detector = Detector()
    halves = [
        Dataset("a", "upload", demo_dataset.items[0:10]),
        Dataset("b", "upload", demo_dataset.items[60:70]),
    ]

    def run(ds):
        return embed_dataset(
            ds, store=Store(":memory:"), get_detector=lambda: detector, get_model=lambda: facenet
        )

    serial = [run(ds) for ds in halves]
    parallel: list = [None, None]
    errors: list = []

    def worker(k):
        try:
            parallel[k] = run(halves[k])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not errors
    for s, p in zip(serial, parallel, strict=True):
        assert [r.name for r in s.rows] == [r.name for r in p.rows]
        assert np.allclose(s.embeddings, p.embeddings, atol=1e-5)
        # Each session saw only its own photos.
        assert {r.person for r in p.rows} <= {
            i.person for i in (halves[0] if p.dataset == "a" else halves[1]).items
        }
