"""The camera on the Attention page in headless Chromium: a fake webcam showing a demo face.

Chromium's fake capture device plays a Y4M clip written here from a demo photo
(``--use-file-for-fake-video-capture``); the camera permission is granted, the photo is
taken with Streamlit's own button, and the page explains it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, screenshot, wait_for_app

pytestmark = pytest.mark.browser

PHOTO = 40  # a demo photo with one frontal face (jerry_seinfeld)
W, H, FRAMES = 640, 480, 15


def write_y4m(image: Image.Image, path: Path, frames: int = FRAMES) -> Path:
    """``image`` as a still Y4M clip (4:2:0, 30 fps), the format Chromium's fake camera reads."""
    ycbcr = image.convert("RGB").convert("YCbCr")
    y, cb, cr = (np.asarray(p, dtype=np.uint8) for p in ycbcr.split())
    half = (image.width // 2, image.height // 2)
    u = np.asarray(Image.fromarray(cb).resize(half, Image.BILINEAR), dtype=np.uint8)
    v = np.asarray(Image.fromarray(cr).resize(half, Image.BILINEAR), dtype=np.uint8)
    frame = b"FRAME\n" + y.tobytes() + u.tobytes() + v.tobytes()
    header = f"YUV4MPEG2 W{image.width} H{image.height} F30:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)
    return path


def demo_frame(demo_dataset) -> Image.Image:
    """The demo photo in the middle of a 640 x 480 webcam frame."""
    photo = Image.open(demo_dataset.items[PHOTO].path).convert("RGB")
    photo = photo.resize((photo.width * 400 // photo.height, 400))
    frame = Image.new("RGB", (W, H), (96, 104, 112))
    frame.paste(photo, ((W - photo.width) // 2, (H - photo.height) // 2))
    return frame


@pytest.fixture(scope="module")
def camera_browser(browser, demo_dataset, tmp_path_factory):
    """Headless Chromium whose only camera is a fake one playing a demo face.

    Launched through the session's Playwright (``browser``'s): one sync Playwright a thread.
    """
    chromium = with_fake_camera(browser, demo_dataset, tmp_path_factory.mktemp("camera"))
    yield chromium
    chromium.close()


def with_fake_camera(browser, demo_dataset, folder: Path):
    """A Chromium of the session's Playwright whose camera plays a demo face (a Y4M clip in ``folder``)."""
    clip = write_y4m(demo_frame(demo_dataset), folder / "face.y4m")
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    return browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=args)


def test_y4m_clip_is_the_demo_frame(demo_dataset, tmp_path):
    frame = demo_frame(demo_dataset)
    data = write_y4m(frame, tmp_path / "f.y4m", frames=2).read_bytes()
    header, rest = data.split(b"\n", 1)
    assert header == b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg"
    size = W * H * 3 // 2
    assert len(rest) == 2 * (len(b"FRAME\n") + size) and rest.startswith(b"FRAME\n")
    luma = np.frombuffer(rest[6 : 6 + W * H], np.uint8).reshape(H, W)
    want = np.asarray(frame.convert("L"), dtype=np.float64)
    assert np.abs(luma - want).mean() < 2.0  # the clip's luma is the frame's


@contextlib.contextmanager
def camera_page(browser, app_url: str, height: int, allow: bool = True):
    """A page in a new browser context, the camera allowed (or refused) for the app."""
    context = browser.new_context(viewport={"width": 1400, "height": height})
    if allow:
        context.grant_permissions(["camera"], origin=app_url)
    else:
        context.clear_permissions()
    page = context.new_page()
    page.set_default_timeout(90_000)
    try:
        yield page
    finally:
        context.close()


def take_photo(page) -> None:
    """Press Streamlit's "Take Photo" once the fake camera's stream is playing."""
    shoot = page.get_by_role("button", name="Take Photo")
    shoot.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('video')].some(v => v.readyState >= 2)"
    )
    shoot.click()


def test_attention_explains_a_photo_taken_with_the_camera(camera_browser, app_url, demo_dataset):
    with camera_page(camera_browser, app_url, 1500) as page:
        page.goto(app_url + "/attention")
        wait_for_app(page, "Deletion AUC")
        page.get_by_text("Or explain a photo of your own").click()
        page.get_by_text("Take a photo with the camera").click()
        page.get_by_text("stay in this browser session's memory only").wait_for()
        take_photo(page)
        person = demo_dataset.items[PHOTO].person
        wait_for_app(page, f"camera photo (nearest person: {person})")
        page.get_by_text("Deletion AUC").first.wait_for()
        page.wait_for_function(
            "() => { const im = [...document.querySelectorAll('[data-testid=stImage] img')];"
            " return im.length >= 2 && im.every(i => i.complete && i.naturalWidth > 0); }"
        )
        assert page.get_by_text("no face found", exact=False).count() == 0
        path = screenshot(page, "camera_attention")
        assert path.stat().st_size > 50_000


def test_verification_scores_a_photo_taken_with_the_camera(camera_browser, app_url):
    with camera_page(camera_browser, app_url, 1200) as page:
        page.goto(app_url + "/verification")
        wait_for_app(page, "Your photo against a face of the set")
        page.get_by_text("Your photo against a face of the set").click()
        page.get_by_text("Take a photo with the camera").click()
        take_photo(page)  # the expander stayed open through the rerun
        wait_for_app(page, "Decision at")
        panel = page.locator("[data-testid=stExpander]").filter(has_text="Your photo against")
        panel.get_by_text("your photo: ").first.wait_for()  # its line on the score histogram
        out = screenshot(page, "camera_verification")
        panel.first.screenshot(path=str(out.with_name("camera_verification_panel.png")))
        assert out.stat().st_size > 50_000


def test_a_denied_camera_says_how_to_allow_it_and_offers_the_upload(browser, app_url):
    """A browser that refuses the camera (no permission granted, no fake device)."""
    with camera_page(browser, app_url, 1200, allow=False) as page:
        page.goto(app_url + "/attention")
        wait_for_app(page, "Deletion AUC")
        page.get_by_text("Or explain a photo of your own").click()
        page.get_by_text("Take a photo with the camera").click()
        page.get_by_text("Allow the camera for this site in your browser").wait_for()
        assert page.get_by_role("button", name="Take Photo").is_disabled() or (
            page.locator("video").count() == 0
            or not page.evaluate("() => document.querySelector('video')?.readyState >= 2")
        )
        screenshot(page, "camera_denied")
        page.get_by_role("button", name="Use an upload instead").click()
        page.get_by_text("Allow the camera for this site").wait_for(state="detached")
        page.locator("[data-testid=stFileUploader]").first.wait_for()
        assert page.get_by_role("button", name="Take Photo").count() == 0
