"""σ² in the embed pass: the seconds it adds to ``facedash embed`` and the Uncertainty page's first visit after.

For a folder (``bench/scale_set.py DIR --n 2000``) and a fresh FACEDASH_HOME made for the
run (its own empty store and σ² cache; the models, the demo and the trained head linked
from ``$FACEDASH_HOME``):

1. ``facedash embed DIR --json`` (``--no-sigma2`` with ``--no-sigma2``), wall seconds;
2. in a fresh process, the app under AppTest with the sidebar's "Folder on this server"
   source (as ``bench/scale.py`` times pages): the set's load (Data page) and the
   Uncertainty page's first visit, beside the issue's 15 s, with the seconds of its parts
   (the head's load, σ² of every face, the model comparison, the ranking, the quality
   section).

Measured on an AMD EPYC (2 cores, shared; load in brackets), 2,000 photos (1,944 faces),
OpenVINO bf16, 7 Dec 2026:

===========================  ==============  ===================================================
run                          embed           Uncertainty first visit (its parts)
===========================  ==============  ===================================================
before (c647fbc, load 5-7)   84.4 s          195.6 s (σ² of every face computed there)
``--no-sigma2`` (load 2.5)   45.1 s          95.5 s: σ² 28.6, head 3.0, quality (EDC) 63.9
σ² in the pass (load 2.4)    44.4 s (σ² 1.4) 62.9 s: σ² 0.04, head 2.9, quality (EDC) 60.0
σ² in the pass (load 4.3)    49.3 s (σ² 3.0) 98.9 s: σ² 0.03, head 3.0, quality (EDC) 95.9
===========================  ==============  ===================================================

σ² in the pass costs its head, ONet's logit and the table's writes (1.4-3.0 s for 1,944
faces, within the runs' noise); the page's σ² went from 28.6 s to 0.03 s. What is left of the
first visit is the face-image quality section (``facedash.ui.quality``: every measure on every
stored thumbnail through TensorFlow's FaceNet), not σ².

Run (a code version without the flag: ``--plain``, which passes no flag to ``embed``):

    FACEDASH_HOME=... PYTHONPATH=$PWD python bench/embed_sigma2.py DIR [--no-sigma2|--plain]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LINKED = ["demo", "models", "cards", "test-models"]
HEAD_FILES = ["head.json", "head.weights.h5", "decoder.json", "decoder.weights.h5"]


def fresh_home(source: Path) -> Path:
    """A new FACEDASH_HOME: links to ``source``'s models, demo and head; nothing embedded."""
    home = Path(tempfile.mkdtemp(prefix="facedash-s2-"))
    for name in LINKED:
        if (source / name).exists():
            (home / name).symlink_to(source / name)
    (home / "pfe").mkdir()
    for name in HEAD_FILES:
        if (source / "pfe" / name).exists():
            (home / "pfe" / name).symlink_to(source / "pfe" / name)
    return home


PARTS = [  # what the page's first visit spends its time on
    ("facedash.ui.pfe", "head"),
    ("facedash.ui.pfe", "set_sigma2"),
    ("facedash.ui.pfe_models", "compare_section"),
    ("facedash.ui.pfe", "ranking"),
    ("facedash.ui.quality", "section"),
]


def time_page(folder: Path, timeout: float) -> dict:
    """The app under AppTest ("Folder on this server"): the Data page, then Uncertainty's first visit."""
    import importlib

    from streamlit.testing.v1 import AppTest

    from facedash.ui.state import FOLDER

    parts: dict[str, float] = {}
    for mod, name in PARTS:
        module = importlib.import_module(mod)
        real = getattr(module, name)
        key = f"{mod.rsplit('.', 1)[-1]}.{name}"

        def timed(*a, _real=real, _key=key, **k):
            t0 = time.perf_counter()
            try:
                return _real(*a, **k)
            finally:
                parts[_key] = parts.get(_key, 0.0) + time.perf_counter() - t0

        setattr(module, name, timed)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.session_state["fd_source"] = FOLDER
    at.session_state["fd_folder"] = str(folder)
    t0 = time.perf_counter()
    at.run()
    data = time.perf_counter() - t0
    at.switch_page("pages/uncertainty.py")
    parts.clear()
    t0 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t0
    shown = {k: round(v, 2) for k, v in parts.items()}
    t0 = time.perf_counter()
    at.run()
    return {
        "data": round(data, 1),
        "first": round(first, 1),
        "again": round(time.perf_counter() - t0, 1),
        "parts": shown,
        "exception": [str(e.value)[:300] for e in at.exception],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--no-sigma2", action="store_true", help="embed with --no-sigma2")
    parser.add_argument("--plain", action="store_true", help="pass no σ² flag (older code)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--page", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.page:  # child mode: time the page in this fresh process, print one JSON line
        print(json.dumps(time_page(args.folder, args.timeout)))
        return
    source = Path(os.environ.get("FACEDASH_HOME", Path.home() / ".facedash"))
    home = fresh_home(source)
    env = dict(os.environ, FACEDASH_HOME=str(home), PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    argv = [sys.executable, "-m", "facedash.cli", "embed", str(args.folder), "--json"]
    if args.no_sigma2:
        argv.append("--no-sigma2")
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True)
    embed_s = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"embed failed ({proc.returncode}): {proc.stderr[-2000:]}")
    summary = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
    page = subprocess.run(
        [
            sys.executable,
            str(Path(__file__)),
            str(args.folder),
            "--page",
            "--timeout",
            str(args.timeout),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    lines = [ln for ln in page.stdout.splitlines() if ln.startswith("{")]
    if page.returncode != 0 or not lines:
        raise SystemExit(f"page failed ({page.returncode}): {page.stderr[-2000:]}")
    measured = json.loads(lines[-1])
    sigma2_files = sorted(p.name for p in (home / "pfe" / "sigma2").glob("*"))
    record = {
        "home": str(home),
        "embed_seconds": round(embed_s, 1),
        "embed_summary_seconds": summary.get("seconds"),
        "faces": summary.get("faces"),
        "computed": summary.get("computed"),
        "sigma2_in_embed": summary.get("sigma2"),
        "backend": f"{summary.get('backend')} {summary.get('precision')}",
        "set_load_first_page_s": measured["data"],
        "uncertainty_first_s": measured["first"],
        "uncertainty_again_s": measured["again"],
        "uncertainty_parts_s": measured["parts"],
        "uncertainty_exception": measured["exception"],
        "sigma2_cache_files": sigma2_files,
        "load": os.getloadavg(),
    }
    print(json.dumps(record))
    print(
        f"embed {record['embed_seconds']} s ({record['faces']} faces, {record['backend']}); "
        f"Uncertainty first visit {record['uncertainty_first_s']} s (target <= 15 s)"
    )


if __name__ == "__main__":
    main()
