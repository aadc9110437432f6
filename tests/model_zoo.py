"""Test models for `facedash models add` (#25), made FROM FaceNet through real converters.

No third-party face model with weights can be installed here, so every "user's model" is
FaceNet (the verified ``facenet_keras.h5`` weights) written out in another format:

=========================  ==========================================================  =========
function                   what it writes                                              card
=========================  ==========================================================  =========
``facenet_keras``          ``facenet.keras``: FaceNet as it is, with its two kinds of   FACENET
                           Lambda layers (loading needs ``safe_mode=False``:
                           the ``--trust-code`` case)
``facenet_keras_safe``     ``facenet_safe.keras``: the same network, its Lambdas        FACENET
                           rebuilt as built-in ``Rescaling`` / ``UnitNormalization``
                           (loads in Keras' safe mode)
``facenet_onnx``           ``facenet.onnx`` (tf2onnx): input ``input`` (N,160,160,3)    FACENET
                           prewhitened RGB, output ``embedding`` (N,128)
``facenet_onnx_nchw_bgr``  ``facenet_nchw_bgr.onnx``: input (N,3,160,160) BGR in        NCHW_BGR
                           [-1,1]; the graph undoes that, prewhitens, runs FaceNet
``facenet_openvino``       ``facenet.xml`` + ``facenet.bin`` (fp32 IR)                  FACENET
``facenet_savedmodel``     ``facenet_savedmodel/``: signature ``serving_default``,      FACENET
                           input ``input``, output ``embedding``
``facenet_keras_bgr``      ``facenet_bgr.keras``: BGR in [-1,1]; built-in layers undo   BGR127
                           that and prewhiten, then FaceNet's layers (safe mode)
``small64_keras``          ``small64.keras``: FaceNet's layers + a fixed seeded         SMALL64
                           orthonormal Dense(64) projection, L2-normalised (safe mode)
``not_a_model``            ``not_a_model.onnx``: a text file                            (error)
``text_model_onnx``        ``text_model.onnx``: (N,300) -> (N,16) MatMul, no image      (error)
``nan_model_onnx``         ``nan_model.onnx``: (N,160,160,3) -> NaN (N,128)             FACENET
``constant_model_onnx``    ``constant_model.onnx``: the same unit vector for every face FACENET
=========================  ==========================================================  =========

Each function takes an optional ``dest`` folder and returns the model's path (for OpenVINO
the ``.xml``; the ``.bin`` lies beside it; for a SavedModel the folder). Without ``dest`` it
returns the cached copy itself (do not modify it); with one, a fresh copy in ``dest``.

Models are cached in ``$FACEDASH_HOME/test-models/<name>-<key>/`` where ``key`` hashes the
weights' SHA-256, this file and the converters' versions: a test session builds each at most
once, and a changed recipe builds anew. Each is built in a temporary folder and renamed into
place, so a half-written model is never found.

``CARDS[name]`` holds the card that reproduces FaceNet's embeddings (cosine >= 0.999) for each
model; ``card_args(name)`` gives it as ``facedash models add`` options; ``embed(name, path,
crops)`` runs a model on aligned uint8 crops with the model's own runtime (onnxruntime,
OpenVINO, Keras, TensorFlow), independently of facedash's loader, for cross-checks.

Converters (requirements-convert.txt): tf2onnx 1.17.0 with onnx 1.23.2
(``tf2onnx.convert.from_function`` on a ``tf.function`` with a fixed input signature, opset 17);
OpenVINO's own ``openvino.convert_model`` (2026.4.1); Keras' ``Model.save`` and
``keras.export.ExportArchive``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

SIZE = 160
DIM = 128
SMALL_DIM = 64
SMALL_SEED = 25
OPSET = 17
# The NCHW/BGR model's input normalisation: (x - 127.5) / 127.5.
NCHW_MEAN = 127.5
NCHW_STD = 127.5
STALE_SECONDS = 3600  # an outdated build of the same model older than this is removed

# Cards (what `facedash models add` is told). ``output`` is the output's name ("" when the
# model has a single unnamed one).
FACENET: dict[str, Any] = {
    "input_size": SIZE,
    "layout": "nhwc",
    "channels": "rgb",
    "normalize": "prewhiten",
    "align": "facenet",
    "output": "embedding",
    "dim": DIM,
}
NCHW_BGR: dict[str, Any] = dict(
    FACENET, layout="nchw", channels="bgr", normalize=f"{NCHW_MEAN:g},{NCHW_STD:g}"
)
CARDS: dict[str, dict[str, Any]] = {
    "facenet_keras": dict(FACENET, runtime="keras", output="", trust_code=True),
    "facenet_keras_safe": dict(FACENET, runtime="keras", output=""),
    "facenet_keras_bgr": dict(
        FACENET, runtime="keras", output="", layout="nhwc", channels="bgr", normalize="127.5,127.5"
    ),
    "facenet_onnx": dict(FACENET, runtime="onnx"),
    "facenet_onnx_nchw_bgr": dict(NCHW_BGR, runtime="onnx"),
    "facenet_openvino": dict(FACENET, runtime="openvino"),
    "facenet_savedmodel": dict(FACENET, runtime="savedmodel"),
    "small64_keras": dict(FACENET, runtime="keras", output="", dim=SMALL_DIM),
    "nan_model_onnx": dict(FACENET, runtime="onnx"),
    "constant_model_onnx": dict(FACENET, runtime="onnx"),
    "text_model_onnx": dict(FACENET, runtime="onnx", dim=16),
    "not_a_model": dict(FACENET, runtime="onnx"),
}
# The models whose embeddings must equal FaceNet's.
REPRODUCE_FACENET = (
    "facenet_keras",
    "facenet_keras_safe",
    "facenet_keras_bgr",
    "facenet_onnx",
    "facenet_onnx_nchw_bgr",
    "facenet_openvino",
    "facenet_savedmodel",
)


def card_args(name: str) -> list[str]:
    """The card of ``name`` as ``facedash models add`` options."""
    card = CARDS[name]
    args = [
        "--input-size",
        str(card["input_size"]),
        "--layout",
        card["layout"],
        "--channels",
        card["channels"],
        "--normalize",
        card["normalize"],
        "--align",
        card["align"],
    ]
    if card["output"]:
        args += ["--output", card["output"]]
    if card.get("trust_code"):
        args.append("--trust-code")
    return args


# ---------------------------------------------------------------- cache


def _version(*names: str) -> str:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "-"


@functools.cache
def _key() -> str:
    from facedash.assets import WEIGHTS_SHA256

    digest = hashlib.sha256()
    digest.update(WEIGHTS_SHA256.encode())
    source = Path(__file__).read_text()
    digest.update(source[: source.index(_RUNNERS)].encode())  # the builders, not the runners
    digest.update(sys.version.encode())  # a Lambda's bytecode is Python's own
    for names in (
        ("tensorflow", "tensorflow_cpu", "tensorflow-cpu"),
        ("keras",),
        ("keras-facenet",),
        ("tf2onnx",),
        ("onnx",),
        ("openvino",),
    ):
        digest.update(f"{names[0]}={_version(*names)};".encode())
    return digest.hexdigest()[:12]


def zoo_root() -> Path:
    """``$FACEDASH_HOME/test-models``."""
    from facedash.paths import home

    return home() / "test-models"


BUILD_SECONDS: dict[str, float] = {}  # how long each model took to build in this process


def _cached(name: str, artefact: str, build: Callable[[Path], None]) -> Path:
    """``zoo_root()/<name>-<key>/<artefact>``, built by ``build(folder)`` the first time."""
    root = zoo_root()
    final = root / f"{name}-{_key()}"
    if not final.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
        try:
            t0 = time.perf_counter()
            build(tmp)
            BUILD_SECONDS[name] = round(time.perf_counter() - t0, 1)
            if not (tmp / artefact).exists():
                raise RuntimeError(f"{name}: the build wrote no {artefact}")
            try:
                os.rename(tmp, final)
            except OSError:  # another process finished it first
                if not final.is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in root.glob(f"{name}-" + "?" * 12):
            if old != final and time.time() - old.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
    return final / artefact


def _deliver(path: Path, dest: str | os.PathLike[str] | None) -> Path:
    """``path`` itself, or a copy of it (and of an IR's ``.bin``) in ``dest``."""
    if dest is None:
        return path
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / path.name
    if path.is_dir():
        shutil.copytree(path, out, dirs_exist_ok=True)
    else:
        shutil.copy2(path, out)
        if path.suffix == ".xml":
            shutil.copy2(path.with_suffix(".bin"), out.with_suffix(".bin"))
    return out


# ---------------------------------------------------------------- FaceNet, as Keras and TF


@functools.cache
def _facenet() -> Any:
    """The reference Keras model (facedash's, its weights verified layer by layer)."""
    from facedash.models import get_model

    reference: Any = get_model("facenet")  # FaceNetEmbedder
    return reference.model


def _tf_prewhiten(x: Any) -> Any:
    """``facedash.models.facenet.prewhiten`` in TensorFlow ops (on 0..255 RGB)."""
    import tensorflow as tf

    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    std = tf.math.reduce_std(x, axis=[1, 2, 3], keepdims=True)
    floor = tf.constant(1.0 / np.sqrt(SIZE * SIZE * 3.0), tf.float32)
    return (x - mean) / tf.maximum(std, floor)


def _nchw_bgr_function(model: Any) -> Any:
    """(N,3,160,160) BGR in [-1,1] -> RGB 0..255 NHWC -> prewhitened -> FaceNet."""
    import tensorflow as tf

    def wrapped(x: Any) -> Any:
        rgb = tf.gather(tf.transpose(x * NCHW_STD + NCHW_MEAN, [0, 2, 3, 1]), [2, 1, 0], axis=3)
        return model(_tf_prewhiten(rgb), training=False)

    return wrapped


def _rebuilt(
    model: Any,
    replace: Callable[[str, dict[str, Any], Any], Any],
    front: Callable[[Any], Any] | None = None,
) -> Any:
    """keras-facenet's FaceNet with each ``Lambda`` swapped for ``replace(kind, arguments, name)``.

    ``kind`` is ``"scaling"`` (the residual scale, ``x * scale``) or ``"normalize"`` (the
    final L2 normalisation). The architecture is rebuilt by keras-facenet itself with the
    swap in place (``keras.models.clone_model`` cannot do it: it hands Lambda's ``mask``
    argument on to the new layer), every weight is copied from ``model`` by layer name, then
    checked against the ``.h5`` file (``facedash.models.facenet.verify_weights``). ``front``
    (the new input -> the tensor FaceNet's first layer reads) puts layers before FaceNet's in
    the same flat graph, so every inner layer stays reachable by name.
    """
    from keras_facenet import inception_resnet_v1 as irv1

    from facedash.assets import require_weights
    from facedash.models.facenet import verify_weights

    def layer(
        function: Any, output_shape: Any = None, arguments: Any = None, name: Any = None
    ) -> Any:
        args = dict(arguments or {})
        if function is irv1.scaling:
            return replace("scaling", args, name)
        if args == {"axis": 1}:
            return replace("normalize", args, name)
        raise ValueError(f"unexpected Lambda {function} {args}")

    saved = irv1.Lambda, irv1.Input, irv1.Model
    irv1.Lambda = layer
    if front is not None:
        import keras

        given = keras.Input((SIZE, SIZE, 3), name="input")
        irv1.Input = lambda shape: front(given)
        irv1.Model = lambda inputs, x, name: keras.Model(given, x, name=name)
    try:
        rebuilt = irv1.InceptionResNetV1(input_shape=(SIZE, SIZE, 3), classes=DIM)
    finally:
        irv1.Lambda, irv1.Input, irv1.Model = saved
    by_name = {each.name: each for each in model.layers}
    for each in rebuilt.layers:
        if each.weights and each.name in by_name:
            each.set_weights(by_name[each.name].get_weights())
    facenet_part = SimpleNamespace(layers=[e for e in rebuilt.layers if e.name in by_name])
    verify_weights(facenet_part, require_weights())  # ``front``'s layers are not FaceNet's
    return rebuilt


def _safe_model(model: Any, front: Callable[[Any], Any] | None = None) -> Any:
    """FaceNet with its Lambda layers rebuilt as built-in ones (a ``.keras`` that loads in safe mode).

    ``Lambda(scaling, arguments={"scale": s})`` becomes ``Rescaling(s)``, and
    ``Lambda(K.l2_normalize, arguments={"axis": 1}, name="normalize")`` becomes
    ``UnitNormalization(axis=1, name="normalize")``.
    """
    import keras

    def builtin(kind: str, args: dict[str, Any], name: Any) -> Any:
        if kind == "scaling":
            return keras.layers.Rescaling(float(args["scale"]), name=name)
        return keras.layers.UnitNormalization(axis=1, name=name)

    return _rebuilt(model, builtin, front)


def _lambda_model(model: Any) -> Any:
    """FaceNet with its Lambda layers, as Python lambdas that a ``.keras`` file can carry.

    keras-facenet's Lambdas call named functions (``scaling``, ``K.l2_normalize``), which
    Keras 3 saves by name only: the file would not load anywhere without keras-facenet's
    code registered. Anonymous lambdas are saved as bytecode instead, the usual "model with
    Python code in it": ``keras.models.load_model(path, safe_mode=False)`` loads it, safe
    mode refuses it (the ``--trust-code`` case).
    """
    import keras

    def with_code(kind: str, args: dict[str, Any], name: Any) -> Any:
        if kind == "scaling":
            return keras.layers.Lambda(lambda x, scale: x * scale, arguments=args, name=name)
        return keras.layers.Lambda(
            lambda x, axis: __import__("keras").ops.normalize(x, axis=axis, order=2),
            arguments=args,
            name=name,
        )

    return _rebuilt(model, with_code)


def _small64_model() -> Any:
    import keras

    safe = _safe_model(_facenet())
    rng = np.random.default_rng(SMALL_SEED)
    q, _ = np.linalg.qr(rng.standard_normal((DIM, SMALL_DIM)))  # orthonormal columns
    projection = keras.layers.Dense(SMALL_DIM, use_bias=False, name="Projection")
    x = projection(safe.output)
    x = keras.layers.UnitNormalization(axis=1, name="normalize_64")(x)
    model = keras.Model(safe.input, x, name="small64")
    projection.set_weights([q.astype(np.float32)])
    return model


def _bgr_front(x: Any) -> Any:
    """BGR in [-1, 1] -> RGB 0..255 -> per-image standardisation, in Keras' built-in layers.

    ``LayerNormalization`` over (H, W, C) without centre or scale is FaceNet's prewhitening
    (its small epsilon stands in for prewhitening's floor on the standard deviation).
    """
    import keras

    x = keras.layers.Rescaling(NCHW_STD, offset=NCHW_MEAN, name="from_unit_range")(x)
    swap = np.zeros((1, 1, 3, 3), np.float32)
    swap[0, 0, [2, 1, 0], [0, 1, 2]] = 1.0
    x = keras.layers.Conv2D(
        3,
        1,
        use_bias=False,
        kernel_initializer=keras.initializers.Constant(swap),
        name="bgr_to_rgb",
    )(x)
    return keras.layers.LayerNormalization(
        axis=[1, 2, 3], center=False, scale=False, epsilon=1e-3, name="prewhiten"
    )(x)


def facenet_keras(dest: str | os.PathLike[str] | None = None) -> Path:
    """``facenet.keras``: FaceNet as keras-facenet builds it (Lambda layers: ``safe_mode=False``).

    Card: ``CARDS["facenet_keras"]`` (nhwc, rgb, prewhiten, 160, trust_code).
    """

    def build(tmp: Path) -> None:
        _lambda_model(_facenet()).save(tmp / "facenet.keras")

    return _deliver(_cached("facenet_keras", "facenet.keras", build), dest)


def facenet_keras_safe(dest: str | os.PathLike[str] | None = None) -> Path:
    """``facenet_safe.keras``: FaceNet without Lambda layers (loads in Keras' safe mode).

    Card: ``CARDS["facenet_keras_safe"]`` (nhwc, rgb, prewhiten, 160).
    """

    def build(tmp: Path) -> None:
        _safe_model(_facenet()).save(tmp / "facenet_safe.keras")

    return _deliver(_cached("facenet_keras_safe", "facenet_safe.keras", build), dest)


def small64_keras(dest: str | os.PathLike[str] | None = None) -> Path:
    """``small64.keras``: FaceNet + a seeded orthonormal Dense(64) + L2 (64-d, safe mode).

    Its layers keep FaceNet's names (``Block17_10_Conv2d_1x1`` ...) for Grad-CAM.
    Card: ``CARDS["small64_keras"]`` (nhwc, rgb, prewhiten, 160; dim 64).
    """

    def build(tmp: Path) -> None:
        _small64_model().save(tmp / "small64.keras")

    return _deliver(_cached("small64_keras", "small64.keras", build), dest)


def facenet_keras_bgr(dest: str | os.PathLike[str] | None = None) -> Path:
    """``facenet_bgr.keras``: FaceNet taking BGR in [-1, 1], its preparation in built-in layers.

    Card: ``CARDS["facenet_keras_bgr"]`` (nhwc, bgr, 127.5,127.5, 160): a Keras model whose
    card is not FaceNet's, with FaceNet's inner layers by name (for the gradient methods).
    """

    def build(tmp: Path) -> None:
        _safe_model(_facenet(), front=_bgr_front).save(tmp / "facenet_bgr.keras")

    return _deliver(_cached("facenet_keras_bgr", "facenet_bgr.keras", build), dest)


def facenet_savedmodel(dest: str | os.PathLike[str] | None = None) -> Path:
    """``facenet_savedmodel/``: signature ``serving_default``, ``input`` -> ``embedding``.

    Card: ``CARDS["facenet_savedmodel"]`` (nhwc, rgb, prewhiten, 160, output embedding).
    """

    def build(tmp: Path) -> None:
        import keras
        import tensorflow as tf

        model = _facenet()
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(
            name="serving_default",
            fn=lambda input: {"embedding": model(input, training=False)},
            input_signature=[tf.TensorSpec([None, SIZE, SIZE, 3], tf.float32, name="input")],
        )
        archive.write_out(str(tmp / "facenet_savedmodel"), verbose=False)

    return _deliver(_cached("facenet_savedmodel", "facenet_savedmodel", build), dest)


# ---------------------------------------------------------------- ONNX


def _to_onnx(fn: Any, shape: list[int | None], path: Path) -> None:
    """tf2onnx of ``fn`` (one float32 input ``input`` of ``shape``) -> output ``embedding``."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    spec = [tf.TensorSpec(shape, tf.float32, name="input")]
    proto, _ = tf2onnx.convert.from_function(
        tf.function(fn, input_signature=spec), input_signature=spec, opset=OPSET
    )
    _name_io(proto, "input", "embedding")
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def _name_io(proto: Any, inp: str, out: str) -> None:
    """Rename the graph's single input and output, and call their batch axis ``N``."""
    graph = proto.graph
    old = graph.output[0].name
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = out
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = out
    graph.output[0].name = out
    old_in = graph.input[0].name
    if old_in != inp:
        for node in graph.node:
            for i, name in enumerate(node.input):
                if name == old_in:
                    node.input[i] = inp
        graph.input[0].name = inp
    for value in (graph.input[0], graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "N"


def facenet_onnx(dest: str | os.PathLike[str] | None = None) -> Path:
    """``facenet.onnx``: FaceNet as it is; ``input`` (N,160,160,3) prewhitened RGB -> ``embedding``.

    Card: ``CARDS["facenet_onnx"]`` (nhwc, rgb, prewhiten, 160, output embedding).
    """

    def build(tmp: Path) -> None:
        model = _facenet()
        _to_onnx(lambda x: model(x, training=False), [None, SIZE, SIZE, 3], tmp / "facenet.onnx")

    return _deliver(_cached("facenet_onnx", "facenet.onnx", build), dest)


def facenet_onnx_nchw_bgr(dest: str | os.PathLike[str] | None = None) -> Path:
    """``facenet_nchw_bgr.onnx``: ``input`` (N,3,160,160) BGR, (x - 127.5)/127.5 -> ``embedding``.

    The graph turns its input back into RGB 0..255 NHWC, prewhitens each image and runs
    FaceNet, so the card ``--layout nchw --channels bgr --normalize 127.5,127.5
    --input-size 160 --output embedding`` (``CARDS["facenet_onnx_nchw_bgr"]``) reproduces
    FaceNet's embeddings.
    """

    def build(tmp: Path) -> None:
        _to_onnx(
            _nchw_bgr_function(_facenet()), [None, 3, SIZE, SIZE], tmp / "facenet_nchw_bgr.onnx"
        )

    return _deliver(_cached("facenet_onnx_nchw_bgr", "facenet_nchw_bgr.onnx", build), dest)


def facenet_openvino(dest: str | os.PathLike[str] | None = None) -> Path:
    """``facenet.xml`` + ``facenet.bin``: fp32 OpenVINO IR, ``input`` -> ``embedding``.

    Card: ``CARDS["facenet_openvino"]`` (nhwc, rgb, prewhiten, 160, output embedding).
    """

    def build(tmp: Path) -> None:
        import warnings

        import openvino as ov

        with warnings.catch_warnings():  # Keras: "The structure of `inputs` doesn't match"
            warnings.simplefilter("ignore", UserWarning)
            model = ov.convert_model(_facenet(), input=[(-1, SIZE, SIZE, 3)])
        model.inputs[0].get_tensor().set_names({"input"})
        model.outputs[0].get_tensor().set_names({"embedding"})
        ov.save_model(model, str(tmp / "facenet.xml"), compress_to_fp16=False)

    return _deliver(_cached("facenet_openvino", "facenet.xml", build), dest)


# ---------------------------------------------------------------- bad models


def _onnx_model(nodes: list[Any], inputs: list[Any], outputs: list[Any], inits: list[Any]) -> Any:
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "zoo", inputs, outputs, initializer=inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facedash-tests"
    )
    model.ir_version = 8  # what opset 17 came with; every onnxruntime reads it
    onnx.checker.check_model(model)
    return model


def _image_head(out: str, tail: list[Any], inits: list[Any]) -> Any:
    """An image model: ``input`` (N,160,160,3) -> mean colour (N,3) -> MatMul (N,128) -> ``tail``."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.standard_normal((3, DIM)).astype(np.float32), "W")
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["colour"], axes=[1, 2], keepdims=0),
        helper.make_node("MatMul", ["colour", "W"], ["features"]),
        *tail,
    ]
    return _onnx_model(
        nodes,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", SIZE, SIZE, 3])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", DIM])],
        [weights, *inits],
    )


def not_a_model(dest: str | os.PathLike[str] | None = None) -> Path:
    """``not_a_model.onnx``: a text file with a model's name."""

    def build(tmp: Path) -> None:
        (tmp / "not_a_model.onnx").write_text("This is a text file, not an ONNX model.\n")

    return _deliver(_cached("not_a_model", "not_a_model.onnx", build), dest)


def text_model_onnx(dest: str | os.PathLike[str] | None = None) -> Path:
    """``text_model.onnx``: a valid ONNX model whose input is not an image: (N,300) -> (N,16)."""

    def build(tmp: Path) -> None:
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        rng = np.random.default_rng(1)
        weights = numpy_helper.from_array(rng.standard_normal((300, 16)).astype(np.float32), "W")
        model = _onnx_model(
            [helper.make_node("MatMul", ["tokens", "W"], ["embedding"])],
            [helper.make_tensor_value_info("tokens", TensorProto.FLOAT, ["N", 300])],
            [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 16])],
            [weights],
        )
        onnx.save(model, str(tmp / "text_model.onnx"))

    return _deliver(_cached("text_model_onnx", "text_model.onnx", build), dest)


