"""Faces per second of the whole pipeline (detect + align + embed) on the demo set.

Ours (``embed_dataset``: batched detection on letterboxed canvases through
``facedash.cascade``, batched embedding through a compiled function) against
the plain path: keras-facenet's own ``FaceNet.extract()`` code, run on each
photo file in turn (``cv2.imread``, the ``mtcnn`` package's ``detect_faces`` at
native size, crops with keras-facenet's margin, one ``model.predict`` per
photo), given the same weights instead of a download. Same photos, same run.

Each path first runs once over all the photos (tracing, first-call
allocation), then ``--rounds`` timed rounds; the best round of each counts.
Ours starts every round from an empty in-memory store, so nothing is cached.
Also prints the embedding stage's achieved FLOP rate as a fraction of this
machine's dense matrix-multiply rate, measured in the same run.

    python bench/embed.py [--images N] [--rounds R] [--repeat R]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def keras_facenet_extract(model, device):
    """keras-facenet's ``FaceNet`` with our model object instead of its downloaded one.

    ``FaceNet.__init__`` downloads weights, so the instance is made without it and
    given the attributes ``extract()`` reads: the model and the metadata of the
    ``20170512-110547`` weights (prewhitening, 160 px). Its ``mtcnn()`` creates
    the package's ``MTCNN`` once per class, as in keras-facenet.
    """
    from keras_facenet import FaceNet
    from keras_facenet.metadata import MODEL_METADATA
    from mtcnn import MTCNN

    facenet = FaceNet.__new__(FaceNet)
    facenet.metadata = MODEL_METADATA["20170512-110547"]
    facenet.model = model
    FaceNet._mtcnn = MTCNN(device=device)

    def extract(path: str) -> list:
        with contextlib.redirect_stdout(io.StringIO()):  # predict's progress bar
            return facenet.extract(path)

    return extract


def plain_path(paths, extract) -> int:
    """Faces embedded by keras-facenet's ``extract()``, one photo file at a time."""
    return sum(len(extract(p)) for p in paths)


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
        "--images", type=int, default=118, help="demo photos per path (default: all 118)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per path (best counts)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="embedding-stage repeats for the FLOP rate"
    )
    args = parser.parse_args()

    from facedash.datasets import Dataset, load_demo
    from facedash.detect import AlignSettings, Detector, DetectorSettings
    from facedash.images import decode
    from facedash.models import get_model
    from facedash.models.facenet import flops_per_image
    from facedash.pipeline import embed_dataset
    from facedash.store import Store

    demo = load_demo()
    items = demo.items[: args.images]
    paths = [str(i.path) for i in items]
    subset = Dataset(name="bench", kind="demo", items=items)
    facenet = get_model("facenet")
    detector = Detector(DetectorSettings())
    extract = keras_facenet_extract(facenet.model, detector.device)

    def ours():
        return embed_dataset(
            subset,
            store=Store(":memory:"),
            get_detector=lambda: detector,
            get_model=lambda: facenet,
        )

    def timed(run):
        run()  # warm-up round: tracing, first-call allocation
        best, result = float("inf"), None
        for _ in range(args.rounds):
            t = time.perf_counter()
            result = run()
            best = min(best, time.perf_counter() - t)
        return best, result

    plain_s, plain_faces = timed(lambda: plain_path(paths, extract))
    ours_s, result = timed(ours)
    assert result.computed == len(result.rows) and result.cached == 0
    ours_faces = len(result.rows)

    print(
        f"photos: {len(items)}  (faces embedded: plain {plain_faces} [every face above 0.95], "
        f"ours {ours_faces} [largest per photo])"
    )
    plain_rate, ours_rate = plain_faces / plain_s, ours_faces / ours_s
    print(
        f"plain path (keras-facenet extract(), photo by photo): {plain_rate:7.2f} faces/s  "
        f"({1000 * plain_s / len(items):.0f} ms/photo)"
    )
    print(
        f"facedash pipeline (batched, compiled):                 {ours_rate:7.2f} faces/s  "
        f"({1000 * ours_s / len(items):.0f} ms/photo)"
    )
    print(f"speed-up: {ours_rate / plain_rate:.1f}x  (target >= 8x)")

    # Detection stage alone, on the same letterboxed canvases: the mtcnn package's own
    # batched driver (as shipped) against facedash.cascade.
    from mtcnn import MTCNN

    from facedash.detect import letterbox

    settings = DetectorSettings()
    photos = [decode(i.read()) for i in items]
    groups: dict[int, list[np.ndarray]] = {}
    for img in photos:
        side = settings.canvas_for(*img.shape[:2])
        groups.setdefault(side, []).append(letterbox(img, side)[0])
    package = MTCNN(device=detector.device)

    def by_package():
        for canvases in groups.values():
            for k in range(0, len(canvases), detector.batch_size):
                package.detect_faces(canvases[k : k + detector.batch_size])

    def by_cascade():
        for canvases in groups.values():
            for k in range(0, len(canvases), detector.batch_size):
                detector._cascade(np.stack(canvases[k : k + detector.batch_size]))

    package_s, _ = timed(by_package)
    cascade_s, _ = timed(by_cascade)
    print(
        f"detection stage, same canvases: mtcnn's detect_faces {1000 * package_s / len(items):.1f} "
        f"ms/photo, facedash.cascade {1000 * cascade_s / len(items):.1f} ms/photo "
        f"({package_s / cascade_s:.1f}x)"
    )

    # Embedding stage alone: aligned crops through the compiled function.
    from facedash.detect import align

    al = AlignSettings()
    images = {i.name: img for i, img in zip(items, photos, strict=True)}
    crops = []
    for row in result.rows:
        face = type("F", (), {})()
        face.box, face.landmarks = row.box, np.asarray(row.landmarks)
        crops.append(align(images[row.name], face, 160, margin=al.margin, rotate=al.rotate))
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
