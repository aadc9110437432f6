"""The app's one model layer: each heavy object is built once per server process.

Models, the detector and the store are shared by every browser session
(``st.cache_resource``); each is thread-safe (they guard their own state with a
lock). The models and the detector are the library's process-wide ones
(``get_model``, ``get_embedder``, ``warm.detector``): the server's warm-up
(``facedash.explain.warm``, started by ``facedash serve``) loads them before a browser
connects, and a loader called while it runs waits for it instead of loading a second copy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import streamlit as st

from facedash.data.store import Store
from facedash.explain import warm
from facedash.faces.detect import Detector, DetectorSettings
from facedash.faces.probe import demo_probe
from facedash.i18n import _
from facedash.models.registry import Embedder, get_embedder, get_model

T = TypeVar("T")


@st.cache_resource(show_spinner=False)
def _model(model_id: str) -> Embedder:
    """The reference model ``model_id`` (TensorFlow fp32: gradients, features), loaded once per server."""
    warm.wait()
    return get_model(model_id)


@st.cache_resource(show_spinner=False)
def _embedder(model_id: str, backend: str = "auto", precision: str = "auto") -> Embedder:
    """``model_id`` on a backend, for embedding faces; cached per (model, backend, precision).

    A refused backend gives the reference, whose ``note`` says why.
    """
    warm.wait()
    return get_embedder(model_id, backend=backend, precision=precision, probe=demo_probe())


def model(model_id: str) -> Embedder:
    """The reference model ``model_id`` (TensorFlow fp32: gradients, features), loaded once per server."""
    with st.spinner(_("Loading the model (once per server) ...")):  # shown only while it loads
        return _model(model_id)


def embedder(model_id: str, backend: str = "auto", precision: str = "auto") -> Embedder:
    """``model_id`` on a backend, for embedding faces; cached per (model, backend, precision)."""
    with st.spinner(_("Loading the model for embedding (once per server) ...")):
        return _embedder(model_id, backend, precision)


def embedder_for(result: Any) -> Embedder:
    """The embedder that made ``result``'s embeddings: new faces compared with it must match them."""
    return embedder(result.model_id, result.backend, result.precision)


@st.cache_resource(show_spinner=False)
def _detector(settings: DetectorSettings) -> Detector:
    """The MTCNN detector for these settings, loaded once per server."""
    warm.wait()
    return warm.detector(settings)


def detector(settings: DetectorSettings) -> Detector:
    """The MTCNN detector for these settings, loaded once per server."""
    with st.spinner(_("Loading the face detector (once per server) ...")):
        return _detector(settings)


@st.cache_resource
def store() -> Store:
    """The SQLite embedding store in the asset folder."""
    return Store()


def read_only(*values: Any) -> None:
    """Freeze the arrays of a cached resource that every session shares (a write raises)."""
    for v in values:
        for a in [v, *getattr(v, "__dict__", {}).values()]:
            if isinstance(a, np.ndarray):
                a.setflags(write=False)


def with_spinner(message: str, cached: Callable[..., T]) -> Callable[..., T]:
    """``cached`` behind a spinner that says ``message`` (marked N_) in the session's language.

    (``st.cache_data(show_spinner=...)`` takes its text once, at import, in English.)
    """

    @functools.wraps(cached)
    def run(*args: Any, **kwargs: Any) -> T:
        with st.spinner(_(message)):
            return cached(*args, **kwargs)

    return run
