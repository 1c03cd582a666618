"""Figures for ``mcnbench report --plots``: PNGs a person reads faster than the table.

* ``recall_at_k.png``  retrieval recall@K per model, one panel per task, error bars over seeds
* ``main_scores.png``  each task's main score per model, with MCN's published number
* ``ablation_delta.png``  each variant's difference from the reference model
* ``crosstask_per_task.png``  CrossTask recall per task (when the records carry it)
* ``training_curves.png``  loss components over training steps (from ``train_log.jsonl``)

Matplotlib is used through ``Figure`` objects (the Agg canvas), never ``pyplot``: no global
state, no display needed, safe in tests and CI. A figure whose data is absent is skipped with
a note saying why.
"""
from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mcnbench.report.frame import (
    PAPER_LABEL,
    arrow,
    column_order,
    enrich,
    lower_is_better,
    paper_numbers,
    recall_k,
    select_metrics,
    task_title,
)

STYLE = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 9,
         "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3}
LOSS_KEYS = ("loss", "mms", "cluster", "recon")
LOSS_TITLES = {"loss": "total loss", "mms": "contrastive (MMS)", "cluster": "clustering",
               "recon": "reconstruction"}
_PER_TASK = re.compile(r"^recall[/:](.+)$", re.IGNORECASE)


def _styled(fn):
    """Run a plotting function under the report's style without touching global rcParams."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)
    return wrapper


def _figure(n_panels: int, width: float = 4.6, height: float = 3.6, max_cols: int = 4):
    """A figure of ``n_panels`` axes, at most ``max_cols`` per row; unused axes removed."""
    from matplotlib.figure import Figure

    cols = min(n_panels, max_cols)
    rows = -(-n_panels // cols)
    fig = Figure(figsize=(max(width * cols, 5.0), height * rows), dpi=150, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.remove()
    return fig, axes[:n_panels]


def _legend_below(fig, axes) -> None:
    """One legend for the whole figure, under the panels, where it hides no data."""
    handles, labels = {}, {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    labels = list(handles)
    fig.legend([handles[k] for k in labels], labels, loc="outside lower center",
               ncols=min(len(labels), 3), frameon=False)


def _paper_label(df: pd.DataFrame) -> str:
    synthetic = (df["data_kind"] == "synthetic").any()
    return f"{PAPER_LABEL}, real data" if synthetic else PAPER_LABEL


def _colors(labels: Sequence[str]) -> dict[str, tuple]:
    """One stable colour per row label, shared by every figure of a report."""
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {label: cmap(i % 10) for i, label in enumerate(sorted(labels))}


def _stats(df: pd.DataFrame) -> pd.DataFrame:
    return (df.groupby(["label", "task", "metric"])["value"]
              .agg(mean="mean", std="std", n="count").reset_index())


def _n_text(stats: pd.DataFrame) -> str:
    n = stats["n"]
    if n.max() <= 1:
        return "single seed"
    seeds = f"{n.min()}–{n.max()}" if n.nunique() > 1 else f"{n.iloc[0]}"
    return f"mean ± std over {seeds} seeds"


# recall@K -------------------------------------------------------------------------------------
@_styled
def plot_recall_at_k(df: pd.DataFrame, path: Path) -> Path | None:
    """Recall@K against K, one line per model, one panel per retrieval task."""
    df = enrich(df)
    rk = df[df["metric"].map(recall_k).notna()].copy()
    if rk.empty:
        return None
    rk["k"] = rk["metric"].map(recall_k)
    stats = _stats(rk).merge(rk[["metric", "k"]].drop_duplicates(), on="metric")
    paper = paper_numbers(df)
    colors = _colors(df["label"].unique())
    tasks = [t for t, _ in column_order((t, "R@1") for t in stats["task"].unique())]
    fig, axes = _figure(len(tasks))
    for ax, task in zip(axes, tasks, strict=True):
        sub = stats[stats["task"] == task]
        for label, line in sub.groupby("label"):
            line = line.sort_values("k")
            ax.errorbar(line["k"], line["mean"], yerr=line["std"].fillna(0), marker="o", capsize=3,
                        label=label, color=colors[label])
        ks = sorted(sub["k"].unique())
        published = [(k, paper.get((task, f"R@{k}"))) for k in ks]
        published = [(k, v) for k, v in published if v is not None]
        if published:
            xs, ys = zip(*published, strict=True)
            ax.plot(xs, ys, linestyle="--", marker="s", mfc="none", color="black", label=_paper_label(df))
        ax.set(title=task_title(task), xlabel="K", ylabel="recall@K (%) ↑", xticks=ks, ylim=(0, None))
    _legend_below(fig, axes)
    fig.suptitle(f"Text→video retrieval: recall@K ({_n_text(stats)})")
    return _save(fig, path)


# main scores ----------------------------------------------------------------------------------
@_styled
def plot_main_scores(df: pd.DataFrame, path: Path) -> Path | None:
    """Each task's main score per model (bars, error bars over seeds), paper number dashed."""
    df = enrich(df)
    main = df[df["main_score"].astype(bool)]
    if main.empty:
        return None
    stats = _stats(main)
    paper = paper_numbers(df)
    colors = _colors(df["label"].unique())
    cols = column_order(zip(stats["task"], stats["metric"], strict=True))
    fig, axes = _figure(len(cols), width=4.2, height=3.2, max_cols=2)
    for ax, (task, metric) in zip(axes, cols, strict=True):
        sub = stats[(stats["task"] == task) & (stats["metric"] == metric)].sort_values("label")
        x = np.arange(len(sub))
        # Models are told apart by colour (shared legend below): long variant names as tick
        # labels would take more room than the bars.
        for xi, (_, r) in zip(x, sub.iterrows(), strict=True):
            bars = ax.bar(xi, r["mean"], yerr=0 if pd.isna(r["std"]) else r["std"], capsize=3,
                          color=colors[r["label"]], label=r["label"])
            ax.bar_label(bars, labels=[f"{r['mean']:.1f}"], label_type="center", fontsize=8, color="white")
        if (task, metric) in paper:
            ax.axhline(paper[(task, metric)], color="black", linestyle="--", linewidth=1,
                       label=_paper_label(df))
        ax.set_xticks([])
        ax.set(title=task_title(task), ylabel=f"{metric} {arrow(metric, task)}")
        ax.grid(axis="x", visible=False)
    _legend_below(fig, axes)
    fig.suptitle(f"Main score per task ({_n_text(stats)})")
    return _save(fig, path)


