"""The generator's BLAS pin: the same world bytes on every x86-64 machine with AVX2.

The video features are float32 matrix products, and numpy's OpenBLAS sums them in another order
for each thread count and for each CPU family's kernel (it picks ``Haswell`` on AVX2 CPUs,
``SkylakeX`` on AVX-512 ones, ...). Another order rounds differently (by up to 7e-7), which
changes the files' sha256, hence the data fingerprints, so ``compare`` would refuse a user's
results against the committed ones (it did: CI on an AVX-512 machine against the reference
written on an AVX2 one). The generator therefore always runs with :data:`BLAS_THREADS` threads
and the :data:`BLAS_KERNEL` kernel, the pair every committed v4 world was written with.

OpenBLAS chooses its kernel once, when numpy loads it (``OPENBLAS_CORETYPE``), so a process whose
OpenBLAS runs another kernel builds the world in a child process started with that variable set.
Where the pinned kernel cannot run (no AVX2/FMA, or a numpy built on another BLAS) the world is
built in process with a :class:`~mcnbench.data.warnings.DataWarning`: its data fingerprints may
then differ from the committed results', and ``compare`` tells the worlds apart.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from threadpoolctl import threadpool_info, threadpool_limits

BLAS_THREADS = 2
BLAS_KERNEL = "Haswell"
_CHILD = "MCNBENCH_SYNTH_PINNED_CHILD"  # set in the child, so it never starts another


def openblas_kernel() -> str | None:
    """The kernel (core type) of numpy's OpenBLAS in this process, None for another BLAS."""
    import numpy  # noqa: F401  (loads the library threadpoolctl inspects)

    found = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
    ours = [i for i in found if "numpy" in i.get("filepath", "")] or found
    return ours[0].get("architecture") if ours else None


def can_run_pinned() -> bool:
    """Whether this CPU runs the :data:`BLAS_KERNEL` kernel (AVX2 and FMA) under numpy's OpenBLAS."""
    from numpy._core._multiarray_umath import __cpu_features__ as features

    return openblas_kernel() is not None and bool(features.get("AVX2") and features.get("FMA3"))


def run_pinned(fn: Callable, *args) -> str | None:
    """Call ``fn(*args)`` with the pinned BLAS threads and kernel: here when this process's
    OpenBLAS already runs :data:`BLAS_KERNEL`, else in a child process that does. ``fn`` must be a
    module-level function and ``args`` picklable; its return value is dropped (it writes files).
    An exception in the child is raised here as itself (an ``OSError`` for a full disk stays one).
    Returns the kernel the call ran with (:data:`BLAS_KERNEL` unless it could not be pinned).
    """
    kernel = openblas_kernel()
    if kernel != BLAS_KERNEL and not os.environ.get(_CHILD):
        if can_run_pinned():
            _run_in_child(fn, args)
            return BLAS_KERNEL
        from mcnbench.data.warnings import warn_data

        warn_data(None, "synthetic world",
                  f"this machine's BLAS kernel ({kernel or 'not OpenBLAS'}) cannot be pinned to "
                  f"{BLAS_KERNEL}, the one the committed worlds were written with: the world's "
                  "bytes, hence its data fingerprints, may differ from the committed results' "
                  "(compare refuses to mix them)", stacklevel=3)
    with threadpool_limits(BLAS_THREADS, user_api="blas"):
        fn(*args)
    return kernel


def _run_in_child(fn: Callable, args: tuple) -> None:
    import mcnbench

    package_parent = str(Path(mcnbench.__file__).resolve().parents[1])
    env = {**os.environ, "OPENBLAS_CORETYPE": BLAS_KERNEL, _CHILD: "1",
           "PYTHONPATH": os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH"))
                                         if p)}
    # stdout carries the pickled outcome only; stderr (progress, a crash) goes to the user
    done = subprocess.run([sys.executable, "-c", f"import {__name__} as m; m._child_main()"],
                          input=pickle.dumps((fn, args)), stdout=subprocess.PIPE, env=env)
    outcome = pickle.loads(done.stdout) if done.stdout else None
    if isinstance(outcome, BaseException):
        raise outcome
    if done.returncode != 0 or outcome != "ok":
        raise RuntimeError(f"the pinned world generator (OPENBLAS_CORETYPE={BLAS_KERNEL}) exited "
                           f"with status {done.returncode}")


def _child_main() -> None:
    fn, args = pickle.loads(sys.stdin.buffer.read())
    kernel = openblas_kernel()
    if kernel != BLAS_KERNEL:  # OpenBLAS ignored the variable: never write unpinned bytes
        outcome: object = RuntimeError(f"OPENBLAS_CORETYPE={BLAS_KERNEL} was not taken (numpy's "
                                       f"OpenBLAS runs {kernel})")
    else:
        try:
            with threadpool_limits(BLAS_THREADS, user_api="blas"):
                fn(*args)
            outcome = "ok"
        except BaseException as e:  # noqa: BLE001  (handed to the parent, raised there)
            outcome = e
    try:  # an exception that does not survive pickling reaches the parent as its text
        data = pickle.dumps(outcome)
        pickle.loads(data)
    except Exception:  # noqa: BLE001
        data = pickle.dumps(RuntimeError(f"{type(outcome).__name__}: {outcome}"))
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    sys.exit(0 if outcome == "ok" else 1)
