"""Face sets: where images come from and whose face each one holds.

A ``Dataset`` is a list of ``ImageItem`` (a name, a person, attributes, and a way to
read the bytes) plus the problems met while listing it. Loaders:

- ``load_demo``: the bundled 5-celebrity set (``split`` attribute: train / val);
- ``load_folder``: one sub-folder per person (LFW / ImageFolder layout);
- ``load_zip``: the same layout inside a zip, read in memory with limits;
- ``load_uploads``: files (and zips) handed over as ``(name, bytes)``;
- ``load_manifest``: a CSV with ``path``, ``person`` and any attribute columns;
- ``load_path``: picks one of the above from what a path is.

File names in the JAFFE pattern (``KA.HA1.29.tiff``) give person ``KA`` and
expression ``HA``; LFW-style names (``Ben_Afflek_0001.jpg``) give the person.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from facedash import assets
from facedash.data.folders import scan
from facedash.data.images import EXTENSIONS, MAX_BYTES
from facedash.errors import FacedashError, ImageError

JAFFE_RE = re.compile(
    r"^(?P<person>[A-Z]{2})\.(?P<expression>[A-Z]{2})(?P<take>\d+)\.(?P<number>\d+)\.(?:tiff?|jpe?g|png)$",
    re.IGNORECASE,
)
LFW_RE = re.compile(r"^(?P<person>.+?)_\d{2,5}$")
UNKNOWN = "unknown"

# Zip limits: declared and actual sizes are both checked.
ZIP_MAX_ENTRIES = 20_000
ZIP_MAX_TOTAL = 1024 * 1024 * 1024  # 1 GiB uncompressed in all
ZIP_MAX_RATIO = 100  # compression ratio above which an entry is treated as a bomb
ZIP_RATIO_FLOOR = 1024 * 1024  # small entries may compress well (blank PNGs)
_IGNORED = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class Failure:
    """One file that could not be used, and why."""

    file: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form: ``{"file", "reason"}``."""
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class ImageItem:
    """One image of a set: its display name, person, attributes and bytes."""

    name: str
    person: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None
    data: bytes | None = field(default=None, repr=False)
    # (size, mtime_ns) when the folder was listed: a file whose stat differs at read
    # time changed while the set was being read (``changed_since_listed``).
    listed: tuple[int, int] | None = field(default=None, compare=False, repr=False)

    def read(self) -> bytes:
        """The file's bytes; ``ImageError`` if it is missing or too large."""
        if self.data is not None:
            return self.data
        if self.path is None:
            raise ImageError("no data")
        try:
            size = self.path.stat().st_size
            if size > MAX_BYTES:
                raise ImageError(
                    f"file is {size / 2**20:.0f} MiB, above the {MAX_BYTES // 2**20} MiB limit"
                )
            return self.path.read_bytes()
        except FileNotFoundError:
            if self.listed is not None:
                raise ImageError("removed while the set was being read") from None
            raise ImageError("cannot read file (No such file or directory)") from None
        except OSError as exc:
            raise ImageError(f"cannot read file ({exc.strerror or exc})") from None

    def stat_now(self) -> tuple[int, int] | None:
        """(size, mtime_ns) of the file now; None for bytes in memory or a file that is gone."""
        if self.path is None or self.data is not None:
            return None
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns

    def changed_since_listed(self) -> bool:
        """Whether the file's size or modification time differ from when the folder was listed."""
        return self.listed is not None and self.stat_now() not in (None, self.listed)


@dataclass
class Dataset:
    """A face set: items in a stable order plus the problems met while listing it.

    ``root`` is the absolute folder every item's name is relative to (``root / name``
    opens the photo from any working directory); None when the photos are not files
    in a folder on disk (uploads, zip entries).
    """

    name: str
    kind: str
    items: list[ImageItem]
    problems: list[Failure] = field(default_factory=list)
    root: Path | None = None
    _fingerprint: tuple[tuple, str] | None = field(default=None, repr=False, compare=False)

    @property
    def people(self) -> list[str]:
        """Sorted distinct person labels."""
        return sorted({item.person for item in self.items})

    @property
    def attribute_names(self) -> list[str]:
        """Sorted attribute columns present on any item."""
        return sorted({key for item in self.items for key in item.attributes})

    def fingerprint(self) -> str:
        """A short id of the listing (names, people, sizes and times), for caches keyed by set.

        A folder's listing already holds each file's size and modification time, so
        this costs no further system call per file.
        """
        memo = (self.kind, id(self.items), len(self.items))
        if self._fingerprint is not None and self._fingerprint[0] == memo:
            return self._fingerprint[1]
        digest = hashlib.sha256(self.kind.encode())
        for item in self.items:
            if item.data is not None:
                size: object = len(item.data)
            elif item.listed is not None:
                size = item.listed
            else:
                size = item.path.stat().st_size if item.path else 0
            digest.update(f"{item.name}\0{item.person}\0{size}\n".encode())
        self._fingerprint = (memo, digest.hexdigest()[:16])
        return self._fingerprint[1]

    def changes_since_listed(self) -> tuple[list[str], list[str], list[str]]:
        """(changed, removed, added) image files of a folder set since it was listed.

        One more scan of the folder: a file is *changed* when its size or modification
        time differ from the listing's, *removed* when it is gone, *added* when the
        listing does not hold it. Sets that are not a folder on disk never change.
        """
        if self.kind not in ("folder", "demo") or self.root is None:
            return [], [], []
        try:
            now = {"/".join(rel): listed for rel, kind, listed in scan(self.root) if kind == "file"}
        except OSError:
            return [], [], []
        listed = {item.name: item.listed for item in self.items}
        changed = [n for n, st in listed.items() if n in now and st is not None and now[n] != st]
        removed = [n for n in listed if n not in now]
        known = set(listed) | {p.file for p in self.problems}
        added = sorted(n for n in now if n not in known and _is_image_name(n) and not _ignored(n))
        return changed, removed, added


