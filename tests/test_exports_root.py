"""Exports whose paths open: every format records the set's root, so ``root / path`` opens anywhere.

``facedash embed --demo --out FILE`` runs from a working directory that is not the
set's folder; every ``root / path`` it writes must open as an image there. Sets with
no folder on disk (uploads, zips) write an empty root.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from facedash.cli import main
from facedash.data import exports
from facedash.data.datasets import load_path, load_uploads
from facedash.data.store import Store
from facedash.faces.pipeline import embed_dataset


def _refuse():
    raise AssertionError("nothing should be computed: these photos are in the store")


def _read(out: Path) -> tuple[list[str], list[str]]:
    """(root of each row, path of each row) from a written export."""
    suffix = out.suffix
    if suffix == ".npz":
        with np.load(out, allow_pickle=False) as data:
            assert data["root"].shape == ()  # one root for the whole set
            paths = [str(p) for p in data["path"]]
            return [str(data["root"])] * len(paths), paths
    if suffix == ".csv":
        frame = pd.read_csv(out, keep_default_na=False)
    else:
        frame = pd.read_parquet(out)
    assert frame.columns[:2].tolist() == ["path", "root"]
    return frame["root"].astype(str).tolist(), frame["path"].astype(str).tolist()


def _opens(root: str, path: str) -> None:
    with Image.open(Path(root) / path) as image:
        image.load()
        assert min(image.size) > 0


@pytest.mark.parametrize("suffix", [".npz", ".csv", ".parquet"])
def test_embed_out_from_another_folder_opens_every_photo(
    demo, tmp_path, monkeypatch, capsys, suffix
):
    monkeypatch.chdir(tmp_path)  # anywhere but the set's folder
    assert main(["embed", "--demo", "--out", f"x{suffix}", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["computed"] == 0 and summary["faces"] == len(demo.rows)
    roots, paths = _read(tmp_path / f"x{suffix}")
    assert len(paths) == summary["faces"]
    assert set(roots) == {demo.root}
    root = Path(demo.root)
    assert root.is_absolute() and root != tmp_path
    assert paths == demo.names.tolist()
    assert not any(Path(p).is_absolute() for p in paths)  # still portable
    assert not Path(paths[0]).exists()  # relative to the root, not to here
    for p in sorted(set(paths)):
        _opens(roots[0], p)
    if suffix == ".parquet":
        assert exports.parquet_root(tmp_path / "x.parquet") == demo.root


def test_demo_root_is_the_demo_folder(demo, demo_dataset):
    assert demo_dataset.root is not None and demo.root == str(demo_dataset.root)
    assert all((demo_dataset.root / item.name).is_file() for item in demo_dataset.items)


def test_manifest_and_single_file_roots(demo, demo_dataset, tmp_path, monkeypatch):
    photos = tmp_path / "set" / "photos"
    photos.mkdir(parents=True)
    picks = demo_dataset.items[:3]
    for item in picks:
        shutil.copy(item.path, photos / Path(item.name).name)
    manifest = tmp_path / "set" / "list.csv"
    manifest.write_text(
        "path,person\n" + "".join(f"photos/{Path(i.name).name},{i.person}\n" for i in picks)
    )
    store = Store()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for source, root in [
        (manifest, manifest.parent),
        (photos / Path(picks[0].name).name, photos),
    ]:
        result = embed_dataset(load_path(source), store=store, get_model=_refuse)
        assert result.root == str(root.resolve())
        monkeypatch.chdir(elsewhere)
        roots, paths = _read(result.save(elsewhere / "m.npz"))
        assert paths and all(r == result.root for r in roots)
        for r, p in zip(roots, paths, strict=True):
            _opens(r, p)


def test_uploads_and_zips_write_an_empty_root(demo, demo_dataset, tmp_path):
    picks = demo_dataset.items[:4]
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr(Path(picks[3].name).name, picks[3].read())
    uploads = load_uploads(
        [(Path(i.name).name, i.read()) for i in picks[:3]] + [("more.zip", zipped.getvalue())]
    )
    zip_file = tmp_path / "faces.zip"
    zip_file.write_bytes(zipped.getvalue())
    store = Store()
    for dataset in (uploads, load_path(zip_file)):
        assert dataset.root is None
        result = embed_dataset(dataset, store=store, get_model=_refuse)
        assert result.rows and result.root == ""
        for suffix in (".npz", ".csv", ".parquet"):
            roots, paths = _read(result.save(tmp_path / f"u{suffix}"))
            assert set(roots) == {""} and len(paths) == len(result.rows)
        assert exports.parquet_root(tmp_path / "u.parquet") == ""
        readme = exports.projector_files(result.embeddings, result.frame(), result.thumbs)
        assert "not files in a folder" in readme["README.txt"].decode()


def test_page_downloads_carry_the_root(demo):
    meta = demo.frame()
    csv = pd.read_csv(io.BytesIO(exports.csv_bytes(demo.embeddings, meta)))
    assert set(csv["root"]) == {demo.root}
    # The page calls parquet_bytes without a root: it is taken from the root column.
    data = exports.parquet_bytes(demo.embeddings, meta)
    assert exports.parquet_root(io.BytesIO(data)) == demo.root
    mixed = meta.assign(root=["/a" if n % 2 else "/b" for n in range(len(meta))])
    assert exports.parquet_root(io.BytesIO(exports.parquet_bytes(demo.embeddings, mixed))) is None


def test_projector_bundle_says_where_the_photos_are(demo, tmp_path):
    meta = demo.frame()[["path", "person"]]
    plain = exports.projector_files(demo.embeddings, meta)
    assert "README.txt" not in plain  # no root given, none in the metadata: as before
    files = exports.projector_files(demo.embeddings, meta, root=demo.root)
    assert set(files) == set(plain) | {"README.txt"}
    config = files["projector_config.pbtxt"].decode().splitlines()
    assert config[0] == f"# facedash root: {demo.root}"
    # Below the comment the config is the one the Projector always read.
    assert "\n".join(config[1:]) + "\n" == plain["projector_config.pbtxt"].decode()
    assert files["metadata.tsv"] == plain["metadata.tsv"]
    readme = files["README.txt"].decode()
    assert f"root: {demo.root}\n" in readme
    out = exports.write_projector(files, tmp_path / "bundle")
    root = next(
        line.split(": ", 1)[1]
        for line in (out / "README.txt").read_text().splitlines()
        if line.startswith("root: ")
    )
    paths = [line.split("\t")[0] for line in (out / "metadata.tsv").read_text().splitlines()[1:]]
    for p in sorted(set(paths)):
        _opens(root, p)
