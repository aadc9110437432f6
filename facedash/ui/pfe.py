"""Cached PFE objects for the Uncertainty page (and any page that wants MLS scores).

Each model has its own head (``facedash.pfe.saved``; ``head_record_for(result)``). Heads and
the decoder are loaded once per saved version (model and ``trained_at`` are the cache key, so
training a new one takes effect at once); the feature extractor once per model. All are
thread-safe.

σ² of every face of a set (``current_sigma2``) is kept in ``$FACEDASH_HOME/pfe/sigma2`` per
set and head and per face (``facedash embed`` computes them in its embedding pass); only
faces without one are computed, behind a progress bar, and the feature extractor loads
on first use. Private uploads are held in memory only; each session holds its set's σ²
(the "Compare with" model's in a slot of its own). The face-check panel is computed once
per set and head.

The demo's head and decoder come with the assets (``facedash.pfe.demo``); where a demo
session finds either missing, ``demo_training`` trains them once per server in a
background thread, which only the Uncertainty page reports on.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import streamlit as st

from facedash import i18n, paths
from facedash.figures.uncertainty import KIND_NAMES, confidence_ranking
from facedash.i18n import N_, _
from facedash.pfe.saved import FACENET, read_record  # FACENET: the demo's head's model
from facedash.ui import cache, keys, lang, state

# The page's degradations, non-face kinds and scores (option values stay these keys): the
# figures' degradation names, and these.
LABELS = {
    **KIND_NAMES,
    "flat": N_("flat"),
    "texture": N_("texture"),
    "background": N_("background"),
    "cosine": N_("cosine"),
}
TABS: tuple[str, ...] = (N_("Ranking"), N_("Degradation explorer"), N_("Validity"))  # in order
TABS += (N_("Fusion"), N_("Decoder samples"))  # only the open one runs (``widgets.lazy_tabs``)
NO_SAVING = N_(
    "This class cannot save: training here would replace the head and decoder every student "
    "uses. The teacher can start the server with `--allow-saving`."
)


def label(key: str) -> str:
    """A degradation's, a non-face kind's or a score's name in the session's language."""
    return _(LABELS[key]) if key in LABELS else key


def head_caption(record: dict[str, Any]) -> str:
    """The saved head's training summary, from its record."""
    dataset, inputs = record["dataset"], record["inputs"]
    saved = record.get("saved_head", N_("the split model"))
    return _(
        "Head trained {trained_at} on {dataset}: {inputs}; {crops} crops of {people}; "
        "{epochs} epochs, {seconds} s. Validity figures come from this split; the saved "
        "head is {saved_head}."
    ).format(
        trained_at=record["trained_at"],
        dataset=_(dataset) if dataset == state.DEMO else dataset,
        inputs=_(inputs).format(size=record.get("input_size", 160)),
        crops=record["train_crops"],
        people=", ".join(record["train_people"]),
        epochs=record["epochs"],
        seconds=f"{record['seconds']:.0f}",
        saved_head=_(saved),
    )


def decoder_caption(record: dict[str, Any]) -> str:
    """The saved decoder's training summary and held-out error, from its record."""
    trained_on = record["trained_on"]
    if "people" in record:  # records since the demo's decoder came with the assets
        trained_on = _(
            "{faces} faces of {people} people (stored aligned 160 x 160 thumbnails) x {copies} "
            "(the face + {more} augmented copies: mirror, shift, scale, rotation, brightness, "
            "contrast), as 64 x 64 targets"
        ).format(
            faces=record["train_faces"],
            people=record["people"],
            copies=record["copies"],
            more=record["copies"] - 1,
        )
    return _(
        "Decoder trained on {trained_on}. Held-out reconstruction MSE {mse} on {faces} photos "
        "it never saw (baselines: the mean face {mean_face}, the person's mean face {person})."
    ).format(
        trained_on=trained_on,
        mse=f"{record['heldout_mse']:.4f}",
        faces=record["heldout_faces"],
        mean_face=f"{record['heldout_mse_mean_face']:.4f}",
        person=f"{record.get('heldout_mse_person_mean_face', float('nan')):.4f}",
    )


@st.cache_resource(show_spinner=False)
def _head(trained_at: str, model_id: str) -> Any:
    from facedash.pfe import train

    return train.load_head(model=model_id)


