"""Where mcnbench keeps what it makes for itself: ``$MCNBENCH_CACHE`` or ``~/.cache/mcnbench``."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache folder (synthetic worlds, trained checkpoints, file digests); not created here."""
    base = os.environ.get("MCNBENCH_CACHE") or Path.home() / ".cache" / "mcnbench"
    return Path(base).expanduser()
