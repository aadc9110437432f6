"""Which backend and precision a model runs on, decided without loading anything.

Backends:

- ``tensorflow``: the reference (fp32), on the GPU when TensorFlow sees one. The
  explainers always use it: they need gradients.
- ``openvino``: the Keras model converted with ``openvino.convert_model`` and
  compiled for the CPU (fp32, bf16, int8).
- ``onnxruntime``: FaceNet converted with tf2onnx (fp32), only as ``auto``'s pick.

``auto`` (the default) is TensorFlow when a GPU is visible. On a CPU it is what
this machine's backend race measured fastest among the candidates that agree
with the reference (``facedash.models.race``; ``registry.plan`` reads its cached
table). Before the race has run (no probe faces given yet) it is OpenVINO fp32
when OpenVINO is installed (it agrees with the reference to a cosine of 1.000000
and shares its store key), else TensorFlow. No CPU flag decides anything.
``FACEDASH_BACKEND`` and ``FACEDASH_PRECISION`` override the choice; so do the
CLI's ``--backend`` and the sidebar.

Everything here is cheap: it reads ``/proc/cpuinfo`` and package metadata, and
imports TensorFlow only when an NVIDIA device node exists (to ask whether it
sees a GPU).
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facedash.errors import FacedashError

BACKENDS = ("auto", "tensorflow", "openvino")
PRECISIONS = ("auto", "fp32", "bf16", "int8")
CPU_FLAGS = ("avx512_bf16", "amx_bf16", "amx_int8", "avx512_vnni", "avx_vnni")
OPENVINO_PIN = "openvino==2026.4.1"
OPENVINO_HINT = f"pip install {OPENVINO_PIN}"
NNCF_HINT = "pip install -r requirements-convert.txt"  # NNCF, for int8
# The backends each registered model can run on (dlib runs on dlib, in fp32).
MODEL_BACKENDS: dict[str, tuple[str, ...]] = {
    "facenet": ("tensorflow", "openvino"),
    "dlib": ("dlib",),
}


ProbeSource = Callable[[int | None], np.ndarray]
"""Aligned uint8 crops of known faces, ``limit`` of them (``None``: all): a backend's agreement probe."""


class BackendError(FacedashError):
    """An unknown backend or precision name."""


@dataclass(frozen=True)
class Choice:
    """A resolved backend: what will run, and why (``note`` says what was asked and refused)."""

    model_id: str
    backend: str
    precision: str
    note: str = ""
    store_id: str = ""  # the card's key in the store when it is not the id (a user's card)

    @property
    def key(self) -> str:
        """The model's key in the store: the card's id for fp32, ``id@precision`` otherwise.

        int8 also names its quantisation recipe: ``facenet@int8-<recipe hash>``.
        """
        return store_key(self.store_id or self.model_id, self.precision)


def store_key(model_id: str, precision: str) -> str:
    """``facenet`` for the fp32 reference (existing stores stay valid), ``facenet@bf16`` otherwise.

    A quantised model's key names its recipe too (``facenet@int8-1a2b3c4d``,
    ``facedash.models.int8.recipe_id``), so two int8 builds never share embeddings.
    """
    if precision == "fp32":
        return model_id
    if precision == "int8":
        from facedash.models.int8 import recipe_id

        return f"{model_id}@int8-{recipe_id()}"
    return f"{model_id}@{precision}"


def parse_key(key: str) -> tuple[str, str]:
    """``(model id, precision)`` of a store key (an int8 key's recipe hash dropped)."""
    model_id, _, precision = key.partition("@")
    return model_id, precision.partition("-")[0] or "fp32"


def key_recipe(key: str) -> str:
    """The quantisation recipe hash a store key names (``""``: none)."""
    return key.partition("@")[2].partition("-")[2]


@functools.cache
def cpu() -> dict[str, object]:
    """The CPU's model name and the flags that matter here (from ``/proc/cpuinfo``)."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and value.strip():
            name = value.strip()
        elif key == "flags":
            flags = set(value.split())
            break
    return {
        "model": name,
        "cores": os.cpu_count() or 1,
        "flags": {f: f in flags for f in CPU_FLAGS},
    }


def openvino_version() -> str | None:
    """The installed OpenVINO's version, or None (read from package metadata: no import)."""
    if importlib.util.find_spec("openvino") is None:
        return None
    try:
        return importlib.metadata.version("openvino")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - odd install
        return "unknown"


def nncf_available() -> bool:
    """Whether NNCF (int8 post-training quantisation) is importable."""
    return importlib.util.find_spec("nncf") is not None


def nvidia_device_present() -> bool:
    """An NVIDIA driver's device node exists: only then can TensorFlow see a GPU."""
    return Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia/gpus").is_dir()


@functools.cache
def tensorflow_gpus() -> tuple[str, ...]:
    """GPUs TensorFlow sees (imports TensorFlow only when an NVIDIA device node exists)."""
    if not nvidia_device_present():
        return ()
    from facedash.models.tfsetup import configure

    configure()
    import tensorflow as tf

    return tuple(d.name for d in tf.config.list_physical_devices("GPU"))


def auto_precision() -> str:
    """The OpenVINO precision ``auto`` means before the race has measured one: fp32.

    (It used to be bf16 where ``/proc/cpuinfo`` lists ``amx_bf16``; the race now
    measures what is fastest instead: ``facedash.models.race``.)
    """
    return "fp32"


def requested(backend: str | None = None, precision: str | None = None) -> tuple[str, str]:
    """The asked-for backend and precision: arguments, else the environment, else ``auto``."""
    b = (backend or os.environ.get("FACEDASH_BACKEND") or "auto").strip().lower()
    p = (precision or os.environ.get("FACEDASH_PRECISION") or "auto").strip().lower()
    p = {"f32": "fp32", "fp32": "fp32"}.get(p, p)
    if b not in BACKENDS:
        raise BackendError(f"unknown backend {b!r}; use one of {', '.join(BACKENDS)}")
    if p not in PRECISIONS:
        raise BackendError(f"unknown precision {p!r}; use one of {', '.join(PRECISIONS)}")
    return b, p


def resolve(model_id: str, backend: str | None = None, precision: str | None = None) -> Choice:
    """What ``model_id`` will run on, given what was asked (see the module docstring)."""
    b, p = requested(backend, precision)
    supported = MODEL_BACKENDS.get(model_id, ("tensorflow",))
    if "tensorflow" not in supported:  # a model with a runtime of its own (dlib)
        return Choice(model_id, supported[0], "fp32")
    if b == "tensorflow":
        return Choice(model_id, "tensorflow", "fp32")
    have_openvino = openvino_version() is not None
    if b == "auto":
        if tensorflow_gpus():
            return Choice(model_id, "tensorflow", "fp32")
        if not have_openvino:
            return Choice(model_id, "tensorflow", "fp32")
    elif not have_openvino:  # asked for openvino explicitly
        return Choice(
            model_id, "tensorflow", "fp32", f"OpenVINO is not installed ({OPENVINO_HINT})"
        )
    if p == "auto":
        p = auto_precision()
    if p == "int8" and not nncf_available():
        return Choice(
            model_id,
            "openvino",
            auto_precision(),
            f"int8 needs NNCF, which is not installed ({NNCF_HINT})",
        )
    return Choice(model_id, "openvino", p)