def head(trained_at: str, model_id: str = FACENET) -> Any:
    """``model_id``'s saved uncertainty head (with ``trained_at``, the cache key)."""
    with st.spinner(_("Loading the uncertainty head ...")):
        return _head(trained_at, model_id)


@st.cache_resource(show_spinner=False)
def _decoder(trained_at: str) -> Any:
    from facedash.pfe import decoder as dec

    return dec.load_decoder()


def decoder(trained_at: str) -> Any:
    """The saved decoder (``trained_at`` is the cache key)."""
    with st.spinner(_("Loading the decoder ...")):
        return _decoder(trained_at)


@st.cache_resource(show_spinner=False)
def _extractor(model_id: str) -> Any:
    from facedash.pfe.features import extractor_for

    return extractor_for(cache.model(model_id))


def extractor(model_id: str) -> Any:
    """The features ``model_id``'s head reads (``extractor_for``), loaded on its first call."""

    def run(*args: Any, **kwargs: Any) -> Any:
        with st.spinner(_("Preparing the feature extractor ...")):
            loaded = _extractor(model_id)
        return loaded(*args, **kwargs)

    return run


def set_sigma2(
    set_key: str, trained_at: str, result: Any, slot: str = "uncertainty_sigma2"
) -> np.ndarray:
    """σ² of every face of a set under its model's head: kept on disk, held in this session's ``slot``.

    The first time for a set and head it runs the model on the faces with no kept σ²
    (none after ``facedash embed``) behind a progress bar; later it reads one file.
    """
    from facedash.pfe import head_version, sigma2_of_set

    h = head(trained_at, result.model_id)
    key = (set_key, head_version(h))
    held = st.session_state.get(slot)
    if held is not None and held[0] == key:
        return held[1]
    private = str(state.session_store().path) == ":memory:"
    bar = st.progress(0.0, text=_("σ² of every face (once per set, then kept) ..."))

    def report(done: int, total: int, message: str) -> None:
        text = _("Computing σ² of every face: {done}/{total}")
        bar.progress(
            min(1.0, done / max(total, 1)), text=text.format(done=f"{done:,}", total=f"{total:,}")
        )

    try:
        out = sigma2_of_set(
            result,
            None,
            h,
            cache_dir=None if private else paths.home() / "pfe" / "sigma2",
            get_extractor=lambda: extractor(result.model_id),
            progress=report,
        )
    finally:
        bar.empty()
    st.session_state[slot] = (key, out)
    return out


@st.cache_data(max_entries=16, show_spinner=False)
def _set_risk_control(
    set_key: str, version: str, far: float, _result: Any, _sigma2: Any
) -> dict[str, list[float]]:
    from facedash.pfe import analysis

    det = np.array([r.confidence for r in _result.rows])
    return analysis.set_risk_control(_result.embeddings, _sigma2, _result.people, det, far=far)


def set_risk_control(
    result: Any, sigma2: np.ndarray, trained_at: str, far: float
) -> dict[str, list[float]]:
    """The set's risk-control curves (a bounded pair sample), once per set, head and FAR."""
    from facedash.pfe import head_version

    version = head_version(head(trained_at, result.model_id))
    with st.spinner(_("Risk control on this set ...")):
        return _set_risk_control(set_key(result), version, far, result, sigma2)


@st.cache_data(max_entries=64, show_spinner=False)
def _explored(
    set_key: str, version: str, i: int, knobs: tuple, _crop: Any, _extractor: Any, _head: Any
) -> dict[str, Any]:
    from facedash.pfe import analysis

    return analysis.explore(_crop, dict(knobs), _extractor, _head, seed=i)


def explore(result: Any, i: int, strengths: dict[str, float], extractor: Any, head_: Any) -> dict:
    """Face ``i`` degraded by the sliders: its sigma^2, cosine and MLS to the clean crop.

    Kept per set, face, head and strengths, so a rerun that moves another widget runs no model.
    """
    from facedash.data.images import decode_jpeg
    from facedash.pfe import head_version

    crop = decode_jpeg(result.thumbs[i])
    knobs = tuple(sorted(strengths.items()))
    return _explored(set_key(result), head_version(head_), i, knobs, crop, extractor, head_)


