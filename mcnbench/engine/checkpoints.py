"""The cache of trained models: one folder per (model, config, training data, seed), a file lock.

A trainable model without a given checkpoint is trained once into
``$MCNBENCH_CACHE/checkpoints/<model>/seed<k>-<key>/`` and reused by every later run with the same
key. Training one entry is serialised by an advisory file lock: a second process waits (and says
for whom), then finds the finished checkpoint. A killed training resumes from its last checkpoint
in that folder the next time it is asked for.
"""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcnbench.records import identity_config, safe_name
from mcnbench.utils.io import atomic_write_bytes, atomic_write_json, stable_hash
from mcnbench.utils.paths import cache_dir

Log = Callable[[str], None]
MODEL_FILE = "model.pth"


def checkpoint_dir(entry: dict, train_data: str, seed: int) -> Path:
    """The cache folder of one trained model: a pure function of what determines its weights
    (model name, version, config without run-only fields, training-data fingerprint, seed)."""
    key = stable_hash({"model": entry["name"], "version": entry.get("version"),
                       "config": identity_config(entry.get("config") or {}),
                       "data": train_data, "seed": seed})
    return cache_dir() / "checkpoints" / safe_name(entry["name"]) / f"seed{seed}-{key}"


@contextmanager
def file_lock(path: Path, *, log: Log = print, what: str = "") -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created if needed), released on exit. When another
    process holds it, says so (its pid and command, from the lock file) before waiting."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            log(f"  waiting for {holder} to finish {what or path.stem} (lock {path}) ...")
            t0 = time.perf_counter()
            fcntl.flock(f, fcntl.LOCK_EX)
            log(f"  lock acquired after {time.perf_counter() - t0:.0f} s")
        try:
            f.seek(0)
            f.truncate()
            f.write(f"pid {os.getpid()} ({_command()})")
            f.flush()
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


def _command() -> str:
    import sys

    return " ".join(["mcnbench", *sys.argv[1:]])[:200] if sys.argv else "python"


def ensure_trained(model: Any, entry: dict, *, data_root: Path, train_data: str, seed: int,
                   device: str, log: Log = print) -> tuple[Path, float]:
    """The cached checkpoint of ``model`` for this training data and seed, training it if absent.

    Returns (checkpoint path, training seconds spent now: 0.0 for a cache hit).
    """
    folder = checkpoint_dir(entry, train_data, seed)
    final = folder / MODEL_FILE
    with file_lock(folder.with_suffix(".lock"), log=log, what=f"training {entry['name']} seed {seed}"):
        if final.exists():
            log(f"  using cached checkpoint {final}")
            return final, 0.0
        resumed = folder.exists() and (folder / "checkpoint.pth").exists()
        log(f"  training {entry['name']} (seed {seed}) -> {folder}"
            + (" (resuming an interrupted run)" if resumed else ""))
        t0 = time.perf_counter()
        path = Path(model.fit(data_root, folder, seed=seed, device=device, resume=True))
        if path.resolve() != final.resolve():  # the cache expects this name
            raise RuntimeError(f"{entry['name']}.fit wrote {path}, expected {final}")
        spent = time.perf_counter() - t0
        from mcnbench.utils.env import versions

        # what trained it, beside its identity: the weights of one key differ per CPU family
        atomic_write_json(folder / "cache_key.json", {"model": entry, "train_data": train_data,
                                                      "seed": seed, "trained_with": versions()})
        log(f"  trained in {spent:.0f} s")
        return final, spent


def keep_train_log(folder: Path, dest_dir: Path) -> Path | None:
    """Copy a trained model's ``train_log.jsonl`` beside its records (``<dest_dir>/
    train_log.jsonl``), where ``mcnbench report --plots`` finds it for the training curves."""
    src = Path(folder) / "train_log.jsonl"
    if not src.exists():
        return None
    dest = Path(dest_dir) / "train_log.jsonl"
    copied = not dest.exists() or dest.stat().st_size != src.stat().st_size
    if copied:
        atomic_write_bytes(dest, src.read_bytes())
    # config.json: how it trained; cache_key.json: which cache entry it is, so that a sweep
    # resumed on another machine (an empty cache) knows this log is its cell's (kept_run)
    for name in ("config.json", "cache_key.json"):
        if (Path(folder) / name).exists() and (copied or not dest.with_name(name).exists()):
            atomic_write_bytes(dest.with_name(name), (Path(folder) / name).read_bytes())
    return dest


def kept_run(dest_dir: Path, folder: Path) -> bool:
    """Whether ``dest_dir`` keeps the finished training log of the cache entry ``folder``
    (:func:`checkpoint_dir`): its ``cache_key.json``, written only when a training finished and
    copied by :func:`keep_train_log`, names the same model, config, training data and seed."""
    import json

    try:
        kept = json.loads((Path(dest_dir) / "cache_key.json").read_text(encoding="utf-8"))
        same = checkpoint_dir(kept["model"], kept["train_data"], int(kept["seed"])).name == Path(folder).name
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return same and (Path(dest_dir) / "train_log.jsonl").is_file()
