"""Arithmetic & search: accuracy by head input, and cost at 10,000 faces.

Accuracy (``--accuracy``, on by default): "person + attribute" top-1 / top-5 on
held-out photos for each feature the triplet head can read (``facedash.search.FEATURES``),
without and with the head, on

- the demo set under the demo conditions (590 faces; three random splits of the source
  photos, 30% held out), and
- a JAFFE-named set made from the demo's ``val`` photos (3 per person) with transforms
  no training uses (``UNSEEN``: brighter, hue, sepia, noisy), run through the real
  detector, aligner and model; the head is trained on the demo conditions of the
  ``train`` photos only.

Scale (``--scale N``, default 10,000; 0 skips): a set of N faces made from the real demo
faces (rows repeated, embeddings perturbed by N(0, 0.02) and re-normalised; **synthetic**,
so its accuracy means nothing: only cost is measured). Each step runs in a fresh process
and reports its wall time and peak RSS:

- the conditions view (5 x N faces) made cold in chunks, every crop transformed and hashed
  and stored, with a stand-in embedder (model time excluded: add N x 4 crops at the
  backend's rate) and then read back warm from beside the store;
- ``evaluate_arithmetic`` on the 5 x N view (the seeded 2,000 analogy queries) and the
  face-search CMC on the N faces (2,000 probes);
- the same arithmetic with every analogy query (what ``facedash arithmetic`` did before
  the bound) on a smaller set, to show how that grows.

Page (``--page N``, default 0: skipped): the Arithmetic & search page through
``streamlit.testing`` AppTest on a folder of N photos made from the demo's (each a demo
photo's bytes plus a unique trailer; store rows are the demo face's, embeddings perturbed;
written to the default store and removed afterwards): the first render (which makes the
conditions view, the cached part), a slider and a picker rerun, and a second session.

    PYTHONPATH=. python bench/arithmetic.py [--epochs 20] [--seeds 0 1 2] [--scale 10000] [--page 10000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


# -- accuracy ----------------------------------------------------------------------------------
def accuracy(epochs: int, seeds: list[int]) -> None:
    from facedash import search
    from facedash.data.datasets import load_demo, load_folder
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset
    from facedash.search.conditions import CONDITIONS, UNSEEN, attribute_view
    from facedash.search.jaffe_format import write_jaffe_format_set
    from facedash.search.triplet import compare_head, train_triplet_head

    store = Store()
    demo = embed_dataset(load_demo(), store=store)
    view = attribute_view(demo, "conditions", store=store)
    train = np.array([r.attributes["split"] == "train" for r in view.result.rows])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "unseen"
        folder.mkdir()
        write_jaffe_format_set(
            load_demo(), folder, per_person=3, conditions=("original", *UNSEEN), split="val"
        )
        jstore = Store(Path(tmp) / "s.sqlite3")
        jres = embed_dataset(load_folder(folder), store=jstore)
        jview = attribute_view(jres, "jaffe", store=jstore)
        jsrc = np.array([r.name.split(".")[0] + r.name.split(".")[2] for r in jview.result.rows])
        print(
            f"demo conditions {sorted(CONDITIONS)}: {len(view.persons)} faces; JAFFE-named unseen "
            f"set {sorted(set(jview.values))}: {len(jview.persons)} faces "
            f"({len(jres.failures)} photos without a face)"
        )
        print(
            f"\n{'features':10s} {'method':7s} | demo held out (mean of {len(seeds)} splits): "
            "plain emb / no head / head | JAFFE unseen: plain emb / no head / head   (top-1, top-5)"
        )
        for name in search.FEATURES:
            feats = search.view_features(view, name, store=store)
            jfeats = search.view_features(jview, name, store=jstore)
            for method in search.METHODS:
                rows: dict[str, list[tuple[float, float]]] = {}
                for seed in seeds:
                    cmp = compare_head(
                        view.result.embeddings,
                        view.persons,
                        view.values,
                        view.sources,
                        features=feats,
                        feature=name,
                        method=method,
                        epochs=epochs,
                        seed=seed,
                    )
                    for r in cmp.rows:
                        rows.setdefault(str(r["embedding"]), []).append((r["top-1"], r["top-5"]))
                demo_cells = [
                    "{:.2f}/{:.2f}".format(*np.mean(rows[k], axis=0))
                    for k in ("plain embedding", "features, no head", "triplet head")
                    if k in rows
                ]
                head = train_triplet_head(
                    feats[train], view.persons[train], view.values[train], epochs=epochs
                )
                jaffe_cells = []
                for vectors in (
                    jview.result.embeddings,
                    head.standardise(jfeats),
                    head.transform(jfeats),
                ):
                    rep = search.evaluate_arithmetic(
                        vectors, jview.persons, jview.values, method=method, sources=jsrc
                    )
                    jaffe_cells.append(f"{rep.top1:.2f}/{rep.top5:.2f}")
                if name == "embedding":
                    jaffe_cells = [jaffe_cells[0], "-", jaffe_cells[2]]
                print(
                    f"{name:10s} {method:7s} | {' / '.join(demo_cells):30s} | "
                    f"{' / '.join(jaffe_cells)}",
                    flush=True,
                )


# -- scale -------------------------------------------------------------------------------------
def synthetic_set(n: int, seed: int = 0):
    """An EmbeddingSet of ``n`` faces made from the demo's (rows repeated, embeddings perturbed)."""
    from dataclasses import replace

    from facedash.data.datasets import load_demo
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset

    demo = embed_dataset(load_demo(), store=Store())
    rng = np.random.default_rng(seed)
    pick = np.arange(n) % len(demo.rows)
    emb = demo.embeddings[pick] + rng.normal(0, 0.02, (n, demo.embeddings.shape[1]))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    rows = [
        replace(demo.rows[k], name=f"s{j:05d}_{demo.rows[k].name}", image_hash=f"syn{j:08d}")
        for j, k in enumerate(pick)
    ]
    return replace(demo, rows=rows, embeddings=emb, thumbs=[demo.thumbs[k] for k in pick])