def nan_model_onnx(dest: str | os.PathLike[str] | None = None) -> Path:
    """``nan_model.onnx``: an image model, ``input`` (N,160,160,3) -> ``embedding`` all NaN."""

    def build(tmp: Path) -> None:
        import onnx
        from onnx import helper, numpy_helper

        nan = numpy_helper.from_array(np.array([np.nan], dtype=np.float32), "nan")
        model = _image_head(
            "embedding", [helper.make_node("Mul", ["features", "nan"], ["embedding"])], [nan]
        )
        onnx.save(model, str(tmp / "nan_model.onnx"))

    return _deliver(_cached("nan_model_onnx", "nan_model.onnx", build), dest)


def constant_model_onnx(dest: str | os.PathLike[str] | None = None) -> Path:
    """``constant_model.onnx``: an image model returning one unit vector for every face."""

    def build(tmp: Path) -> None:
        import onnx
        from onnx import helper, numpy_helper

        rng = np.random.default_rng(2)
        c = rng.standard_normal(DIM).astype(np.float32)
        inits = [
            numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
            numpy_helper.from_array(c / np.linalg.norm(c), "constant"),
        ]
        tail = [
            helper.make_node("Mul", ["features", "zero"], ["nothing"]),
            helper.make_node("Add", ["nothing", "constant"], ["embedding"]),
        ]
        onnx.save(_image_head("embedding", tail, inits), str(tmp / "constant_model.onnx"))

    return _deliver(_cached("constant_model_onnx", "constant_model.onnx", build), dest)


