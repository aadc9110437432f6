"""The first embed of a big set, cold, in a fresh store: the plain loop against the pipeline (#27 item 4).

Builds (or reuses) the ``bench/scale_set.py`` set of N photos, then for each round
embeds it twice in new processes, each into a new empty store (the models' own
cache stays warm, as on a machine that has run facedash before):

* ``plain``: ``embed_dataset(..., pipelined=False)``, the chunks' steps one after
  another on one thread (the work and the batches of the loop before #27);
* ``pipeline``: ``facedash embed DIR --store NEW --json``, what a user runs.

Each line gives the process's wall time (imports and model loads included), the
``seconds`` ``embed`` reports, the photos and faces, and ``/proc/loadavg`` before
and after: the machine is shared, so read the figures beside the load. The
targets (issue #27, on a 2-core AMD EPYC): 2,000 photos <= 45 s, 10,000 <= 150 s.

    PYTHONPATH=$PWD python bench/embed_set.py --n 2000 [--rounds 2] [--only pipeline]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_set import build_set, default_folder  # noqa: E402

TARGETS = {2000: 45.0, 10_000: 150.0}
PLAIN = """
import json, sys, time
from facedash.data.datasets import load_path
from facedash.data.store import Store
from facedash.faces.pipeline import embed_dataset
r = embed_dataset(load_path(sys.argv[1]), store=Store(sys.argv[2]), pipelined=False)
print(json.dumps(r.summary()))
"""


def cpu_name() -> str:
    """The CPU's model name (``lscpu``)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def loadavg() -> str:
    """The 1-, 5- and 15-minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def embed_once(mode: str, folder: Path, timeout: float) -> dict:
    """Embed ``folder`` into a new store in a new process; the summary, timed."""
    with tempfile.TemporaryDirectory(prefix="facedash-embed-set-") as tmp:
        store = str(Path(tmp) / "fresh.sqlite3")
        if mode == "plain":
            cmd = [sys.executable, "-c", PLAIN, str(folder), store]
        else:
            cmd = [sys.executable, "-m", "facedash.cli", "embed", str(folder)]
            cmd += ["--store", store, "--json"]
        before = loadavg()
        t0 = time.perf_counter()
        job = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - t0
        if job.returncode != 0:
            raise SystemExit(f"{mode} failed (exit {job.returncode}):\n{job.stderr[-2000:]}")
        summary = json.loads(job.stdout.strip().splitlines()[-1])
    return {"mode": mode, "wall": wall, "load_before": before, "load_after": loadavg(), **summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=None, help="default: $FACEDASH_HOME/scale/N")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", choices=["plain", "pipeline"], default=None)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--json", type=Path, default=None, help="also write the records here")
    args = parser.parse_args()
    folder, _, _ = build_set(args.dir or default_folder(args.n), args.n)
    modes = [args.only] if args.only else ["plain", "pipeline"]
    target = TARGETS.get(args.n)
    print(f"{args.n:,} photos in {folder}; CPU: {cpu_name()}, {os.cpu_count()} cores")
    records = []
    for r in range(args.rounds):
        for mode in modes:  # alternating rounds: a change of load hits both
            rec = embed_once(mode, folder, args.timeout)
            records.append(rec)
            print(
                f"  round {r + 1} {mode:8s} {rec['wall']:6.1f} s wall "
                f"({rec['seconds']:.1f} s in embed; {rec['images'] / rec['wall']:.0f} photos/s), "
                f"{rec['faces']} faces, {len(rec['failed'])} not used, {rec['backend']} "
                f"{rec['precision']}; load {rec['load_before']} -> {rec['load_after']}",
                flush=True,
            )
    for mode in modes:
        walls = sorted(r["wall"] for r in records if r["mode"] == mode)
        line = f"{mode:8s} best {walls[0]:6.1f} s"
        if target:
            line += f"  (target <= {target:.0f} s: {'met' if walls[0] <= target else 'not met'})"
        print(line)
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
