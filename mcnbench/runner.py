"""Model × tasks → result records, with caching: the evaluation half of ``mcnbench run``.

The pieces, each usable alone (``mcnbench run`` adds training and several seeds around them):

* :func:`resolve_data_root` — ``--data-root``, else ``$MCNBENCH_DATA``, else the ``default``
  synthetic world (generated into the cache on first use);
* :func:`build_model` — a registered model in a :class:`ModelContext`, and its record entry;
* :func:`data_info` — what data a record was computed on (see "Fingerprints" below);
* :func:`evaluate_unit` — one (model, task, seed): a :class:`ResultRecord` and per-query arrays;
* :func:`run_unit` — the same behind the cache: skips a unit whose record exists with the same
  :func:`unit_key`, otherwise evaluates and writes it;
* :func:`evaluate` — all of it for one model and a list of tasks.

Fingerprints. Synthetic data root: the sha256 of ``manifest.json``, which itself lists the sha256
of every file the generator wrote, plus the preset and generator seed. Real data root: a hash
over the files the task reads (``Task.data_files``): definition files (pickles, csvs, task
cards, annotations, split lists) by content — in full up to 64 MiB, larger ones by size and the
sha256 of their first and last MiB — and bulk per-video feature files by name and size only, so
that deciding to skip a finished unit never re-reads gigabytes of features. A feature file
rewritten in place with the same size is therefore not noticed: pass ``overwrite``.
"""
from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mcnbench.results import ResultRecord, read_record, record_path, write_record
from mcnbench.utils.io import sha256_file, stable_hash

FULL_HASH_BELOW = 64 << 20
EDGE_BYTES = 1 << 20
Log = Callable[[str], None]


# ----------------------------------------------------------------------------- data

def file_digest(path: str | Path) -> str:
    """``sha256:<hex>`` of a file up to 64 MiB; above, ``edges:<size>:<hex>`` over its first
    and last MiB (cheap for multi-GB files, still catches truncation and most rewrites)."""
    path = Path(path)
    size = path.stat().st_size
    if size <= FULL_HASH_BELOW:
        return f"sha256:{sha256_file(path)}"
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(EDGE_BYTES))
        f.seek(size - EDGE_BYTES)
        h.update(f.read(EDGE_BYTES))
    return f"edges:{size}:{h.hexdigest()}"


def resolve_data_root(data_root: str | Path | None = None, *, log: Log = print) -> Path:
    """``data_root``, else ``$MCNBENCH_DATA``, else the ``default`` synthetic world (seed 0)."""
    from mcnbench.data.errors import DataError

    if data_root is None and os.environ.get("MCNBENCH_DATA"):
        data_root = os.environ["MCNBENCH_DATA"]
        log(f"data root from MCNBENCH_DATA: {data_root}")
    if data_root is None:
        from mcnbench.data.synth import ensure_world

        log("no data root given (--data-root or MCNBENCH_DATA): using the default synthetic "
            "world, preset default, seed 0 (generated into the cache on first use)")
        root = Path(ensure_world(preset="default", seed=0))
        log(f"data root: {root}")
        return root
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise DataError(root, None, "data root not found (a folder in the layout of "
                        "docs/contracts.md, or leave it out for the synthetic world)")
    return root


def data_info(data_root: str | Path, task=None) -> dict:
    """The record's ``data`` entry: root, kind, fingerprint, preset, generator_seed."""
    root = Path(data_root)
    manifest = root / "manifest.json"
    if manifest.exists():
        from mcnbench.data.manifest import read_manifest

        m = read_manifest(manifest)
        return {"root": str(root.resolve()), "kind": "synthetic",
                "fingerprint": sha256_file(manifest), "preset": m.get("preset"),
                "generator_seed": m.get("seed")}
    defining, bulk = task.data_files(root) if task is not None else ([], [])
    files = {p.relative_to(root).as_posix(): file_digest(p) for p in sorted(defining)}
    sizes = {p.relative_to(root).as_posix(): p.stat().st_size for p in sorted(bulk)}
    return {"root": str(root.resolve()), "kind": "real", "preset": None, "generator_seed": None,
            "fingerprint": stable_hash({"files": files, "bulk": sizes}, length=64),
            "n_files_hashed": len(files), "n_files_listed": len(sizes)}


