"""The long results frame that every table, plot and comparison is made from.

``mcnbench.results.load_results`` gives one row per (record, metric). Reports need a few more
things than that frame carries: a row label per model *variant* (an ablation writes the same
model name with a different config), the generator seed of synthetic data for the caption, the
published numbers, and the metric directions. This module adds them, and knows which metrics a
table shows by default.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mcnbench.data.errors import DataError
from mcnbench.results import ResultRecord, iter_records, load_results
from mcnbench.utils.io import stable_hash

# Metrics where a smaller number is better; everything else (recalls, MoF, IoU, IoD) is higher.
LOWER_IS_BETTER = {"medr", "meanr", "median_rank", "mean_rank", "loss"}

# The headline metrics a table shows when none are asked for (case-insensitive), in column order.
# A task's own ``main_score`` is always shown too.
HEADLINE_METRICS = ("R@1", "R@5", "R@10", "MedR", "recall", "MoF", "IoU")

# Known tasks first, in the paper's order; anything else follows alphabetically.
TASK_ORDER = ("youcook2", "msrvtt", "crosstask", "mining_youtube")
TASK_TITLES = {"youcook2": "YouCook2", "msrvtt": "MSR-VTT", "crosstask": "CrossTask",
               "mining_youtube": "Mining YouTube"}

PAPER_LABEL = "MCN (paper)"
_RECALL_AT = re.compile(r"^R@(\d+)$", re.IGNORECASE)


# metric directions ----------------------------------------------------------------------------
def lower_is_better(metric: str, task: str | None = None) -> bool:
    """True for rank-like metrics (MedR, MeanR), where a *rise* is a regression.

    A task class may declare its own ``lower_is_better`` collection of metric names; otherwise
    the last path component of the metric name (``video/MedR`` → ``MedR``) is looked up in
    ``LOWER_IS_BETTER``.
    """
    declared = _task_attr(task, "lower_is_better") if task else None
    if declared is not None:
        return metric in declared
    return metric.rsplit("/", 1)[-1].lower() in LOWER_IS_BETTER


def arrow(metric: str, task: str | None = None) -> str:
    return "↓" if lower_is_better(metric, task) else "↑"


def recall_k(metric: str) -> int | None:
    """K for an ``R@K`` metric name, else None."""
    m = _RECALL_AT.match(metric)
    return int(m.group(1)) if m else None


def task_title(task: str) -> str:
    """Display title (``TASK_TITLES``, else the task class's ``title``); a task *view*
    ``name[value]`` (see :func:`_task_view`) reads ``Title (value)``."""
    base, _, view = task.partition("[")
    title = TASK_TITLES.get(base) or _task_attr(base, "title") or base
    return f"{title} ({view.rstrip(']')})" if view else title


def _task_view(record: ResultRecord) -> str:
    """The record's task name, with the values of its non-default *view options* appended
    (``youcook2[a2v]``): a task class lists in ``view_options`` the options that make its
    numbers a different measurement (a retrieval direction), which a table must keep in its own
    column rather than average with the default's."""
    name = record.task.get("name", "")
    keys = _task_attr(name, "view_options") or ()
    defaults = _task_attr(name, "defaults") or {}
    opts = record.task.get("options") or {}
    parts = [str(opts[k]) for k in keys if k in opts and opts[k] != defaults.get(k)]
    return f"{name}[{','.join(parts)}]" if parts else name


# loading --------------------------------------------------------------------------------------
def load(roots: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Load and enrich every record under one or more result folders (or record files).

    Unreadable files are skipped and listed in ``df.attrs["skipped"]`` as (path, reason).
    Raises ``DataError`` naming the path when a root does not exist.
    """
    roots = [roots] if isinstance(roots, (str, Path)) else list(roots)
    frames, skipped = [], []
    for root in roots:
        if not Path(root).exists():
            raise DataError(root, None, "no such file or folder")
        part = load_results(root, warn=False)
        skipped += part.attrs.get("skipped", [])
        frames.append(part)
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    df.attrs["skipped"] = skipped
    return enrich(df)


def enrich(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``variant``, ``label``, ``generator_seed`` and ``paper`` columns (idempotent).

    Works on a plain ``load_results`` frame: the extra fields are read back from each record's
    ``path``. Duplicate (label, task, seed, metric) rows — the same record loaded from two
    folders — are dropped, keeping the newest, so that they do not inflate n.
    """
    if "label" in df.columns:
        return df
    attrs = dict(df.attrs)
    df = df.copy()
    records = _read_records(df["path"].unique()) if "path" in df.columns else {}
    extra = pd.DataFrame.from_dict(
        {p: {"explicit_variant": r.model.get("variant"),
             "generator_seed": r.data.get("generator_seed"),
             "record_paper": r.task.get("paper") or {}}
         for p, r in records.items()}, orient="index")
    if extra.empty:
        df["explicit_variant"], df["generator_seed"], df["record_paper"] = None, None, None
    else:
        df = df.join(extra, on="path")
    configs = {p: r.model.get("config") or {} for p, r in records.items()}
    if records:
        df["task"] = df["path"].map({p: _task_view(r) for p, r in records.items()}).fillna(df["task"])
    df["variant"] = _variant_labels(df, configs)
    df["label"] = np.where(df["variant"].astype(str) != "", df["model"] + " (" + df["variant"] + ")",
                           df["model"])
    before = len(df)
    df = (df.sort_values("created", kind="stable")
            .drop_duplicates(["label", "task", "seed", "metric"], keep="last")
            .reset_index(drop=True))
    df.attrs.update(attrs)
    df.attrs["duplicates_dropped"] = before - len(df)
    df.attrs["records"] = records
    return df


def _read_records(paths: Iterable[str]) -> dict[str, ResultRecord]:
    out = {}
    for p in paths:
        good, _ = iter_records(p)
        if good:
            out[p] = good[0][1]
    return out


def _variant_labels(df: pd.DataFrame, configs: dict[str, dict]) -> pd.Series:
    """A short variant label per row: '' when a model name has a single config.

    An explicit ``model.variant`` in the record wins. Otherwise, when one model name appears with
    several config hashes (an ablation), the label lists the config keys whose values differ
    between them (``cluster=0``), falling back to the hash when that would be unreadable.
    """
    labels = pd.Series("", index=df.index, dtype=object)
    explicit = df.get("explicit_variant")
    if explicit is not None:
        has = explicit.notna() & (explicit.astype(str) != "")
        labels[has] = explicit[has].astype(str)
    for _model, rows in df[labels == ""].groupby("model"):
        row_hash = rows["config_hash"].fillna("?")
        hashes = row_hash.unique()
        if len(hashes) < 2:
            continue
        # The seed is part of a trained model's config, but seeds of one configuration are
        # repeats to average over, not variants: compare configs without their seed fields.
        flat = {h: _without_seed(_flatten(configs.get(rows.loc[row_hash == h, "path"].iloc[0], {})))
                for h in hashes}
        if len({repr(sorted(f.items())) for f in flat.values()}) < 2:
            continue
        keys = sorted({k for f in flat.values() for k in f})
        differing = [k for k in keys if len({repr(f.get(k)) for f in flat.values()}) > 1]
        for h in hashes:
            parts = [f"{k}={flat[h].get(k)}" for k in differing]
            text = ", ".join(parts)
            if not parts or len(parts) > 3 or len(text) > 40:
                text = stable_hash(flat[h], length=8)  # one label for all seeds of a config
            labels[rows.index[row_hash == h]] = text
    return labels


def _without_seed(flat: dict) -> dict:
    return {k: v for k, v in flat.items() if k.rsplit(".", 1)[-1] != "seed"}


def _flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# metric selection -----------------------------------------------------------------------------
def select_metrics(df: pd.DataFrame, metrics: str | Sequence[str] | None = None) -> pd.DataFrame:
    """The rows of ``df`` for the metrics a table should show.

    ``None`` → each task's headline metrics (``HEADLINE_METRICS`` found in its records, its main
    score, and every metric MCN published a number for); ``"main"`` → only main scores;
    ``"all"`` → everything; a list of names → those, where ``task:metric`` restricts a name to one
    task. Unknown names raise ``ValueError`` that lists the metrics there are.
    """
    if isinstance(metrics, str):
        metrics = [metrics]
    if metrics is None or list(metrics) == []:
        headline = {m.lower() for m in HEADLINE_METRICS}
        published = set(paper_numbers(df))
        keep = (df["metric"].str.lower().isin(headline) | df["main_score"].astype(bool)
                | pd.Series([c in published for c in zip(df["task"], df["metric"], strict=True)],
                            index=df.index, dtype=bool))
        # A task none of whose metrics are headline ones shows everything it has.
        orphan = ~df["task"].isin(df.loc[keep, "task"])
        return df[keep | orphan]
    if list(metrics) == ["all"]:
        return df
    if list(metrics) == ["main"]:
        return df[df["main_score"].astype(bool)]
    keep = pd.Series(False, index=df.index)
    for spec in metrics:
        task, _, name = spec.rpartition(":") if ":" in spec else ("", "", spec)
        hit = df["metric"].str.lower() == name.lower()
        if task:
            hit &= df["task"] == task
        if not hit.any():
            known = ", ".join(sorted(df["metric"].unique())) or "none"
            raise ValueError(f"no metric {spec!r} in these results; known metrics: {known}")
        keep |= hit
    return df[keep]


def column_order(columns: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(task, metric) pairs in reading order: known tasks, then headline metrics, then A–Z."""
    def key(col: tuple[str, str]) -> tuple:
        task, metric = col
        t = TASK_ORDER.index(task) if task in TASK_ORDER else len(TASK_ORDER)
        lowered = [h.lower() for h in HEADLINE_METRICS]
        m = lowered.index(metric.lower()) if metric.lower() in lowered else len(lowered)
        return (t, task, m, metric)
    return sorted(set(columns), key=key)


# published numbers ----------------------------------------------------------------------------
def paper_numbers(df: pd.DataFrame) -> dict[tuple[str, str], float]:
    """MCN's published number per (task, metric), for the tasks in ``df``.

    From the registered task class's ``paper`` dict when the task is registered, else from the
    records' ``task.paper``; metrics with no published number are simply absent.
    """
    out: dict[tuple[str, str], float] = {}
    for task in df["task"].unique():
        paper = _task_attr(task, "paper")
        if not paper and "record_paper" in df.columns:
            found = [p for p in df.loc[df["task"] == task, "record_paper"] if isinstance(p, dict) and p]
            paper = found[0] if found else {}
        for metric, value in (paper or {}).items():
            try:
                out[(task, metric)] = float(value)
            except (TypeError, ValueError):
                continue  # a note or a range in the paper dict, not a number
    return out


def _task_attr(task: str, attr: str):
    """An attribute of the registered task class, or None when the task is not registered."""
    try:
        from mcnbench.registry import get_task

        return getattr(get_task(task).obj, attr, None)
    except Exception:  # unregistered task, or a plug-in that fails to import: show no number
        return None
