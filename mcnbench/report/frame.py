"""The long results frame that every table, plot and comparison is made from.

``mcnbench.records.load_results`` gives one row per (record, metric), with each record's run id
and human label. This module turns that into table rows that never merge two identities (a label
shared by two different runs gets the run's model key appended), refuses to mix data
fingerprints in one table unless asked (and then names the data per row), and reads everything
about a task — title, order, headline metrics, metric directions, published numbers — from the
task's registered metadata (:class:`~mcnbench.tasks.meta.TaskMeta`), never from a list here.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from mcnbench.data.errors import DataError
from mcnbench.records import ResultRecord, identity_config, iter_records, load_results
from mcnbench.utils.io import stable_hash

# For a task that is not registered here (a record of an uninstalled plug-in) only the generic
# rank metrics count as lower-is-better.
RANK_NAMES = {"medr", "meanr"}

PAPER_LABEL = "MCN (paper)"
_RECALL_AT = re.compile(r"^R@(\d+)$", re.IGNORECASE)


def _meta(task: str | None):
    if not task:
        return None
    task = task.partition("[")[0]  # a task view (youcook2[a2v]) has its task's metadata
    from mcnbench.registry import task_meta

    try:
        return task_meta(task)
    except Exception:  # a plug-in that fails to import: shown with its raw name
        return None


# metric directions ----------------------------------------------------------------------------
def lower_is_better(metric: str, task: str | None = None) -> bool:
    """True for rank-like metrics (MedR, MeanR), where a *rise* is a regression: from the task's
    metadata when it is registered, else by the generic rank names."""
    meta = _meta(task)
    if meta is not None:
        return meta.is_lower_better(metric)
    return metric.rsplit("/", 1)[-1].lower() in RANK_NAMES


def arrow(metric: str, task: str | None = None) -> str:
    return "↓" if lower_is_better(metric, task) else "↑"


def recall_k(metric: str) -> int | None:
    """K for an ``R@K`` metric name, else None."""
    m = _RECALL_AT.match(metric)
    return int(m.group(1)) if m else None


def task_title(task: str) -> str:
    """Display title (the task's metadata title); a task *view* ``name[value]`` (see
    :func:`_task_view`) reads ``Title (value)``."""
    base, _, view = task.partition("[")
    meta = _meta(base)
    title = meta.title if meta is not None else base
    return f"{title} ({view.rstrip(']')})" if view else title


def headline_metrics(task: str) -> tuple[str, ...]:
    meta = _meta(task)
    return tuple(meta.metrics) if meta is not None else ()


def _task_view(record: ResultRecord) -> str:
    """The record's task name, with the values of its non-default *view options* appended
    (``youcook2[a2v]``): a task class lists in ``view_options`` the options that make its
    numbers a different measurement (a retrieval direction), which a table must keep in its own
    column rather than average with the default's."""
    name = record.task.get("name", "")
    cls = _task_class(name)
    keys = getattr(cls, "view_options", ()) or ()
    defaults = getattr(cls, "defaults", {}) or {}
    opts = record.task.get("options") or {}
    parts = [str(opts[k]) for k in keys if k in opts and opts[k] != defaults.get(k)]
    return f"{name}[{','.join(parts)}]" if parts else name


def _task_class(name: str):
    from mcnbench.registry import RegistryError, get_task

    try:
        return get_task(name).obj
    except (RegistryError, ImportError):
        return None


