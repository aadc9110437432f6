"""Warm before the first click: the Attention page opened 60 s after ``facedash serve`` started.

For each round and mode, starts ``facedash serve --port P`` (mode ``warm``: as the README
starts it; ``cold``: ``FACEDASH_WARM=0``, the baseline: nothing loads until a page asks),
connects no browser for ``--idle`` seconds (60) after starting it, then opens
``/attention`` in a fresh headless Chromium tab and times it until it has settled: the
page's "Deletion AUC" table and both images drawn and Streamlit's running indicator gone
(as ``tests/test_browser_attention.py`` waits). Prints each time beside the 5 s target,
the cold/warm ratio, and the server's own warm-up line. Modes alternate within a round.

    .venv/bin/python bench/warm.py                  # one round: warm, then cold
    .venv/bin/python bench/warm.py --rounds 2 --port 8760
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import CHROMIUM, CHROMIUM_ARGS, stop, wait_healthy  # noqa: E402

TARGET_S = 5.0
IDLE_S = 60.0


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else the platform's word for it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def settle(browser, url: str, timeout_s: float = 300) -> float:
    """Seconds from opening ``url`` in a fresh tab until the Attention page has settled."""
    context = browser.new_context(viewport={"width": 1400, "height": 1500})
    tab = context.new_page()
    tab.set_default_timeout(timeout_s * 1000)
    t0 = time.perf_counter()
    try:
        tab.goto(url)
        tab.get_by_text("Deletion AUC", exact=False).first.wait_for()
        tab.wait_for_function(
            "() => document.querySelectorAll('[data-testid=stImage] img').length >= 2"
        )
        tab.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
        return time.perf_counter() - t0
    finally:
        context.close()


def one(browser, mode: str, port: int, idle: float, logs: Path) -> tuple[float, float, str]:
    """Serve in ``mode``, wait ``idle`` s, time the Attention page twice; (first, again, warm line).

    The second time is a second new browser session on the same server (everything
    loaded, only the set's cached views missing): the page's floor on this machine.
    """
    env = dict(os.environ, FACEDASH_WARM="1" if mode == "warm" else "0")
    log_path = logs / f"serve_{mode}_{port}.log"
    with log_path.open("w") as log:
        t_start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "facedash.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            why = wait_healthy(url, 120, proc)
            if why:
                raise SystemExit(f"facedash serve ({mode}): {why}\n{log_path.read_text()}")
            time.sleep(max(0.0, idle - (time.perf_counter() - t_start)))
            seconds = settle(browser, url + "/attention")
            again = settle(browser, url + "/attention")  # a second new session: the floor
        finally:
            stop(proc, 15)
    warm_lines = [ln for ln in log_path.read_text().splitlines() if ln.startswith("facedash: warm")]
    return seconds, again, (warm_lines[-1] if warm_lines else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8760, help="the server's port (default 8760)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds of (warm, cold) (default 1)")
    ap.add_argument("--idle", type=float, default=IDLE_S, help="seconds before the page opens")
    ap.add_argument("--only", choices=["warm", "cold"], help="one mode only")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    modes = [args.only] if args.only else ["warm", "cold"]
    times: dict[str, list[float]] = {m: [] for m in modes}
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs); load {os.getloadavg()[0]:.2f}")
    print(
        f"Attention opened {args.idle:.0f} s after `facedash serve` started, "
        f"no browser before; target <= {TARGET_S:.0f} s"
    )
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for r in range(args.rounds):
                # alternate which mode goes first, so drift on a shared machine hits both
                for mode in modes if r % 2 == 0 else modes[::-1]:
                    s, again, line = one(browser, mode, args.port, args.idle, Path(tmp))
                    times[mode].append(s)
                    mark = "ok" if s <= TARGET_S else "over"
                    print(
                        f"round {r + 1} {mode:>4}: Attention settled in {s:5.1f} s  "
                        f"(target {TARGET_S:.0f} s: {mark}; a second session {again:.1f} s; "
                        f"load {os.getloadavg()[0]:.2f})  {line}",
                        flush=True,
                    )
        finally:
            browser.close()
    for mode in modes:
        med = statistics.median(times[mode])
        print(
            f"{mode:>4}: median {med:.1f} s over {len(times[mode])} run(s) (target {TARGET_S:.0f} s)"
        )
    if len(modes) == 2:
        ratio = statistics.median(times["cold"]) / statistics.median(times["warm"])
        print(f"cold / warm: {ratio:.1f}x")


if __name__ == "__main__":
    main()
