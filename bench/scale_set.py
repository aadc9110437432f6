"""Face sets of N photos made from the demo photos by deterministic augmentation (for bench/scale.py).

Photo ``j`` of every set is the same file: copy ``j // 118`` of demo photo ``j % 118``,
cropped, mirrored, rotated, re-lit, recoloured, rescaled and saved at a JPEG quality
drawn from a generator seeded by ``(seed, copy, photo)``. A 1,000-photo set is
therefore the first 1,000 photos of the 10,000-photo set, byte for byte, and the
store (keyed by content hash) embeds each photo once whatever the set.

Layout: ``DIR/<split>/<person>/c<copy>_<name>.jpg`` (the demo's train/val split and
person folders), so ``load_folder`` knows each photo's person and split. A marker
file ``.facedash-scale.json`` (hidden: the loaders skip it) is written last; a set
whose marker matches is reused as it is.

Run on its own: ``PYTHONPATH=$PWD python bench/scale_set.py DIR --n 1000``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from facedash.assets import require_demo
from facedash.paths import home

MARKER = ".facedash-scale.json"
VERSION = 1  # bump when the augmentation changes (a set with another version is rebuilt)


def demo_photos(root: Path | None = None) -> list[Path]:
    """The demo photos in a stable order."""
    folder = require_demo(root)
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in {".jpg", ".jpeg", ".png"}
    )


def augment(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, int]:
    """One deterministic variant of ``image`` and the JPEG quality to save it at."""
    img = image.convert("RGB")
    w, h = img.size
    keep = rng.uniform(0.82, 1.0, size=2)  # crop: keep 82-100 % of each side
    cw, ch = max(8, int(w * keep[0])), max(8, int(h * keep[1]))
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    img = img.crop((x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    angle = float(rng.uniform(-12.0, 12.0))
    fill = tuple(int(v) for v in np.asarray(img).reshape(-1, 3).mean(axis=0))
    img = img.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=fill)
    img = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.7, 1.3)))
    img = ImageEnhance.Contrast(img).enhance(float(rng.uniform(0.8, 1.2)))
    img = ImageEnhance.Color(img).enhance(float(rng.uniform(0.6, 1.4)))
    scale = float(rng.uniform(0.6, 1.5))
    size = (max(16, round(img.width * scale)), max(16, round(img.height * scale)))
    img = img.resize(size, Image.Resampling.BILINEAR)
    return img, int(rng.integers(55, 96))


def photo_bytes(source: Path, copy: int, index: int, seed: int) -> bytes:
    """The JPEG bytes of copy ``copy`` of demo photo number ``index``."""
    rng = np.random.default_rng([seed, copy, index])
    with Image.open(source) as opened:
        img, quality = augment(opened, rng)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def relative_name(source: Path, demo_root: Path, copy: int) -> Path:
    """``<split>/<person>/c<copy>_<stem>.jpg`` for a demo photo."""
    rel = source.relative_to(demo_root)
    return rel.parent / f"c{copy:03d}_{source.stem}.jpg"


def default_folder(n: int) -> Path:
    """``$FACEDASH_HOME/scale/<n>``."""
    return home() / "scale" / str(n)


def build_set(folder: Path, n: int, *, seed: int = 0, log=print) -> tuple[Path, float, bool]:
    """Make (or reuse) the ``n``-photo set in ``folder``; return (folder, seconds, built)."""
    folder = Path(folder)
    marker = folder / MARKER
    want = {"n": n, "seed": seed, "version": VERSION}
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == want:
                return folder, 0.0, False
        except (OSError, ValueError):
            pass
    t0 = time.perf_counter()
    demo_root = require_demo()
    sources = demo_photos()
    folder.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    wanted: set[Path] = set()
    for j in range(n):
        copy, index = divmod(j, len(sources))
        source = sources[index]
        out = folder / relative_name(source, demo_root, copy)
        wanted.add(out)
        if out.is_file():  # deterministic: an existing file already holds these bytes
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_bytes(photo_bytes(source, copy, index, seed))
        os.replace(tmp, out)
        if (j + 1) % 1000 == 0:
            log(f"  built {j + 1}/{n} photos")
    for stale in folder.rglob("*.jpg"):  # a smaller set in a folder once bigger
        if stale not in wanted:
            stale.unlink()
    marker.write_text(json.dumps(want))
    return folder, time.perf_counter() - t0, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", help="default: $FACEDASH_HOME/scale/N")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = args.folder or default_folder(args.n)
    folder, seconds, built = build_set(folder, args.n, seed=args.seed)
    print(f"{folder}: {args.n} photos ({'built' if built else 'reused'} in {seconds:.1f} s)")


if __name__ == "__main__":
    main()
