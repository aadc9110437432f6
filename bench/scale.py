"""Ten thousand faces on every page: CLI jobs and every page under AppTest at 1k, 2k and 10k photos.

For each size N the set is made from the demo photos by deterministic augmentation
(``bench/scale_set.py``: crop, mirror, small rotation, light, colour, scale, JPEG
quality) in ``$FACEDASH_HOME/scale/N`` (or ``--dir``), embedded into the store with
``facedash embed DIR --json``, then measured in one run:

- the CLI jobs, each in its own process (wall time and peak RSS from ``wait4``):
  ``embed`` again (everything from the store), ``cluster`` PCA / UMAP / t-SNE,
  ``verify``, ``arithmetic``, ``search``;
- every page through ``streamlit.testing.v1.AppTest`` with the sidebar's "Folder
  on this server" source, in a fresh process per size: the set's load from the
  store, each page's first render, a second render (cached parts warm), a slider
  rerun, and the process's peak RSS (``resource.getrusage``).

Set build and embedding are cached: a second run reuses the folders and the
store (the first embed's figures are kept beside the set). The table puts the
targets of issue 16 beside each figure, and the growth from the smallest to the
largest size as a log-log slope (1 = linear, 2 = quadratic) next to the
expected order and why.

Pages are measured as ``facedash serve`` runs the app: its warm-up (``facedash.explain.warm``)
first, then a fresh session (``FACEDASH_WARM=0``: no warm-up, every model loads on the first
page that needs it). ``--cold DIR`` measures what a new user meets (issue 27): a fresh ``FACEDASH_HOME`` in
DIR that shares the assets, converted models, cards and trained heads of the current one
(symlinks) but starts with no store, no views and no σ² files; the set's folder is
reused, its embed is the first. Then ``embed (first)`` is beside 150 s at 10,000 photos
(45 s at 2,000), each page's first visit in a fresh session beside 15 s, and the
``arithmetic`` job (cold: nothing of its conditions view kept) beside 30 s.

Run: ``FACEDASH_HOME=... PYTHONPATH=$PWD python bench/scale.py [--sizes 1000,2000,10000]``
(``--n 10000`` for one size; ``--skip-cli``/``--skip-pages``; ``--timeout`` per job).
The machine is shared: figures are one run's, and pessimistic when other work runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from scale_set import build_set, default_folder, demo_photos  # noqa: E402
from scale_synthetic import build_synthetic, synthetic_sigma2  # noqa: E402
from scale_synthetic import default_folder as synthetic_folder  # noqa: E402

EMBED_RECORD = ".facedash-scale-embed.json"
PAGES = ["data", "attention", "embedding_map", "verification", "uncertainty", "arithmetic"]

# What each measured cost should do as the set grows, and why (the table's last column).
GROWTH: dict[str, tuple[str, str]] = {
    "embed (first)": ("O(n)", "detect + align + embed each photo once"),
    "set load from the store (CLI)": ("O(n)", "list, stat/hash each file, read the rows"),
    "cluster pca": ("O(n)", "PCA on n x 128, KMeans on n x 2"),
    "cluster umap": (
        "O(n^2 d) small, then O(n)",
        "exact neighbours in matrix blocks up to 30k (3 s at 10k), SGD over the graph's edges",
    ),
    "cluster tsne": ("O(n log n)", "Barnes-Hut t-SNE"),
    "verify": ("O(n + pairs)", "a bounded pair sample (1M), sort once"),
    "arithmetic": ("O(n) target", "group aggregates + a bounded query sample"),
    "search": ("O(n)", "one query against the index"),
    "app: set load from the store": ("O(n)", "list, stat/hash each file, one store read"),
    "data": ("O(1)", "one page of the gallery"),
    "attention": ("O(1)", "the chosen faces only; whole-set view on a 300-face sample"),
    "embedding_map": ("O(n)", "n WebGL points, a bounded picture sample"),
    "verification": ("O(n + pairs)", "bounded pair sample; sweep cached"),
    "uncertainty": ("O(n)", "sigma^2 per face, once per set"),
    "arithmetic page": ("O(n) target", "group aggregates + bounded queries"),
}
TARGETS: dict[str, str] = {
    "embed (first)": "<= 150 s at 10k, <= 45 s at 2k (issue 27)",
    "page first visit": "<= 15 s (issue 27)",
    "set load from the store (CLI)": "<= 15 s",
    "app: set load from the store": "<= 15 s",
    "cluster umap": "<= 60 s",
    "arithmetic": "<= 30 s cold, <= 2 GB",
    "page first render": "<= 3 s (cached parts warm)",
    "slider rerun": "<= 0.3 s",
    "server RSS": "<= 3 GB",
}


# -- processes ------------------------------------------------------------------------------
def run_job(argv: list[str], timeout: float, env: dict[str, str]) -> dict[str, Any]:
    """Run ``argv``; wall seconds, peak RSS (MiB, from wait4), exit code and its JSON output."""
    t0 = time.perf_counter()
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"facedash-scale-{os.getpid()}.out"
    with out_path.open("wb") as out, open(os.devnull, "wb") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=ROOT)
        deadline = t0 + timeout
        status = rusage = None
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                _, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    text = out_path.read_text(errors="replace")
    out_path.unlink(missing_ok=True)
    record: dict[str, Any] = {
        "seconds": seconds,
        "rss_mb": rusage.ru_maxrss / 1024 if rusage else float("nan"),
        "rc": proc.returncode,
        "timed_out": seconds >= timeout,
    }
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                record["json"] = json.loads(line)
            except ValueError:
                pass
            break
    return record


def facedash(*args: str) -> list[str]:
    return [sys.executable, "-m", "facedash.cli", *args]


def embed_set(folder: Path, timeout: float, env: dict[str, str]) -> dict[str, Any]:
    """Embed the set (the first time) and load it again from the store; keep the first figures."""
    record_path = folder / EMBED_RECORD
    cold = env.get("FACEDASH_HOME", "") != os.environ.get("FACEDASH_HOME", "")
    first = json.loads(record_path.read_text()) if record_path.is_file() and not cold else None
    if first is None:
        print(
            f"  embedding {folder} (the first time: minutes; less if in the store) ...", flush=True
        )
        job = run_job(facedash("embed", str(folder), "--json"), timeout, env)
        computed = job.get("json", {}).get("computed", 0)
        if job["rc"] == 0 and computed:
            first = {k: job[k] for k in ("seconds", "rss_mb")} | {"computed": computed}
            if not cold:
                record_path.write_text(json.dumps(first))
        elif job["rc"] != 0:
            raise SystemExit(f"facedash embed failed on {folder} (exit {job['rc']})")
    again = run_job(facedash("embed", str(folder), "--json"), timeout, env)
    return {"first": first, "again": again}


# What a cold home shares with the current one; everything else (the store, views/, pfe/sigma2,
# pfe/cache, scale/) starts empty.
SHARED = ("demo", "models", "cards", "test-models", "assets", "tls")
SHARED_PFE = ("head.json", "head.weights.h5", "decoder.json", "decoder.weights.h5", "models")


def cold_home(folder: Path, source: Path) -> Path:
    """A fresh ``FACEDASH_HOME`` in ``folder`` linking ``source``'s assets, models and heads."""
    import shutil

    if folder.resolve() == source.resolve():
        raise SystemExit("--cold needs a folder other than the current FACEDASH_HOME")
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "pfe").mkdir(parents=True)
    for name in SHARED:
        if (source / name).exists():
            (folder / name).symlink_to(source / name)
    for name in SHARED_PFE:
        if (source / "pfe" / name).exists():
            (folder / "pfe" / name).symlink_to(source / "pfe" / name)
    return folder


