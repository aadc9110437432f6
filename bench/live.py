"""The Live page for a minute: processed frames/s and delay with a fake webcam, on this machine.

It starts ``streamlit run app.py`` on 127.0.0.1 (nothing listens beyond this computer, no
STUN server is asked), launches headless Chromium whose camera plays a Y4M clip of a demo
face (640 x 480, as ``tests/test_browser_camera.py`` writes it), opens the Live page through
the sidebar, presses Start and lets the stream run: a warm-up (the first frames re-create
TensorFlow's kernels), then the measured window (default 60 s).

The figures are the page's own: its "since the stream started" line counts frames received
and processed, the seconds since the first frame and the mean delay, on the server's clock,
all in one redraw. Over the window: frames/s = processed frames / seconds, delay = the mean
delay of the frames processed in the window (arrival at the server to the overlay handed
back to the stream; the WebRTC way to the browser and back is not in it). The browser
runs on the same cores as the server, as the target asks.

    PYTHONPATH=$PWD python bench/live.py [--seconds 60] [--warmup 15]

The last line is ``live: N.N processed frames/s, delay N ms at 640x480 (target >= 8 frames/s)``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tests.test_browser_camera as camera  # noqa: E402
from tests.servers import CHROMIUM, CHROMIUM_ARGS, free_port, stop, wait_healthy  # noqa: E402
from tests.test_browser_live import EN, metric, open_live, start, totals  # noqa: E402

TARGET = 8.0
MEAN_DELAY = re.compile(r"mean delay (\d+) ms, work (\d+) ms a frame")


def cpu_name() -> str:
    """``lscpu``'s model name (and the cores this process may use)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        name = next(
            line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line
        )
    except (OSError, StopIteration, subprocess.SubprocessError):
        name = "unknown CPU"
    return f"{name}, {len(os.sched_getaffinity(0))} cores"


def reading(page) -> dict[str, float]:
    """One redraw of the readings: the totals line and its mean delay and work."""
    t = totals(page, EN)
    text = page.get_by_text("Since the stream started").first.inner_text()
    m = MEAN_DELAY.search(text)
    t["mean_delay"], t["work"] = float(m.group(1)), float(m.group(2))
    return t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds before it")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from facedash.data.datasets import load_demo

    print(f"CPU: {cpu_name()}; load average at start {os.getloadavg()[0]:.2f}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="facedash-live-"))
    clip = camera.write_y4m(camera.demo_frame(load_demo()), work / "face.y4m")
    port = free_port()
    log = (work / "streamlit.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py")]
        + ["--server.headless", "true", "--server.address", "127.0.0.1"]
        + ["--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        why = wait_healthy(url, 120, server)
        if why:
            print(f"live: the server did not start ({why})")
            return 1
        chromium_args = [
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}",
        ]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=chromium_args
            )
            context = browser.new_context(viewport={"width": 1400, "height": 1900})
            context.grant_permissions(["camera"], origin=url)
            page = context.new_page()
            page.set_default_timeout(180_000)
            open_live(page, url)
            print(page.get_by_text("Measured on this server").first.inner_text(), flush=True)
            start(page)
            while reading(page)["processed"] < 1:
                time.sleep(0.5)
            time.sleep(args.warmup)
            first = reading(page)
            time.sleep(args.seconds)
            last = reading(page)
            window = {
                "fps": float(metric(page, "Processed frames/s")),
                "delay": metric(page, "Delay"),
            }
            browser.close()
    finally:
        stop(server)
        log.close()
    processed = last["processed"] - first["processed"]
    seconds = last["seconds"] - first["seconds"]
    received = last["received"] - first["received"]
    if processed <= 0 or seconds <= 0:
        print("live: no frame was processed in the window")
        return 1
    fps = processed / seconds
    delay = (
        last["mean_delay"] * last["processed"] - first["mean_delay"] * first["processed"]
    ) / processed
    print(
        f"window: {seconds:.1f} s, {received:.0f} frames received ({received / seconds:.1f}/s), "
        f"{processed:.0f} processed; work {last['work']:.0f} ms a frame (median, last 5 s); "
        f"the page's last 5 s: {window['fps']:.1f} frames/s, delay {window['delay']}"
    )
    print(f"load average at end {os.getloadavg()[0]:.2f}; CPU: {cpu_name()}")
    print(
        f"live: {fps:.1f} processed frames/s, delay {delay:.0f} ms at 640x480 "
        f"(target >= {TARGET:g} frames/s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
