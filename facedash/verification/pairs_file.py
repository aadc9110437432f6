"""LFW ``pairs.txt`` files: parsing them, and finding their faces in a set.

``parse_pairs`` reads the file's lines (person names and 1-based image numbers);
``pairs_from_file`` resolves them against a set's faces (``face_keys``) into ``Pairs``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from facedash.errors import FacedashError
from facedash.verification.pairs import Pairs, _codes


class PairsFileError(FacedashError):
    """A pairs file that cannot be read; the message names the line and what is wrong."""


@dataclass(frozen=True)
class PairsFile:
    """The parsed lines of a pairs file: person names and 1-based image numbers."""

    name1: np.ndarray
    num1: np.ndarray
    name2: np.ndarray
    num2: np.ndarray
    same: np.ndarray
    folds: int | None = None


_INT = re.compile(r"^\d+$")


def parse_pairs(text: str | bytes) -> PairsFile:
    """Parse an LFW ``pairs.txt``: an optional header, then 3- and 4-field lines.

    ``name n1 n2`` is a same-person pair (images ``n1`` and ``n2`` of ``name``);
    ``name1 n1 name2 n2`` a different-person pair. The header is ``folds pairs``
    (``10 300``: ten folds, each of 300 same then 300 different pairs) or ``pairs``
    (``1100``: 1100 same then 1100 different); when present, the number of lines must
    match it. Fields are separated by tabs or spaces; blank lines are ignored.
    Raises ``PairsFileError`` naming the first bad line.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PairsFileError("pairs file is not UTF-8 text") from None
    lines = [(n, ln.split()) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if not lines:
        raise PairsFileError("pairs file is empty")
    folds: int | None = None
    expected: int | None = None
    first_no, first = lines[0]
    if 1 <= len(first) <= 2 and all(_INT.match(f) for f in first):
        numbers = [int(f) for f in first]
        if len(numbers) == 2:
            folds, expected = numbers[0], 2 * numbers[0] * numbers[1]
        else:
            expected = 2 * numbers[0]
        lines = lines[1:]
    name1: list[str] = []
    name2: list[str] = []
    num1: list[int] = []
    num2: list[int] = []
    same: list[bool] = []
    for line_no, fields in lines:
        if len(fields) == 3:
            n, a, b = fields
            m = n
        elif len(fields) == 4:
            n, a, m, b = fields
        else:
            raise PairsFileError(
                f"line {line_no}: expected 3 fields (name n1 n2) or 4 fields (name1 n1 name2 n2), "
                f"got {len(fields)}: {' '.join(fields)[:80]!r}"
            )
        if not (_INT.match(a) and _INT.match(b)) or int(a) < 1 or int(b) < 1:
            raise PairsFileError(
                f"line {line_no}: image numbers must be positive integers, got {a!r} and {b!r}"
            )
        if _INT.match(n) or _INT.match(m):
            raise PairsFileError(f"line {line_no}: a person name is a number: {' '.join(fields)!r}")
        if len(fields) == 3 and a == b:
            raise PairsFileError(f"line {line_no}: pairs image {a} of {n} with itself")
        name1.append(n)
        num1.append(int(a))
        name2.append(m)
        num2.append(int(b))
        same.append(len(fields) == 3)
    if not same:
        raise PairsFileError("pairs file has a header but no pairs")
    if expected is not None and expected != len(same):
        raise PairsFileError(
            f"line {first_no}: the header {' '.join(first)!r} announces {expected} pairs, "
            f"the file has {len(same)}"
        )
    return PairsFile(
        np.array(name1, dtype=object),
        np.array(num1, dtype=np.int64),
        np.array(name2, dtype=object),
        np.array(num2, dtype=np.int64),
        np.array(same, dtype=bool),
        folds,
    )


_LFW_STEM = re.compile(r"^(?P<person>.+)_(?P<num>\d{1,5})$")


def face_keys(people: Sequence[str], names: Sequence[str]) -> dict[tuple[str, int], int]:
    """``(person, image number) -> row``: how a pairs file's references find faces.

    A file named ``<person>_<NNNN>.<ext>`` (LFW) is image ``NNNN`` of its person;
    every face is also image ``k`` of its person when it is the ``k``-th of that
    person in file-name order (so a pairs file can address any set). Person names
    compare case-insensitively. The LFW name wins where both apply.
    """
    keys: dict[tuple[str, int], int] = {}
    by_person: dict[str, list[tuple[str, int]]] = {}
    for row, (person, name) in enumerate(zip(people, names, strict=True)):
        by_person.setdefault(str(person).lower(), []).append((str(name), row))
    for person, items in by_person.items():
        for k, (_, row) in enumerate(sorted(items), start=1):
            keys.setdefault((person, k), row)
    for row, (person, name) in enumerate(zip(people, names, strict=True)):
        stem = Path(str(name)).stem
        match = _LFW_STEM.match(stem)
        if match and match["person"].lower() == str(person).lower():
            keys[(str(person).lower(), int(match["num"]))] = row
    return keys


def pairs_from_file(
    parsed: PairsFile,
    people: Sequence[str],
    names: Sequence[str],
    *,
    on_missing: Literal["drop", "error"] = "drop",
) -> Pairs:
    """Resolve a parsed pairs file against a set's faces (``face_keys``).

    Pairs naming a face that is not in the set (not found, or no face detected)
    are dropped and counted, or raise ``PairsFileError`` with ``on_missing="error"``.
    The truth is the file's (3 fields: same), checked against the set's labels.
    """
    keys = face_keys(people, names)
    rows1 = np.array(
        [
            keys.get((str(n).lower(), int(k)), -1)
            for n, k in zip(parsed.name1, parsed.num1, strict=True)
        ],
        dtype=np.int64,
    )
    rows2 = np.array(
        [
            keys.get((str(n).lower(), int(k)), -1)
            for n, k in zip(parsed.name2, parsed.num2, strict=True)
        ],
        dtype=np.int64,
    )
    ok = (rows1 >= 0) & (rows2 >= 0) & (rows1 != rows2)
    missing = np.flatnonzero(~ok)
    if len(missing) and on_missing == "error":
        k = missing[0]
        raise PairsFileError(
            f"{len(missing)} pairs name faces not in the set, e.g. "
            f"{parsed.name1[k]} {parsed.num1[k]} / {parsed.name2[k]} {parsed.num2[k]}"
        )
    if not ok.any():
        known = sorted({p for p, _ in keys})[:5]
        raise PairsFileError(
            f"none of the {len(ok)} pairs names a face of this set (people here: {', '.join(known)}, ...)"
        )
    i, j = np.minimum(rows1[ok], rows2[ok]), np.maximum(rows1[ok], rows2[ok])
    same = parsed.same[ok]
    codes = _codes(people)
    wrong = np.flatnonzero((codes[i] == codes[j]) != same)
    if len(wrong):
        k = wrong[0]
        raise PairsFileError(
            f"{len(wrong)} pairs disagree with the set's people, e.g. rows {i[k]} and {j[k]} "
            f"are marked {'same' if same[k] else 'different'}"
        )
    return Pairs(i, j, same, source="pairs file", dropped=int(len(missing)))


def read_pairs_file(
    path_or_text: Path | str | bytes, people: Sequence[str], names: Sequence[str]
) -> Pairs:
    """``parse_pairs`` + ``pairs_from_file`` on a path, or on the file's text or bytes."""
    if isinstance(path_or_text, Path):
        try:
            path_or_text = path_or_text.read_bytes()
        except OSError as exc:
            raise PairsFileError(f"cannot read pairs file: {exc}") from None
    return pairs_from_file(parse_pairs(path_or_text), people, names)
