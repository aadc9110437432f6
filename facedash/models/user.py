"""A user's model: its card checked against the file, and the embedder that runs it.

``inspect`` opens a model file and makes its card: what the user said, filled in from the
model where it was left out (input size and layout from a fixed input shape), refused where
the two disagree. ``sanity`` runs a few aligned faces through it and refuses a model that
gives NaN or one vector for every face. ``load`` opens a registered card's model for the
registry, after checking the file is still the one registered.

Input preparation follows the card: the aligned uint8 RGB crop, its channels reversed for
``bgr``, normalised (``prewhiten``: per image, as FaceNet; ``unit``: x/255; ``MEAN,STD``:
(x − MEAN)/STD), transposed for ``nchw``; the chosen output is L2-normalised unless the card
says ``l2 = false``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import threading
from pathlib import Path

import numpy as np

from facedash.models.cards import CardError, ModelSpec, describe, parse_normalize
from facedash.models.runtimes import ModelFileError, Session, detect_runtime, open_model

BATCH = 32


def file_sha256(path: Path) -> str:
    """SHA-256 of a model file, or of a SavedModel folder's files / an IR's .xml and .bin, in order."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    if path.suffix.lower() == ".xml" and path.with_suffix(".bin").is_file():
        files.append(path.with_suffix(".bin"))
    digest = hashlib.sha256()
    for f in files:
        if path.is_dir():
            digest.update(str(f.relative_to(path)).encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def prewhiten(x: np.ndarray) -> np.ndarray:
    """Per-image standardisation, as FaceNet's training used it."""
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = x.std(axis=(1, 2, 3), keepdims=True)
    return (x - mean) / np.maximum(std, 1.0 / np.sqrt(x[0].size))


def prepare(card: ModelSpec, faces: np.ndarray) -> np.ndarray:
    """Aligned uint8 RGB crops ``(N, S, S, 3)`` -> the float32 batch the model takes."""
    x = np.asarray(faces, dtype=np.float32)
    if card.channels == "bgr":
        x = x[..., ::-1]
    kind, mean, std = parse_normalize(card.normalize)
    if kind == "prewhiten":
        x = prewhiten(x)
    elif kind == "unit":
        x = x / 255.0
    elif kind == "affine":
        x = (x - mean) / std
    if card.layout == "nchw":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x, dtype=np.float32)


def _layout_and_size(
    shape: tuple[int | None, ...], layout: str | None, size: int | None
) -> tuple[str, int]:
    """The card's layout and input size, from the model's input shape and what the user gave."""
    if len(shape) != 4:
        dims = ", ".join("N" if d is None else str(d) for d in shape)
        raise CardError(
            f"the model's input is not an image: its shape is ({dims}), not (N, H, W, 3) or (N, 3, H, W)"
        )
    fits = {"nhwc": shape[3] in (3, None), "nchw": shape[1] in (3, None)}
    if layout is None:
        known = [k for k, ok in fits.items() if ok]
        if shape[3] == 3:
            layout = "nhwc"
        elif shape[1] == 3:
            layout = "nchw"
        elif known:
            layout = known[0]
        else:
            raise CardError(f"the model's input {shape} has no axis of 3 colour channels")
    elif not fits[layout]:
        raise CardError(
            f"the card says --layout {layout} but the model's input shape is {shape}: "
            f"its channels are on the {'last' if layout == 'nchw' else 'second'} axis"
        )
    h, w = (shape[1], shape[2]) if layout == "nhwc" else (shape[2], shape[3])
    fixed = h if h is not None and h == w else None
    if h is not None and w is not None and h != w:
        raise CardError(f"the model takes {h}x{w} images; facedash aligns square faces")
    if size is None:
        if fixed is None:
            raise CardError("the model's input size is not fixed: give --input-size N")
        size = fixed
    elif fixed is not None and size != fixed:
        raise CardError(f"the card says --input-size {size} but the model takes {fixed}x{fixed}")
    return layout, size


