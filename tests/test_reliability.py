"""Every awkward input through the library and the CLI: good files are embedded, bad ones get reasons."""

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facedash.data.datasets import load_folder, load_uploads, load_zip
from facedash.data.store import Store
from facedash.errors import FacedashError
from facedash.faces.detect import AlignSettings
from facedash.faces.pipeline import embed_dataset
from tests.corpus import write_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, demo_dataset):
    folder = tmp_path_factory.mktemp("corpus")
    expected = write_corpus(folder, demo_dataset.items)
    return folder, expected


def _check(failures, faces, expected):
    reasons = {f["file"]: f["reason"] for f in failures}
    for name, want in expected.items():
        if want == "ok":
            assert name not in reasons, f"{name}: {reasons.get(name)}"
            assert name in faces, name
        else:
            assert name in reasons and want in reasons[name], (name, reasons.get(name))


def test_corpus_through_the_library(corpus, facenet, tmp_path):
    folder, expected = corpus
    store = Store(tmp_path / "s.sqlite3")
    result = embed_dataset(load_folder(folder), store=store, get_model=lambda: facenet)
    _check([f.as_dict() for f in result.failures], set(result.names), expected)
    group = [r for r in result.rows if r.name.endswith("group.jpg")]
    assert len(group) == 1 and group[0].faces_in_image == 3  # largest kept, the count reported
    every = embed_dataset(
        load_folder(folder),
        store=store,
        align_settings=AlignSettings(policy="all"),
        get_model=lambda: facenet,
    )
    assert len([r for r in every.rows if r.name.endswith("group.jpg")]) == 3


def test_corpus_through_the_cli(corpus, tmp_path):
    folder, expected = corpus
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "facedash.cli",
            "embed",
            str(folder),
            "--store",
            str(tmp_path / "s.sqlite3"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    ok = sum(1 for v in expected.values() if v == "ok")
    assert summary["faces"] == ok and summary["images"] == len(expected)
    faces_named = set(expected) - {f["file"] for f in summary["failed"]}
    _check(summary["failed"], faces_named, expected)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["embed", "/definitely/not/here"], "no such file or folder"),
        (["embed", "--demo", "--model", "nope"], "unknown model"),
    ],
)
def test_cli_errors_are_one_line(argv, message):
    out = subprocess.run(
        [sys.executable, "-m", "facedash.cli", *argv], capture_output=True, text=True
    )
    assert out.returncode != 0
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048), st.sampled_from(["x.zip", "x.jpg", "x.png", "x.tiff"]))
def test_random_uploads_never_crash_the_loaders(data, name):
    try:
        ds = load_uploads([(name, data)])
    except FacedashError:
        return
    for item in ds.items:
        assert item.read() == data or name.endswith(".zip")
    try:
        load_zip(data)
    except FacedashError as exc:
        assert str(exc)
