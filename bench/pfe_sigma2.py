"""σ² of every face of a set: computed once per set and head, then read from FACEDASH_HOME.

A set of N faces made from the demo's (rows repeated under new content hashes, so each
copy is a new face to the cache; its crops are the demo's, so the cost per face is
real). With the saved head (``facedash pfe train --demo`` first):

- cold: ``sigma2_of_set`` runs the feature extractor on every face, in chunks, and keeps
  the result (timed at ``--cold`` faces; the cost is linear, so N's is extrapolated);
- warm: a fresh process (a restarted server) asks again for N faces and reads one file.

    PYTHONPATH=. python bench/pfe_sigma2.py [--n 10000] [--cold 1000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np


def synthetic(n: int):
    from facedash.data.datasets import load_demo
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset

    demo = embed_dataset(load_demo(), store=Store())
    pick = np.arange(n) % len(demo.rows)
    rows = [replace(demo.rows[k], image_hash=f"sigma{j:08d}") for j, k in enumerate(pick)]
    return replace(
        demo, rows=rows, embeddings=demo.embeddings[pick], thumbs=[demo.thumbs[k] for k in pick]
    )


def run(n: int, folder: str) -> dict[str, float]:
    from facedash.models import get_model
    from facedash.pfe import sigma2_of_set, train
    from facedash.pfe.head import FeatureExtractor

    result = synthetic(n)
    head = train.load_head()
    t0 = time.perf_counter()  # from here: the model and extractor load only on a miss
    s2 = sigma2_of_set(
        result,
        None,
        head,
        cache_dir=Path(folder),
        get_extractor=lambda: FeatureExtractor(get_model("facenet")),
    )
    return {
        "faces": n,
        "seconds": time.perf_counter() - t0,
        "finite": float(np.isfinite(s2).all()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def fresh(n: int, folder: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(n), "--folder", folder],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--cold", type=int, default=1000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.folder)))
        return
    from facedash.pfe import train

    if train.read_record() is None:
        sys.exit("no uncertainty head saved: run `facedash pfe train --demo` first")
    with tempfile.TemporaryDirectory() as folder:
        cold = fresh(args.cold, folder)
        rate = cold["faces"] / cold["seconds"]
        print(
            f"cold, {args.cold:,} faces: {cold['seconds']:.1f} s ({rate:.0f} faces/s, peak RSS "
            f"{cold['peak_rss_mb']:.0f} MB); {args.n:,} faces extrapolated: {args.n / rate:.0f} s"
        )
        again = fresh(args.cold, folder)
        print(f"warm, {args.cold:,} faces, a fresh process: {again['seconds']:.2f} s")
        # The N-face file, made by the same code with the extractor's features of the demo's
        # crops replayed for their copies (computing 10,000 faces cold here would take minutes).
        if args.n != args.cold:
            from facedash.models import get_model
            from facedash.pfe import sigma2_of_set

            result = synthetic(args.n)
            head = train.load_head()

            class Replay:
                """The extractor's features of the demo's 118 crops, replayed for every copy."""

                def __init__(self):
                    from facedash.pfe.head import FeatureExtractor

                    self.real = FeatureExtractor(get_model("facenet"))
                    self.seen: dict[bytes, np.ndarray] = {}

                def __call__(self, crops, **kw):
                    keys = [c.tobytes() for c in crops]
                    new = [i for i, k in enumerate(keys) if k not in self.seen]
                    if new:
                        feats, _ = self.real(crops[new])
                        self.seen.update({keys[i]: f for i, f in zip(new, feats, strict=True)})
                    return np.stack([self.seen[k] for k in keys]), None

            sigma2_of_set(result, None, head, cache_dir=Path(folder), extractor=Replay())
            warm = fresh(args.n, folder)
            print(
                f"warm, {args.n:,} faces, a fresh process (a restarted server): "
                f"{warm['seconds']:.2f} s, peak RSS {warm['peak_rss_mb']:.0f} MB"
            )


if __name__ == "__main__":
    main()