def cli_jobs(folder: Path, timeout: float, env: dict[str, str], skip: set[str]) -> dict:
    query = str(demo_photos()[0])
    jobs = {
        "cluster pca": facedash("cluster", str(folder), "--projection", "pca", "--json"),
        "cluster umap": facedash("cluster", str(folder), "--projection", "umap", "--json"),
        "cluster tsne": facedash("cluster", str(folder), "--projection", "tsne", "--json"),
        "verify": facedash("verify", str(folder), "--json"),
        "arithmetic": facedash("arithmetic", str(folder), "--json"),
        "search": facedash("search", query, "--in", str(folder), "--json"),
    }
    out = {}
    for name, argv in jobs.items():
        if name in skip:
            continue
        print(f"  {name} ...", flush=True)
        out[name] = run_job(argv, timeout, env)
    return out


# -- pages (run in a child process: python bench/scale.py --pages DIR) ----------------------
def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    current = float("nan")
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    except OSError:
        pass
    return current, peak


_SCRIPT = {"s": 0.0}  # seconds spent in the sidebar and the page's main() during one run


def _time_the_script() -> None:
    """Count the server's own time of a run: the shared sidebar and the page's ``main()``.

    An AppTest run's wall time also holds AppTest's parsing of every element the run
    sent (thousands of select-box options, a map of 10,000 points), which a server
    does not spend; the target of a slider rerun is server time.
    """
    from facedash.ui import state

    def timed(fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                _SCRIPT["s"] += time.perf_counter() - t0

        return wrapper

    state.sidebar = timed(state.sidebar)
    state.run_page = timed(state.run_page)


def _timed(at, timeout: float) -> float:
    """Seconds one AppTest run takes; ``inf`` when it runs past ``timeout``."""
    _SCRIPT["s"] = 0.0
    t0 = time.perf_counter()
    try:
        at.run(timeout=timeout)
    except RuntimeError as exc:  # AppTest's "script run timed out"
        print(f"    run stopped: {exc}", file=sys.stderr, flush=True)
        return math.inf
    return time.perf_counter() - t0


def _slider(at, page: str):
    """The page's slider to move (key, new value), or None when the page shows none."""
    keys = {
        "data": "data_per_row",
        "attention": "attention_opacity",
        "embedding_map": "embedding_map_thumb_size",
        "verification": "verification_threshold",
        "uncertainty": "uncertainty_rank_n",
        "arithmetic": "arithmetic_k",
    }
    try:
        widget = at.slider(key=keys[page])
    except KeyError:
        return None
    lo, hi, value = widget.min, widget.max, widget.value
    if isinstance(value, float):
        new = lo + (hi - lo) * (0.6 if abs(value - (lo + 0.6 * (hi - lo))) > 1e-9 else 0.4)
    else:
        new = value + 1 if value < hi else value - 1
    return widget, new


def measure_pages(
    folder: Path, timeout: float, umap: bool, pages: list[str] | None = None
) -> dict[str, Any]:
    from streamlit.testing.v1 import AppTest

    from facedash.ui.state import FOLDER

    _time_the_script()
    out: dict[str, Any] = {"pages": {}}
    from facedash.explain import warm

    if warm.enabled():
        # As `facedash serve` runs the app (facedash/ui/server.py): the warm-up first, then a
        # fresh session; its seconds are recorded apart (a server does this before any browser).
        t0 = time.perf_counter()
        warm.start(log=False)
        status = warm.wait()
        out["warm-up"] = {"seconds": time.perf_counter() - t0, "state": status.state}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.session_state["fd_source"] = FOLDER
    at.session_state["fd_folder"] = str(folder)
    first = _timed(at, timeout)
    held = at.session_state["fd_result"] if "fd_result" in at.session_state else None
    result = held[1] if held else None
    out["set load"] = result.seconds if result is not None else float("nan")
    out["faces"] = len(result.rows) if result is not None else 0
    out["data first (with the load)"] = first
    out["exception at load"] = [str(e.value)[:300] for e in at.exception]
    for page in pages or PAGES:
        at.switch_page(f"pages/{page}.py")
        rec: dict[str, Any] = {"first": _timed(at, timeout)}
        rec["exception"] = [str(e.value)[:300] for e in at.exception]
        rec["again"] = _timed(at, timeout)
        rec["again script"] = _SCRIPT["s"]
        moved = _slider(at, page)
        if moved is not None:
            widget, value = moved
            widget.set_value(value)
            rec["slider"] = _timed(at, timeout)
            rec["slider script"] = _SCRIPT["s"]
            rec["slider exception"] = [str(e.value)[:300] for e in at.exception]
        if page == "embedding_map":
            spec = (
                json.loads(at.get("plotly_chart")[0].proto.spec) if at.get("plotly_chart") else {}
            )
            rec["traces"] = sorted({t.get("type", "scatter") for t in spec.get("data", [])})
            rec["pictures"] = len(spec.get("layout", {}).get("images", []))
            rec["figure MB"] = len(at.get("plotly_chart")[0].proto.spec) / 2**20 if spec else 0
            if umap:
                at.selectbox(key="embedding_map_method").select("UMAP")
                rec["umap first"] = _timed(at, timeout)
                rec["umap exception"] = [str(e.value)[:300] for e in at.exception]
                at.selectbox(key="embedding_map_method").select("PCA")
                at.run(timeout=timeout)
                at.selectbox(key="embedding_map_method").select("UMAP")
                rec["umap again"] = _timed(at, timeout)
                at.selectbox(key="embedding_map_method").select("PCA")
                at.run(timeout=timeout)
        rec["rss_mb"], rec["peak_mb"] = _rss_mb()
        out["pages"][page] = rec
        print(f"    {page}: {rec}", file=sys.stderr, flush=True)
        if math.isinf(rec["first"]):  # the script is still running: the next page cannot start
            break
    out["rss_mb"], out["peak_mb"] = _rss_mb()
    return out


def pages_in_child(
    folder: Path, timeout: float, env: dict[str, str], umap: bool, pages: str = ""
) -> dict:
    argv = [sys.executable, str(Path(__file__)), "--pages", str(folder), "--timeout", str(timeout)]
    if not umap:
        argv.append("--no-page-umap")
    if pages:
        argv += ["--page-list", pages]
    print("  pages (AppTest, fresh process) ...", flush=True)
    t0 = time.perf_counter()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"facedash-scale-pages-{folder.name}.log"
    with log.open("w") as err:  # each page's record as it is measured, if the run breaks
        proc = subprocess.run(
            argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True
        )
    proc.stderr = log.read_text()
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or "")[-2000:]
        return {"error": f"exit {proc.returncode}: {tail}", "seconds": time.perf_counter() - t0}
    return json.loads(lines[-1])


