"""Train when needed, then evaluate: the engine of ``mcnbench run`` and ``mcnbench ablate``.

For every (variant, seed): build the model; if it is trainable and no checkpoint was given, find
its cached checkpoint or train it (cache key: model name and version, full config, data
fingerprint, seed); then evaluate every task through :func:`mcnbench.engine.units.run_unit`, which
skips units whose record is already up to date. A killed run resumes: training continues from its
last checkpoint, finished records are kept. Two runs writing to one results folder lose nothing:
records are per (model, task, seed) and written atomically, and training of one cache entry is
serialised by a file lock, so the second run waits and then reuses the first one's checkpoint.
"""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcnbench.records import safe_name
from mcnbench.utils.io import atomic_write_bytes, atomic_write_json, stable_hash

Log = Callable[[str], None]


@dataclass
class Variant:
    """One model configuration to train and evaluate.

    name:      the record's model name (``mcn``, or ``mcn+no-cluster`` for an ablation variant)
    model:     the registered model it is built from
    overrides: config overrides passed to the model factory
    """

    name: str
    model: str
    overrides: dict = field(default_factory=dict)
    label: str | None = None


def cache_root() -> Path:
    base = os.environ.get("MCNBENCH_CACHE") or Path.home() / ".cache" / "mcnbench"
    return Path(base).expanduser()


def resolve_root(data_root: str | Path | None, preset: str | None, log: Log) -> Path:
    """``--data-root``, else ``$MCNBENCH_DATA``, else the synthetic world of ``preset``."""
    from mcnbench.engine.units import resolve_data_root

    if data_root is None and not os.environ.get("MCNBENCH_DATA") and preset not in (None, "default"):
        from mcnbench.data.synth import ensure_world

        log(f"no data root given: using the synthetic world, preset {preset}, seed 0 "
            "(generated into the cache on first use)")
        return Path(ensure_world(preset=preset, seed=0))
    return resolve_data_root(data_root, log=log)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created if needed), released on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# What a real data root trains on: the corpus definition files (videos, captions, word vectors).
CORPUS_FILES = ("howto100m/videopaths.csv", "howto100m/caption.pickle", "word2vec.bin")


def corpus_info(data_root: str | Path) -> dict:
    """The training data's ``data`` entry, whose fingerprint keys the checkpoint cache.

    A synthetic root: :func:`~mcnbench.engine.units.data_info`'s (the manifest hashes every file). A
    real root: ``data_info`` without a task hashes no file, so its fingerprint is the same for
    every real root; here it is the digest of the corpus definition files (:data:`CORPUS_FILES`,
    by content, the large ones by size and first/last MiB). Per-video features are not read.
    """
    from mcnbench.engine.units import data_info, file_digest

    info = data_info(data_root)
    if info["kind"] == "synthetic":
        return info
    root = Path(data_root)
    files = {name: file_digest(root / name) for name in CORPUS_FILES if (root / name).is_file()}
    return {**info, "fingerprint": stable_hash({"corpus": files}, length=64),
            "n_files_hashed": len(files), "n_files_listed": 0}


def checkpoint_dir(entry: dict, data: dict, seed: int) -> Path:
    """The cache folder of one trained model: a pure function of what determines its weights."""
    key = stable_hash({"model": entry["name"], "version": entry.get("version"),
                       "config": entry.get("config"), "data": data.get("fingerprint"),
                       "seed": seed})
    return cache_root() / "checkpoints" / safe_name(entry["name"]) / f"seed{seed}-{key}"


def ensure_trained(model: Any, entry: dict, *, data_root: Path, data: dict, seed: int,
                   device: str, log: Log) -> tuple[Path, float]:
    """The cached checkpoint of ``model`` for this data and seed, training it if absent.

    Returns (checkpoint path, training seconds spent now: 0.0 for a cache hit).
    """
    folder = checkpoint_dir(entry, data, seed)
    final = folder / "model.pth"
    with file_lock(folder.with_suffix(".lock")):
        if final.exists():
            log(f"  using cached checkpoint {final}")
            return final, 0.0
        resumed = folder.exists() and any(folder.iterdir())
        log(f"  training {entry['name']} (seed {seed}) -> {folder}"
            + (" (resuming an interrupted run)" if resumed else ""))
        t0 = time.perf_counter()
        path = Path(model.fit(data_root, folder, seed=seed, device=device, resume=True))
        if path.resolve() != final.resolve():  # the cache (and record keys) expect this name
            raise RuntimeError(f"{entry['name']}.fit wrote {path}, expected {final}")
        spent = time.perf_counter() - t0
        atomic_write_json(folder / "cache_key.json", {"model": entry, "data": data, "seed": seed})
        log(f"  trained in {spent:.0f} s")
        return final, spent