@st.cache_data(max_entries=32, show_spinner=False)
def _fused(
    set_key: str, trained_at: str, chosen: tuple, _mu: Any, _sigma2: Any, _people: Any
) -> dict:
    from facedash.pfe import analysis

    return analysis.fusion(_mu, _sigma2, _people, np.array(chosen))


def fusion(result: Any, sigma2: np.ndarray, trained_at: str, chosen: list[int]) -> dict:
    """The chosen photos fused and scored against every other face, once per set, head and choice."""
    return _fused(
        set_key(result), trained_at, tuple(chosen), result.embeddings, sigma2, result.people
    )


@st.cache_resource(max_entries=8, show_spinner=False)
def _ranking(
    set_key: str, trained_at: str, lang: str, _sigma2: Any, _people: Any, _names: Any
) -> tuple[Any, np.ndarray, np.ndarray]:
    from facedash.pfe import analysis
    from facedash.pfe.mls import confidence

    conf = confidence(np.where(np.isnan(_sigma2), np.inf, _sigma2))
    order = analysis.ranking(_sigma2)
    cache.read_only(conf, order)
    return confidence_ranking(conf, _people, _names), conf, order


def ranking(result: Any, sigma2: np.ndarray, trained_at: str) -> tuple[Any, np.ndarray, np.ndarray]:
    """The ranking figure, confidences and order; kept per set, head and language (shared)."""
    lang = i18n.language()
    return _ranking(set_key(result), trained_at, lang, sigma2, result.people, result.names)


FACE_CHOICES = 500  # faces a picker offers at most (a seeded sample of larger sets)


def face_options(n: int, limit: int = FACE_CHOICES) -> list[int]:
    """The faces a picker offers: all ``n``, or a seeded sample of ``limit`` in set order."""
    from facedash.search import sample_queries

    return sample_queries(n, limit).tolist()


set_key = keys.set_key  # the content key of an EmbeddingSet (shared by every page)


@st.cache_data(max_entries=8, show_spinner=False)
def _face_check(set_key: str, version: str, _result: Any, _head: Any, faces: int) -> dict:
    from facedash.data.images import decode_jpeg
    from facedash.pfe import analysis, nonface

    rows = [n for n, t in enumerate(_result.thumbs) if t is not None]
    people = np.asarray(_result.people)[rows]
    picked: list[int] = []
    for person in sorted(set(people.tolist())):  # one face per person in turn
        picked += [rows[k] for k in np.flatnonzero(people == person)[:2]]
    picked = sorted(picked[:faces]) if len(picked) > faces else picked
    crops = np.stack([decode_jpeg(_result.thumbs[n]) for n in picked])
    size = int(crops.shape[1])  # the model's input size
    nf, kinds = nonface.make(8, seed=2024, backgrounds=nonface.backgrounds_of(_result), size=size)
    out = analysis.face_check(crops, nf, extractor(_result.model_id), _head)
    out.update(faces=picked, nonface_crops=nf, nonface_kinds=kinds)
    return out


def face_check(result: Any, trained_at: str, faces: int = 6) -> dict:
    """Clean / blurred / non-face confidences of a few faces of the set under the saved head."""
    from facedash.pfe import head_version

    h = head(trained_at, result.model_id)
    with st.spinner(_("Checking faces against non-faces ...")):
        return _face_check(set_key(result), head_version(h), result, h, faces)


def head_record_for(result: Any) -> dict[str, Any] | None:
    """The record of the head saved for ``result``'s model, else None (reads JSON, no TensorFlow)."""
    record = read_record(model=result.model_id)
    return record if (record or {}).get("model_id", FACENET) == result.model_id else None


def current_sigma2(result: Any) -> np.ndarray | None:
    """σ² of every face of ``result`` under its model's head, or None when that model has none.

    This runs the head (TensorFlow) the first time per set and head (and the model on faces
    with no kept σ²); pages that only offer σ² ask ``head_record_for`` first.
    """
    record = head_record_for(result)
    return None if record is None else set_sigma2(set_key(result), record["trained_at"], result)


