"""The demo set's uncertainty head and decoder, trained once, deterministically, at set-up.

``facedash assets fetch`` ends with ``setup`` (``--no-pfe`` skips it), so a newcomer's
``make app`` opens the Uncertainty page complete: σ² views and decoder samples, no
training on stage. Where they are still missing (assets fetched by an older version),
the app runs the same ``ensure`` in a background thread once per server
(``facedash.ui.pfe.demo_training``). Both land where the page's "Train" buttons save,
``$FACEDASH_HOME/pfe``, with the rest of the assets.

Each is trained by a fixed recipe (``RECIPE``: the "Train" buttons' settings, seed 0)
and its record carries the recipe as ``demo_recipe``. What is already there is kept,
unless it is the demo's own trained by another recipe (stale): a head or decoder a
user trained on their own set is never overwritten here.

``setup`` turns on TensorFlow's op determinism (in the CLI's own process), so two
set-ups on one machine give the same weights; on a CPU they agree without it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from facedash.pfe import decoder as dec
from facedash.pfe import degrade, nonface, saved

RECIPE_VERSION = 1
HEAD_SETTINGS: dict[str, Any] = {"epochs": 60, "seed": 0}  # the "Train" button's defaults
DECODER_SETTINGS: dict[str, Any] = {"epochs": 20, "seed": 0}
PARTS = ("head", "decoder")
Log = Callable[[str], None]
Progress = Callable[[str, int, int, str], None]  # (part, done, total, English message)


def recipe(part: str) -> dict[str, Any]:
    """What one part is trained by: the settings, the data's versions and the demo's content digest."""
    from facedash import assets

    settings = HEAD_SETTINGS if part == "head" else DECODER_SETTINGS
    return {
        "version": RECIPE_VERSION,
        "part": part,
        **settings,
        "degrade": degrade.VERSION,
        "nonface": nonface.VERSION,
        "demo_digest": assets.DEMO_DIGEST,
    }


def _record(part: str, root: Path | str | None) -> dict[str, Any] | None:
    return saved.read_record(root) if part == "head" else dec.read_decoder_record(root)


def needed(root: Path | str | None = None) -> dict[str, str]:
    """Each part's state, from the records alone (no TensorFlow).

    ``missing``, ``stale`` (the demo's, by another recipe), ``current`` (the demo's, by
    this recipe) or ``own`` (trained by hand: kept).
    """
    out = {}
    for part in PARTS:
        record = _record(part, root)
        if record is None:
            out[part] = "missing"
        elif "demo_recipe" not in record:
            out[part] = "own"
        else:
            out[part] = "current" if record["demo_recipe"] == recipe(part) else "stale"
    return out


def to_train(root: Path | str | None = None) -> list[str]:
    """The parts ``ensure`` would train: missing or stale."""
    return [p for p, s in needed(root).items() if s in ("missing", "stale")]


def ensure(
    result: Any,
    *,
    embedder: Any = None,
    detector: Any = None,
    root: Path | str | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train the missing or stale parts on the demo ``result`` and save them; report what was done.

    ``force`` retrains both. The report gives each part's state before (``missing``,
    ``stale``, ``current``, ``own``), whether it was trained, and the seconds taken.
    """
    from facedash.pfe import train

    states = needed(root)
    report: dict[str, Any] = {"before": states, "trained": [], "seconds": {}}
    for part in PARTS:
        if not force and states[part] not in ("missing", "stale"):
            continue
        started = time.perf_counter()

        def step(done: int, total: int, message: str, part: str = part) -> None:
            if progress is not None:
                progress(part, done, total, message)

        if part == "head":
            head = train.train(
                result, embedder=embedder, detector=detector, save=False, progress=step,
                **HEAD_SETTINGS,
            )  # fmt: skip
            head.record["demo_recipe"] = recipe("head")
            saved.save_head(head, root)
        else:
            model = dec.train_decoder(
                result, embedder=embedder, save=False, progress=step, **DECODER_SETTINGS
            )
            model.record["demo_recipe"] = recipe("decoder")
            dec.save_decoder(model, root)
        report["trained"].append(part)
        report["seconds"][part] = round(time.perf_counter() - started, 1)
    return report


def deterministic() -> None:
    """TensorFlow's op determinism for this process (the CLI's; never turned on in the app's server)."""
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


def setup(
    *, root: Path | str | None = None, force: bool = False, log: Log = lambda msg: None
) -> dict[str, Any]:
    """The demo's head and decoder in ``pfe_dir(root)``, trained deterministically where missing or stale.

    Embeds the demo set (through the default store, as the app and the tests do) only
    when something is to be trained; nothing is done when both are there.
    """
    parts = list(PARTS) if force else to_train(root)
    if not parts:
        states = needed(root)
        log(
            "PFE head and decoder for the demo: " + ", ".join(f"{p} {s}" for p, s in states.items())
        )
        return {"before": states, "trained": [], "seconds": {}, "total_seconds": 0.0}
    started = time.perf_counter()
    from facedash.data.datasets import load_demo
    from facedash.data.store import Store
    from facedash.faces.detect import Detector
    from facedash.faces.pipeline import embed_dataset
    from facedash.models import get_model

    deterministic()
    log(f"Training the demo's PFE {' and '.join(parts)} once (seeded; about 1-2 minutes) ...")
    result = embed_dataset(load_demo(), store=Store())
    last: dict[str, str] = {}

    def progress(part: str, done: int, total: int, message: str) -> None:
        if done == total and last.get(part) != message:
            last[part] = message
            if message.startswith("Training the"):
                log(f"  {message}")

    out = ensure(
        result,
        embedder=get_model(result.model_id),
        detector=Detector() if "head" in parts else None,
        root=root,
        force=force,
        progress=progress,
    )
    out["total_seconds"] = round(time.perf_counter() - started, 1)
    took = ", ".join(f"{p} {s:.0f} s" for p, s in out["seconds"].items())
    log(f"Demo PFE {' and '.join(out['trained'])} saved in {saved.pfe_dir(root)} ({took}; "
        f"{out['total_seconds']:.0f} s with the demo's embeddings).")  # fmt: skip
    return out