# ablation differences -------------------------------------------------------------------------
@_styled
def plot_ablation_deltas(df: pd.DataFrame, path: Path, reference: str,
                         metrics: str | Sequence[str] | None = None) -> Path | None:
    """Each variant's change from ``reference`` per metric, signed so that up means better."""
    df = enrich(df)
    # The paper's ablation tables show one number per task (its main score): so does this one.
    stats = _stats(select_metrics(df, metrics or "main"))
    if reference not in set(stats["label"]):  # a model name: its one row label ("mcn (full)")
        named = sorted(set(df.loc[df["model"] == reference, "label"]))
        reference = named[0] if len(named) == 1 else reference
    ref = stats[stats["label"] == reference].set_index(["task", "metric"])
    others = sorted(set(stats["label"]) - {reference})
    if ref.empty or not others:
        return None
    cols = [c for c in column_order(ref.index) if c in ref.index]
    colors = _colors(df["label"].unique())
    fig, axes = _figure(1, width=min(12.0, max(6.0, 0.5 * len(cols) * (len(others) + 1))), height=4.4)
    ax = axes[0]
    width = 0.8 / len(others)
    x = np.arange(len(cols))
    for i, label in enumerate(others):
        var = stats[stats["label"] == label].set_index(["task", "metric"]).reindex(cols)
        sign = np.array([-1.0 if lower_is_better(m, t) else 1.0 for t, m in cols])
        delta = sign * (var["mean"].to_numpy() - ref.loc[cols, "mean"].to_numpy())
        # Standard error of a difference of two seed means (0 when a side has one seed).
        se = np.sqrt((var["std"] ** 2 / var["n"]).fillna(0).to_numpy()
                     + (ref.loc[cols, "std"] ** 2 / ref.loc[cols, "n"]).fillna(0).to_numpy())
        bars = ax.bar(x + (i - (len(others) - 1) / 2) * width, delta, width, yerr=se, capsize=3,
                      label=label, color=colors[label])
        ax.bar_label(bars, labels=[f"{d:+.1f}" if math.isfinite(d) else "" for d in delta],
                     padding=3, fontsize=8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, [f"{task_title(t)}\n{m} {arrow(m, t)}" for t, m in cols])
    ax.set_ylabel(f"change vs {reference}\n(+ better, − worse)")
    ax.set_title(f"Ablation: difference from {reference}\n(signed so that up is better; "
                 f"error bars ±1 s.e. over seeds)")
    _legend_below(fig, axes)
    ax.grid(axis="x", visible=False)
    return _save(fig, path)


