"""Benchmark: which face chip suits dlib's ResNet on the demo set (ROC-AUC, Euclidean distance).

dlib's own 5-point alignment inside MTCNN's box (what facedash.models.dlib does)
against our eye-levelled crop (facedash.faces.detect.align) resized to 150 px at a few
margins. Detections come from the default store (run `facedash embed --demo` first).

Run: PYTHONPATH=. python bench/dlib_alignment.py
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np

from facedash import verification as V
from facedash.data.datasets import load_demo
from facedash.data.images import content_hash, decode
from facedash.data.store import Store
from facedash.faces.detect import DetectorSettings, align, select
from facedash.models.dlib import load


def main() -> None:
    model = load()
    store, det_key = Store(), DetectorSettings().key()
    images, faces, people = [], [], []
    for item in load_demo().items:
        data = item.read()
        det = store.get_detections([content_hash(data)], det_key).get(content_hash(data))
        if det is None or not det.faces:
            continue
        images.append(decode(data))
        faces.append(det.faces[select(det.faces, "largest")[0]])
        people.append(item.person)
    pairs = V.all_pairs(people)
    print(f"{len(images)} faces, {pairs.genuine} genuine / {pairs.impostor} impostor pairs")

    def report(label: str, chips: list[np.ndarray], seconds: float) -> None:
        emb = SimpleNamespace(embeddings=model.embed(np.stack(chips)))
        sw = V.sweep(V.pair_scores(emb, pairs, "euclidean"), pairs.same, score="euclidean")
        at = sw.at(0.6)
        print(
            f"{label:34s} AUC {sw.auc:.4f}  EER {sw.eer()[0]:.4f}  "
            f"accuracy@0.6 {at.accuracy:.4f}  FRR@0.6 {at.frr:.4f}  ({seconds:.1f} s)"
        )

    t0 = time.perf_counter()
    chips = [model.align(img, f) for img, f in zip(images, faces, strict=True)]
    report("dlib 5-point chip in MTCNN box", chips, time.perf_counter() - t0)
    for margin in (0.0, 0.1, 0.2):
        t0 = time.perf_counter()
        chips = [align(img, f, 150, margin=margin) for img, f in zip(images, faces, strict=True)]
        report(f"our crop, margin {margin:g}", chips, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
