"""Top-1 / top-5 of "person + attribute", before and after the triplet head.

Two sets: the demo set under the synthetic photographic conditions (590 faces),
and the JAFFE-format set made from the demo photos (first photo of each person
under each condition, written as ``BA.GR1.1.tiff`` and embedded through the full
pipeline into a temporary store). The head is trained on ~70% of the source
photos and scored on the rest; plain-embedding numbers on all faces are given too.

    PYTHONPATH=. python bench/arithmetic.py [--epochs 40] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from facedash import search
from facedash.conditions import attribute_view, write_jaffe_format_set
from facedash.datasets import load_demo, load_folder
from facedash.pipeline import embed_dataset
from facedash.store import Store
from facedash.triplet import compare_head


def report(name, emb, persons, values, sources, epochs, seeds) -> None:
    print(
        f"\n== {name}: {len(emb)} faces, {len(set(persons))} people, attributes {sorted(set(map(str, values)))}"
    )
    for method in search.METHODS:
        for kind in search.INDEX_KINDS:
            r = search.evaluate_arithmetic(
                emb, persons, values, method=method, index=kind, sources=sources
            )
            print(
                f"all faces  {method:6s} {kind:5s} queries {len(r.queries):3d}  top-1 {r.top1:6.1%}  "
                f"top-5 {r.top5:6.1%}  image-A+B top-1 {r.analogy['top1']:6.1%} top-5 {r.analogy['top5']:6.1%}"
            )
    for method in search.METHODS:
        rows = {"plain embedding": [], "triplet head": []}
        for seed in seeds:
            cmp = compare_head(
                emb, persons, values, sources, method=method, epochs=epochs, seed=seed
            )
            for row in cmp.rows:
                rows[row["embedding"]].append(
                    (row["top-1"], row["top-5"], row["image - A + B top-1"])
                )
        for label, vals in rows.items():
            v = np.array(vals)
            print(
                f"held out   {method:6s} {label:16s} top-1 {v[:, 0].mean():6.1%}  top-5 {v[:, 1].mean():6.1%}  "
                f"image-A+B top-1 {v[:, 2].mean():6.1%}   (mean of {len(seeds)} splits)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    store = Store()
    demo = embed_dataset(load_demo(), store=store)
    view = attribute_view(demo, "conditions", store=store)
    report(
        "demo x synthetic conditions",
        view.result.embeddings,
        view.persons,
        view.values.astype(str),
        view.sources.astype(str),
        args.epochs,
        args.seeds,
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "jaffe"
        folder.mkdir()
        sources = write_jaffe_format_set(load_demo(), folder)
        result = embed_dataset(load_folder(folder), store=Store(Path(tmp) / "s.sqlite3"))
        values = np.array([r.attributes["expression"] for r in result.rows])
        src = np.array([sources[r.name] for r in result.rows])
        report(
            "JAFFE-format set (1 photo per person x 5 conditions)",
            result.embeddings,
            result.people.astype(str),
            values,
            src,
            args.epochs,
            args.seeds,
        )


if __name__ == "__main__":
    main()
