"""Benchmark: the vectorised threshold sweep, and the Verification page's slider rerun.

1. Every threshold of 1,000,000 synthetic pairs in one sweep (sort once, cumulative
   sums: TP, FP, TN, FN, precision, recall, F1, accuracy, FAR, FRR at every distinct
   threshold, plus AUC, EER, max F1 and TAR at FAR) against the loop a published dlib
   evaluation used: 100 thresholds, each calling scikit-learn's accuracy, precision,
   recall and F1. Same data, same run; the ratio is per threshold evaluated and overall.
2. The server-side work of one slider move on the page with 100,000 pairs: read the
   cached sweep at the new threshold, rebuild the four threshold-marked figures and
   serialise them as Streamlit does, list the failing pairs, build the report record.
   Optionally (--apptest) the full AppTest rerun on the demo set, Streamlit included.

Run: PYTHONPATH=. python bench/sweep.py [--pairs 1000000] [--page-pairs 100000] [--apptest]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import plotly.io as pio
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from facedash import verification as V
from facedash.figures import verification as F


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cosine-like scores: 20% genuine pairs around 0.6, impostors around 0.1."""
    rng = np.random.default_rng(seed)
    same = rng.random(n) < 0.2
    scores = np.where(same, rng.normal(0.6, 0.15, n), rng.normal(0.1, 0.12, n))
    return np.round(scores, 6), same  # six decimals: realistic ties


def ours(scores: np.ndarray, same: np.ndarray) -> dict[str, float]:
    sw = V.sweep(scores, same, score="cosine")
    arrays = [sw.precision, sw.recall, sw.f1, sw.accuracy, sw.far, sw.frr, sw.tn, sw.fn]
    out = {
        "thresholds": len(sw.thresholds),
        "auc": sw.auc,
        "eer": sw.eer()[0],
        "best_f1": sw.best_f1().f1,
        "tar@1e-3": sw.tar_at_far(1e-3),
    }
    assert all(len(a) == len(sw.thresholds) for a in arrays)
    return out


def loop(scores: np.ndarray, same: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    rows = []
    for t in thresholds:
        pred = scores >= t
        rows.append(
            (
                accuracy_score(same, pred),
                precision_score(same, pred, zero_division=0),
                recall_score(same, pred),
                f1_score(same, pred),
            )
        )
    return np.array(rows)


def bench_sweep(n: int, loop_thresholds: int) -> None:
    scores, same = synthetic(n)
    ours(scores[:1000], same[:1000])  # warm-up
    runs = []
    for _ in range(5):  # median of 5: the machine is shared
        t0 = time.perf_counter()
        result = ours(scores, same)
        runs.append(time.perf_counter() - t0)
    t_ours = float(np.median(runs))
    grid = np.linspace(scores.min(), scores.max(), loop_thresholds)
    t0 = time.perf_counter()
    ref = loop(scores, same, grid)
    t_loop = time.perf_counter() - t0
    # Same figures at the loop's thresholds (checked, not assumed).
    sw = V.sweep(scores, same)
    mine = np.array(
        [
            (c.accuracy, c.precision if c.tp + c.fp else 0.0, c.recall, c.f1)
            for c in (sw.at(float(t)) for t in grid)
        ]
    )
    err = float(np.abs(mine - ref).max())
    n_thr = result["thresholds"]
    print(f"pairs: {n:,}  distinct thresholds: {n_thr:,}")
    print(
        f"ours   : {t_ours * 1e3:9.1f} ms (median of 5) for every threshold (AUC {result['auc']:.4f}, "
        f"EER {result['eer']:.4f}, best F1 {result['best_f1']:.4f})"
    )
    print(
        f"sklearn: {t_loop * 1e3:9.1f} ms for {loop_thresholds} thresholds (4 metric calls each, "
        f"{t_loop / loop_thresholds * 1e3:.0f} ms per threshold)"
    )
    print(f"max |difference| at the loop's thresholds: {err:.2e}")
    print(
        f"ratio (wall time, ours covering {n_thr:,} thresholds vs {loop_thresholds}): {t_loop / t_ours:.0f}x"
    )
    print(f"ratio per threshold evaluated: {(t_loop / loop_thresholds) / (t_ours / n_thr):,.0f}x")


def page_rerun(n: int, moves: int) -> None:
    scores, same = synthetic(n, seed=1)
    pairs = V.Pairs(np.arange(n), np.arange(n) + 1, same)
    t0 = time.perf_counter()
    sw = V.sweep(scores, same)
    hist = F.score_histogram(scores, same)
    t_cached = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    thresholds = rng.uniform(0.0, 0.6, moves)
    times = []
    for t in thresholds:
        t0 = time.perf_counter()
        curve = F.Curve("bench", sw, float(t), 0.4)
        conf = sw.at(float(t))
        figs = [
            F.roc_figure([curve]),
            F.metrics_figure(curve),
            F.histogram_figure(hist, curve),
            F.confusion_figure(conf),
        ]
        for fig in figs:
            pio.to_json(fig, validate=False)
        V.failing_pairs(scores, pairs, float(t), kind="false_accept", limit=24)
        V.failing_pairs(scores, pairs, float(t), kind="false_reject", limit=24)
        V.report_json(V.summary(sw, model="bench", threshold=float(t)))
        times.append(time.perf_counter() - t0)
    ms = np.array(times[1:]) * 1e3
    print(f"\npage, {n:,} pairs: sweep + histogram once (cached): {t_cached * 1e3:.1f} ms")
    print(
        f"per slider move ({moves - 1} moves): median {np.median(ms):.1f} ms, "
        f"p90 {np.percentile(ms, 90):.1f} ms, max {ms.max():.1f} ms (target < 100 ms)"
    )


def apptest_rerun(moves: int) -> None:
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(str(root / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/verification.py")
    at.run()
    times = []
    for t in np.linspace(0.1, 0.6, moves):
        t0 = time.perf_counter()
        at.slider(key="verification_threshold").set_value(float(t)).run()
        times.append(time.perf_counter() - t0)
    assert not at.exception
    ms = np.array(times) * 1e3
    print(
        f"\nAppTest slider rerun on the demo set (6,903 pairs, whole page incl. Streamlit, "
        f"galleries, second-model off): median {np.median(ms):.0f} ms, max {ms.max():.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--loop-thresholds", type=int, default=100)
    parser.add_argument("--page-pairs", type=int, default=100_000)
    parser.add_argument("--moves", type=int, default=21)
    parser.add_argument("--apptest", action="store_true")
    args = parser.parse_args()
    bench_sweep(args.pairs, args.loop_thresholds)
    page_rerun(args.page_pairs, args.moves)
    if args.apptest:
        apptest_rerun(10)


if __name__ == "__main__":
    main()