# ----------------------------------------------------------------------------- model / tasks

def resolve_tasks(tasks: str | list[str]) -> list[str]:
    """``"all"``, ``"a,b"`` or a list → task names (checked against the registry)."""
    from mcnbench.registry import TASKS

    names = tasks.split(",") if isinstance(tasks, str) else list(tasks)
    names = [n.strip() for n in names if n.strip()]
    if names == ["all"]:
        return TASKS.names()
    for n in names:
        TASKS.get(n)  # raises RegistryError with close matches
    return list(dict.fromkeys(names))


def make_task(name: str):
    """The registered task ``name`` as an object (classes are instantiated)."""
    from mcnbench.registry import get_task

    obj = get_task(name).obj
    return obj() if isinstance(obj, type) else obj


def build_model(model_name: str, *, data_root: str | Path, device: str = "cpu", seed: int = 0,
                checkpoint: str | Path | None = None, embeddings: str | Path | None = None,
                **overrides: Any) -> tuple[Any, dict]:
    """(model, the record's ``model`` entry) for a registered model name."""
    from mcnbench.models.context import ModelContext
    from mcnbench.registry import get_model

    entry = get_model(model_name)
    if checkpoint is not None and not Path(checkpoint).is_file():
        from mcnbench.data.errors import DataError

        raise DataError(checkpoint, None, "checkpoint file not found")
    ctx = ModelContext(Path(data_root), device=device, seed=seed,
                       checkpoint=None if checkpoint is None else Path(checkpoint),
                       embeddings=None if embeddings is None else Path(embeddings))
    model = entry.obj(ctx, **overrides)
    config = dict(getattr(model, "config", {}) or {})
    entry_dict = {"name": model_name, "version": entry.version, "config": config,
                  "checkpoint": None if checkpoint is None else {
                      "path": str(Path(checkpoint).resolve()), "digest": file_digest(checkpoint)}}
    return model, entry_dict


# ----------------------------------------------------------------------------- units

def unit_key(record: ResultRecord | dict) -> str:
    """What makes two records of one (model, task, seed) interchangeable: model name, version,
    config hash and checkpoint, task version and options, tie rule, seed, data fingerprint."""
    r = record.to_dict() if isinstance(record, ResultRecord) else record
    m, t = r["model"], r["task"]
    return stable_hash({
        "model": [m.get("name"), m.get("version"), m.get("config_hash"), m.get("checkpoint")],
        "task": [t.get("name"), t.get("version"), t.get("options")],
        "tie_rule": r.get("tie_rule"), "seed": r.get("seed"),
        "data": r.get("data", {}).get("fingerprint")})


def _planned(model_entry: dict, task, options: dict, seed: int, tie_rule: str,
             data: dict) -> ResultRecord:
    return ResultRecord(model=dict(model_entry),
                        task={"name": task.name, "version": task.version, "options": options},
                        seed=seed, data=data, metrics={}, main_score=task.main_score,
                        tie_rule=tie_rule)


def evaluate_unit(model, task, *, data_root: str | Path, model_entry: dict, seed: int = 0,
                  tie_rule: str = "mean", options: dict | None = None, data: dict | None = None,
                  train_s: float | None = None) -> tuple[ResultRecord, dict[str, np.ndarray]]:
    """Evaluate ``model`` on ``task`` once: the record (not yet written) and per-query arrays."""
    from mcnbench.utils.seed import seed_everything

    opts = task.options(**(options or {}))
    record = _planned(model_entry, task, opts, seed, tie_rule,
                      data if data is not None else data_info(data_root, task))
    seed_everything(seed)
    t0 = time.perf_counter()
    result = task.evaluate(model, data_root, tie_rule=tie_rule, **opts)
    record.timings = {"train_s": train_s, "eval_s": round(time.perf_counter() - t0, 3)}
    record.metrics = {k: float(v) for k, v in result.metrics.items()}
    record.info = dict(result.info)
    return record, {k: np.asarray(v) for k, v in result.per_query.items()}