BUILDERS: dict[str, Callable[..., Path]] = {
    "facenet_keras": facenet_keras,
    "facenet_keras_safe": facenet_keras_safe,
    "facenet_keras_bgr": facenet_keras_bgr,
    "facenet_onnx": facenet_onnx,
    "facenet_onnx_nchw_bgr": facenet_onnx_nchw_bgr,
    "facenet_openvino": facenet_openvino,
    "facenet_savedmodel": facenet_savedmodel,
    "small64_keras": small64_keras,
    "not_a_model": not_a_model,
    "text_model_onnx": text_model_onnx,
    "nan_model_onnx": nan_model_onnx,
    "constant_model_onnx": constant_model_onnx,
}


_RUNNERS = "# ---------------------------------------------------------------- running them"
# ---------------------------------------------------------------- running them (cross-checks)


def preprocess(name: str, crops: np.ndarray) -> np.ndarray:
    """Aligned uint8 RGB crops (N,160,160,3) -> the float32 input ``CARDS[name]`` describes."""
    from facedash.models.facenet import prewhiten

    card = CARDS[name]
    x = np.asarray(crops)
    if card["channels"] == "bgr":
        x = x[..., ::-1]
    norm = card["normalize"]
    if norm == "prewhiten":
        x = prewhiten(x)
    elif norm == "unit":
        x = x.astype(np.float32) / 255.0
    else:
        mean, std = (float(v) for v in norm.split(","))
        x = (x.astype(np.float32) - mean) / std
    if card["layout"] == "nchw":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x, dtype=np.float32)