def keep_train_log(folder: Path, out: str | Path, name: str, seed: int) -> Path | None:
    """Copy a trained model's ``train_log.jsonl`` beside its records, where ``mcnbench report
    --plots`` finds it for the loss curves: ``<out>/<model>/train-seed<k>/train_log.jsonl``."""
    src = Path(folder) / "train_log.jsonl"
    if not src.exists():
        return None
    dest = Path(out) / safe_name(name) / f"train-seed{seed}" / "train_log.jsonl"
    if not dest.exists() or dest.stat().st_size != src.stat().st_size:
        atomic_write_bytes(dest, src.read_bytes())
    return dest


def run_variants(variants: list[Variant], tasks: str | list[str], *, seeds: list[int],
                 data_root: Path, out: str | Path, tie_rule: str = "mean", device: str = "cpu",
                 checkpoint: str | Path | None = None, embeddings: str | Path | None = None,
                 overwrite: bool = False, task_options: dict[str, dict] | None = None,
                 log: Log = print) -> list[Path]:
    """Train (when needed) and evaluate every variant × seed on ``tasks``; record paths."""
    from mcnbench.engine.units import (
        build_model,
        make_task,
        record_path,
        resolve_tasks,
        run_unit,
    )

    names = resolve_tasks(tasks)
    task_objs = [make_task(n) for n in names]
    task_options = task_options or {}
    unknown = sorted(set(task_options) - set(names))
    if unknown:  # as `mcnbench eval`: a misspelt task name is not silently ignored
        raise ValueError(f"options given for task(s) {unknown} that are not evaluated")
    for task in task_objs:  # bad options fail before anything trains
        task.options(**task_options.get(task.name, {}))
    data = corpus_info(data_root)
    paths: list[Path] = []
    for variant in variants:
        for seed in seeds:
            log(f"== {variant.name} seed {seed}")
            try:
                model, entry = build_model(variant.model, data_root=data_root, device=device,
                                           seed=seed, checkpoint=checkpoint,
                                           embeddings=embeddings, **variant.overrides)
            except TypeError as err:  # an option the factory does not take (`--set epoch=2`)
                if not variant.overrides:
                    raise
                raise ValueError(f"{variant.model}: {err}") from err
            entry["name"] = variant.name
            if variant.label:
                entry["variant"] = variant.label
            train_s = None
            if getattr(model, "trainable", False) and checkpoint is None:
                keep_train_log(checkpoint_dir(entry, data, seed), out, variant.name, seed)
                if not overwrite and _all_done(task_objs, entry, data_root, data, out, seed,
                                               tie_rule, task_options):
                    log("  every task is up to date for this seed; nothing to train or evaluate")
                    paths += [record_path(out, variant.name, t.name, seed) for t in task_objs]
                    continue
                ckpt, train_s = ensure_trained(model, entry, data_root=data_root, data=data,
                                               seed=seed, device=device, log=log)
                model.load(ckpt)
                entry["checkpoint"] = {"path": str(ckpt), "cached": True}
                keep_train_log(ckpt.parent, out, variant.name, seed)
            for i, task in enumerate(task_objs, 1):
                log(f"[{i}/{len(task_objs)}] {task.name}")
                paths.append(run_unit(model, task, data_root=data_root, out=out, model_entry=entry,
                                      seed=seed, tie_rule=tie_rule,
                                      options=task_options.get(task.name), overwrite=overwrite,
                                      train_s=None if train_s is None else round(train_s, 1),
                                      log=log))
    return paths


def _all_done(task_objs, entry, data_root, corpus, out, seed, tie_rule, task_options) -> bool:
    """True when every task's record exists with the key this run would write (skip training)."""
    from mcnbench.engine.units import _planned, data_info, record_path, unit_key
    from mcnbench.records import read_record

    planned_entry = dict(entry, checkpoint={"path": str(checkpoint_dir(
        entry, corpus, seed) / "model.pth"), "cached": True})
    for task in task_objs:
        path = record_path(out, entry["name"], task.name, seed)
        if not path.exists():
            return False
        try:
            old = read_record(path)
        except (OSError, ValueError, TypeError):
            return False
        planned = _planned(planned_entry, task, task.options(**task_options.get(task.name, {})),
                           seed, tie_rule, data_info(data_root, task))
        if unit_key(old) != unit_key(planned):
            return False
    return True
