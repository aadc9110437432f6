"""Embedding map at 2,000 faces: figure build time with thumbnails, encoding cached vs uncached.

The 2,000 faces are the demo set augmented: each copy's embedding gets small
Gaussian noise (then re-normalised) and its thumbnail is mirrored and/or has its
brightness changed, so every thumbnail is a distinct JPEG to encode.

Run: ``PYTHONPATH=$PWD python bench/map.py [--faces 2000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from facedash import projection as P
from facedash.data import thumbnails
from facedash.data.datasets import load_demo
from facedash.data.store import Store
from facedash.faces.pipeline import embed_dataset
from facedash.figures.embedding_map import face_map

BUDGET_S = 2.0


def augment(result, n: int, seed: int = 0):
    """``n`` faces made from the demo set: noisy embeddings, flipped / re-lit thumbnails."""
    rng = np.random.default_rng(seed)
    base = len(result.rows)
    src = np.arange(n) % base
    emb = result.embeddings[src] + rng.normal(0, 0.02, size=(n, result.embeddings.shape[1]))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    thumbs = []
    for j, i in enumerate(src):
        image = Image.open(io.BytesIO(result.thumbs[i])).convert("RGB")
        if j >= base:
            if (j // base) % 2:
                image = ImageOps.mirror(image)
            image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.7, 1.3)))
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=90)
        thumbs.append(buf.getvalue())
    people = result.people[src]
    names = np.array([f"aug{j // base}/{result.names[i]}" for j, i in enumerate(src)], dtype=object)
    return emb, people, names, thumbs


def build(coords, labels, people, names, uris):
    fig = face_map(
        coords, names=names, people=people, labels=labels, colour_by="cluster", thumbs=uris
    )
    return fig, fig.to_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    result = embed_dataset(load_demo(), store=Store())
    emb, people, names, thumbs = augment(result, args.faces)
    P.cluster_map(emb[:50], people[:50], method="pca", dims=2)  # import sklearn outside the timing
    t0 = time.perf_counter()
    cmap = P.cluster_map(emb, people, method="pca", dims=2)
    t_cluster = time.perf_counter() - t0
    coords, labels = cmap.projection.coords, cmap.clustering.labels
    build(
        coords[:10], labels[:10], people[:10], names[:10], thumbnails.data_uris(thumbs[:10])
    )  # warm plotly

    uncached, cached, encode, size = [], [], [], 0
    uris = None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        uris = thumbnails.data_uris(thumbs)  # every rerun encodes again
        t1 = time.perf_counter()
        build(coords, labels, people, names, uris)
        uncached.append(time.perf_counter() - t0)
        encode.append(t1 - t0)
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        _, js = build(coords, labels, people, names, uris)  # encoded once, reused
        cached.append(time.perf_counter() - t0)
        size = len(js)
    med_u, med_c = statistics.median(uncached), statistics.median(cached)
    print(f"faces: {args.faces} (demo set x {args.faces / len(result.rows):.1f}, augmented)")
    print(f"PCA-2D + KMeans(k={cmap.clustering.k}) + metrics: {t_cluster:.3f} s")
    print(
        f"thumbnail encoding alone ({thumbnails.THUMB_SIDE}px data URIs): {statistics.median(encode):.3f} s"
    )
    print(f"figure build + to_json, thumbnails encoded every time (uncached): {med_u:.3f} s")
    print(f"figure build + to_json, thumbnails encoded once (cached):        {med_c:.3f} s")
    print(f"ratio uncached / cached: {med_u / med_c:.2f}x; figure JSON {size / 1e6:.1f} MB")
    verdict = "PASS" if med_c < BUDGET_S else "FAIL"
    print(
        f"{verdict}: cached build {med_c:.3f} s vs budget {BUDGET_S:.1f} s (median of {args.repeats})"
    )


if __name__ == "__main__":
    main()
