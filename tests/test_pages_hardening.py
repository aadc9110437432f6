"""Every page on awkward sets: one photo, one person, a set with no usable face. No page may crash."""

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.corpus import encode, noise_image

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["data", "attention", "embedding_map", "verification", "uncertainty", "arithmetic"]


@pytest.fixture(scope="module")
def tiny_sets(tmp_path_factory, demo_dataset):
    base = tmp_path_factory.mktemp("tiny")
    one = base / "one_photo" / "ben_afflek"
    one.mkdir(parents=True)
    shutil.copy(demo_dataset.items[0].path, one / "a.jpg")
    person = base / "one_person" / "madonna"
    person.mkdir(parents=True)
    for k, item in enumerate(i for i in demo_dataset.items if i.person == "madonna"):
        if k == 3:
            break
        shutil.copy(item.path, person / f"{k}.jpg")
    none = base / "no_face" / "nobody"
    none.mkdir(parents=True)
    (none / "noise.png").write_bytes(encode(noise_image((200, 160), seed=1), "PNG"))
    (none / "text.jpg").write_bytes(b"not an image")
    return {
        "one_photo": base / "one_photo",
        "one_person": base / "one_person",
        "no_face": base / "no_face",
    }


@pytest.mark.parametrize("which", ["one_photo", "one_person", "no_face"])
@pytest.mark.parametrize("page", PAGES)
def test_no_page_crashes_on_awkward_sets(page, which, tiny_sets, demo):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["fd_source"] = "Folder on this server"
    at.session_state["fd_folder"] = str(tiny_sets[which])
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    shown = " ".join(m.value for m in [*at.info, *at.warning, *at.error, *at.caption, *at.markdown])
    assert shown  # the page says something, not a blank screen
    if page == "uncertainty" and "uncertainty_tab" in at.session_state:
        from facedash.ui.pfe import TABS

        for name in TABS[1:]:  # only the open tab runs: open each one in turn
            at.session_state["uncertainty_tab"] = name
            at.run()
            assert not at.exception, (name, at.exception)
            assert at.session_state["uncertainty_tab_name"] == name