# CrossTask per task ---------------------------------------------------------------------------
def crosstask_per_task(df: pd.DataFrame) -> pd.DataFrame:
    """Per-task CrossTask recalls as (label, seed, task_id, value), from what records carry.

    Metrics named ``recall/<task_id>`` are used first; otherwise a dict of numbers in the
    record's ``info`` whose key mentions both "task" and "recall" (``per_task_recall``).
    """
    df = enrich(df)
    ct = df[df["task"] == "crosstask"]
    hits = ct["metric"].str.extract(_PER_TASK, expand=False)
    if hits.notna().any():
        out = ct[hits.notna()].assign(task_id=hits[hits.notna()])
        return out[["label", "seed", "task_id", "value"]].reset_index(drop=True)
    rows = []
    for (path, label, seed), _ in ct.groupby(["path", "label", "seed"]):
        for key, value in _info(df, path).items():
            if isinstance(value, dict) and "task" in key.lower() and "recall" in key.lower():
                rows += [{"label": label, "seed": seed, "task_id": str(k), "value": float(v)}
                         for k, v in value.items() if isinstance(v, (int, float))]
                break
    return pd.DataFrame(rows, columns=["label", "seed", "task_id", "value"])


def _info(df: pd.DataFrame, path: str) -> dict:
    record = df.attrs.get("records", {}).get(path)
    return getattr(record, "info", None) or {}


def _task_titles(df: pd.DataFrame) -> dict[str, str]:
    """CrossTask task id → title, from the records' ``info["task_titles"]`` when present."""
    titles: dict[str, str] = {}
    for path in df.loc[df["task"] == "crosstask", "path"].unique():
        found = _info(df, path).get("task_titles")
        if isinstance(found, dict):
            titles.update({str(k): str(v) for k, v in found.items()})
    return titles


@_styled
def plot_crosstask(df: pd.DataFrame, path: Path) -> Path | None:
    per_task = crosstask_per_task(df)
    if per_task.empty:
        return None
    stats = per_task.groupby(["label", "task_id"])["value"].agg(mean="mean", std="std").reset_index()
    task_ids = sorted(stats["task_id"].unique(), key=lambda t: (len(t), t))
    labels = sorted(stats["label"].unique())
    colors = _colors(enrich(df)["label"].unique())
    fig, axes = _figure(1, width=max(7.0, 0.55 * len(task_ids) * max(1, len(labels)) ** 0.5), height=4.2)
    ax = axes[0]
    width = 0.8 / len(labels)
    x = np.arange(len(task_ids))
    for i, label in enumerate(labels):
        s = stats[stats["label"] == label].set_index("task_id").reindex(task_ids)
        ax.bar(x + (i - (len(labels) - 1) / 2) * width, s["mean"], width, yerr=s["std"].fillna(0),
               capsize=2, label=label, color=colors[label])
    paper = paper_numbers(enrich(df))
    published = [(i, paper.get(("crosstask", f"recall/{t}"))) for i, t in enumerate(task_ids)]
    published = [(i, v) for i, v in published if v is not None]
    if published:
        xs, ys = zip(*published, strict=True)
        ax.scatter(xs, ys, marker="_", s=200, color="black", label=_paper_label(df), zorder=3)
    titles = _task_titles(enrich(df))
    ax.set_xticks(x, [titles.get(t, t) for t in task_ids], rotation=40, ha="right")
    ax.set(xlabel="CrossTask task", ylabel="step recall (%) ↑",
           title="CrossTask step localisation: recall per task (mean ± std over seeds)")
    _legend_below(fig, axes)
    ax.grid(axis="x", visible=False)
    return _save(fig, path)