def train_head(result: Any, progress: Any) -> Any:
    """Train and save ``result``'s model's head on ``result`` (in that model's folder: FaceNet's stays)."""
    from facedash.faces.detect import DetectorSettings
    from facedash.pfe import train

    return train.train(
        result,
        embedder=cache.model(result.model_id),
        detector=cache.detector(DetectorSettings()),
        progress=progress,
    )


def train_decoder(result: Any, progress: Any) -> Any:
    """Train and save the decoder (embedding → 64×64 face) on ``result``."""
    from facedash.pfe import decoder as dec

    return dec.train_decoder(result, embedder=cache.model(result.model_id), progress=progress)


def degraded_gaussian(
    crop: np.ndarray, blur: float, extractor: Any, head: Any, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A face blurred by ``blur`` and its Gaussian embedding: (image, μ, σ²)."""
    from facedash.pfe import analysis

    out = analysis.explore(crop, {"blur": blur}, extractor, head, seed=seed)
    feats, mu = extractor(out["image"][None])
    return out["image"], mu[0], head.sigma2(feats)[0]


# -- the demo's head and decoder, trained in the background when a demo session finds them missing
class DemoTraining:
    """``facedash.pfe.demo.ensure`` on the demo set in a background thread; one per server.

    ``snapshot`` tells a page what the thread is doing (which part, how far, a failure);
    the thread touches no Streamlit state, so no session waits for it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.part = "head"
        self.done, self.total = 0, 1
        self.error: str | None = None
        self.finished = False

    def start(self, result: Any, embedder: Any, detector: Any, root: Any = None) -> None:
        """Start the thread, unless one was started already (``root``: the head's folder)."""
        from facedash.pfe import demo

        def progress(part: str, done: int, total: int, message: str) -> None:
            with self._lock:
                self.part, self.done, self.total = part, done, max(total, 1)

        def run() -> None:
            try:
                demo.ensure(
                    result, embedder=embedder, detector=detector, root=root, progress=progress
                )
            except Exception as exc:  # shown on the Uncertainty page
                self.error = f"{type(exc).__name__}: {exc}"
            finally:
                self.finished = True

        with self._lock:
            if self.thread is not None:
                return
            self.thread = threading.Thread(target=run, name="facedash-demo-pfe", daemon=True)
            self.thread.start()

    def snapshot(self) -> dict[str, Any]:
        """``{"part", "done", "total", "error", "finished"}`` now."""
        with self._lock:
            return {k: getattr(self, k) for k in ("part", "done", "total", "error", "finished")}


@st.cache_resource(show_spinner=False)
def _demo_job() -> DemoTraining:
    return DemoTraining()


def is_demo() -> bool:
    """Whether this session's set is the bundled demo set."""
    return st.session_state.get("fd_source") == state.DEMO


def demo_training(result: Any) -> dict[str, Any] | None:
    """In a demo session on FaceNet, the background training of the demo's head and decoder; else None.

    Started here once per server when either is missing or stale; returns its
    ``DemoTraining.snapshot``.
    """
    from facedash.faces.detect import DetectorSettings
    from facedash.pfe import demo

    if not is_demo() or result.model_id != FACENET:  # the demo's head and decoder are FaceNet's
        return None
    job = _demo_job()
    if job.thread is None:
        if not demo.to_train():
            return None
        job.start(result, cache.model(result.model_id), cache.detector(DetectorSettings()))
    return job.snapshot()


def demo_note(result: Any, job: dict[str, Any]) -> None:
    """On the Uncertainty page: how far the demo's background training is, or why it failed."""
    if job["error"]:
        text = _("Training the demo's head and decoder failed: {error}")
        st.error(text.format(error=job["error"]))
    elif not job["finished"]:
        _demo_progress(result, job["part"])


@st.fragment(run_every=2.0)
def _demo_progress(result: Any, part: str) -> None:
    lang.start()  # a fragment's own rerun runs in a new script thread, without app.py's run
    job = demo_training(result)
    if job is None or job["finished"] or job["part"] != part:
        st.rerun()  # the head (then the decoder) is saved: the page shows it
    name = _("uncertainty head") if part == "head" else _("decoder")
    text = _(
        "Training the demo's {part} once, in the background (the other pages do not wait): "
        "{done}/{total}"
    )
    st.progress(
        min(1.0, job["done"] / job["total"]),
        text=text.format(part=name, done=job["done"], total=job["total"]),
    )