class StandIn:
    """A stand-in embedder: the demo face's view embedding would come from the model."""

    def embed(self, faces: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(len(faces))
        v = rng.normal(size=(len(faces), 128)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def step(name: str, n: int, folder: str) -> dict[str, float]:
    """One measured step, in this (fresh) process."""
    from facedash import search
    from facedash.data.store import Store
    from facedash.search.conditions import attribute_view

    result = synthetic_set(n)
    store = Store(Path(folder) / "bench.sqlite3")
    t0 = time.perf_counter()
    out: dict[str, float] = {}
    if name in ("view-cold", "view-warm"):
        v = attribute_view(result, "conditions", store=store, get_model=StandIn)
        out["computed"] = v.result.computed
    elif name in ("arithmetic", "arithmetic-all"):
        v = attribute_view(result, "conditions", store=store, get_model=StandIn)
        t0 = time.perf_counter()
        rep = search.evaluate_arithmetic(
            v.result.embeddings,
            v.persons,
            v.values,
            sources=v.sources,
            analogy_sample=None if name == "arithmetic-all" else search.ANALOGY_SAMPLE,
        )
        out["analogy_queries"] = rep.analogy["queries"]
        out["vectors"] = len(v.persons)
    elif name == "cmc":
        ident = search.identification(result.embeddings, result.people)
        out["probes"] = len(ident.ranks)
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_step(name: str, n: int, folder: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--step", name, "--n", str(n), "--folder", folder],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def scale(n: int) -> None:
    print(f"\n== scale: {n:,} synthetic faces (from the demo's), {5 * n:,} in the conditions view")
    with tempfile.TemporaryDirectory() as folder:
        base = run_step("baseline", n, folder)
        print(
            f"(a process that builds the set and does nothing else: {base['peak_rss_mb']:.0f} MB)"
        )
        for name, what in (
            ("view-cold", "conditions view, cold (transform, hash, store; model excluded)"),
            ("view-warm", "conditions view, warm (one file beside the store)"),
            ("arithmetic", "evaluate_arithmetic, 2,000 analogy queries"),
            ("cmc", "face-search CMC, 2,000 probes"),
        ):
            r = run_step(name, n, folder)
            extra = {k: v for k, v in r.items() if k not in ("seconds", "peak_rss_mb")}
            print(f"{what:65s} {r['seconds']:7.2f} s  peak RSS {r['peak_rss_mb']:6.0f} MB  {extra}")
    small = min(n, 2000)
    with tempfile.TemporaryDirectory() as folder:
        run_step("view-cold", small, folder)
        for name in ("arithmetic", "arithmetic-all"):
            r = run_step(name, small, folder)
            print(
                f"{small:,} faces, {name:15s} ({int(r['analogy_queries']):,} analogy queries) "
                f"{r['seconds']:7.2f} s  peak RSS {r['peak_rss_mb']:6.0f} MB"
            )


def page(n: int) -> None:
    from streamlit.testing.v1 import AppTest

    from facedash.data.datasets import load_demo
    from facedash.data.images import content_hash
    from facedash.data.store import Detection, Store
    from facedash.faces.pipeline import embed_dataset
    from facedash.faces.types import Face
    from facedash.ui.state import FOLDER

    dataset = load_demo()
    store = Store()
    views = store.path.parent / "views"
    kept = set(views.glob("*.npz"))
    demo = embed_dataset(dataset, store=store)
    by_name = {item.name: item for item in dataset.items}
    rng = np.random.default_rng(0)
    detections, embeddings, hashes = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "set"
        for j in range(n):
            k = j % len(demo.rows)
            row = demo.rows[k]
            data = by_name[row.name].read() + f"\nfacedash-bench-{j}".encode()
            path = folder / row.person / f"b{j:05d}_{Path(row.name).name}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            h = content_hash(data)
            hashes.append(h)
            face = Face(tuple(row.box), np.asarray(row.landmarks), float(row.confidence))
            detections.append(
                Detection(h, row.width, row.height, (face,), demo.previews[row.image_hash])
            )
            v = demo.embeddings[k] + rng.normal(0, 0.02, demo.embeddings.shape[1])
            embeddings.append((h, 0, (v / np.linalg.norm(v)).astype(np.float32), demo.thumbs[k]))
        store.put_detections(detections, demo.det_key)
        store.put_embeddings(
            embeddings, det_key=demo.det_key, align_key=demo.align_key, model_id=demo.model_key
        )
        print(f"\n== the Arithmetic & search page on {n:,} photos ({5 * n:,} faces in its view)")
        try:
            for session in (1, 2):
                at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=1800)
                at.session_state["fd_source"] = FOLDER
                at.session_state["fd_folder"] = str(folder)
                t = time.perf_counter()
                at.run()
                loaded = time.perf_counter() - t
                at.switch_page("pages/arithmetic.py")
                t = time.perf_counter()
                at.run()
                first = time.perf_counter() - t
                assert not at.exception, at.exception
                print(
                    f"session {session}: set load {loaded:.1f} s, page first render {first:.1f} s"
                )
                if session == 1:
                    for key, change in (
                        ("arithmetic_k", lambda w: w.set_value(7)),
                        ("arithmetic_value", lambda w: w.select("grayscale")),
                    ):
                        t = time.perf_counter()
                        change(at.slider(key=key) if key.endswith("_k") else at.selectbox(key=key))
                        at.run()
                        print(f"  rerun after {key}: {time.perf_counter() - t:.2f} s")
            print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        finally:
            store.forget(hashes)
            for made in set(views.glob("*.npz")) - kept:  # this set's view beside the store
                made.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scale", type=int, default=10_000)
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--page", type=int, default=0)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        out = _baseline(args.n) if args.step == "baseline" else step(args.step, args.n, args.folder)
        print(json.dumps(out))
        return
    if not args.no_accuracy:
        accuracy(args.epochs, args.seeds)
    if args.scale:
        scale(args.scale)
    if args.page:
        page(args.page)


def _baseline(n: int) -> dict[str, float]:
    synthetic_set(n)
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


if __name__ == "__main__":
    main()
