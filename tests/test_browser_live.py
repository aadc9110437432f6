"""The Live page in headless Chromium: a fake webcam showing a demo face, streamed over WebRTC.

Chromium's fake capture device plays a Y4M clip of a demo photo (as the camera tests make
it); the page's Start button opens the stream to the server on 127.0.0.1 with no STUN
server. The overlay frames that come back carry the dark strip with the texts at the top
(the clip's top rows are plain grey), the readings name the demo face's person, and the
page shows processed frames/s.
"""

from __future__ import annotations

import re
import time

import pytest

import tests.test_browser_camera as camera
from tests.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.browser

IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
# The mean luma of the video's top 20 rows: the clip's grey is about 103, the overlay's strip ~36.
TOP_LUMA = """(v) => {
  if ( v.readyState < 2 || !v.videoWidth) return -1;
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = 20;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0, v.videoWidth, 20, 0, 0, v.videoWidth, 20);
  const d = g.getImageData(0, 0, c.width, 20).data;
  let s = 0;
  for (let i = 0; i < d.length; i += 4) s += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
  return s / (d.length / 4);
}"""


@pytest.fixture(scope="module")
def live_browser(browser, demo_dataset, tmp_path_factory):
    """Headless Chromium whose camera plays the demo face (see tests/test_browser_camera.py)."""
    chromium = camera.with_fake_camera(browser, demo_dataset, tmp_path_factory.mktemp("live"))
    yield chromium
    chromium.close()


def open_live(page, app_url: str, query: str = "") -> None:
    """The app's first page, then Live through the sidebar (the shell has run by then)."""
    page.goto(app_url + "/" + query)
    page.locator("[data-testid=stMetricLabel]").first.wait_for(timeout=180_000)
    page.wait_for_function(IDLE, timeout=180_000)
    page.locator('[data-testid=stSidebarNav] a[href$="/live"]').click()
    page.frame_locator('iframe[title*="webrtc"]').get_by_role("button").first.wait_for(
        timeout=180_000
    )
    page.wait_for_function(IDLE, timeout=180_000)


def start(page, label: str = "Start", stop: str = "Stop") -> None:
    """Press the stream's Start until it is playing (a click during a rerun can be lost)."""
    stream = page.frame_locator('iframe[title*="webrtc"]')
    for _ in range(4):
        stream.get_by_role("button", name=label).click()
        try:
            stream.get_by_role("button", name=stop).wait_for(timeout=20_000)
            return
        except Exception:  # noqa: BLE001 - not playing yet: press again
            page.wait_for_function(IDLE, timeout=60_000)
    pytest.fail("the stream did not start")


def totals(page, pattern: str) -> dict[str, float]:
    """The readings' "since the stream started" line, parsed with ``pattern``'s named groups."""
    anchor = "映像の開始から" if "フレーム" in pattern else "Since the stream started"
    text = page.get_by_text(anchor).first.inner_text()
    return {k: float(v) for k, v in re.search(pattern, text).groupdict().items()}


EN = r"(?P<received>\d+) frames received, (?P<processed>\d+) processed in (?P<seconds>[\d.]+) s"


def wait_processed(page, n: int, pattern: str = EN, seconds: float = 120) -> dict[str, float]:
    deadline = time.time() + seconds
    while time.time() < deadline:
        t = totals(page, pattern)
        if t["processed"] >= n:
            return t
        time.sleep(1)
    pytest.fail(f"fewer than {n} frames processed in {seconds:.0f} s: {t}")


def metric(page, label: str) -> str:
    box = page.locator("[data-testid=stMetric]").filter(has_text=label).first
    return box.locator("[data-testid=stMetricValue]").inner_text()


def test_overlay_frames_arrive_with_the_demo_faces_person(live_browser, app_url, demo_dataset):
    person = demo_dataset.items[camera.PHOTO].person
    with camera.camera_page(live_browser, app_url, 1900) as page:
        open_live(page, app_url)
        stream = page.frame_locator('iframe[title*="webrtc"]')
        start(page)
        t = wait_processed(page, 10)
        assert t["received"] >= t["processed"]
        assert metric(page, "Nearest person") == person
        fps = float(metric(page, "Processed frames/s"))
        assert fps > 0
        assert re.fullmatch(r"\d+ ms", metric(page, "Delay"))
        luma = stream.locator("video").first.evaluate(TOP_LUMA)
        assert 0 <= luma < 70, luma  # the overlay's dark strip, not the clip's grey (~103)
        page.get_by_text("How to read this").click()
        page.get_by_text("What is computed for each frame").wait_for()
        screenshot(page, "live")


def test_the_page_in_japanese(live_browser, app_url, demo_dataset):
    person = demo_dataset.items[camera.PHOTO].person
    with camera.camera_page(live_browser, app_url, 1900) as page:
        open_live(page, app_url, "?lang=ja")
        start(page, "開始", "停止")
        ja = r"受信 (?P<received>\d+) フレーム、(?P<seconds>[\d.]+) 秒で処理済み (?P<processed>\d+) フレーム"
        wait_processed(page, 5, ja)
        assert metric(page, "最も近い人物") == person
        assert float(metric(page, "処理済みフレーム/秒")) > 0
        page.get_by_text("読み方").first.click()  # the "How to read this" panel, opened
        page.get_by_text("フレームごとに計算すること").wait_for()
        screenshot(page, "live_ja")


def test_leaving_the_page_stops_the_stream(live_browser, app_url):
    with camera.camera_page(live_browser, app_url, 1900) as page:
        open_live(page, app_url)
        start(page)
        wait_processed(page, 3)
        page.locator('[data-testid=stSidebarNav] a[href$="/attention"]').click()
        wait_for_app(page, "Deletion AUC")
        time.sleep(3)
        page.locator('[data-testid=stSidebarNav] a[href$="/live"]').click()
        stream = page.frame_locator('iframe[title*="webrtc"]')
        stream.get_by_role("button", name="Start").wait_for(timeout=60_000)  # not playing
        page.wait_for_function(IDLE, timeout=60_000)
        first = totals(page, EN)
        time.sleep(3)
        assert totals(page, EN)["received"] == first["received"]  # no frame arrives any more


def test_no_camera_says_how_to_allow_it(browser, app_url):
    """No camera permission and no camera at all: the stream cannot start, the page says why."""
    with camera.camera_page(browser, app_url, 1200, allow=False) as page:
        open_live(page, app_url)
        stream = page.frame_locator('iframe[title*="webrtc"]')
        stream.get_by_role("button", name="Start").click()
        why = re.compile("NotFoundError|NotAllowedError|Access denied|not found", re.I)
        stream.get_by_text(why).first.wait_for(timeout=30_000)  # the widget's own error
        page.get_by_text("Allow the camera for this site in your browser").wait_for()
        assert stream.get_by_role("button", name="Stop").count() == 0
        screenshot(page, "live_denied")
