"""The runtimes a user's model runs on: ONNX Runtime, Keras, a TensorFlow SavedModel, OpenVINO.

``open_model(runtime, path)`` gives a ``Session``: the model's input shape, its output names,
and ``run(batch, output)``. Each runtime is imported only when a model of its kind is opened.
A file that is no model, or that the runtime cannot read, is a ``ModelFileError`` with one
line that says which; a Keras file that would run Python code when loaded (Lambda layers) is
refused unless its card trusts it (Keras ``safe_mode``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from facedash.errors import FacedashError

MAX_BYTES = 2 * 1024**3  # a face model larger than 2 GB is refused before it is read


class ModelFileError(FacedashError):
    """A model file that cannot be used: unreadable, not a model, too large, untrusted code."""


class Session(Protocol):
    """An opened model: where it runs, its input, its outputs."""

    backend: str
    device: str
    input_shape: tuple[int | None, ...]
    outputs: list[str]

    def run(self, batch: np.ndarray, output: str) -> np.ndarray:
        """The named output for a float32 batch laid out as the model wants it."""
        ...


def detect_runtime(path: Path) -> str:
    """``onnx``, ``keras``, ``savedmodel`` or ``openvino`` from the path; ``ModelFileError`` else."""
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        raise ModelFileError(
            f"{path} is a folder but not a TensorFlow SavedModel (no saved_model.pb)"
        )
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix in (".keras", ".h5"):
        return "keras"
    if suffix == ".xml":
        if not path.with_suffix(".bin").is_file():
            raise ModelFileError(
                f"{path} is an OpenVINO IR without its {path.with_suffix('.bin').name}"
            )
        return "openvino"
    raise ModelFileError(
        f"{path.name} is not a model facedash can read: use .onnx, .keras or .h5, a SavedModel "
        "folder, or an OpenVINO .xml with its .bin"
    )


def size_of(path: Path) -> int:
    """Bytes of a model file, or of every file of a SavedModel folder or an IR's pair."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    size = path.stat().st_size
    if path.suffix.lower() == ".xml" and path.with_suffix(".bin").is_file():
        size += path.with_suffix(".bin").stat().st_size
    return size


def open_model(runtime: str, path: Path, *, trust_code: bool = False) -> Session:
    """Open ``path`` with its runtime; ``ModelFileError`` with one line when it cannot be."""
    if not path.exists():
        raise ModelFileError(f"{path} does not exist")
    if size_of(path) > MAX_BYTES:
        raise ModelFileError(
            f"{path.name} is {size_of(path) / 1024**3:.1f} GB: a face model over 2 GB is refused"
        )
    openers: dict[str, Any] = {
        "onnx": OnnxSession,
        "keras": KerasSession,
        "savedmodel": SavedModelSession,
        "openvino": OpenVINOSession,
    }
    try:
        session: Session = openers[runtime](path, trust_code)
        return session
    except ModelFileError:
        raise
    except ImportError as exc:
        raise ModelFileError(
            f"the {runtime} runtime is not installed ({exc.name}): pip install {_PIP[runtime]}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - every runtime has its own error types
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(
            f"{path.name} is not a model {_NAMES[runtime]} can read: {first}"
        ) from None


_NAMES = {
    "onnx": "ONNX Runtime",
    "keras": "Keras",
    "savedmodel": "TensorFlow",
    "openvino": "OpenVINO",
}
_PIP = {
    "onnx": "onnxruntime",
    "keras": "keras",
    "savedmodel": "tensorflow-cpu",
    "openvino": "openvino",
}


def _shape(dims: Any) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) and d > 0 else None for d in dims)


class OnnxSession:
    """ONNX Runtime: CUDA's provider where the GPU build has it, else the CPU's."""

    backend = "onnxruntime"

    def __init__(self, path: Path, trust_code: bool) -> None:
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), options, providers=providers)
        used = self._session.get_providers()
        self.device = "GPU:0" if used and used[0] == "CUDAExecutionProvider" else "CPU"
        first = self._session.get_inputs()[0]
        self._input = first.name
        self.input_shape = _shape(first.shape)
        self.outputs = [o.name for o in self._session.get_outputs()]

    def run(self, batch: np.ndarray, output: str) -> np.ndarray:
        """One batch through the session."""
        return np.asarray(self._session.run([output], {self._input: batch})[0])


class KerasSession:
    """A Keras 3 model file (``.keras`` or ``.h5``), run eagerly in inference mode."""

    backend = "keras"

    def __init__(self, path: Path, trust_code: bool) -> None:
        from facedash.models.tfsetup import configure, tf_device

        configure()
        import keras

        try:
            model = keras.models.load_model(str(path), compile=False, safe_mode=not trust_code)
        except ValueError as exc:
            if "safe_mode" in str(exc) or "Lambda" in str(exc):
                raise ModelFileError(
                    f"{path.name} runs Python code when it is loaded (Lambda layers), so it was "
                    "refused; add --trust-code only if you trust where the file came from"
                ) from None
            raise
        self.model = model
        self.device = tf_device()
        self.input_shape = _shape(tuple(model.inputs[0].shape))
        self.outputs = [getattr(t, "name", f"output_{i}") for i, t in enumerate(model.outputs)]
        self._lock = threading.Lock()

    def run(self, batch: np.ndarray, output: str) -> np.ndarray:
        """One batch through the model (``training=False``)."""
        with self._lock:
            out = self.model(batch, training=False)
        if isinstance(out, list | tuple):
            out = out[self.outputs.index(output)] if output in self.outputs else out[0]
        elif isinstance(out, dict):
            out = out[output]
        return np.asarray(out)


class SavedModelSession:
    """A TensorFlow SavedModel folder, through its ``serving_default`` signature."""

    backend = "tensorflow"

    def __init__(self, path: Path, trust_code: bool) -> None:
        from facedash.models.tfsetup import configure, tf_device

        configure()
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        if "serving_default" not in loaded.signatures:
            raise ModelFileError(f"{path.name} has no serving_default signature")
        self._loaded = loaded  # keeps the signature's variables alive
        self._fn = loaded.signatures["serving_default"]
        inputs = self._fn.structured_input_signature[1]
        self._input, spec = next(iter(inputs.items()))
        self.input_shape = _shape(tuple(spec.shape))
        self.outputs = list(self._fn.structured_outputs)
        self.device = tf_device()
        self._tf = tf

    def run(self, batch: np.ndarray, output: str) -> np.ndarray:
        """One batch through the signature."""
        return np.asarray(self._fn(**{self._input: self._tf.constant(batch)})[output])


class OpenVINOSession:
    """An OpenVINO IR (``.xml`` + ``.bin``) compiled for the CPU."""

    backend = "openvino"
    device = "CPU"

    def __init__(self, path: Path, trust_code: bool) -> None:
        import openvino as ov

        core = ov.Core()
        model = core.read_model(str(path), str(path.with_suffix(".bin")))
        self._compiled = core.compile_model(
            model, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        )
        first = model.inputs[0].get_partial_shape()
        self.input_shape = tuple(d.get_length() if d.is_static else None for d in first)
        self.outputs = [
            o.get_any_name() if o.get_names() else str(i)
            for i, o in enumerate(self._compiled.outputs)
        ]
        self._lock = threading.Lock()

    def run(self, batch: np.ndarray, output: str) -> np.ndarray:
        """One batch through the compiled model."""
        with self._lock:
            result = self._compiled(batch)
        return np.asarray(result[self._compiled.outputs[self.outputs.index(output)]])