# loading --------------------------------------------------------------------------------------
def load(roots: str | Path | Sequence[str | Path], *, allow_mixed_data: bool = False) -> pd.DataFrame:
    """Load and enrich every record under one or more result folders (or record files).

    Unreadable files are skipped and listed in ``df.attrs["skipped"]`` as (path, reason).
    Raises ``DataError`` naming the path when a root does not exist, and ValueError when one task
    was evaluated on more than one data fingerprint, unless ``allow_mixed_data``.
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
    return enrich(df, allow_mixed_data=allow_mixed_data)


def enrich(df: pd.DataFrame, *, allow_mixed_data: bool = False) -> pd.DataFrame:
    """Table rows for a ``load_results`` frame (idempotent).

    Adds ``run_label`` (the records' label), ``model_key`` (the run identity without its task
    part), ``generator_seed``, ``data`` (a short name of the data) and ``record_paper``, and sets
    ``label`` to the table row: the run label, made unique per model key (``mcn [3fa9c2]``) and,
    with mixed data, per data. The same record loaded twice counts once (the newest).
    """
    if df.attrs.get("enriched"):
        return df
    attrs = dict(df.attrs)
    df = df.copy()
    records = _read_records(df["path"].unique()) if "path" in df.columns else {}
    extra = pd.DataFrame.from_dict(
        {p: {"generator_seed": r.data.get("generator_seed"), "model_key": model_key(r),
             "data": data_tag(r.data), "record_paper": r.task.get("paper") or {}}
         for p, r in records.items()}, orient="index")
    for col in ("generator_seed", "model_key", "data", "record_paper"):
        if extra.empty or col not in extra:
            df[col] = None
    if not extra.empty:
        df = df.join(extra, on="path")
    df["run_label"] = df["label"]
    if records:
        df["task"] = df["path"].map({p: _task_view(r) for p, r in records.items()}).fillna(df["task"])
    before = len(df)
    df = (df.sort_values("created", kind="stable")
            .drop_duplicates(["run_id", "fingerprint", "seed", "metric"], keep="last").reset_index(drop=True))
    mixed = _mixed_data(df)
    if mixed and not allow_mixed_data:
        raise ValueError("these results were computed on different data, which one table must not "
                         f"mix: {mixed}. Report each data root separately, or pass "
                         "--allow-mixed-data to show the data as a column")
    df["label"] = _row_labels(df, records)
    df.attrs.update(attrs)
    df.attrs.update(duplicates_dropped=before - len(df), records=records, enriched=True,
                    mixed_data=bool(mixed))
    return df


def model_key(record: ResultRecord) -> str:
    """The run identity without its task part: what one table row stands for."""
    ident = record.identity
    return stable_hash({"model": ident["model"], "tie_rule": ident["tie_rule"]}, length=6)


def data_tag(data: dict) -> str:
    """A short name of a record's data: ``default/seed0 3fa9c2`` or ``real 3fa9c2``."""
    fp = str(data.get("fingerprint") or "?")[:6]
    if data.get("kind") == "synthetic":
        return f"{data.get('preset')}/seed{data.get('generator_seed')} {fp}"
    return f"{data.get('kind') or 'unknown'} {fp}"


def _mixed_data(df: pd.DataFrame) -> str:
    """'' when every task has one data fingerprint, else which tasks have which."""
    parts = []
    for task, rows in df.groupby("task", sort=True):
        tags = sorted(rows["data"].dropna().unique())
        if len(tags) > 1:
            parts.append(f"{task} on {len(tags)} data roots ({', '.join(tags)})")
    return "; ".join(parts)


def _row_labels(df: pd.DataFrame, records: dict[str, ResultRecord]) -> pd.Series:
    """The run label, told apart where one label stands for several runs (by the config keys
    that differ, ``mcn (cluster=0)``, the record's variant, or else the model key ``mcn
    [3fa9c2]``), with the data appended where one task was evaluated on several data."""
    labels = df["run_label"].astype(str).copy()
    for label, rows in df.groupby("run_label", sort=False):
        keys = rows["model_key"].fillna("?").astype(str)
        if keys.nunique() < 2:
            continue
        first = {k: records.get(rows.loc[keys == k, "path"].iloc[0]) for k in keys.unique()}
        names = _differences(first)
        for k, text in names.items():
            labels[rows.index[keys == k]] = f"{label} ({text})" if text else f"{label} [{k}]"
    if df["data"].notna().any() and _mixed_data(df):
        labels = labels + " @ " + df["data"].fillna("?").astype(str)
    # What is still ambiguous — one row, one task, several run ids (a task version changed) — is
    # split by the run id itself, never averaged.
    for (_label, _task), rows in df.assign(_row=labels).groupby(["_row", "task"], sort=False):
        if rows["run_id"].nunique() > 1:
            labels[rows.index] = labels[rows.index] + " {" + rows["run_id"].str[:6] + "}"
    return labels


