import zipfile

import pytest

from facedash.data import datasets
from facedash.data.datasets import (
    load_folder,
    load_manifest,
    load_path,
    load_uploads,
    load_zip,
    parse_jaffe,
    person_from_name,
)
from facedash.errors import FacedashError
from tests.corpus import zip_bytes

JPEG = b"\xff\xd8\xff\xe0fake"  # listing never decodes; content does not matter here


@pytest.mark.parametrize(
    "name, expected",
    [
        ("KA.HA1.29.tiff", {"person": "KA", "expression": "HA"}),
        ("ym.su3.60.TIFF", {"person": "YM", "expression": "SU"}),
        ("sub/dir/NA.NE2.210.tif", {"person": "NA", "expression": "NE"}),
        ("KA.HA.29.tiff", None),
        ("KAA.HA1.29.tiff", None),
        ("KA-HA1-29.tiff", None),
        ("KA.HA1.29.txt", None),
        ("portrait.jpg", None),
    ],
)
def test_parse_jaffe(name, expected):
    assert parse_jaffe(name) == expected


def test_person_from_name():
    assert person_from_name("Ben_Afflek_0001.jpg") == ("Ben_Afflek", {})
    assert person_from_name("KA.HA1.29.tiff") == ("KA", {"expression": "HA"})
    assert person_from_name("holiday.png") == ("unknown", {})


def test_demo_listing(demo_dataset):
    assert len(demo_dataset.items) == 118
    assert demo_dataset.people == [
        "ben_afflek",
        "elton_john",
        "jerry_seinfeld",
        "madonna",
        "mindy_kaling",
    ]
    splits = [i.attributes["split"] for i in demo_dataset.items]
    assert splits.count("train") == 93 and splits.count("val") == 25
    assert demo_dataset.problems == []


def test_folder_layout(tmp_path):
    for person in ("alice", "bob"):
        (tmp_path / person).mkdir()
        (tmp_path / person / "1.jpg").write_bytes(JPEG)
    (tmp_path / "bob" / "notes.txt").write_text("hi")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.jpg").write_bytes(JPEG)
    (tmp_path / "alice" / "link.jpg").symlink_to(tmp_path / "bob" / "1.jpg")
    data = load_folder(tmp_path)
    assert [(i.name, i.person) for i in data.items] == [
        ("alice/1.jpg", "alice"),
        ("bob/1.jpg", "bob"),
    ]
    reasons = {p.file: p.reason for p in data.problems}
    assert "not an image" in reasons["bob/notes.txt"]
    assert "symbolic link" in reasons["alice/link.jpg"]
    assert data.items[0].read() == JPEG


def test_jaffe_names_in_a_flat_folder(tmp_path):
    (tmp_path / "KA.HA1.29.tiff").write_bytes(JPEG)
    (tmp_path / "KA.SA2.33.tiff").write_bytes(JPEG)
    data = load_path(tmp_path)
    assert {(i.person, i.attributes["expression"]) for i in data.items} == {
        ("KA", "HA"),
        ("KA", "SA"),
    }


def test_zip_layout_strips_common_top_folder():
    data = load_zip(zip_bytes({"set/alice/a.jpg": JPEG, "set/bob/b.png": JPEG}), name="set.zip")
    assert [(i.name, i.person) for i in data.items] == [
        ("alice/a.jpg", "alice"),
        ("bob/b.png", "bob"),
    ]
    assert all(i.path is None for i in data.items)  # nothing written to disk


def test_zip_traps_are_skipped_with_reasons(tmp_path):
    bomb = b"\0" * (20 * 1024 * 1024)
    blob = zip_bytes(
        {
            "alice/ok.jpg": JPEG,
            "../../evil.jpg": JPEG,
            "/abs/evil.jpg": JPEG,
            "inner.zip": zip_bytes({"x/y.jpg": JPEG}),
            "alice/bomb.jpg": bomb,
            "readme.txt": b"hello",
        },
        symlinks={"alice/link.jpg": "/etc/passwd"},
    )
    data = load_zip(blob, name="traps.zip")
    assert [i.name for i in data.items] == ["alice/ok.jpg"]
    reasons = " | ".join(f"{p.file}: {p.reason}" for p in data.problems)
    assert "evil.jpg: unsafe path" in reasons
    assert "inner.zip: nested zip skipped" in reasons
    assert "bomb.jpg: compression ratio" in reasons
    assert "link.jpg: symbolic link" in reasons
    assert "readme.txt: not an image" in reasons
    assert list(tmp_path.iterdir()) == []


def test_zip_declared_total_limit(monkeypatch):
    monkeypatch.setattr(datasets, "ZIP_MAX_TOTAL", 1000)
    with pytest.raises(FacedashError, match="zip bomb"):
        load_zip(zip_bytes({"a/1.jpg": b"x" * 600, "a/2.jpg": b"y" * 600}))


def test_zip_without_images_and_broken_zip():
    data = load_zip(zip_bytes({"notes.txt": b"x"}), name="empty.zip")
    assert data.items == [] and any("no usable images" in p.reason for p in data.problems)
    with pytest.raises(FacedashError, match="not a readable zip"):
        load_zip(b"PK\x03\x04 broken", name="broken.zip")


def test_uploads_expand_zips_and_report_broken_ones():
    data = load_uploads(
        [
            ("Ben_Afflek_0001.jpg", JPEG),
            ("people.zip", zip_bytes({"carol/c.jpg": JPEG})),
            ("bad.zip", b"not a zip"),
        ]
    )
    assert [(i.name, i.person) for i in data.items] == [
        ("Ben_Afflek_0001.jpg", "Ben_Afflek"),
        ("carol/c.jpg", "carol"),
    ]
    assert [p.file for p in data.problems] == ["bad.zip"]


def test_manifest(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(JPEG)
    (tmp_path / "img" / "b.jpg").write_bytes(JPEG)
    (tmp_path / "faces.csv").write_text(
        "path,person,age,glasses\nimg/a.jpg,ann,young,yes\nimg/b.jpg,ben,old,no\nimg/missing.jpg,cy,old,no\n"
    )
    data = load_path(tmp_path / "faces.csv")
    assert [(i.person, dict(i.attributes)) for i in data.items] == [
        ("ann", {"age": "young", "glasses": "yes"}),
        ("ben", {"age": "old", "glasses": "no"}),
    ]
    assert data.problems[0].file == "img/missing.jpg"
    (tmp_path / "bad.csv").write_text("file,person\n")
    with pytest.raises(FacedashError, match="'path' column"):
        load_manifest(tmp_path / "bad.csv")


def test_load_path_errors_and_single_file(tmp_path):
    with pytest.raises(FacedashError, match="no such file"):
        load_path(tmp_path / "nope")
    (tmp_path / "Jo_Smith_0003.jpg").write_bytes(JPEG)
    data = load_path(tmp_path / "Jo_Smith_0003.jpg")
    assert data.items[0].person == "Jo_Smith"
    zpath = tmp_path / "s.zip"
    zpath.write_bytes(zip_bytes({"p/1.jpg": JPEG}))
    assert load_path(zpath).items[0].person == "p"
    assert zipfile.is_zipfile(zpath)
