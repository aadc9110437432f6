"""Faces per second of each runtime a user's model can run on, beside the bundled FaceNet, in one run.

The user's models are FaceNet written out by real converters (tests/model_zoo.py: ONNX by
tf2onnx, OpenVINO IR, Keras .keras, SavedModel), each opened through facedash's own loader
for cards (``facedash.models.user``) with the card that reproduces FaceNet. The bundled
FaceNet runs on the default backend (``get_embedder``: OpenVINO on this CPU when installed)
and on the TensorFlow reference. Every embedder embeds the same aligned demo crops: one
warm-up pass, then ``--rounds`` timed rounds alternating between the embedders; the best
round of each counts. Each line also gives the minimum cosine to the reference.

    PYTHONPATH=$PWD python bench/models.py [--rounds R] [--batch B]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from facedash.data.datasets import load_demo
    from facedash.data.images import decode_jpeg
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset
    from facedash.faces.probe import demo_probe
    from facedash.models import get_embedder, get_model, user
    from tests import model_zoo as Z

    demo = embed_dataset(load_demo(), store=Store())
    crops = np.stack([decode_jpeg(t) for t in demo.thumbs if t is not None])
    reference = get_model("facenet")
    default = get_embedder("facenet", probe=demo_probe())
    embedders = {
        "facenet (tensorflow reference)": reference,
        f"facenet (default: {default.backend} {default.precision})": default,
    }
    for kind in ("facenet_onnx", "facenet_openvino", "facenet_keras_safe", "facenet_savedmodel"):
        c = Z.CARDS[kind]
        card, session = user.inspect(
            getattr(Z, kind)(),
            name=kind.replace("_", "-"),
            input_size=c["input_size"],
            layout=c["layout"],
            channels=c["channels"],
            normalize=c["normalize"],
            output=c["output"] or None,
        )
        embedders[f"{kind} ({session.backend})"] = user.CardEmbedder(card, session)

    truth = reference.embed(crops)
    best = dict.fromkeys(embedders, float("inf"))
    agree = {}
    for name, e in embedders.items():  # warm-up: tracing, first allocations
        out = e.embed(crops)
        agree[name] = float(np.min(np.sum(out * truth, axis=1)))
    for _ in range(args.rounds):
        for name, e in embedders.items():
            t0 = time.perf_counter()
            e.embed(crops)
            best[name] = min(best[name], time.perf_counter() - t0)
    print(f"{len(crops)} aligned demo faces, best of {args.rounds} rounds, CPU: {cpu_name()}")
    base = len(crops) / best[f"facenet (default: {default.backend} {default.precision})"]
    for name in embedders:
        rate = len(crops) / best[name]
        print(
            f"  {name:42s} {rate:7.1f} faces/s  ({rate / base:4.2f}x the default)  min cosine {agree[name]:.6f}"
        )


if __name__ == "__main__":
    main()
