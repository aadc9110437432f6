"""Maps per second: our batched Grad-CAM against a loop of tf-explain ``GradCAM.explain`` calls.

Same faces (aligned demo crops), same run, reference configuration
(class_index = argmax |embedding|, layer Block8_6_Conv2d_1x1). Our first call
(tracing the compiled function) is timed separately and excluded from the rate.

    PYTHONPATH=$PWD python bench/explain.py [--faces 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from facedash.data.datasets import load_demo
    from facedash.data.store import Store
    from facedash.explain import REFERENCE_LAYER, TopChannel
    from facedash.explain.crops import aligned_crops
    from facedash.explain.gradcam import GradCAM
    from facedash.explain.tfexplain import tfexplain_reference
    from facedash.faces.pipeline import embed_dataset
    from facedash.models import get_model
    from facedash.models.facenet import prewhiten

    dataset = load_demo()
    result = embed_dataset(dataset, store=Store())
    crops = aligned_crops(dataset, result.rows[: args.faces])
    model = get_model("facenet").model
    n = len(crops)

    ours = GradCAM(model, layer=REFERENCE_LAYER, batch_size=16)
    t0 = time.perf_counter()
    ours.explain(crops[:16], TopChannel())
    first = time.perf_counter() - t0
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ours.explain(crops, TopChannel())
        times.append(time.perf_counter() - t0)
    ours_rate = n / min(times)

    x = prewhiten(crops)
    t0 = time.perf_counter()
    tfexplain_reference(model, x, REFERENCE_LAYER)
    theirs = time.perf_counter() - t0
    theirs_rate = n / theirs

    print(f"faces: {n}; first call (tracing) {first:.2f} s")
    print(
        f"ours, batched GradientTape (batch 16): {ours_rate:8.1f} maps/s ({1000 / ours_rate:.1f} ms/map)"
    )
    print(
        f"tf-explain GradCAM.explain loop:       {theirs_rate:8.2f} maps/s ({1000 / theirs_rate:.0f} ms/map)"
    )
    print(f"ratio: {ours_rate / theirs_rate:.1f}x (target >= 20x)")


if __name__ == "__main__":
    main()