# -- the table ------------------------------------------------------------------------------
def _fmt(seconds: float | None, rss: float | None = None) -> str:
    parts = []
    if seconds is not None and math.isinf(seconds):
        parts.append("TIMED OUT")
    elif seconds is not None and not math.isnan(seconds):
        parts.append(f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.0f} s")
    if rss is not None and not math.isnan(rss):
        parts.append(f"{rss / 1024:.2f} GB" if rss >= 1024 else f"{rss:.0f} MB")
    return ", ".join(parts) or "-"


def _script(seconds: float | None) -> str:
    return f" (server {seconds:.2f} s)" if seconds is not None else ""


def _slope(values: dict[int, float]) -> str:
    pts = [(n, v) for n, v in sorted(values.items()) if v and v > 0 and math.isfinite(v)]
    if len(pts) < 2:
        return "-"
    (n0, v0), (n1, v1) = pts[0], pts[-1]
    return f"{math.log(v1 / v0) / math.log(n1 / n0):.2f}"


def table(results: dict[int, dict[str, Any]]) -> str:
    sizes = sorted(results)
    rows: list[tuple[str, dict[int, str], dict[int, float], str, str]] = []

    def add(name: str, getter, target: str = "", growth_key: str | None = None) -> None:
        shown, raw = {}, {}
        for n in sizes:
            try:
                seconds, rss, flag = getter(results[n])
            except (KeyError, TypeError):
                seconds, rss, flag = None, None, ""
            shown[n] = _fmt(seconds, rss) + flag
            raw[n] = seconds if isinstance(seconds, float | int) else float("nan")
        order, why = GROWTH.get(growth_key or name, ("", ""))
        rows.append((name, shown, raw, target, f"{order}: {why}" if order else ""))

    def job(name: str):
        def get(r):
            j = r["cli"][name]
            flag = " (TIMED OUT)" if j["timed_out"] else (f" (exit {j['rc']})" if j["rc"] else "")
            return j["seconds"], j["rss_mb"], flag

        return get

    add(
        "embed (first)",
        lambda r: (r["embed"]["first"]["seconds"], r["embed"]["first"]["rss_mb"], ""),
        TARGETS["embed (first)"],
    )
    add(
        "set load from the store (CLI)",
        lambda r: (r["embed"]["again"]["seconds"], r["embed"]["again"]["rss_mb"], ""),
        TARGETS["set load from the store (CLI)"],
    )
    for name in ("cluster pca", "cluster umap", "cluster tsne", "verify", "arithmetic", "search"):
        add(name, job(name), TARGETS.get(name, ""))
    add(
        "app: set load from the store",
        lambda r: (r["pages"]["set load"], None, ""),
        TARGETS["app: set load from the store"],
    )
    for page in PAGES:
        key = "arithmetic page" if page == "arithmetic" else page

        def first(r, page=page):
            p = r["pages"]["pages"][page]
            return p["first"], None, " (EXCEPTION)" if p["exception"] else ""

        def again(r, page=page):
            p = r["pages"]["pages"][page]
            return p["again"], None, _script(p.get("again script"))

        def slider(r, page=page):
            p = r["pages"]["pages"][page]
            flag = " (EXCEPTION)" if p.get("slider exception") else ""
            return p.get("slider"), None, _script(p.get("slider script")) + flag

        add(f"page {page}: first render", first, TARGETS["page first visit"], key)
        add(f"page {page}: again, AppTest wall (server)", again, TARGETS["page first render"], key)
        add(f"page {page}: slider rerun, wall (server)", slider, TARGETS["slider rerun"], key)
    add(
        "page embedding_map: UMAP first",
        lambda r: (r["pages"]["pages"]["embedding_map"].get("umap first"), None, ""),
        TARGETS["cluster umap"],
        "cluster umap",
    )
    add(
        "page embedding_map: UMAP again",
        lambda r: (r["pages"]["pages"]["embedding_map"].get("umap again"), None, ""),
        TARGETS["page first render"],
    )
    add(
        "server peak RSS (all pages, one session)",
        lambda r: (None, r["pages"]["peak_mb"], ""),
        TARGETS["server RSS"],
    )
    head = ["measure", *[f"{n:,} photos" for n in sizes], "target", "slope", "expected growth"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, shown, raw, target, growth in rows:
        cells = [shown[n] for n in sizes]
        lines.append("| " + " | ".join([name, *cells, target, _slope(raw), growth]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None, help="comma-separated set sizes (photos)")
    parser.add_argument("--n", type=int, default=10_000, help="one set size (default 10000)")
    parser.add_argument("--dir", type=Path, default=None, help="parent folder of the sets")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per job")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--skip-jobs", default="", help="comma-separated CLI jobs to leave out")
    parser.add_argument("--no-page-umap", action="store_true", help="skip UMAP on the map page")
    parser.add_argument("--json-out", type=Path, default=None, help="also write every figure")
    parser.add_argument(
        "--synthetic",
        type=int,
        default=0,
        help="also measure a set of this many photos whose store rows are made from the "
        "largest real set's (bench/scale_synthetic.py; the moonshot: 100000)",
    )
    parser.add_argument(
        "--synthetic-only", action="store_true", help="measure the --synthetic set only"
    )
    parser.add_argument(
        "--page-list", default="", help="comma-separated pages to measure (default: all)"
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        help="print the table of earlier --json-out files (later files win, part by part)",
    )
    parser.add_argument(
        "--cold",
        type=Path,
        default=None,
        metavar="DIR",
        help="a fresh FACEDASH_HOME in DIR (emptied first) sharing this one's assets, models "
        "and heads but no store, views or sigma^2: first embed and first visits as a new user's",
    )
    parser.add_argument("--pages", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.merge:
        merged: dict[int, dict[str, Any]] = {}
        for path in args.merge:
            for n, parts in json.loads(path.read_text()).items():
                _deep_update(merged.setdefault(int(n), {}), parts)
        report(merged)
        return
    chosen = [p for p in args.page_list.split(",") if p] or None
    if args.pages is not None:  # child mode: measure the pages of one set, print one JSON line
        print(json.dumps(measure_pages(args.pages, args.timeout, not args.no_page_umap, chosen)))
        return
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.n]
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    if args.cold is not None:
        source_home = Path(os.environ.get("FACEDASH_HOME") or Path.home() / ".facedash")
        if args.dir is None:  # the sets stay where they are
            args.dir = source_home / "scale"
        env["FACEDASH_HOME"] = str(cold_home(args.cold, source_home))
        print(f"cold: FACEDASH_HOME={env['FACEDASH_HOME']} (from {source_home})", flush=True)
    skip = {s.strip() for s in args.skip_jobs.split(",") if s.strip()}
    results: dict[int, dict[str, Any]] = {}
    for n in [] if args.synthetic_only else sizes:
        folder = (args.dir / str(n)) if args.dir else default_folder(n)
        print(f"{n} photos in {folder}", flush=True)
        _, built_s, built = build_set(folder, n)
        r: dict[str, Any] = {"build_s": built_s if built else None}
        r["embed"] = embed_set(folder, args.timeout * 4, env)
        if not args.skip_cli:
            r["cli"] = cli_jobs(folder, args.timeout, env, skip)
        if not args.skip_pages:
            r["pages"] = pages_in_child(
                folder, args.timeout, env, not args.no_page_umap, args.page_list
            )
        results[n] = r
        if args.json_out:
            args.json_out.write_text(json.dumps(results, indent=1, default=str))
    if args.synthetic:
        n = args.synthetic
        source = (args.dir / str(max(sizes))) if args.dir else default_folder(max(sizes))
        folder = (args.dir / f"synthetic-{n}") if args.dir else synthetic_folder(n)
        print(f"{n} photos (synthetic rows from {source}) in {folder}", flush=True)
        build_synthetic(folder, n, source)
        if not args.skip_pages:
            synthetic_sigma2(folder, source)
        again = run_job(facedash("embed", str(folder), "--json"), args.timeout * 4, env)
        r = {"embed": {"first": None, "again": again}}
        if not args.skip_cli:
            r["cli"] = cli_jobs(folder, args.timeout, env, skip)
        if not args.skip_pages:
            r["pages"] = pages_in_child(
                folder, args.timeout, env, not args.no_page_umap, args.page_list
            )
        results[n] = r
        if args.json_out:
            args.json_out.write_text(json.dumps(results, indent=1, default=str))
    report(results)


def _deep_update(into: dict[str, Any], other: dict[str, Any]) -> None:
    """Merge ``other`` into ``into``: dictionaries key by key, anything else replaced."""
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict) and key != "json":
            _deep_update(into[key], value)
        else:
            into[key] = value


