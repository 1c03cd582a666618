"""Provenance: library versions and the git commit a result was made with."""
from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def git_commit() -> tuple[str | None, bool | None]:
    """(commit sha, dirty flag) of the checkout mcnbench runs from, or (None, None)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
    try:
        sha = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
        return sha, dirty
    except (OSError, subprocess.SubprocessError):
        return None, None


def cpu_capability() -> str | None:
    """The vector instruction set torch's CPU kernels run with ("AVX512", "AVX2", ...): a model
    trained from the same cache key ends with slightly different weights on another one."""
    try:
        import torch

        return str(torch.backends.cpu.get_cpu_capability())
    except (ImportError, AttributeError):
        return None


def versions() -> dict:
    """Versions of python, the libraries results depend on, mcnbench, and the git commit, and
    the CPU's instruction set (``cpu``: training and evaluation numerics depend on it)."""
    from mcnbench import __version__

    sha, dirty = git_commit()
    out = {"python": platform.python_version(), "mcnbench": __version__,
           "git_commit": sha, "git_dirty": dirty, "platform": platform.platform(),
           "cpu": cpu_capability()}
    for dist in ("torch", "numpy", "scipy", "pandas", "faiss-cpu", "gensim"):
        out[dist.replace("-cpu", "")] = _version(dist)
    return out
