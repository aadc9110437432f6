"""A class at once: N headless-Chromium sessions against one ``facedash serve --lan``, on loopback only.

It starts the server itself (``--address 127.0.0.1``: nothing listens beyond this
computer, nothing is sent anywhere), makes sure the demo set is in the store,
then:

1. one session alone (it loads the model: the Attention page needs it), then
2. N sessions at once (default 30, the first one still open), each in its own
   browser context: open the link with the token, go to Attention, go to the
   Embedding map, move the KMeans slider one step.

It prints per-step p50/p95/max latency, the errors, and the server's memory
(its RSS with its children: at start, with 1 session, with N sessions, the
peak), and the growth per session after the first: a model loaded per session
would add hundreds of MB each (FaceNet alone is ~90 MB of weights), so growth
per session ≤ 50 MB is the evidence that the model is loaded once.

Bounded: at most 100 sessions, each step has a timeout, and a global deadline
stops everything (browser and server) whatever state it is in.

A step's latency is what a student waits for: from the click (or key press)
until the page shows what it is for and Streamlit's "running" indicator is
gone. The browsers run on the same cores as the server, so on a small machine
the figures include the browsers' own rendering.

    PYTHONPATH=$PWD python bench/classroom.py [--sessions 30] [--deadline 900]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import CHROMIUM, CHROMIUM_ARGS, stop, wait_healthy  # noqa: E402
from tests.servers import free_port as _free_port  # noqa: E402

STEPS = ("open", "attention", "embedding_map", "slider")
MAX_SESSIONS = 100
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


# -- the server and its memory ----------------------------------------------------------------
def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants (VmRSS from /proc), in MB."""
    total = 0
    for p in _descendants(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


class Sampler:
    """The peak RSS of the server, sampled every half second in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, rss_mb(self.pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def start_server(port: int, token: str, log_path: Path) -> subprocess.Popen:
    """``facedash serve --lan`` bound to 127.0.0.1 only; waits for ``/_stcore/health``."""
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "facedash.cli", "serve", "--lan", "--address", "127.0.0.1"]
        + ["--port", str(port), "--token", token],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    why = wait_healthy(f"http://127.0.0.1:{port}", 120, proc)
    if why:
        stop(proc)
        raise SystemExit(f"facedash serve: {why} (see {log_path})")
    return proc


# -- one student --------------------------------------------------------------------------------
@dataclass
class Session:
    """One student's timings (seconds per step), the step under way, and what went wrong."""

    index: int
    times: dict[str, float] = field(default_factory=dict)
    server_cpu: dict[str, float] = field(default_factory=dict)  # for the session alone only
    step: str = ""
    error: str = ""


async def _ready(tab, text: str, timeout_ms: float) -> None:
    """Wait until ``text`` is visible and the script run is over (no "running" indicator)."""
    await (
        tab.get_by_text(text, exact=False)
        .locator("visible=true")
        .first.wait_for(timeout=timeout_ms)
    )
    await tab.wait_for_function(IDLE, timeout=timeout_ms)
    if await tab.locator("[data-testid=stException]").count():
        raise RuntimeError(f"an exception on the page while waiting for {text!r}")


async def student(
    browser, url: str, session: Session, step_timeout: float, contexts: list, pid: int = 0
) -> None:
    """Open the app with the token, Attention, Embedding map, one slider step; keep it open."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    contexts.append(context)
    tab = await context.new_page()
    ms = step_timeout * 1000

    async def timed(step: str, action, marker: str) -> None:
        session.step = step
        t0, c0 = time.perf_counter(), cpu_s(pid) if pid else 0.0
        await action()
        await _ready(tab, marker, ms)
        session.times[step] = time.perf_counter() - t0
        if pid:
            session.server_cpu[step] = cpu_s(pid) - c0

    try:
        await timed("open", lambda: tab.goto(url, timeout=ms), "Faces embedded")
        await timed(
            "attention",
            lambda: tab.get_by_role("link", name="Attention", exact=True).click(timeout=ms),
            "aligned face",
        )
        await timed(
            "embedding_map",
            lambda: tab.get_by_role("link", name="Embedding map", exact=True).click(timeout=ms),
            "Clusters vs people",
        )
        thumb = tab.get_by_role("slider", name="KMeans clusters k")
        k = int(await thumb.input_value())

        async def move() -> None:
            await thumb.focus(timeout=ms)
            await thumb.press("ArrowRight", timeout=ms)

        # The caption under the map names k: it changes only when the server has rerun the page.
        await timed("slider", move, f"KMeans k={k + 1} on")
        session.step = "done"
    except Exception as exc:  # every failure is counted and named, never fatal
        session.error = f"{session.step}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    print(
        f"  session {session.index}: "
        + (session.error or " ".join(f"{k} {v:.1f}s" for k, v in session.times.items())),
        file=sys.stderr,
        flush=True,
    )


# -- the run ------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def crowd(url: str, sessions: list[Session], step_timeout: float, report: dict) -> None:
    """Session 0 alone, then the others at once; fills ``report`` as it goes (a deadline may cut it)."""
    from playwright.async_api import async_playwright

    pid = report["pid"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        contexts: list = []
        try:
            await student(browser, url, sessions[0], step_timeout, contexts, pid)
            report["rss_1"] = rss_mb(pid)
            report["sampler"] = Sampler(pid)
            c0, t0 = cpu_s(pid), time.perf_counter()
            await asyncio.gather(
                *(student(browser, url, s, step_timeout, contexts) for s in sessions[1:])
            )
            report["crowd_cpu"], report["crowd_wall"] = cpu_s(pid) - c0, time.perf_counter() - t0
            await asyncio.sleep(2)  # let the last reruns settle before reading memory
            report["rss_n"] = rss_mb(pid)
        finally:
            if "sampler" in report:
                report["rss_peak"] = report.pop("sampler").stop()
            for context in contexts:
                await context.close()
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30, help="sessions at once (≤ 100)")
    parser.add_argument("--step-timeout", type=float, default=300, help="seconds per step")
    parser.add_argument("--deadline", type=float, default=900, help="seconds for the whole run")
    args = parser.parse_args()
    n = max(1, min(args.sessions, MAX_SESSIONS))
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM}: apt-get install chromium")

    started = time.perf_counter()
    # The demo set in the store first (from the store when already there), as before a class.
    subprocess.run(
        [sys.executable, "-m", "facedash.cli", "embed", "--demo", "--json"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    token, port = secrets.token_urlsafe(16), _free_port()
    log_path = Path(tempfile.gettempdir()) / f"facedash-classroom-bench-{port}.log"
    proc = start_server(port, token, log_path)
    report: dict = {"pid": proc.pid, "rss_0": rss_mb(proc.pid)}
    sessions = [Session(i) for i in range(n)]
    url = f"http://127.0.0.1:{port}/?token={token}"
    timed_out = False
    try:
        asyncio.run(
            asyncio.wait_for(crowd(url, sessions, args.step_timeout, report), args.deadline)
        )
    except TimeoutError:
        timed_out = True
        for s in sessions:
            if s.step != "done" and not s.error:
                s.error = (
                    f"{s.step or 'not started'}: stopped by the {args.deadline:.0f} s deadline"
                )
    finally:
        stop(proc, 15)
    print_report(n, sessions, report, time.perf_counter() - started, timed_out)
    if timed_out or any(s.error for s in sessions):
        raise SystemExit(1)


def print_report(
    n: int, sessions: list[Session], report: dict, wall: float, timed_out: bool
) -> None:
    """The figures: per-step latency, errors, memory, and the verdict on the model."""
    print(
        f"facedash classroom load test: {n} sessions against `facedash serve --lan` on "
        f"127.0.0.1 ({os.cpu_count()} CPU cores, the browsers on the same cores)"
    )
    first = sessions[0]
    print(
        "one session alone (loads the model): "
        + ", ".join(f"{k} {v:.1f} s" for k, v in first.times.items())
        + (f"; error: {first.error}" if first.error else "")
    )
    if first.server_cpu:
        print(
            "  the server's CPU for it: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in first.server_cpu.items())
        )
    new = sessions[1:] or sessions
    print(f"then {len(new)} more at once (the first one still open):")
    print(f"  {'step':14s} {'done':>5s} {'p50 s':>7s} {'p95 s':>7s} {'max s':>7s}")
    for step in STEPS:
        values = [s.times[step] for s in new if step in s.times]
        print(
            f"  {step:14s} {len(values):5d} {percentile(values, 0.5):7.1f} "
            f"{percentile(values, 0.95):7.1f} {max(values, default=float('nan')):7.1f}"
        )
    if "crowd_cpu" in report:
        cpu, wall_n = report["crowd_cpu"], report["crowd_wall"]
        print(
            f"  the server's CPU for them: {cpu:.0f} s in {wall_n:.0f} s "
            f"({cpu / max(wall_n, 1e-9):.2f} cores busy on average; "
            f"{cpu / max(len(new), 1):.1f} s a session)"
        )
    errors = [s for s in sessions if s.error]
    print(f"errors: {len(errors)}" + (" (the deadline stopped the run)" if timed_out else ""))
    for s in errors[:10]:
        print(f"  session {s.index}: {s.error}")
    rss_0, rss_1, rss_n = report["rss_0"], report.get("rss_1"), report.get("rss_n")
    if rss_1 is None or rss_n is None:
        print(f"server RSS: at start {rss_0:.0f} MB; the run stopped before the figures with N")
    else:
        peak = max(report.get("rss_peak", 0.0), rss_n)
        growth = (peak - rss_1) / max(n - 1, 1)  # the peak: no credit for memory freed at the end
        print(
            f"server RSS: at start {rss_0:.0f} MB; with 1 session {rss_1:.0f} MB; "
            f"with {n} sessions {rss_n:.0f} MB (peak {peak:.0f} MB)"
        )
        verdict = "the model is loaded once" if growth <= 50 else "over 50 MB a session: look why"
        print(
            f"growth per session after the first, (peak - 1 session) / {max(n - 1, 1)}: "
            f"{growth:.1f} MB (target ≤ 50 MB: {verdict})"
        )
    print(f"wall: {wall:.0f} s")


if __name__ == "__main__":
    main()
