"""Maps per second: our batched Grad-CAM against tf-explain; and ms per pair of each pair method.

Same faces (aligned demo crops), same run, reference configuration
(class_index = argmax |embedding|, layer Block8_6_Conv2d_1x1). Our first call
(tracing the compiled function) is timed separately and excluded from the rate.

Then each pair method (``facedash.explain.pairs``: xSSAB, Grad-CAM against the other face,
CorrRISE with 200 masks, occlusion) on ``--pairs`` genuine demo pairs: the median time of one
pair's maps after one untimed warm-up pair, and xSSAB's four white-box maps beside their
target (<= 3 s a pair on this CPU).

    PYTHONPATH=$PWD python bench/explain.py [--faces 32] [--repeats 3] [--pairs 5]
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
    parser.add_argument("--pairs", type=int, default=5, help="pairs timed per pair method")
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
    pair_methods(result, model, args.pairs)


def pair_methods(result, model, n_pairs: int) -> None:
    """Median ms per pair of each pair method on genuine demo pairs (one warm-up pair first)."""
    import numpy as np

    from facedash.explain.flips import sample_pairs, set_crops
    from facedash.explain.pairs import PAIR_METHODS, pair_maps
    from facedash.models import get_model

    crops, people, _emb = set_crops(result)
    genuine, _imp = sample_pairs(people, n_pairs + 1, seed=0)
    embed = get_model("facenet").embed
    medians = {}
    for method in PAIR_METHODS:
        times = []
        for i, j in genuine:
            t0 = time.perf_counter()
            pair_maps(method, crops[i], crops[j], embed=embed, model=model, masks=200)
            times.append(time.perf_counter() - t0)
        medians[method] = 1000 * float(np.median(times[1:]))  # the first pair traces
        print(f"pair maps, {method:9s}: {medians[method]:8.0f} ms per pair (median of {n_pairs})")
    print(f"xssab: four white-box maps of a pair in {medians['xssab']:.0f} ms (target <= 3000 ms)")


if __name__ == "__main__":
    main()