# training curves ------------------------------------------------------------------------------
def read_train_logs(roots: Sequence[str | Path]) -> tuple[pd.DataFrame, list[str]]:
    """Every ``train_log.jsonl`` / ``train_log.csv`` under ``roots`` as one frame with a ``run``
    column (the log's folder), and notes naming lines or files that could not be read."""
    frames, notes = [], []
    for root in map(Path, roots):
        base = root if root.is_dir() else root.parent
        for log in sorted([*base.rglob("train_log.jsonl"), *base.rglob("train_log.csv")]):
            rows, bad = _read_log(log)
            if bad:
                notes.append(f"{log}: skipped {bad} unreadable line(s)")
            if rows:
                run = str(log.parent.relative_to(base)) if log.parent != base else base.name
                frames.append(pd.DataFrame(rows).assign(run=run))
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), notes


def _read_log(log: Path) -> tuple[list[dict], int]:
    try:
        if log.suffix == ".csv":
            with open(log, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            return [{k: pd.to_numeric(v, errors="coerce") for k, v in r.items()} for r in rows], 0
        rows, bad = [], 0
        for line in log.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                rows.append(row if isinstance(row, dict) else {})
            except json.JSONDecodeError:
                bad += 1  # a line cut short by a killed run: the rest of the log is still good
        return rows, bad
    except (OSError, UnicodeDecodeError, csv.Error):
        return [], 1


@_styled
def plot_training_curves(logs: pd.DataFrame, path: Path) -> Path | None:
    keys = [k for k in LOSS_KEYS
            if k in logs.columns and pd.to_numeric(logs[k], errors="coerce").notna().any()]
    if logs.empty or not keys:
        return None
    fig, axes = _figure(len(keys), width=3.8, height=3.4)
    runs = sorted(logs["run"].unique())
    colors = _colors(runs)
    for ax, key in zip(axes, keys, strict=True):
        for run in runs:
            r = logs[logs["run"] == run]
            x = r["step"] if "step" in r.columns and r["step"].notna().any() else pd.Series(range(len(r)))
            y = pd.to_numeric(r[key], errors="coerce")
            if len(y) > 50:  # noisy per-step values: faint raw line, rolling mean on top
                ax.plot(x, y, color=colors[run], alpha=0.25, linewidth=0.8)
                y = y.rolling(max(5, len(y) // 25), min_periods=1).mean()
            ax.plot(x, y, color=colors[run], label=run, linewidth=1.6)
        ax.set(title=LOSS_TITLES.get(key, key), xlabel="step" if "step" in logs.columns else "log line",
               ylabel="loss")
    axes[0].legend(loc="upper right")
    fig.suptitle("Training losses")
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    """Save atomically, so an interrupted report never leaves a truncated PNG behind."""
    import io

    from mcnbench.utils.io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())


# all of them ----------------------------------------------------------------------------------
def write_plots(df: pd.DataFrame, roots: Sequence[str | Path], out_dir: str | Path,
                reference: str | None = None,
                metrics: str | Sequence[str] | None = None) -> tuple[list[Path], list[str]]:
    """Write every figure the data allows into ``out_dir``; return (written, notes on skips)."""
    out_dir = Path(out_dir)
    df = enrich(df)
    written, notes = [], []

    def attempt(name: str, made: Path | None, why: str) -> None:
        (written.append(made) if made else notes.append(f"{name}: skipped, {why}"))

    attempt("recall_at_k.png", plot_recall_at_k(df, out_dir / "recall_at_k.png"), "no R@K metrics")
    attempt("main_scores.png", plot_main_scores(df, out_dir / "main_scores.png"), "no main scores")
    if reference is None and "mcn" in set(df["model"]) and df["label"].nunique() > 1:
        reference = "mcn"  # the paper's ablations are all read against full MCN
    if reference:
        attempt("ablation_delta.png", plot_ablation_deltas(df, out_dir / "ablation_delta.png", reference,
                                                           metrics), "nothing to compare with the reference")
    else:
        notes.append("ablation_delta.png: skipped, no reference model (use --reference)")
    attempt("crosstask_per_task.png", plot_crosstask(df, out_dir / "crosstask_per_task.png"),
            "no per-task CrossTask recalls (metrics recall/<task_id> or info per_task_recall)")
    logs, log_notes = read_train_logs(roots)
    notes += log_notes
    attempt("training_curves.png", plot_training_curves(logs, out_dir / "training_curves.png"),
            "no train_log.jsonl/.csv with loss columns under the results")
    return written, notes
