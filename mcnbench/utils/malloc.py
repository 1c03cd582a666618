"""Keep freed memory in the process for reuse (glibc only), so large CPU temporaries stay cheap.

glibc serves every allocation above 32 MB (its largest mmap threshold) with a fresh ``mmap`` and
returns it to the kernel on ``free``; each training step then page-faults and zero-fills every
large activation, gradient and spectrum again. On the paper-shape step that costs more than the
FFT convolutions save (measured: 5.0 clips/s without, 8.3 with; see docs/training.md). Turning
``mmap`` off and never trimming the heap keeps those pages mapped: the process's resident size
stays at its peak, which is what a training process reaches every step anyway.

This is what ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=...`` in the environment does at start-up,
applied at run time through ``mallopt``; jemalloc or tcmalloc via ``LD_PRELOAD`` do the same job.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Ask glibc to serve large blocks from the heap and keep freed ones; True when applied.

    Idempotent. A no-op returning False when ``MCNBENCH_MALLOC=system``, off Linux, with another
    C library, or when ``mallopt`` refuses (nothing is changed then).
    """
    if os.environ.get("MCNBENCH_MALLOC", "keep") == "system":
        return False
    return _apply()


@functools.lru_cache(maxsize=1)
def _apply() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success. Trim threshold first: it only matters once mmap is off.
    return bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)) and bool(mallopt(_M_MMAP_MAX, 0))