def report(results: dict[int, dict[str, Any]]) -> None:
    """The table, then the notes: faces per set, exceptions, the map's payload, arithmetic."""
    print()
    print(table(results))
    for n, r in results.items():
        warmed = r.get("pages", {}).get("warm-up")
        print(
            f"{n:,} photos: pages measured in a fresh session after the server's warm-up "
            f"({warmed['seconds']:.1f} s, {warmed['state']}; FACEDASH_WARM=0: without)"
            if warmed
            else f"{n:,} photos: pages measured without the server's warm-up (FACEDASH_WARM=0)"
        )
        faces = r.get("pages", {}).get("faces")
        if faces:
            print(f"{n:,} photos: {faces:,} faces embedded")
        if "error" in r.get("pages", {}) and not r["pages"].get("pages"):
            print(f"{n:,} photos: pages failed: {r['pages']['error']}")
        for page, rec in r.get("pages", {}).get("pages", {}).items():
            for k in ("exception", "slider exception", "umap exception"):
                if rec.get(k):
                    print(f"{n:,} photos: {page} {k}: {rec[k][0]}")
        em = r.get("pages", {}).get("pages", {}).get("embedding_map")
        if em:
            print(
                f"{n:,} photos: map traces {em.get('traces')}, {em.get('pictures')} pictures, "
                f"figure {em.get('figure MB', 0):.2f} MB"
            )
        arith = r.get("cli", {}).get("arithmetic", {}).get("json", {})
        if arith:
            keys = {k: v for k, v in arith.items() if not isinstance(v, dict | list)}
            print(f"{n:,} photos: arithmetic {json.dumps(keys)[:300]}")


if __name__ == "__main__":
    main()
