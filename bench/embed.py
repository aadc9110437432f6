"""Faces per second of the whole pipeline (detect + align + embed) on the demo set.

Ours (batched detection on letterboxed canvases, batched embedding through a
compiled function) against the plain path in the style of keras-facenet's
``FaceNet.extract()``: one photo at a time, MTCNN at native size, crop, resize,
eager ``model.predict`` per face — same weights, same photos, same run.
Both paths are warmed first, and ours starts from an empty in-memory store so
nothing is cached. Also prints the embedding stage's achieved FLOP rate as a
fraction of this machine's dense matrix-multiply rate, measured in the same run.

    python bench/embed.py [--images N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def plain_path(images, mtcnn, model, prewhiten):
    import cv2

    out = []
    for img in images:
        faces = mtcnn.detect_faces(img)
        if not faces:
            continue
        x, y, w, h = max(faces, key=lambda f: f["box"][2] * f["box"][3])["box"]
        x, y = max(0, x), max(0, y)
        crop = cv2.resize(img[y : y + h, x : x + w], (160, 160))
        out.append(model.predict(prewhiten(crop[None]), verbose=0)[0])
    return out


def matmul_rate(n: int = 2048, repeat: int = 20) -> float:
    """Best dense float32 matmul rate (FLOP/s) of TensorFlow and NumPy on this machine."""
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    x, y = a.numpy(), b.numpy()
    best = float("inf")
    for run in (lambda: tf.matmul(a, b).numpy(), lambda: x @ y):
        run()
        for _ in range(repeat):
            t = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images", type=int, default=48, help="demo photos per path (default 48; 118 = all)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="embedding-stage repeats for the FLOP rate"
    )
    args = parser.parse_args()

    from facedash.datasets import Dataset, load_demo
    from facedash.detect import AlignSettings, Detector, DetectorSettings
    from facedash.images import decode
    from facedash.models import get_model
    from facedash.models.facenet import flops_per_image, prewhiten
    from facedash.pipeline import embed_dataset
    from facedash.store import Store

    demo = load_demo()
    items = demo.items[: args.images]
    subset = Dataset(name="bench", kind="demo", items=items)
    images = [decode(i.read()) for i in items]
    facenet = get_model("facenet")
    detector = Detector(DetectorSettings())

    from mtcnn import MTCNN

    plain_mtcnn = MTCNN(device=detector.device)  # the package as shipped: eager, native size
    # Warm both paths (tracing, first-call allocation) on one photo.
    plain_path(images[:1], plain_mtcnn, facenet.model, prewhiten)
    embed_dataset(
        Dataset("warm", "demo", items[:1]),
        store=Store(":memory:"),
        get_detector=lambda: detector,
        get_model=lambda: facenet,
    )

    t = time.perf_counter()
    plain = plain_path(images, plain_mtcnn, facenet.model, prewhiten)
    plain_s = time.perf_counter() - t

    t = time.perf_counter()
    ours = embed_dataset(
        subset, store=Store(":memory:"), get_detector=lambda: detector, get_model=lambda: facenet
    )
    ours_s = time.perf_counter() - t
    assert ours.computed == len(ours.rows) and ours.cached == 0

    print(f"photos: {len(items)}  (faces: plain {len(plain)}, ours {len(ours.rows)})")
    print(
        f"plain path (one photo at a time, eager predict): {len(plain) / plain_s:7.2f} faces/s  ({plain_s:.2f} s)"
    )
    print(
        f"facedash pipeline (batched, compiled):           {len(ours.rows) / ours_s:7.2f} faces/s  ({ours_s:.2f} s)"
    )
    print(f"speed-up: {(len(ours.rows) / ours_s) / (len(plain) / plain_s):.1f}x  (target >= 8x)")

    # Embedding stage alone: aligned crops through the compiled function.
    from facedash.detect import align

    al = AlignSettings()
    crops = []
    for row in ours.rows:
        img = images[[i.name for i in items].index(row.name)]
        face = type("F", (), {})()
        face.box, face.landmarks = row.box, np.asarray(row.landmarks)
        crops.append(align(img, face, 160, margin=al.margin, rotate=al.rotate))
    batch = np.stack(crops)
    facenet.embed(batch)
    best = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        facenet.embed(batch)
        best = min(best, time.perf_counter() - t)
    flops = flops_per_image(facenet.model)
    achieved = flops * len(batch) / best
    peak = max(matmul_rate(), matmul_rate())  # before and after: the machine may be shared
    print(
        f"embedding stage: {len(batch) / best:.1f} faces/s, {flops / 1e9:.2f} GFLOP/face -> {achieved / 1e9:.1f} GFLOP/s"
    )
    print(
        f"dense matmul (2048x2048 float32, best of TensorFlow and NumPy, same run): {peak / 1e9:.1f} GFLOP/s"
    )
    print(f"embedding FLOP rate / matmul rate: {achieved / peak:.0%}  (target >= 50%)")


if __name__ == "__main__":
    main()
