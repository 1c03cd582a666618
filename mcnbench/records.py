"""Result records: the schema, run identity, atomic writes, and loading a results folder into pandas.

One JSON record per (model, run id, task, seed) at ``<out>/<model>/<run id>/<task>/seed<k>.json``;
per-query arrays (ranks, per-video predictions) beside it as ``seed<k>.<name>.npy`` so that
bootstrap intervals and paired tests can be computed later without re-running anything.

The *run id* is a short hash of everything that can change a number (:func:`run_identity`): the
model's name, version and full config (without the seed, which has its own file), the checkpoint
file's sha256 or the training data's fingerprint, the task's version and options, the tie rule
and the data fingerprint. Records of different identities therefore never share a path: nothing
overwrites or is silently merged with a result of another identity.
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

SCHEMA_VERSION = 2
RUN_ID_LENGTH = 12
_SAFE = re.compile(r"[^A-Za-z0-9_.+-]+")
# Config fields that say how a run was made, not what it computes (the seed has its own file).
_NOT_IDENTITY = ("seed", "device", "num_workers", "checkpoint_every")


def config_hash(config: dict) -> str:
    """A short hash of a config, equal across processes and dict key orders (a cache key)."""
    return stable_hash(config)


def safe_name(name: str) -> str:
    """A registry name as a folder name (``pkg.mod:fn`` → ``pkg.mod_fn``)."""
    return _SAFE.sub("_", name)


def identity_config(config: dict) -> dict:
    """``config`` without the fields that do not change a number (seed, device, workers) at any
    nesting level: the model part of the run identity."""
    return {k: identity_config(v) if isinstance(v, dict) else v
            for k, v in config.items() if k not in _NOT_IDENTITY}


def run_identity(model: dict, task: dict, tie_rule: str, data: dict) -> dict:
    """What makes two results interchangeable, from a record's ``model``, ``task`` and ``data``
    entries and its tie rule (the seed is not part of it: seeds are repeats of one run)."""
    ckpt = model.get("checkpoint") or {}
    return {"model": {"name": model.get("name"), "version": model.get("version"),
                      "config": identity_config(model.get("config") or {}),
                      "checkpoint_sha256": ckpt.get("sha256"),
                      "train_data": ckpt.get("train_data")},
            "task": {"name": task.get("name"), "version": task.get("version"),
                     "options": task.get("options")},
            "tie_rule": tie_rule, "data": data.get("fingerprint")}


def run_id(model: dict, task: dict, tie_rule: str, data: dict) -> str:
    """The short stable hash of :func:`run_identity` (12 hex digits)."""
    return stable_hash(run_identity(model, task, tie_rule, data), length=RUN_ID_LENGTH)


@dataclass
class ResultRecord:
    """Everything needed to trust, compare and reproduce one (model, run id, task, seed) result.

    model:      {name, version, config, config_hash, checkpoint: {path, sha256} | {path, cached,
                train_data} | None, overrides, variant?}
    task:       {name, version, options}
    data:       {root, kind: "synthetic"|"real", fingerprint, n_files, preset, generator_seed, ...}
    metrics:    metric name → value (recalls, MoF and IoU in percent; MedR/MeanR as ranks)
    run_id:     :func:`run_id` of the above; filled in when empty
    label:      a human name of the run: the model name and what differs from its defaults
    timings:    {train_s, eval_s}
    versions:   {python, torch, numpy, mcnbench, git_commit, git_dirty, ...}
    provenance: {command, device, cwd}
    info:       counts and options in force (queries, complete_size, skipped videos, ...)
    """

    model: dict
    task: dict
    seed: int
    data: dict
    metrics: dict[str, float]
    main_score: str
    tie_rule: str
    run_id: str = ""
    label: str = ""
    timings: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
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
        if not self.run_id:
            self.run_id = run_id(self.model, self.task, self.tie_rule, self.data)
        if not self.label:
            self.label = str(self.model.get("name"))

    @property
    def identity(self) -> dict:
        return run_identity(self.model, self.task, self.tie_rule, self.data)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ResultRecord:
        """A record from its JSON object; anything malformed raises ValueError saying what."""
        if not isinstance(d, dict):
            raise ValueError(f"expected a JSON object, got {type(d).__name__}")
        version = d.get("schema_version")
        if version == 1:
            raise ValueError("schema_version 1 (a record of mcnbench 0.1, keyed without a run id): "
                             "convert the folder with `mcnbench migrate`")
        if version != SCHEMA_VERSION:
            raise ValueError(f"schema_version {version!r}, expected {SCHEMA_VERSION}")
        missing = [k for k in ("model", "task", "seed", "data", "metrics", "main_score", "tie_rule",
                               "run_id") if k not in d]
        if missing:
            raise ValueError(f"missing fields {missing}")
        for key in ("model", "task", "data", "metrics"):
            if not isinstance(d[key], dict):
                raise ValueError(f"field {key!r} must be an object, got {type(d[key]).__name__}")
        for name, value in d["metrics"].items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"metric {name!r} is not a number: {value!r}")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def record_path(out: str | Path, model: str, run: str, task: str, seed: int) -> Path:
    """``<out>/<model>/<run id>/<task>/seed<k>.json``."""
    return Path(out) / safe_name(model) / run / safe_name(task) / f"seed{seed}.json"


def path_of(record: ResultRecord, out: str | Path) -> Path:
    return record_path(out, record.model["name"], record.run_id, record.task["name"], record.seed)


def write_record(record: ResultRecord, out: str | Path,
                 per_query: dict[str, np.ndarray] | None = None) -> Path:
    """Write the per-query arrays, then the record (each atomically): a record on disk is
    complete. When any write fails, the arrays already written for it are removed again."""
    path = path_of(record, out)
    written: list[Path] = []
    try:
        for name, array in (per_query or {}).items():
            written.append(atomic_save_npy(path.with_suffix(f".{safe_name(name)}.npy"), array))
        atomic_write_json(path, record.to_dict())
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise
    return path


def read_record(path: str | Path) -> ResultRecord:
    """The record in ``path``; an unreadable or malformed file raises ValueError/OSError whose
    message names the file."""
    try:
        with open(path, encoding="utf-8") as f:
            return ResultRecord.from_dict(json.load(f))
    except (ValueError, TypeError) as err:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"{path}: {err}") from None


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
        except (OSError, ValueError, TypeError) as err:
            reason = str(err).removeprefix(f"{f}: ")
            skipped.append((f, f"{type(err).__name__}: {reason}"))
    return good, skipped


COLUMNS = ["model", "label", "run_id", "model_version", "config_hash", "task", "task_version",
           "seed", "metric", "value", "main_score", "tie_rule", "data_kind", "preset",
           "fingerprint", "created", "path"]


def load_results(root: str | Path, *, warn: bool = True) -> Any:
    """Read every record under ``root`` into one long pandas DataFrame.

    One row per (record, metric) with the columns :data:`COLUMNS`. Corrupt or foreign files are
    skipped and named in a warning (and in ``df.attrs["skipped"]``) instead of failing the load.
    """
    import pandas as pd

    good, skipped = iter_records(root)
    rows = []
    for path, r in good:
        for metric, value in r.metrics.items():
            rows.append({
                "model": r.model["name"], "label": r.label, "run_id": r.run_id,
                "model_version": r.model.get("version"), "config_hash": r.model.get("config_hash"),
                "task": r.task["name"], "task_version": r.task.get("version"), "seed": r.seed,
                "metric": metric, "value": float(value) if value is not None else np.nan,
                "main_score": metric == r.main_score, "tie_rule": r.tie_rule,
                "data_kind": r.data.get("kind"), "preset": r.data.get("preset"),
                "fingerprint": r.data.get("fingerprint"), "created": r.created, "path": str(path),
            })
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs["skipped"] = [(str(p), why) for p, why in skipped]
    if skipped and warn:
        names = "; ".join(f"{p} ({why})" for p, why in skipped)
        warnings.warn(f"skipped {len(skipped)} unreadable result file(s): {names}", stacklevel=2)
    return df
