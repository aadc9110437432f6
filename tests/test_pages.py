"""AppTest of the app shell and the Data page (other pages have their own test modules)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def app(demo):  # the demo set is embedded (in the store) before the app runs
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    return at.run()


def _metrics(at):
    return {m.label: m.value for m in at.metric}


def test_data_page_on_the_demo_set(app):
    assert not app.exception
    metrics = _metrics(app)
    assert metrics["Photos"] == "118" and metrics["People"] == "5"
    assert int(metrics["Faces embedded"]) >= 117
    assert metrics["From the store"].startswith(metrics["Faces embedded"])
    assert app.sidebar.radio(key="fd_source").value.startswith("Demo")


def test_filter_by_person(app):
    app.selectbox(key="data_person").select("madonna").run()
    assert not app.exception
    shown = [
        c.value for c in app.caption if c.value.startswith("train/") or c.value.startswith("val/")
    ]
    assert shown and all("madonna" in name for name in shown)


def _app_with(**state):
    """AppTest with session state preset (AppTest drops the sidebar after a widget rerun under st.navigation)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_folder_source(demo, tmp_path):
    at = _app_with(fd_source="Folder on this server")
    assert any("Type a folder path" in i.value for i in at.info)
    at = _app_with(fd_source="Folder on this server", fd_folder=str(tmp_path / "missing"))
    assert any("no such file or folder" in e.value for e in at.error)


def test_folder_source_embeds_a_real_folder(demo):
    from facedash.assets import demo_path

    at = _app_with(fd_source="Folder on this server", fd_folder=str(demo_path() / "val"))
    assert not at.exception
    metrics = _metrics(at)
    assert metrics["Photos"] == "25" and metrics["People"] == "5"


def test_upload_source_asks_for_files(demo):
    at = _app_with(fd_source="Upload photos or a zip")
    assert not at.exception
    assert any("Upload photos" in i.value for i in at.info)
    assert any("200 MB" in c.value for c in at.sidebar.caption)  # the upload limit is explained


def test_server_config_is_private_by_default():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["server"]["enableXsrfProtection"] is True
    assert config["browser"]["gatherUsageStats"] is False
    assert 0 < config["server"]["maxUploadSize"] <= 1024


def test_forget_this_set_deletes_its_rows(demo, tmp_path):
    from PIL import Image, ImageOps

    from facedash.assets import demo_path
    from facedash.data.images import content_hash
    from facedash.data.store import Store

    folder = tmp_path / "forget_me" / "ben_afflek"
    folder.mkdir(parents=True)
    hashes = []
    rows = [r for r in demo.rows if r.person == "ben_afflek"][:2]
    for k, row in enumerate(rows):
        mirrored = ImageOps.mirror(Image.open(demo_path() / row.name).convert("RGB"))  # new content
        out = folder / f"{k}.png"
        mirrored.save(out)
        hashes.append(content_hash(out.read_bytes()))
    at = _app_with(fd_source="Folder on this server", fd_folder=str(folder.parent))
    assert _metrics(at)["Faces embedded"] == "2"
    store = Store()
    assert len(store.get_detections(hashes, demo.det_key)) == 2
    at.button(key="data_forget").click().run()
    assert any("Deleted" in s.value for s in at.success)
    assert store.get_detections(hashes, demo.det_key) == {}
