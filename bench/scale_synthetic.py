"""The moonshot set: N photos whose store rows come from a real embedded set, perturbed.

Photo ``j`` is photo ``j % M`` of an embedded source set (``bench/scale_set.py``'s
10,000 photos) with a unique trailer after its JPEG data (the bytes decode the
same, the content hash is new), in the same ``<split>/<person>/`` folder. Its
store rows are the source photo's: the same detection and preview, the same
aligned-face thumbnail, and the embedding plus Gaussian noise (sigma 0.02 per
dimension, re-normalised), so 100,000 faces cost minutes to make instead of the
hours that detecting and embedding them would take here. A marker file keeps
a built set from being made again.

Its faces' σ² under the saved uncertainty head are made the same way
(``synthetic_sigma2``): the source face's σ² times a log-normal factor (sigma 0.02),
kept where the Uncertainty page looks for them, so the page measures its work at
100,000 faces, not the hour the head's feature extractor would spend on them here.

Run on its own: ``PYTHONPATH=$PWD python bench/scale_synthetic.py --n 100000``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from facedash.data.datasets import load_folder
from facedash.data.images import content_hash
from facedash.data.store import Detection, Store
from facedash.faces.pipeline import embed_dataset
from facedash.paths import home

MARKER = ".facedash-synthetic.json"
VERSION = 1
CHUNK = 2_000


def default_folder(n: int) -> Path:
    """``$FACEDASH_HOME/scale/synthetic-<n>``."""
    return home() / "scale" / f"synthetic-{n}"


def build_synthetic(
    folder: Path, n: int, source: Path, *, seed: int = 0, noise: float = 0.02, log=print
) -> tuple[Path, float, bool]:
    """Make (or reuse) the ``n``-photo synthetic set from the embedded ``source`` set."""
    folder = Path(folder)
    marker = folder / MARKER
    want = {"n": n, "source": str(source), "seed": seed, "noise": noise, "version": VERSION}
    if marker.is_file() and json.loads(marker.read_text()) == want:
        return folder, 0.0, False
    t0 = time.perf_counter()
    store = Store()
    src = embed_dataset(load_folder(source), store=store, get_detector=_refuse)
    if not src.rows or src.computed:
        raise SystemExit(f"{source} is not fully embedded: run bench/scale.py on it first")
    det_key, align_key, model_key = src.det_key, src.align_key, src.model_key
    by_name = first_rows(src)
    names = sorted(by_name)
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    root = Path(src.root)
    for start in range(0, n, CHUNK):
        detections, embeddings = [], []
        for j in range(start, min(start + CHUNK, n)):
            name = names[j % len(names)]
            k = by_name[name]
            row = src.rows[k]
            data = (root / name).read_bytes() + f"\nfacedash-synthetic-{j}".encode()
            out = folder / Path(name).parent / f"s{j:06d}_{Path(name).name}"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            h = content_hash(data)
            face = _face(row)
            detections.append(
                Detection(h, row.width, row.height, (face,), src.previews[row.image_hash])
            )
            v = src.embeddings[k] + rng.normal(0, noise, src.embeddings.shape[1])
            embeddings.append((h, 0, (v / np.linalg.norm(v)).astype(np.float32), src.thumbs[k]))
        store.put_detections(detections, det_key)
        store.put_embeddings(embeddings, det_key=det_key, align_key=align_key, model_id=model_key)
        log(f"  synthetic {min(start + CHUNK, n)}/{n} photos")
    marker.write_text(json.dumps(want))
    return folder, time.perf_counter() - t0, True


def synthetic_sigma2(
    folder: Path, source: Path, *, seed: int = 0, noise: float = 0.02, log=print
) -> bool:
    """Keep σ² of the synthetic set's faces under the saved head (made from the source set's).

    The source set's own σ² are computed by the head if no page has kept them yet (10,000
    faces: minutes). Returns False when nothing was written: no saved head, or kept already.
    """
    from facedash.data.arraycache import read_cached, write_cached
    from facedash.pfe import sigma2_cache_dir, sigma2_key, sigma2_of_set
    from facedash.pfe.saved import load_head

    head = load_head()
    if head is None:
        log("  no uncertainty head saved: the Uncertainty page will offer to train one")
        return False
    store = Store()
    syn = embed_dataset(load_folder(folder), store=store, get_detector=_refuse)
    cache, key = sigma2_cache_dir(syn), sigma2_key(syn, head)
    held = read_cached(cache, key)
    if held is not None and held["sigma2"].shape[0] == len(syn.rows):
        return False
    t0 = time.perf_counter()
    src = embed_dataset(load_folder(source), store=store, get_detector=_refuse)
    src_sigma2 = sigma2_of_set(src, None, head, cache_dir=sigma2_cache_dir(src))
    first = first_rows(src)
    # "<split>/<person>/s000123_<name>" is the source's "<split>/<person>/<name>"
    idx = np.array(
        [
            first[str(Path(r.name).parent / r.name.rsplit("/", 1)[-1].split("_", 1)[1])]
            for r in syn.rows
        ]
    )
    rng = np.random.default_rng(seed)
    out = src_sigma2[idx] * np.exp(rng.normal(0, noise, (len(idx), src_sigma2.shape[1])))
    write_cached(cache, key, {"sigma2": out})
    log(f"  synthetic σ² of {len(idx):,} faces in {time.perf_counter() - t0:.0f} s")
    return True


def first_rows(result) -> dict[str, int]:
    """Each photo's name -> the index of its first face in ``result`` (the face a copy gets)."""
    out: dict[str, int] = {}
    for k, row in enumerate(result.rows):
        out.setdefault(row.name, k)
    return out


def _face(row):
    from facedash.faces.types import Face

    return Face(tuple(row.box), np.asarray(row.landmarks), float(row.confidence))


def _refuse():
    raise SystemExit("the source set must be fully embedded (no model is loaded here)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--source", type=Path, default=home() / "scale" / "10000")
    parser.add_argument("folder", type=Path, nargs="?")
    args = parser.parse_args()
    folder = args.folder or default_folder(args.n)
    _, seconds, built = build_synthetic(folder, args.n, args.source)
    print(f"{folder}: {args.n} photos ({'built' if built else 'reused'} in {seconds:.0f} s)")
    synthetic_sigma2(folder, args.source)


if __name__ == "__main__":
    main()