def run_unit(model, task, *, data_root: str | Path, out: str | Path, model_entry: dict,
             seed: int = 0, tie_rule: str = "mean", options: dict | None = None,
             overwrite: bool = False, train_s: float | None = None, log: Log = print) -> Path:
    """:func:`evaluate_unit` behind the cache; writes ``<out>/<model>/<task>/seed<k>.json``."""
    opts = task.options(**(options or {}))
    data = data_info(data_root, task)
    planned = _planned(model_entry, task, opts, seed, tie_rule, data)
    path = record_path(out, model_entry["name"], task.name, seed)
    if path.exists() and not overwrite:
        try:
            old = read_record(path)
        except (OSError, ValueError, TypeError) as err:
            log(f"  {task.name}: replacing unreadable record {path} ({err})")
        else:
            if unit_key(old) == unit_key(planned):
                log(f"  {task.name}: up to date, skipped ({_headline(old)}) {path}")
                return path
            log(f"  {task.name}: configuration changed since {path} was written; re-evaluating")
    record, per_query = evaluate_unit(model, task, data_root=data_root, model_entry=model_entry,
                                      seed=seed, tie_rule=tie_rule, options=opts, data=data,
                                      train_s=train_s)
    written = write_record(record, out, per_query)
    log(f"  {task.name}: {_headline(record)} in {record.timings['eval_s']:.1f} s -> {written}")
    return written


def _headline(record: ResultRecord) -> str:
    shown = [record.main_score] + [k for k in record.metrics if k != record.main_score
                                   and "/" not in k][:4]
    return ", ".join(f"{k} {record.metrics[k]:.2f}" for k in shown if k in record.metrics)


def evaluate(model_name: str, tasks: str | list[str], *, data_root: str | Path | None = None,
             out: str | Path = "results", seed: int = 0, tie_rule: str = "mean",
             device: str = "cpu", checkpoint: str | Path | None = None,
             embeddings: str | Path | None = None, overwrite: bool = False,
             task_options: dict[str, dict] | None = None, log: Log = print) -> list[Path]:
    """Evaluate one model (without training) on tasks; one record per task; returns their paths.

    ``tasks``: ``"all"``, ``"a,b"`` or a list. ``task_options``: {task: {option: value}}.
    Finished units (same :func:`unit_key`) are skipped unless ``overwrite``.
    """
    from mcnbench.metrics.retrieval import TIE_RULES

    if tie_rule not in TIE_RULES:
        raise ValueError(f"tie_rule must be one of {TIE_RULES}, got {tie_rule!r}")
    root = resolve_data_root(data_root, log=log)
    names = resolve_tasks(tasks)
    task_options = task_options or {}
    unknown = sorted(set(task_options) - set(names))
    if unknown:
        raise ValueError(f"options given for task(s) {unknown} that are not evaluated")
    tasks_ = [make_task(n) for n in names]
    for task in tasks_:  # bad options fail before anything runs
        task.options(**task_options.get(task.name, {}))
    model, entry = build_model(model_name, data_root=root, device=device, seed=seed,
                               checkpoint=checkpoint, embeddings=embeddings)
    if getattr(model, "trainable", False) and checkpoint is None:
        log(f"note: {model_name} is trainable and no checkpoint was given: evaluating its "
            "untrained weights (`mcnbench run` trains first)")
    log(f"evaluating {model_name} on {', '.join(names)} (seed {seed}, tie rule {tie_rule}, "
        f"device {device}) -> {out}")
    paths = []
    for i, task in enumerate(tasks_, 1):
        log(f"[{i}/{len(tasks_)}] {task.name}")
        paths.append(run_unit(model, task, data_root=root, out=out, model_entry=entry,
                              seed=seed, tie_rule=tie_rule, options=task_options.get(task.name),
                              overwrite=overwrite, log=log))
    return paths
