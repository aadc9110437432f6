"""Sets written in the JAFFE file-name pattern (``BA.GR1.1.tiff``) from the demo photos.

Each person's first photo(s) under every photographic condition (``facedash.search.conditions``),
the whole photo transformed, so a face is then found and aligned as usual: a held-out
attribute set whose expression-like codes are the conditions. Tests and benchmarks use
it to check that what was learnt on ``CONDITIONS`` carries over to ``UNSEEN`` transforms.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from facedash.data.datasets import Dataset
from facedash.search.conditions import CONDITIONS, apply_condition

# Two-letter codes for JAFFE-style file names (``BA.GR1.1.tiff``: person BA, condition grayscale).
JAFFE_CODES = {
    "original": "NE",
    "grayscale": "GR",
    "mirrored": "MI",
    "darker": "DA",
    "blurred": "BL",
    "brighter": "BR",
    "hue": "HU",
    "sepia": "SE",
    "noisy": "NO",
}


def person_code(person: str) -> str:
    """Two capital letters for a person label (ben_afflek -> BA, madonna -> MA)."""
    return ("".join(w[0] for w in person.split("_") if w) + person[1:])[:2].upper()


def write_jaffe_format_set(
    dataset: Dataset,
    folder: Path,
    *,
    per_person: int = 1,
    conditions: Sequence[str] = CONDITIONS,
    split: str | None = None,
) -> dict[str, str]:
    """Write the first photo(s) of each person under every condition as ``BA.GR1.1.tiff``.

    The whole photo is transformed (the face is then found and aligned as usual);
    ``split`` keeps only photos of that split (``val``: photos no training here saw).
    Returns file name -> source id (person code + photo number).
    """
    from PIL import Image

    from facedash.data.images import decode

    folder = Path(folder)
    seen: dict[str, int] = {}
    sources: dict[str, str] = {}
    for item in dataset.items:
        if split is not None and item.attributes.get("split") != split:
            continue
        n = seen.get(item.person, 0)
        if n >= per_person:
            continue
        seen[item.person] = n + 1
        image = decode(item.read())[None]
        code = person_code(item.person)
        for condition in conditions:
            name = f"{code}.{JAFFE_CODES[condition]}1.{n + 1}.tiff"
            Image.fromarray(apply_condition(image, condition)[0]).save(folder / name)
            sources[name] = f"{code}{n + 1}"
    return sources
