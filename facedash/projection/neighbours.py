"""Finding faces on the map: the nearest faces to one, faces by file name, faces picked in a chart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from facedash.projection.reduce import check_points


@dataclass(frozen=True)
class Neighbours:
    """The nearest faces to one face, nearest first, with Euclidean and cosine distances."""

    query: int
    indices: np.ndarray
    distances: np.ndarray
    cosine: np.ndarray


def nearest(points: np.ndarray, index: int, k: int = 8) -> Neighbours:
    """The ``k`` nearest other faces to face ``index`` by Euclidean distance in ``points``.

    ``cosine`` is 1 - cosine similarity of the same pairs (for L2-normalised
    embeddings, ``euclidean**2 = 2 * cosine``).
    """
    x = check_points(points, name="points")
    n = x.shape[0]
    if not 0 <= index < n:
        raise ValueError(f"face index {index} is out of range (0..{n - 1})")
    k = max(0, min(int(k), n - 1))
    diff = x - x[index]
    dist = np.sqrt(np.einsum("nd,nd->n", diff, diff))
    dist[index] = np.inf
    order = np.argsort(dist, kind="stable")[:k]
    norms = np.linalg.norm(x, axis=1)
    denom = np.maximum(norms[order] * norms[index], 1e-12)
    cos = 1.0 - (x[order] @ x[index]) / denom
    return Neighbours(int(index), order, dist[order], cos)


def find_by_name(names: np.ndarray | list[str], query: str) -> np.ndarray:
    """Indices of faces whose file name matches ``query`` (case-insensitive).

    Exact matches of the full name or its last path part come first; if there are
    none, every name containing the query. An empty query finds nothing.
    """
    q = query.strip().lower()
    if not q:
        return np.zeros(0, dtype=np.int64)
    lowered = [str(n).lower() for n in names]
    exact = [i for i, n in enumerate(lowered) if n == q or n.rsplit("/", 1)[-1] == q]
    if exact:
        return np.asarray(exact, dtype=np.int64)
    return np.asarray([i for i, n in enumerate(lowered) if q in n], dtype=np.int64)


def selected_indices(event: Any, n: int) -> list[int]:
    """Face indices picked in a plotly chart selection event (box, lasso or click).

    Reads ``customdata`` (the face index every point carries) of each selected
    point; points of traces without it (e.g. a highlight ring) are ignored.
    Accepts Streamlit's event object or its plain-dict form.
    """
    if event is None:
        return []
    selection = (
        event.get("selection") if isinstance(event, dict) else getattr(event, "selection", None)
    )
    if selection is None:
        return []
    points = (
        selection.get("points", [])
        if isinstance(selection, dict)
        else getattr(selection, "points", [])
    )
    found: list[int] = []
    for point in points or []:
        data = point.get("customdata") if isinstance(point, dict) else None
        if isinstance(data, list | tuple):
            data = data[0] if data else None
        if data is None:
            continue
        try:
            i = int(data)
        except (TypeError, ValueError):
            continue
        if 0 <= i < n and i not in found:
            found.append(i)
    return found