def _differences(by_key: dict[str, ResultRecord | None]) -> dict[str, str]:
    """Per model key, a short text of what sets its run apart: its ``variant``, else the config
    keys whose values differ between the runs (``cluster=0``); '' when that is unreadable."""
    variants = {k: (r.model.get("variant") if r else None) for k, r in by_key.items()}
    flat = {k: _flatten(identity_config(r.model.get("config") or {})) if r else {}
            for k, r in by_key.items()}
    names = sorted({n for f in flat.values() for n in f})
    differing = [n for n in names if len({repr(f.get(n)) for f in flat.values()}) > 1]
    out = {}
    for k in by_key:
        text = ", ".join(f"{n.rsplit('.', 1)[-1]}={flat[k].get(n)}" for n in differing)
        out[k] = variants[k] or (text if differing and len(differing) <= 3 and len(text) <= 40 else "")
    if len(set(out.values())) < len(out):  # not telling them apart: the key
        out = {k: "" for k in out}
    return out


def _flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _read_records(paths: Iterable[str]) -> dict[str, ResultRecord]:
    out = {}
    for p in paths:
        good, _ = iter_records(p)
        if good:
            out[p] = good[0][1]
    return out


# metric selection -----------------------------------------------------------------------------
def select_metrics(df: pd.DataFrame, metrics: str | Sequence[str] | None = None) -> pd.DataFrame:
    """The rows of ``df`` for the metrics a table should show.

    ``None`` → each task's headline metrics (its metadata's ``metrics``, its main
    score, and every metric MCN published a number for); ``"main"`` → only main scores;
    ``"all"`` → everything; a list of names → those, where ``task:metric`` restricts a name to one
    task. Unknown names raise ``ValueError`` that lists the metrics there are.
    """
    if isinstance(metrics, str):
        metrics = [metrics]
    if metrics is None or list(metrics) == []:
        published = set(paper_numbers(df))
        keep = (df["main_score"].astype(bool)
                | pd.Series([m in headline_metrics(t) or (t, m) in published
                             for t, m in zip(df["task"], df["metric"], strict=True)],
                            index=df.index, dtype=bool))
        # A task without metadata here (an uninstalled plug-in's) shows every summary metric.
        orphan = pd.Series([_meta(t) is None and "/" not in m
                            for t, m in zip(df["task"], df["metric"], strict=True)],
                           index=df.index, dtype=bool)
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
    """(task, metric) pairs in reading order: tasks by their metadata's order, each task's
    headline metrics in its order, then the rest A–Z."""
    def key(col: tuple[str, str]) -> tuple:
        task, metric = col
        meta = _meta(task)
        t = meta.order if meta is not None else 10**6
        headline = headline_metrics(task)
        m = headline.index(metric) if metric in headline else len(headline)
        return (t, task, m, metric)
    return sorted(set(columns), key=key)


# published numbers ----------------------------------------------------------------------------
def paper_numbers(df: pd.DataFrame) -> dict[tuple[str, str], float]:
    """MCN's published number per (task, metric), for the tasks in ``df``.

    From the registered task's metadata when the task is registered, else from the records'
    ``task.paper``; metrics with no published number are simply absent.
    """
    out: dict[tuple[str, str], float] = {}
    for task in df["task"].unique():
        meta = _meta(task)
        # a task view (youcook2[a2v]) is not what the paper published: no number beside it
        paper = dict(meta.paper) if meta is not None and "[" not in task else {}
        if not paper and "record_paper" in df.columns:
            found = [p for p in df.loc[df["task"] == task, "record_paper"] if isinstance(p, dict) and p]
            paper = found[0] if found else {}
        for metric, value in (paper or {}).items():
            try:
                out[(task, metric)] = float(value)
            except (TypeError, ValueError):
                continue  # a note or a range in the paper dict, not a number
    return out