def inspect(
    path: Path,
    *,
    name: str,
    input_size: int | None = None,
    layout: str | None = None,
    channels: str = "rgb",
    normalize: str = "prewhiten",
    align: str = "facenet",
    output: str | None = None,
    metric: str = "cosine",
    l2: bool = True,
    threshold: float | None = None,
    threshold_source: str = "",
    trust_code: bool = False,
) -> tuple[ModelSpec, Session]:
    """Open ``path`` and make its card; ``CardError``/``ModelFileError`` say what does not fit."""
    path = path.expanduser().resolve()
    runtime = detect_runtime(path)
    parse_normalize(normalize)
    session = open_model(runtime, path, trust_code=trust_code)
    layout, size = _layout_and_size(tuple(session.input_shape), layout, input_size)
    if output is None:
        if len(session.outputs) > 1:
            raise CardError(
                f"the model has {len(session.outputs)} outputs: choose one with --output ({', '.join(session.outputs)})"
            )
        output = session.outputs[0]
    elif output not in session.outputs:
        raise CardError(f"the model has no output {output!r}; it has {', '.join(session.outputs)}")
    card = ModelSpec(
        id=name,
        name=f"{name} ({runtime}, {path.name})",
        input_size=size,
        dim=0,
        metric=metric,
        default_thresholds={metric: float(threshold)} if threshold is not None else {},
        threshold_source=threshold_source if threshold is not None else "",
        preprocessing=describe(
            {
                "align": align,
                "input_size": size,
                "channels": channels,
                "layout": layout,
                "normalize": normalize,
            }
        ),
        runtime=runtime,
        layout=layout,
        channels=channels,
        normalize=normalize.lower(),
        align=align,
        output=output,
        l2=l2,
        path=str(path),
        sha256=file_sha256(path),
        trust_code=trust_code,
        builtin=False,
        added=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    return card, session


def sanity(card: ModelSpec, session: Session, crops: np.ndarray) -> int:
    """Run aligned faces through the model; its embedding size, or ``CardError`` for NaN / one vector."""
    out = session.run(prepare(card, crops), card.output)
    out = out.reshape(len(crops), -1)
    if not np.isfinite(out).all():
        raise CardError(
            f"the model returned NaN or infinity for {int((~np.isfinite(out)).any(axis=1).sum())} of {len(crops)} faces"
        )
    spread = float(np.abs(out - out[0]).max())
    if spread <= 1e-6 * max(1.0, float(np.abs(out).max())):
        raise CardError(
            f"the model returned the same vector for all {len(crops)} faces: it does not look at the face"
        )
    return int(out.shape[1])


class CardEmbedder:
    """A user's model on its runtime: aligned uint8 faces in, embeddings out (thread-safe)."""

    precision = "fp32"

    def __init__(self, card: ModelSpec, session: Session) -> None:
        self.spec = card
        self.session = session
        self.backend = session.backend
        self.device = session.device
        self.model = getattr(session, "model", None)  # the Keras model, where there is one
        if self.model is not None and card.layout == "nhwc":
            # how the gradient methods feed it (facedash.explain.base.PREPARE)
            self.model.facedash_prepare = functools.partial(prepare, card)
        self.note = ""
        self.load_seconds = 0.0
        self.last_norms: np.ndarray | None = None  # norms before L2 of the last call
        self._lock = threading.Lock()

    def embed(self, faces: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
        """Embeddings ``(N, dim)`` of aligned faces ``(N, S, S, 3)`` uint8 (L2-normalised unless the card says not)."""
        faces = self.spec.batch(faces)
        parts = []
        with self._lock:
            for start in range(0, len(faces), batch_size):
                batch = prepare(self.spec, faces[start : start + batch_size])
                parts.append(self.session.run(batch, self.spec.output).reshape(len(batch), -1))
        out = (
            np.concatenate(parts).astype(np.float32)
            if parts
            else np.zeros((0, self.spec.dim), np.float32)
        )
        norms = np.linalg.norm(out, axis=1)
        self.last_norms = norms
        if self.spec.l2:
            out /= np.maximum(norms[:, None], 1e-12)
        return out


def load(card: ModelSpec, root: Path | None = None) -> CardEmbedder:
    """The registered model of ``card``, opened; ``ModelFileError`` if its file is gone or changed."""
    import time

    t0 = time.perf_counter()
    path = Path(card.path)
    if not path.exists():
        raise ModelFileError(
            f"the model file of {card.id!r} is gone: {path} (facedash models remove {card.id})"
        )
    if file_sha256(path) != card.sha256:
        raise ModelFileError(
            f"the model file of {card.id!r} changed since it was registered ({path}); register it "
            f"again under a new name (facedash models add) so old and new embeddings never mix"
        )
    session = open_model(card.runtime, path, trust_code=card.trust_code)
    _layout_and_size(tuple(session.input_shape), card.layout, card.input_size)
    embedder = CardEmbedder(card, session)
    embedder.load_seconds = round(time.perf_counter() - t0, 2)
    return embedder
