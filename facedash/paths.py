"""Where facedash keeps its files: the asset folder (``FACEDASH_HOME``)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """Return the asset folder: ``$FACEDASH_HOME``, else a per-user cache folder.

    The folder is not created here; writers create it with owner-only permissions.
    """
    env = os.environ.get("FACEDASH_HOME")
    if env:
        return Path(env).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "facedash"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the owner only; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        path.chmod(0o700)
    except OSError:  # pragma: no cover - foreign-owned folder; keep going
        pass
    return path