def parse_jaffe(filename: str) -> dict[str, str] | None:
    """Person and expression from a JAFFE file name (``KA.HA1.29.tiff``), else None."""
    match = JAFFE_RE.match(filename.rsplit("/", 1)[-1])
    if not match:
        return None
    return {"person": match["person"].upper(), "expression": match["expression"].upper()}


def person_from_name(filename: str) -> tuple[str, dict[str, str]]:
    """Guess the person (and attributes) from a bare file name."""
    jaffe = parse_jaffe(filename)
    if jaffe:
        return jaffe["person"], {"expression": jaffe["expression"]}
    stem = os.path.splitext(filename.rsplit("/", 1)[-1])[0]  # PurePosixPath.stem, faster
    match = LFW_RE.match(stem)
    if match:
        return match["person"], {}
    return UNKNOWN, {}


def _label(parts: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """Person and attributes from a relative path's parts (folder layouts)."""
    filename = parts[-1]
    person, attrs = person_from_name(filename)
    if len(parts) >= 2:
        person = parts[-2]
        jaffe = parse_jaffe(filename)
        if jaffe:
            attrs = {"expression": jaffe["expression"]}
    if len(parts) >= 3:
        attrs = {"split": parts[0], **attrs}
    return person, attrs


def _is_image_name(name: str) -> bool:
    return os.path.splitext(name.rsplit("/", 1)[-1])[1].lower() in EXTENSIONS


def _ignored(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name.startswith(_IGNORED) or base.startswith(".") or base in _IGNORED


def load_demo(root: Path | None = None) -> Dataset:
    """The bundled 5-celebrity demo set (118 photos, 5 people, train and val)."""
    folder = assets.require_demo(root)
    data = load_folder(folder)
    data.name, data.kind = "Demo: 5 celebrities", "demo"
    return data


def load_folder(folder: Path) -> Dataset:
    """A folder with one sub-folder per person (deeper levels become a ``split``).

    Listing 10,000 photos takes one directory scan and one ``stat`` per file (a
    tenth of a second here); each item keeps its size and modification time.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FacedashError(f"no such folder: {folder}")
    items: list[ImageItem] = []
    problems: list[Failure] = []
    base = str(folder)
    for parts, kind, listed in scan(folder):
        name = "/".join(parts)
        if _ignored(name):
            continue
        if kind == "link":
            problems.append(Failure(name, "symbolic link ignored"))
            continue
        if not _is_image_name(name):
            suffix = os.path.splitext(parts[-1])[1]
            problems.append(
                Failure(name, f"not an image file ({suffix or 'no extension'}), skipped")
            )
            continue
        person, attrs = _label(parts)
        path = Path(os.path.join(base, *parts))
        items.append(
            ImageItem(name=name, person=person, attributes=attrs, path=path, listed=listed)
        )
    return Dataset(
        name=folder.name, kind="folder", items=items, problems=problems, root=folder.resolve()
    )


def _zip_entry_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symbolic link inside the zip ignored"
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in pure.parts:
        return "unsafe path (absolute or with '..') ignored"
    if info.flag_bits & 0x1:
        return "encrypted entry skipped"
    if name.lower().endswith(".zip"):
        return "nested zip skipped (unpack it first)"
    if info.file_size > MAX_BYTES:
        return f"{info.file_size / 2**20:.0f} MiB uncompressed, above the {MAX_BYTES // 2**20} MiB limit"
    if info.file_size > ZIP_RATIO_FLOOR and info.file_size > ZIP_MAX_RATIO * max(
        info.compress_size, 1
    ):
        ratio = info.file_size / max(info.compress_size, 1)
        return f"compression ratio {ratio:.0f}:1 looks like a zip bomb; refused"
    if not _is_image_name(name):
        return f"not an image file ({pure.suffix or 'no extension'}), skipped"
    return None


def _read_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read an entry, refusing it if it inflates past its declared size."""
    out = bytearray()
    with zf.open(info) as fh:
        while chunk := fh.read(1 << 20):
            out += chunk
            if len(out) > info.file_size or len(out) > MAX_BYTES:
                raise ImageError("entry inflates past its declared size; refused")
    return bytes(out)


def load_zip(source: Path | bytes, *, name: str | None = None) -> Dataset:
    """A zip with the folder layout, read in memory: nothing is ever extracted to disk.

    Declared sizes are checked before reading (total, per entry, compression
    ratio) and actual sizes while reading; symlinks, unsafe paths, encrypted and
    nested zips are listed as problems and skipped.
    """
    label = name or (source.name if isinstance(source, Path) else "upload.zip")
    try:
        zf = zipfile.ZipFile(source if isinstance(source, Path) else io.BytesIO(source))
    except (zipfile.BadZipFile, OSError) as exc:
        raise FacedashError(f"{label}: not a readable zip ({exc})") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir() and not _ignored(i.filename)]
        if len(infos) > ZIP_MAX_ENTRIES:
            raise FacedashError(
                f"{label}: {len(infos)} entries, above the limit of {ZIP_MAX_ENTRIES}"
            )
        declared = sum(i.file_size for i in infos)
        if declared > ZIP_MAX_TOTAL:
            raise FacedashError(
                f"{label}: declares {declared / 2**30:.1f} GiB uncompressed, above the "
                f"{ZIP_MAX_TOTAL / 2**30:.0f} GiB limit; refused as a possible zip bomb"
            )
        names = [PurePosixPath(i.filename.replace("\\", "/")) for i in infos]
        tops = {n.parts[0] for n in names if len(n.parts) > 1}
        strip = 1 if len(tops) == 1 and all(len(n.parts) > 2 for n in names) else 0
        items: list[ImageItem] = []
        problems: list[Failure] = []
        total = 0
        for info, pure in zip(infos, names, strict=True):
            shown = f"{label}/{info.filename}"
            problem = _zip_entry_problem(info)
            if problem:
                problems.append(Failure(shown, problem))
                continue
            try:
                data = _read_limited(zf, info)
            except ImageError as exc:
                problems.append(Failure(shown, str(exc)))
                continue
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                problems.append(Failure(shown, f"corrupt zip entry ({exc})"))
                continue
            total += len(data)
            if total > ZIP_MAX_TOTAL:
                problems.append(
                    Failure(shown, "zip inflates past the total size limit; rest refused")
                )
                break
            parts = pure.parts[strip:]
            person, attrs = _label(parts)
            items.append(
                ImageItem(name="/".join(parts), person=person, attributes=attrs, data=data)
            )
    if not items:
        problems.append(Failure(label, "the zip holds no usable images"))
    return Dataset(name=label, kind="zip", items=items, problems=problems)


def load_uploads(files: Iterable[tuple[str, bytes]], *, name: str = "Uploaded files") -> Dataset:
    """Uploaded files as ``(file name, bytes)``; zips among them are expanded."""
    items: list[ImageItem] = []
    problems: list[Failure] = []
    for filename, data in files:
        if filename.lower().endswith(".zip"):
            try:
                sub = load_zip(data, name=filename)
            except FacedashError as exc:
                problems.append(Failure(filename, str(exc)))
                continue
            items.extend(sub.items)
            problems.extend(sub.problems)
            continue
        person, attrs = person_from_name(filename)
        items.append(ImageItem(name=filename, person=person, attributes=attrs, data=data))
    return Dataset(name=name, kind="upload", items=items, problems=problems)


def load_manifest(csv_path: Path) -> Dataset:
    """A CSV manifest: column ``path`` (relative to the CSV), ``person``, any attributes."""
    csv_path = Path(csv_path)
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FacedashError(f"cannot read manifest {csv_path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    if "path" not in columns:
        raise FacedashError(
            f"manifest {csv_path.name} needs a 'path' column (has: {', '.join(columns) or 'none'})"
        )
    items: list[ImageItem] = []
    problems: list[Failure] = []
    for row in reader:
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        rel = row.pop("path")
        path = (csv_path.parent / rel).resolve()
        if not path.is_file():
            problems.append(Failure(rel, "listed in the manifest but not found"))
            continue
        person = row.pop("person", "") or person_from_name(rel)[0]
        attrs = {k: v for k, v in row.items() if k}
        items.append(ImageItem(name=rel, person=person, attributes=attrs, path=path))
    return Dataset(
        name=csv_path.name,
        kind="manifest",
        items=items,
        problems=problems,
        root=csv_path.parent.resolve(),
    )


def load_path(path: Path | str) -> Dataset:
    """Load a folder, a zip, a CSV manifest or a single image by what ``path`` is."""
    path = Path(path).expanduser()
    if path.is_dir():
        return load_folder(path)
    if not path.exists():
        raise FacedashError(f"no such file or folder: {path}")
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return load_zip(path)
    if suffix == ".csv":
        return load_manifest(path)
    person, attrs = person_from_name(path.name)
    return Dataset(
        name=path.name,
        kind="file",
        items=[ImageItem(path.name, person, attrs, path=path)],
        root=path.parent.resolve(),
    )


Loader = Callable[[], Dataset]
