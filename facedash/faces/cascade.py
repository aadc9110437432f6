"""MTCNN's three networks, driven in batches of equal-size canvases.

The ``mtcnn`` package (1.0) ships the networks and their weights; its own
driver (``MTCNN.detect_faces``) works op by op in float64 NumPy. It converts
the whole batch to a new tensor once per pyramid level, runs its crops through
TensorFlow's slow float64 fallback, and rounds boxes and landmarks to whole
pixels. Here the same cascade runs differently:

* **PNet**: one compiled graph per canvas side normalises the uint8 batch once
  (``(x - 127.5) / 128``), builds every pyramid level with area resampling and
  runs PNet on each. The pyramid stops at the smallest level PNet can read, so
  ``min_face_size`` above 20 works (in mtcnn 1.0 it returns nothing).
* **RNet** and **ONet**: float32 crops of the normalised batch
  (``crop_and_resize``) through compiled networks.
* Between the stages, mtcnn's own box utilities: the proposal grid, squaring
  and regression; its non-maximum suppression (per level, across levels, after
  RNet and ONet) is ``nms`` here, the package's rule computed for every photo of
  the batch at once instead of photo by photo (the same boxes, bit for bit). The
  decisions are therefore the package's, on float32 instead of float64 data,
  and boxes and landmarks keep their sub-pixel precision.

Thresholds and NMS overlaps are mtcnn's defaults. A result depends on one
canvas alone: no step mixes photos of a batch.

The networks run on TensorFlow (the wheel's Keras models, on the GPU when
TensorFlow sees one) or, given ``openvino`` (``facedash.faces.mtcnn_nets``), on
OpenVINO fp32 for the CPU: then the compiled graph only normalises the batch and
builds the pyramid (OpenVINO cannot convert TensorFlow's area resize), and each
level, the RNet crops and the ONet crops go through OpenVINO.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from facedash.faces.mtcnn_nets import OpenVINONets

PNET_CELL = 12  # PNet's receptive field: the smallest pyramid level it can read
SCALE_FACTOR = 0.709
THRESHOLD_PNET, THRESHOLD_RNET = 0.6, 0.7
NMS_PNET_LEVEL, NMS_PNET_ALL, NMS_RNET, NMS_ONET = 0.5, 0.7, 0.7, 0.7


def pyramid(side: int, min_face_size: int) -> list[tuple[float, int]]:
    """(scale, level side) of each pyramid level for a ``side`` x ``side`` canvas.

    The first level maps a ``min_face_size`` face onto PNet's 12-pixel cell; each
    next level is 0.709 times smaller, down to the last level of at least 12 pixels.
    """
    levels = []
    scale = PNET_CELL / min_face_size
    while int(side * scale) >= PNET_CELL:
        levels.append((scale, int(side * scale)))
        scale *= SCALE_FACTOR
    return levels


class Cascade:
    """PNet -> RNet -> ONet over batches of same-size uint8 RGB canvases."""

    def __init__(
        self,
        networks: tuple[Any, Any, Any] | None,
        min_face_size: int = 20,
        openvino: OpenVINONets | None = None,
    ) -> None:
        import tensorflow as tf

        self._tf = tf
        self.min_face_size = min_face_size
        self._ov = openvino
        self._pyramids: dict[int, Any] = {}
        if openvino is None:
            if networks is None:
                raise ValueError("a TensorFlow cascade needs the Keras networks")
            pnet, rnet, onet = networks
            self._pnet = pnet
            spec = tf.TensorSpec
            self._rnet = tf.function(rnet, input_signature=[spec([None, 24, 24, 3], tf.float32)])
            self._onet = tf.function(onet, input_signature=[spec([None, 48, 48, 3], tf.float32)])

    @classmethod
    def from_package(
        cls, min_face_size: int = 20, device: str = "CPU:0", runtime: str = "tensorflow"
    ) -> Cascade:
        """The networks the ``mtcnn`` wheel ships (weights included), on ``runtime``.

        ``openvino`` reads them from the model cache (converting them there first if needed).
        """
        from facedash.faces.mtcnn_nets import OpenVINONets, package_models

        if runtime == "openvino":
            return cls(None, min_face_size, OpenVINONets.load(lambda: package_models(device)))
        if runtime != "tensorflow":
            raise ValueError(f"unknown detector runtime {runtime!r}; use openvino or tensorflow")
        return cls(package_models(device), min_face_size)

    def _pyramid_fn(self, side: int) -> Any:
        """Compiled graph: uint8 batch -> (normalised batch, per level PNet's outputs, or the level itself for OpenVINO)."""
        fn = self._pyramids.get(side)
        if fn is None:
            tf = self._tf
            levels = pyramid(side, self.min_face_size)
            pnet = None if self._ov is not None else self._pnet

            def run(batch: Any) -> Any:
                x = (tf.cast(batch, tf.float32) - 127.5) / 128.0
                outs = []
                for _, level in levels:
                    scaled = tf.image.resize(x, (level, level), method="area")
                    outs.append(scaled if pnet is None else pnet(scaled))
                return x, outs

            sig = [tf.TensorSpec([None, side, side, 3], tf.uint8)]
            fn = self._pyramids[side] = tf.function(run, input_signature=sig)
        return fn

    def __call__(self, canvases: np.ndarray, threshold_onet: float = 0.8) -> list[np.ndarray]:
        """Faces per canvas, each an (n, 15) array: x1, y1, x2, y2, confidence, 5 x, 5 y.

        ``canvases`` is a (B, side, side, 3) uint8 batch.
        """
        from mtcnn.utils.bboxes import (
            adjust_bboxes,
            generate_bounding_box,
            pick_matches,
            resize_to_square,
            upscale_bboxes,
        )

        tf = self._tf
        batch, side = canvases.shape[0], canvases.shape[1]
        empty = [np.empty((0, 15)) for _ in range(batch)]
        levels = pyramid(side, self.min_face_size)
        if not levels:
            return empty
        x, outs = self._pyramid_fn(side)(tf.constant(canvases))
        if self._ov is not None:
            outs = [tuple(map(_Host, self._ov.pnet(level.numpy()))) for level in outs]

        # Stage 1: PNet proposals, NMS per level, then across levels.
        found = []
        for (scale, _), (reg, prob) in zip(levels, outs, strict=True):
            boxes = generate_bounding_box(reg, prob, THRESHOLD_PNET)
            if len(boxes):
                boxes = upscale_bboxes(boxes, np.full(batch, scale))
                found.append(nms(boxes, NMS_PNET_LEVEL, initial_sort=False))
        if not found:
            return empty
        boxes = nms(np.concatenate(found), NMS_PNET_ALL)
        boxes = resize_to_square(boxes)

        # Stage 2: RNet refines and rescores the proposals.
        offsets, scores = self._stage("rnet", _crops(tf, x, boxes, 24, side))
        boxes[:, 5] = scores[:, 1]
        boxes = adjust_bboxes(boxes, offsets)
        boxes = pick_matches(boxes, scores_column=5, score_threshold=THRESHOLD_RNET)
        if not len(boxes):
            return empty
        boxes = nms(boxes, NMS_RNET)
        boxes = resize_to_square(boxes)

        # Stage 3: ONet gives the final boxes, confidences and five landmarks.
        offsets, marks, scores = self._stage("onet", _crops(tf, x, boxes, 48, side))
        marks = marks.astype(np.float64)
        w = boxes[:, 3:4] - boxes[:, 1:2] + 1
        h = boxes[:, 4:5] - boxes[:, 2:3] + 1
        marks[:, 0:5] = w * marks[:, 0:5] + boxes[:, 1:2] - 1
        marks[:, 5:10] = h * marks[:, 5:10] + boxes[:, 2:3] - 1
        boxes[:, 5] = scores[:, 1]
        boxes = np.concatenate([adjust_bboxes(boxes, offsets), marks], axis=1)
        boxes = pick_matches(boxes, scores_column=5, score_threshold=threshold_onet)
        if not len(boxes):
            return empty
        boxes = nms(boxes, NMS_ONET, method="min")
        return [boxes[boxes[:, 0] == b, 1:] for b in range(batch)]

    def _stage(self, name: str, crops: Any) -> tuple[np.ndarray, ...]:
        """RNet's or ONet's outputs on a batch of crops, as NumPy arrays."""
        if self._ov is not None:
            out: tuple[np.ndarray, ...] = getattr(self._ov, name)(crops.numpy())
            return out
        net = self._rnet if name == "rnet" else self._onet
        return tuple(t.numpy() for t in net(crops))


def nms(
    boxes: np.ndarray, threshold: float, method: str = "union", initial_sort: bool = True
) -> np.ndarray:
    """Non-maximum suppression as mtcnn's ``smart_nms_from_bboxes``, for all photos at once.

    Rows are (photo, x1, y1, x2, y2, score, ...). The package's rule: rows sorted by
    score (when ``initial_sort``), then within each photo a row is dropped when any
    row ranked before it overlaps it by more than ``threshold`` (intersection over
    union, or over the smaller box for ``min``), whether or not that row was itself
    dropped. The result comes photo by photo in ascending photo order, each photo's
    rows in rank order, as the package returns them. Each photo's rows are padded
    into one ``(photos, n, n)`` overlap array, so the arithmetic per pair is the
    package's and so are the results.
    """
    if initial_sort:
        boxes = boxes[np.argsort(boxes[:, 5])[::-1]]  # the package's sort, ties included
    boxes = boxes[np.argsort(boxes[:, 0], kind="stable")]
    _, starts, counts = np.unique(boxes[:, 0], return_index=True, return_counts=True)
    if not len(counts):
        return boxes
    group = np.repeat(np.arange(len(counts)), counts)
    rank = np.arange(len(boxes)) - np.repeat(starts, counts)
    n = int(counts.max())
    pad = np.zeros((len(counts), n, 4), dtype=boxes.dtype)
    pad[group, rank] = boxes[:, 1:5]
    area = (pad[..., 2] - pad[..., 0]) * (pad[..., 3] - pad[..., 1])
    a, b = pad[:, None, :, :], pad[:, :, None, :]  # [p, i, j]: a holds row j, b row i
    height = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]))
    width = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]))
    inter = height * width
    with np.errstate(invalid="ignore", divide="ignore"):  # padding rows: 0 / 0
        if method == "union":
            overlap = inter / (area[:, :, None] + area[:, None, :] - inter)
        elif method == "min":
            overlap = inter / np.minimum(area[:, :, None], area[:, None, :])
        else:
            raise ValueError("method should be 'union' or 'min'")
    before = np.triu(np.ones((n, n), dtype=bool), k=1)  # [i, j]: row i ranks before row j
    dropped = ((overlap > threshold) & before).any(axis=1)
    return boxes[~dropped[group, rank]]


class _Host:
    """A NumPy array where mtcnn's box utilities expect a tensor (they call ``.numpy()``)."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def numpy(self) -> np.ndarray:
        return self.array


def _crops(tf: Any, images: Any, boxes: np.ndarray, size: int, side: int) -> Any:
    """Boxes (image id, x1, y1, x2, y2, ...) cut from the normalised batch and resized."""
    coords = (boxes[:, [2, 1, 4, 3]] / side).astype(np.float32)
    return tf.image.crop_and_resize(images, coords, boxes[:, 0].astype(np.int32), (size, size))
