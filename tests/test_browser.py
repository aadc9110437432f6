"""The app driven in headless Chromium (Debian chromium + Playwright), with screenshots."""

import pytest

from tests.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.browser


def test_data_page_shows_demo_faces(page, app_url):
    page.goto(app_url)
    wait_for_app(page, "Faces embedded")
    page.get_by_text("ben_afflek").first.wait_for()
    # The gallery is paged: the first page holds 48 of the 118 faces, each with its box.
    page.get_by_text("Faces 1–48 of 118").first.wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stImage] img').length >= 48"
    )
    assert page.get_by_text("Photos", exact=True).count() == 1
    path = screenshot(page, "data_page")
    assert path.stat().st_size > 50_000


def test_switching_the_face_set_keeps_the_sidebar(page, app_url):
    page.goto(app_url)
    wait_for_app(page, "Faces embedded")
    page.get_by_text("Upload photos or a zip").click()
    wait_for_app(page, "Upload photos or a zip in the sidebar")
    assert page.get_by_text("Limit: 200 MB per file").count() == 1  # the upload limit, explained
    assert page.get_by_text("Face settings").count() == 1  # the sidebar survives the rerun
    screenshot(page, "data_upload")


def test_upload_mixed_zip_shows_failures(page, app_url, demo_dataset, tmp_path):
    from tests.corpus import encode, noise_image, zip_bytes

    good = {f"myset/{i.person}/{n}.jpg": i.read() for n, i in enumerate(demo_dataset.items[:3])}
    bad = {
        "myset/ben_afflek/empty.jpg": b"",
        "myset/ben_afflek/notes.jpg": b"text, not a photo",
        "myset/ben_afflek/noise.png": encode(noise_image((240, 200), seed=5), "PNG"),
        "../escape.jpg": b"x",
    }
    archive = tmp_path / "mixed.zip"
    archive.write_bytes(zip_bytes({**good, **bad}))
    page.goto(app_url)
    wait_for_app(page, "Faces embedded")
    page.get_by_text("Upload photos or a zip").click()
    wait_for_app(page, "Upload photos or a zip in the sidebar")
    page.locator("input[type=file]").set_input_files(str(archive))
    wait_for_app(page, "Files not used")
    table = page.locator("[data-testid='stTable']")
    table.get_by_text("no face found").wait_for()
    text = table.inner_text()
    screenshot(page, "data_upload_mixed_zip")
    for reason in ("empty file", "text file, not an image", "unsafe path"):
        assert reason in text


def test_two_sessions_never_see_each_others_uploads(browser, app_url, demo_dataset, tmp_path):
    from tests.corpus import zip_bytes

    archive = tmp_path / "private_set.zip"
    archive.write_bytes(
        zip_bytes(
            {f"secret_person/{n}.jpg": i.read() for n, i in enumerate(demo_dataset.items[:2])}
        )
    )
    a = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    b = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    for tab in (a, b):
        tab.set_default_timeout(90_000)
        tab.goto(app_url)
        wait_for_app(tab, "Faces embedded")
        tab.get_by_text("Upload photos or a zip").click()
        wait_for_app(tab, "Upload photos or a zip in the sidebar")
    a.locator("input[type=file]").set_input_files(str(archive))
    wait_for_app(a, "secret_person")
    b.reload()
    wait_for_app(b, "Face set")
    b.get_by_text("Upload photos or a zip").click()
    wait_for_app(b, "Upload photos or a zip in the sidebar")
    text_b = b.inner_text("body")
    assert "secret_person" not in text_b and "private_set.zip" not in text_b
    screenshot(b, "second_session")
    a.context.close()
    b.context.close()


def test_upload_limit_is_enforced_and_explained(browser, demo, tmp_path):
    from tests.conftest import run_app

    big = tmp_path / "Big_Person_0001.jpg"
    big.write_bytes(b"\xff\xd8" + b"\0" * (2 * 1024 * 1024))
    with run_app("--server.maxUploadSize", "1", log_name="streamlit-small-limit.log") as url:
        tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        tab.set_default_timeout(90_000)
        tab.goto(url)
        wait_for_app(tab, "Faces embedded")
        tab.get_by_text("Upload photos or a zip").click()
        wait_for_app(tab, "Limit: 1 MB per file")
        tab.locator("input[type=file]").set_input_files(str(big))
        tab.get_by_text("1.0MB or smaller", exact=False).or_(
            tab.get_by_text("File must be", exact=False)
        ).first.wait_for()
        assert "Big_Person" not in tab.locator("[data-testid='stMain']").inner_text()
        screenshot(tab, "upload_limit")
        tab.context.close()


def test_a_deep_link_on_a_fresh_server_opens_inside_the_app_shell(browser, demo):
    from tests.conftest import run_app

    with run_app(log_name="streamlit-deep-link.log") as url:
        tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        tab.set_default_timeout(120_000)
        tab.goto(url + "/embedding_map")
        wait_for_app(tab, "Face set")  # the shared sidebar is there
        tab.get_by_role("heading", name="Embedding map").first.wait_for()
        assert "/embedding_map" in tab.url
        screenshot(tab, "deep_link")
        tab.context.close()
