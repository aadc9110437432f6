"""The face detector on OpenVINO (the default) against TensorFlow: speed and agreement, one run.

Decodes N photos (default: the demo set, every photo; ``--dir`` for a folder such as
``bench/scale_set.py``'s), then detects them with both runtimes of MTCNN's cascade in
alternating rounds, each after a warm-up batch, and prints ms per photo per round, the
ratio of the medians, and how far the two runtimes' faces are apart (count, box,
landmarks, confidence). ``--stages`` also splits the OpenVINO detector's time into the
pyramid (TensorFlow's area resize), PNet, RNet, ONet, the crops and the rest.

    PYTHONPATH=$PWD .venv/bin/python bench/detect.py [--dir DIR] [--n 600] [--rounds 3] [--stages]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.embed_set import cpu_name, loadavg  # noqa: E402


def photos(folder: Path | None, n: int) -> list[np.ndarray]:
    """Up to ``n`` decoded photos, spread evenly over the folder (or the demo set)."""
    from facedash.data.datasets import load_demo, load_path
    from facedash.data.images import decode

    items = (load_path(folder) if folder else load_demo()).items
    step = max(1, len(items) // n)
    return [decode(item.read()) for item in items[::step][:n]]


def stages(detector, images: list[np.ndarray]) -> dict[str, float]:
    """ms per photo of each part of the OpenVINO cascade (one pass, timed around each call)."""
    import facedash.faces.cascade as cascade_module

    cascade, nets = detector._cascade, detector._cascade._ov
    spent: dict[str, float] = {}

    def timed(name, fn):
        def run(*args):
            t = time.perf_counter()
            out = fn(*args)
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - t
            return out

        return run

    saved = (nets.pnet, nets.rnet, nets.onet, cascade_module._crops, cascade._pyramid_fn)
    nets.pnet, nets.rnet, nets.onet = (timed(k, getattr(nets, k)) for k in ("pnet", "rnet", "onet"))
    cascade_module._crops = timed("crops", cascade_module._crops)
    pyramid_fn = saved[4]

    def pyramid(side):
        fn = pyramid_fn(side)

        def run(batch):
            t = time.perf_counter()
            x, levels = fn(batch)
            levels = [level.numpy() for level in levels]  # wait for the resize itself
            spent["pyramid"] = spent.get("pyramid", 0.0) + time.perf_counter() - t
            return x, [cascade_module._Host(level) for level in levels]

        return run

    cascade._pyramid_fn = pyramid
    try:
        t = time.perf_counter()
        detector.detect(images)
        total = time.perf_counter() - t
    finally:
        nets.pnet, nets.rnet, nets.onet, cascade_module._crops, cascade._pyramid_fn = saved
    spent["rest"] = total - sum(spent.values())
    return {k: 1000 * v / len(images) for k, v in spent.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=None, help="a folder of photos (default: demo)")
    ap.add_argument("--n", type=int, default=600, help="photos (default 600)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--stages", action="store_true", help="split OpenVINO's time by stage")
    args = ap.parse_args()

    from facedash.faces.detect import Detector, DetectorSettings

    images = photos(args.dir, args.n)
    print(
        f"{len(images)} photos ({args.dir or 'demo set'}); CPU: {cpu_name()}, "
        f"{os.cpu_count()} logical CPUs; load {loadavg()}"
    )
    detectors = {
        "openvino": Detector(),
        "tensorflow": Detector(DetectorSettings(runtime="tensorflow")),
    }
    for d in detectors.values():
        d.detect(images[:32])  # compile, trace, warm the caches
    times: dict[str, list[float]] = {k: [] for k in detectors}
    found = {}
    for r in range(args.rounds):
        for name in list(detectors) if r % 2 == 0 else list(detectors)[::-1]:
            t = time.perf_counter()
            found[name] = detectors[name].detect(images)
            ms = 1000 * (time.perf_counter() - t) / len(images)
            times[name].append(ms)
            print(f"round {r + 1} {name:>10}: {ms:6.2f} ms/photo  (load {loadavg()})", flush=True)
    ov, tf = (statistics.median(times[k]) for k in ("openvino", "tensorflow"))
    print(f"median: openvino {ov:.2f} ms/photo, tensorflow {tf:.2f} ms/photo: {tf / ov:.2f}x")

    counts = box = marks = conf = 0.0
    faces = 0
    for a, b in zip(found["openvino"], found["tensorflow"], strict=True):
        if len(a) != len(b):
            counts += 1
            continue
        for fa, fb in zip(a, b, strict=True):
            faces += 1
            box = max(box, float(np.abs(np.subtract(fa.box, fb.box)).max()))
            marks = max(marks, float(np.abs(fa.landmarks - fb.landmarks).max()))
            conf = max(conf, abs(fa.confidence - fb.confidence))
    print(
        f"agreement: {faces} faces; photos with another face count {int(counts)}; "
        f"max |box| {box:.2e} px, max |landmark| {marks:.2e} px, max |confidence| {conf:.1e}"
    )
    if args.stages:
        parts = stages(detectors["openvino"], images)
        print(
            "openvino by stage (ms/photo): "
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]))
        )


if __name__ == "__main__":
    main()
