"""Run Python code in a fresh interpreter (no module of this test process loaded) and read its report.

The code prints one line ``@@`` followed by a JSON document; ``run`` returns that
document and everything the code printed before it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run(code: str, env: dict[str, str] | None = None) -> tuple[Any, str]:
    """Run ``code`` with the repository as working folder; return (report, output before it)."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    at = max((i for i, line in enumerate(lines) if line.startswith("@@")), default=None)
    assert at is not None, f"no report line in: {proc.stdout[-2000:]}"
    return json.loads(lines[at][2:]), "\n".join(lines[:at])
