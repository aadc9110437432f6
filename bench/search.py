"""Queries per second: NGT against exact brute force, on 20,000 and 200,000 128-d vectors.

The vectors are clustered like face embeddings (many identities, several faces
each) and the queries are drawn around the same centres. Exact search is timed
two ways: one query at a time (as a page or ``facedash search`` asks) and in
batches of 1,024 (one matrix product each). NGT answers one query at a time.
Recall@5 is NGT's share of the exact 5 nearest.

    PYTHONPATH=. python bench/search.py [--sizes 20000 200000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from facedash.search import ExactIndex, NGTIndex, normalise, recall_at_k


def clustered(n: int, q: int, d: int = 128, noise: float = 0.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(n // 10, 10), d)).astype(np.float32)
    labels = rng.integers(0, len(centres), n + q)
    x = centres[labels] + noise * rng.standard_normal((n + q, d)).astype(np.float32)
    x = normalise(x)
    return x[:n], x[n:]


def timed(fn, *args, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def run(n: int, n_queries: int, k: int, epsilon: float) -> dict[str, float]:
    x, q = clustered(n, n_queries)
    exact = ExactIndex(x)
    t_batch, truth = timed(exact.search, q, k, repeat=2)
    single_q = q[: min(200, n_queries)]
    t_single, _ = timed(lambda: [exact.search(v, k) for v in single_q])
    t_build, ngt = timed(lambda: NGTIndex(x, epsilon=epsilon))
    ngt.search(q[:10], k)  # warm
    t_ngt, found = timed(ngt.search, q, k, repeat=2)
    return {
        "vectors": n,
        "queries": n_queries,
        "k": k,
        "exact_batched_qps": n_queries / t_batch,
        "exact_single_qps": len(single_q) / t_single,
        "ngt_qps": n_queries / t_ngt,
        "ngt_build_s": t_build,
        "ngt_epsilon": epsilon,
        "ratio_ngt_vs_exact_single": (n_queries / t_ngt) / (len(single_q) / t_single),
        "ratio_ngt_vs_exact_batched": (n_queries / t_ngt) / (n_queries / t_batch),
        "recall_at_k": recall_at_k(found.ids, truth.ids),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--epsilon", type=float, default=0.2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [run(n, args.queries, args.k, args.epsilon) for n in args.sizes]
    if args.json:
        print(json.dumps(rows))
        return
    print(
        f"{'vectors':>9} {'exact 1-by-1 q/s':>17} {'exact batched q/s':>18} {'NGT q/s':>9} "
        f"{'NGT/exact 1-by-1':>17} {'NGT/exact batched':>18} {'recall@5':>9} {'NGT build s':>12}"
    )
    for r in rows:
        print(
            f"{r['vectors']:>9,} {r['exact_single_qps']:>17,.0f} {r['exact_batched_qps']:>18,.0f} "
            f"{r['ngt_qps']:>9,.0f} {r['ratio_ngt_vs_exact_single']:>16.1f}x "
            f"{r['ratio_ngt_vs_exact_batched']:>17.2f}x {r['recall_at_k']:>9.4f} {r['ngt_build_s']:>12.1f}"
        )


if __name__ == "__main__":
    main()