def embed(
    name: str, path: str | os.PathLike[str], crops: np.ndarray, batch: int = 32
) -> np.ndarray:
    """Run model ``name`` (at ``path``) on crops with its own runtime; float32 (N, dim), not L2-normalised here."""
    path = Path(path)
    x = preprocess(name, crops)
    runtime = CARDS[name]["runtime"]
    if runtime == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        out = CARDS[name]["output"] or None

        def run(b: np.ndarray) -> np.ndarray:
            return session.run([out] if out else None, {session.get_inputs()[0].name: b})[0]

    elif runtime == "openvino":
        import openvino as ov

        # f32: on a CPU with bf16 units OpenVINO's default precision is bf16 (min cosine 0.9998).
        compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        port = compiled.output(CARDS[name]["output"])

        def run(b: np.ndarray) -> np.ndarray:
            return compiled(b)[port]

    elif runtime == "keras":
        import keras

        model = keras.models.load_model(
            str(path), compile=False, safe_mode=not CARDS[name].get("trust_code", False)
        )

        def run(b: np.ndarray) -> np.ndarray:
            return np.asarray(model(b, training=False))

    elif runtime == "savedmodel":
        import tensorflow as tf

        fn = tf.saved_model.load(str(path)).signatures["serving_default"]

        def run(b: np.ndarray) -> np.ndarray:
            return fn(input=tf.constant(b))[CARDS[name]["output"]].numpy()

    else:
        raise ValueError(f"unknown runtime {runtime}")
    return np.concatenate([run(x[i : i + batch]) for i in range(0, len(x), batch)]).astype(
        np.float32
    )


def leave_one_out_1nn(vectors: np.ndarray, people: np.ndarray) -> float:
    """Leave-one-out nearest-neighbour (cosine) accuracy."""
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    return float(np.mean(np.asarray(people)[sims.argmax(axis=1)] == np.asarray(people)))


def register(name: str, kind: str) -> str:
    """Register model ``kind`` (its cached copy, ``CARDS[kind]``) as ``name``; a left-over card goes first."""
    from dataclasses import replace

    from facedash.models import cards, user

    if (cards.cards_dir() / name).exists():
        cards.remove_card(name)
    card = CARDS[kind]
    made, session = user.inspect(
        BUILDERS[kind](),
        name=name,
        input_size=card["input_size"],
        layout=card["layout"],
        channels=card["channels"],
        normalize=card["normalize"],
        output=card["output"] or None,
    )
    from facedash.faces.probe import demo_crops

    cards.write_card(replace(made, dim=user.sanity(made, session, demo_crops(None, 8))))
    return name
