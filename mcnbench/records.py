"""Result records: the schema, atomic writes, and loading a results folder into pandas.

One JSON record per (model, task, seed) at ``<out>/<model>/<task>/seed<k>.json``; per-query
arrays (ranks, per-video predictions) beside it as ``seed<k>.<name>.npy`` so that bootstrap
intervals and paired tests can be computed later without re-running anything.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mcnbench.utils.io import atomic_save_npy, atomic_write_json, stable_hash

SCHEMA_VERSION = 1
RECORD_GLOB = "*/*/seed*.json"
_SAFE = re.compile(r"[^A-Za-z0-9_.+-]+")


def config_hash(config: dict) -> str:
    """A short hash of a config, equal across processes and dict key orders (a cache key)."""
    return stable_hash(config)


def safe_name(name: str) -> str:
    """A registry name as a folder name (``pkg.mod:fn`` → ``pkg.mod_fn``)."""
    return _SAFE.sub("_", name)


@dataclass
class ResultRecord:
    """Everything needed to trust, compare and reproduce one (model, task, seed) result.

    model:    {name, version, config, config_hash}
    task:     {name, version, options}
    data:     {root, kind: "synthetic"|"real", fingerprint, preset, generator_seed}
    metrics:  metric name → value (recalls, MoF and IoU in percent; MedR/MeanR as ranks)
    timings:  {train_s, eval_s}
    versions: {python, torch, numpy, mcnbench, git_commit, git_dirty, ...}
    info:     counts and options in force (queries, complete_size, skipped videos, ...)
    """

    model: dict
    task: dict
    seed: int
    data: dict
    metrics: dict[str, float]
    main_score: str
    tie_rule: str
    timings: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    created: str = ""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not self.created:
            self.created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        if not self.versions:
            from mcnbench.utils.env import versions

            self.versions = versions()
        if "config_hash" not in self.model and "config" in self.model:
            self.model["config_hash"] = config_hash(self.model["config"])

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ResultRecord:
        if not isinstance(d, dict):
            raise ValueError(f"expected a JSON object, got {type(d).__name__}")
        if d.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema_version {d.get('schema_version')!r}, expected {SCHEMA_VERSION}")
        missing = [k for k in ("model", "task", "seed", "data", "metrics", "main_score", "tie_rule")
                   if k not in d]
        if missing:
            raise ValueError(f"missing fields {missing}")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def record_path(out: str | Path, model: str, task: str, seed: int) -> Path:
    return Path(out) / safe_name(model) / safe_name(task) / f"seed{seed}.json"


def write_record(record: ResultRecord, out: str | Path,
                 per_query: dict[str, np.ndarray] | None = None) -> Path:
    """Write the per-query arrays, then the record (atomically): a record on disk is complete."""
    path = record_path(out, record.model["name"], record.task["name"], record.seed)
    for name, array in (per_query or {}).items():
        atomic_save_npy(path.with_suffix(f".{safe_name(name)}.npy"), array)
    atomic_write_json(path, record.to_dict())
    return path


def read_record(path: str | Path) -> ResultRecord:
    with open(path, encoding="utf-8") as f:
        return ResultRecord.from_dict(json.load(f))


def load_per_query(record_file: str | Path, name: str) -> np.ndarray:
    path = Path(record_file)
    return np.load(path.with_suffix(f".{safe_name(name)}.npy"), allow_pickle=False)


def iter_records(root: str | Path) -> tuple[list[tuple[Path, ResultRecord]], list[tuple[Path, str]]]:
    """All records under ``root`` (a folder or one file), and the (file, reason) pairs skipped."""
    root = Path(root)
    files = [root] if root.is_file() else sorted(root.rglob("seed*.json"))
    good, skipped = [], []
    for f in files:
        try:
            good.append((f, read_record(f)))
        except (OSError, ValueError, TypeError) as err:  # json.JSONDecodeError is a ValueError
            skipped.append((f, f"{type(err).__name__}: {err}"))
    return good, skipped


def load_results(root: str | Path, *, warn: bool = True) -> Any:
    """Read every record under ``root`` into one long pandas DataFrame.

    One row per (record, metric) with columns model, model_version, config_hash, task,
    task_version, seed, metric, value, main_score (bool), tie_rule, data_kind, preset,
    fingerprint, created, path. Corrupt or foreign files are skipped and named in a warning
    (and in ``df.attrs["skipped"]``) instead of failing the whole load.
    """
    import pandas as pd

    good, skipped = iter_records(root)
    rows = []
    for path, r in good:
        for metric, value in r.metrics.items():
            rows.append({
                "model": r.model["name"], "model_version": r.model.get("version"),
                "config_hash": r.model.get("config_hash"), "task": r.task["name"],
                "task_version": r.task.get("version"), "seed": r.seed, "metric": metric,
                "value": float(value) if value is not None else np.nan,
                "main_score": metric == r.main_score, "tie_rule": r.tie_rule,
                "data_kind": r.data.get("kind"), "preset": r.data.get("preset"),
                "fingerprint": r.data.get("fingerprint"), "created": r.created, "path": str(path),
            })
    columns = ["model", "model_version", "config_hash", "task", "task_version", "seed", "metric",
               "value", "main_score", "tie_rule", "data_kind", "preset", "fingerprint", "created",
               "path"]
    df = pd.DataFrame(rows, columns=columns)
    df.attrs["skipped"] = [(str(p), why) for p, why in skipped]
    if skipped and warn:
        names = "; ".join(f"{p} ({why})" for p, why in skipped)
        warnings.warn(f"skipped {len(skipped)} unreadable result file(s): {names}", stacklevel=2)
    return df
