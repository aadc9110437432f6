"""MTCNN's networks on OpenVINO: converted once per machine, compiled for the CPU in fp32.

The ``mtcnn`` wheel ships PNet, RNet and ONet as Keras models with their weights.
``OpenVINONets`` converts them to OpenVINO IR (``ov.convert_model``), keeps the IR in
the model cache (``$FACEDASH_HOME/models/mtcnn-<weights>/openvino-<version>/fp32``,
like every converted model, so a process loads it in a fraction of a second instead
of converting again) and compiles them for the CPU with fp32 inference precision
(OpenVINO would otherwise run bf16 on CPUs that have it). PNet is compiled once per
pyramid level (a fixed side, any batch), RNet and ONet for any batch.

Why: on a 2-core AMD EPYC, OpenVINO ran PNet's pyramid in 2.9 ms per 320-pixel canvas
against 7.3 ms for TensorFlow, RNet on 560 crops in 19 against 49 ms and ONet on 40
crops in 6 against 20 ms, with the same outputs to float rounding (``bench/detect.py``
measures it again on the machine at hand).
"""

from __future__ import annotations

import hashlib
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from facedash.models import ircache

NAMES = ("pnet", "rnet", "onet")
INPUTS = {"pnet": (-1, -1, -1, 3), "rnet": (-1, 24, 24, 3), "onet": (-1, 48, 48, 3)}
CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}


def weights_sha256() -> str:
    """SHA-256 over the three weight files the ``mtcnn`` wheel ships (in PNet, RNet, ONet order).

    Found without importing the package (importing it imports TensorFlow).
    """
    import importlib.util

    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the mtcnn package is not installed: pip install mtcnn==1.0.0")
    folder = Path(spec.submodule_search_locations[0]) / "assets" / "weights"
    digest = hashlib.sha256()
    for name in NAMES:
        digest.update((folder / f"{name}.lz4").read_bytes())
    return digest.hexdigest()


def cache_entry(root: Path | None = None) -> ircache.Entry:
    """Where the converted networks live (nothing is created)."""
    from facedash.models.backends import openvino_version

    return ircache.entry(
        "mtcnn", weights_sha256(), "openvino", openvino_version() or "none", "fp32", root
    )


def _convert(keras_models: tuple[Any, Any, Any], folder: Path) -> None:
    """Write ``pnet.xml``/``.bin`` etc. into ``folder``."""
    import openvino as ov

    for name, model in zip(NAMES, keras_models, strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras warns about the input structure; harmless
            converted = ov.convert_model(model, input=[INPUTS[name]])
        ov.save_model(converted, folder / f"{name}.xml", compress_to_fp16=False)


def read_models(keras_models: Any = None, root: Path | None = None) -> dict[str, Any]:
    """The three networks as OpenVINO models, converted now only if the cache lacks them.

    ``keras_models`` is a callable returning the wheel's (PNet, RNet, ONet) Keras models;
    it is called only when a conversion is needed.
    """
    import openvino as ov

    e = cache_entry(root)
    meta, _ = ircache.check(e)
    if meta is None:
        with ircache.building(e):
            meta, _ = ircache.check(e)
            if meta is None:
                t0 = time.perf_counter()
                nets = keras_models() if keras_models is not None else package_models()
                ircache.write(
                    e,
                    lambda tmp: _convert(nets, tmp),
                    {"convert_seconds": round(time.perf_counter() - t0, 2)},
                )
    core = ov.Core()
    return {name: core.read_model(str(e.path(f"{name}.xml"))) for name in NAMES}


def package_models(device: str = "CPU:0") -> tuple[Any, Any, Any]:
    """The (PNet, RNet, ONet) Keras models the ``mtcnn`` wheel ships, weights loaded, on ``device``."""
    from mtcnn import MTCNN

    pnet, rnet, onet = (stage._model for stage in MTCNN(device=device).stages)
    return pnet, rnet, onet


class OpenVINONets:
    """PNet (per pyramid level), RNet and ONet compiled for the CPU in fp32; thread-safe."""

    runtime = "openvino"
    precision = "fp32"
    device = "CPU"

    def __init__(self, models: dict[str, Any]) -> None:
        import openvino as ov

        self._core = ov.Core()
        self._pnet_model = models["pnet"]
        self._requests = {
            name: self._core.compile_model(models[name], "CPU", CONFIG).create_infer_request()
            for name in ("rnet", "onet")
        }
        self._pnets: dict[int, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, keras_models: Any = None, root: Path | None = None) -> OpenVINONets:
        """From the model cache (converting the wheel's networks first if it lacks them)."""
        return cls(read_models(keras_models, root))

    def _pnet_request(self, side: int) -> Any:
        request = self._pnets.get(side)
        if request is None:
            model = self._pnet_model.clone()
            model.reshape({0: [-1, side, side, 3]})
            compiled = self._core.compile_model(model, "CPU", CONFIG)
            request = self._pnets[side] = compiled.create_infer_request()
        return request

    @staticmethod
    def _run(request: Any, batch: np.ndarray) -> list[np.ndarray]:
        out = request.infer({0: np.ascontiguousarray(batch, dtype=np.float32)})
        return [np.array(array) for array in out.to_tuple()]

    def pnet(self, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One pyramid level ``(B, s, s, 3)`` -> (box offsets ``(B, h, w, 4)``, p(face) ``(B, h, w, 2)``)."""
        with self._lock:
            reg, prob = self._run(self._pnet_request(level.shape[1]), level)
        return reg, prob

    def rnet(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """24 x 24 crops -> (box offsets ``(n, 4)``, scores ``(n, 2)``)."""
        with self._lock:
            offsets, scores = self._run(self._requests["rnet"], crops)
        return offsets, scores

    def onet(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """48 x 48 crops -> (box offsets ``(n, 4)``, landmarks ``(n, 10)``, scores ``(n, 2)``)."""
        with self._lock:
            offsets, marks, scores = self._run(self._requests["onet"], crops)
        return offsets, marks, scores
