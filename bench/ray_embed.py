"""Photos per second of ``--engine ray`` with 1 and 2 workers against the local pipeline, in one run.

The demo set (118 photos), ``--copies`` times over (each copy's files end in one more
byte, which JPEG decoders ignore: new content hashes, same faces), is embedded from
an empty store three times: by the
local pipeline (``embed_dataset``, the default backend, this process), then on a
local Ray cluster with 1 worker and with 2 (``run_ray``: one detector + model per
actor, rows committed to the store on the driver). Chunks of ``--chunk`` photos
for all three. Two rates per run:

- wall: photos / seconds of the whole call (for Ray: actor start and model load included);
- steady: photos after the first committed chunk / seconds from it to the last one
  (the rate once every model is loaded; the local pipeline's from its progress calls).

The projection for 1M photos on N nodes uses the 1-worker steady rate times the
workers a node runs (``--workers-per-node``, default this machine's cores),
assuming linear scaling; the driver commits each chunk to SQLite, which the
line "driver commit" bounds. Other processes on this machine share its cores.

    python bench/ray_embed.py [--copies 4] [--chunk 16] [--workers-per-node K]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _timed(call):
    marks: list[tuple[float, int]] = []

    def progress(done: int, total: int, msg: str) -> None:
        marks.append((time.perf_counter(), done))

    t0 = time.perf_counter()
    out = call(progress)
    wall = time.perf_counter() - t0
    moved = [(t, d) for t, d in marks if d > 0]
    first = moved[0] if moved else (t0, 0)
    last = moved[-1] if moved else (t0 + wall, 0)
    steady = (last[1] - first[1]) / (last[0] - first[0]) if last[0] > first[0] else float("nan")
    return out, wall, steady


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--workers-per-node", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--copies", type=int, default=4)
    args = ap.parse_args()

    import ray

    from facedash.data.datasets import load_demo, load_path
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset
    from facedash.scale.distributed import commit, run_ray

    tmp = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    for copy in range(args.copies):
        for item in load_demo().items:
            target = tmp / "set" / item.person / f"{copy}-{Path(item.name).name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(item.read() + bytes([copy]))
    ds = load_path(tmp / "set")
    n = len(ds.items)
    print(
        f"{n} photos (the demo set x {args.copies}), chunks of {args.chunk}, "
        f"{os.cpu_count()} cores on this machine, load average {os.getloadavg()[0]:.1f}"
    )

    result, wall, steady = _timed(
        lambda p: embed_dataset(
            ds, store=Store(tmp / "local.sqlite3"), chunk=args.chunk, progress=p
        )
    )
    print(
        f"local pipeline ({result.backend} {result.precision}): wall {n / wall:.2f} photos/s "
        f"({wall:.1f} s), steady {steady:.2f} photos/s"
    )
    t0 = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    print(f"ray.init: {time.perf_counter() - t0:.1f} s")
    rates = {}
    for workers in (1, 2):
        store = Store(tmp / f"ray{workers}.sqlite3")
        run, wall, steady = _timed(
            lambda p, w=workers, s=store: run_ray(
                ds, store=s, workers=w, batch_size=args.chunk, progress=p
            )
        )
        rates[workers] = steady
        print(
            f"ray, {run.workers} worker(s) ({run.backend} {run.precision}): wall "
            f"{n / wall:.2f} photos/s ({wall:.1f} s), steady {steady:.2f} photos/s"
        )
    ray.shutdown()
    print(f"2 workers / 1 worker (steady): {rates[2] / rates[1]:.2f}x")

    rows = Store(tmp / "ray1.sqlite3").query(
        "SELECT e.image_hash, e.face_index, e.vector, e.thumb FROM embeddings e"
    )
    sink = Store(tmp / "commit.sqlite3")
    face_rows = [
        dict(
            kind="face",
            index=0,
            path="",
            image_hash=h,
            face_index=f,
            vector=v,
            thumb=t,
            det_key="d",
            align_key="a",
            model_key="m",
        )
        for h, f, v, t in rows
    ]
    t0 = time.perf_counter()
    for start in range(0, len(face_rows), args.chunk):
        commit(sink, face_rows[start : start + args.chunk])
    commit_rate = len(face_rows) / (time.perf_counter() - t0)
    print(f"driver commit: {commit_rate:.0f} faces/s into SQLite (the ceiling of one driver)")

    per_worker = rates[1]
    k = args.workers_per_node
    print(f"projected 1M photos at {per_worker:.2f} photos/s per worker, {k} workers a node:")
    for nodes in (1, 4, 16, 64):
        rate = min(per_worker * k * nodes, commit_rate)
        print(f"  {nodes:3d} node(s): {1e6 / rate / 3600:7.1f} h ({rate:.0f} photos/s)")


if __name__ == "__main__":
    main()
