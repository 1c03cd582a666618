"""Resumable training state: RNG states, the run checkpoint file, and the step log.

A run checkpoint (``<out>/checkpoint.pth``) holds everything a killed run needs to continue as
if it had never stopped: model, optimiser, scheduler, k-means (centroids + queue), every RNG,
the position (epoch, step in epoch, global step) and both configs. It is written atomically and
holds only tensors and plain Python values, so it loads with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch

from mcnbench.utils.io import atomic_write

CHECKPOINT_NAME = "checkpoint.pth"
LOG_NAME = "train_log.jsonl"


def rng_state() -> dict:
    """Python, numpy, torch CPU (and CUDA) generator states as tensors and plain values."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    state = {"python": [version, list(py_state), py_gauss],
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    version, py_state, py_gauss = state["python"]
    random.setstate((version, tuple(py_state), py_gauss))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_state(path: str | Path, state: dict) -> Path:
    """``torch.save(state)`` to ``path`` atomically (temporary file, fsync, rename)."""
    return atomic_write(path, lambda f: torch.save(state, f))


def load_state(path: str | Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


class StepLog:
    """``train_log.jsonl``: one JSON line per optimiser step, flushed as written.

    On resume, lines past the checkpoint's step (written after it, then lost with the crash) are
    dropped, so the log of a resumed run equals the log of an uninterrupted one.
    """

    def __init__(self, path: str | Path, resume_step: int = 0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = []
        if resume_step > 0 and self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line)["step"] <= resume_step:
                        kept.append(line)
                except (ValueError, KeyError, TypeError):
                    break  # a torn last line: everything before it is good
        self.path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self._f.write(json.dumps(record, sort_keys=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def read_log(path: str | Path) -> list[dict]:
    """All records of a ``train_log.jsonl``."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
