"""Figures for ``mcnbench report --plots``: PNGs a person reads faster than the table.

* ``recall_at_k.png``  recall@K for every K (log axis) from the saved per-query ranks, one panel
  per retrieval task, mean over seeds with a ±1 std band; the recorded R@1/5/10 as dots
* ``rank_histogram.png``  where the ground-truth clip lands: histogram of its rank per model
* ``main_scores.png``  each task's main score per model, ±1 std over seeds, MCN's published number
* ``ablation_delta.png``  each variant's difference from the reference model, with the paired
  bootstrap 95% interval where per-query arrays allow (else ±1 s.e. over seeds; the title says)
* ``crosstask_per_task.png``  CrossTask recall per task (when the records carry it)
* ``timelines.png``  a few CrossTask and Mining YouTube videos: ground truth, each model's
  prediction, background
* ``training_curves.png``  one panel per trained model: the loss terms it has (named from its
  config), over steps (from ``train_log.jsonl``), seeds as a band
* ``learning_curves.png``  the validation monitor (held-out caption→clip R@10) over steps per
  model, seeds as a band, with each model's gain over the last 20 % of its steps

Every figure colours a model the same way (:func:`mcnbench.report.identity.model_colors`, keyed
by :func:`~mcnbench.report.identity.row_key`). Matplotlib is used through ``Figure`` objects (the
Agg canvas), never ``pyplot``: no global state, no display needed, safe in tests and CI. A figure
whose data is absent is skipped with a note saying why.
"""
from __future__ import annotations

import csv
import json
import math
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mcnbench.metrics.curves import PLATEAU_GAIN, TAIL, tail_gain
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
from mcnbench.report.identity import ROW, model_colors, with_row

STYLE = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 9,
         "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3}
LOSS_KEYS = ("loss", "mms", "cluster", "recon")
CONTRASTIVE_NAMES = {"mms": "MMS", "nce": "NCE", "mil-nce": "MIL-NCE"}
PANEL_TITLES = {"loss": "total loss", "mms": "contrastive loss", "cluster": "clustering loss",
                "recon": "reconstruction loss (before × recon_weight)"}
BACKGROUND = (0.88, 0.88, 0.88, 1.0)
_PER_TASK = re.compile(r"^recall[/:](.+)$", re.IGNORECASE)
_TRAIN_SEED = re.compile(r"^(?:train-)?seed(\d+)$")  # <model>/train/<key>/seed<k>, or train-seed<k>


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
    fig = Figure(figsize=(max(width * cols, 5.0), height * rows), dpi=110, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.remove()
    return fig, axes[:n_panels]


def _legend_below(fig, axes, ncols: int = 3) -> None:
    """One legend for the whole figure, under the panels, where it hides no data."""
    handles = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if not label.startswith("_"):
                handles.setdefault(label, h)
    if handles:
        # long labels (a run's settings) get fewer columns, so the legend stays inside the figure
        width_in = fig.get_figwidth() * 72 / (0.6 * 9)  # characters of 9 pt text across the figure
        fit = max(1, int(width_in // (max(map(len, handles)) + 6)))
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncols=min(len(handles), ncols, fit), frameon=False)


def _paper_label(df: pd.DataFrame) -> str:
    synthetic = (df["data_kind"] == "synthetic").any()
    return f"{PAPER_LABEL}, real data" if synthetic else PAPER_LABEL


def report_colors(df: pd.DataFrame) -> dict[str, tuple]:
    """The colour of every row of a report (one call per report, shared by all its figures)."""
    return model_colors(with_row(enrich(df))[ROW].unique())


def _stats(df: pd.DataFrame) -> pd.DataFrame:
    return (with_row(df).groupby([ROW, "task", "metric"])["value"]
            .agg(mean="mean", std="std", n="count").reset_index())


def _n_text(stats: pd.DataFrame) -> str:
    n = stats["n"]
    if n.max() <= 1:
        return "single seed"
    seeds = f"{n.min()}–{n.max()}" if n.nunique() > 1 else f"{n.iloc[0]}"
    return f"mean ± std over {seeds} seeds"


def _records(df: pd.DataFrame) -> dict:
    return df.attrs.get("records", {})


def _per_query(path: str, name: str) -> np.ndarray | None:
    """A per-query array saved beside the record at ``path``, or None when absent/unreadable."""
    from mcnbench.records import load_per_query

    try:
        return np.asarray(load_per_query(path, name))
    except (OSError, ValueError):
        return None


# recall@K over every K --------------------------------------------------------------------------
def recall_curve(ranks: np.ndarray, denominator: int, ks: np.ndarray) -> np.ndarray:
    """Recall@K in percent for each K of ``ks`` from 0-based ``ranks`` [Q] (NaN = miss).

    Same hit rule as the recorded metrics (:func:`mcnbench.metrics.retrieval.hits_at`: rank < K,
    rank == 0 for K = 1) over ``denominator`` queries (the complete test set; absent ones are
    misses). One sort, then a binary search per K.
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    found = np.sort(ranks[np.isfinite(ranks)])
    ks = np.asarray(ks)
    below = np.searchsorted(found, ks, side="left").astype(np.float64)
    below[ks == 1] = np.count_nonzero(found == 0)
    return 100.0 * below / max(int(denominator), 1)


def _ranks_by_record(df: pd.DataFrame) -> pd.DataFrame:
    """(row, task, seed, path, ranks, denominator) for every record with a ``ranks`` array."""
    rows = []
    recs = _records(df)
    for (row, task, seed, path), _ in with_row(df).groupby([ROW, "task", "seed", "path"]):
        ranks = _per_query(path, "ranks")
        if ranks is None or ranks.ndim != 1 or ranks.dtype.kind not in "fiu":
            continue
        info = getattr(recs.get(path), "info", None) or {}
        denom = info.get("r_at_k_denominator") or info.get("complete_size") or len(ranks)
        rows.append({ROW: row, "task": task, "seed": seed, "path": path,
                     "ranks": ranks.astype(np.float64), "denominator": int(denom)})
    return pd.DataFrame(rows, columns=[ROW, "task", "seed", "path", "ranks", "denominator"])


def _task_order(tasks) -> list[str]:
    return [t for t, _ in column_order((t, "R@1") for t in set(tasks))]


def recall_curves(df: pd.DataFrame, n_points: int = 200) -> pd.DataFrame:
    """Recall@K curves from the saved ranks: one line per (row, task, K) with ``mean`` and
    ``std`` (ddof=1) over seeds and ``n`` seeds; K on a log grid from 1 to the largest
    denominator, always including 1, 5 and 10."""
    ranks = _ranks_by_record(enrich(df))
    out = []
    for task, sub in ranks.groupby("task"):
        kmax = max(int(sub["denominator"].max()), 2)
        ks = np.unique(np.concatenate([np.round(np.logspace(0, math.log10(kmax), n_points)).astype(int),
                                       [k for k in (1, 5, 10) if k <= kmax]]))
        for row, runs in sub.groupby(ROW):
            curves = np.stack([recall_curve(r, d, ks) for r, d in zip(runs["ranks"], runs["denominator"],
                                                                    strict=True)])
            std = curves.std(axis=0, ddof=1) if len(curves) > 1 else np.full(len(ks), np.nan)
            out.append(pd.DataFrame({ROW: row, "task": task, "k": ks, "mean": curves.mean(axis=0),
                                     "std": std, "n": len(curves)}))
    cols = [ROW, "task", "k", "mean", "std", "n"]
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


@_styled
def plot_recall_at_k(df: pd.DataFrame, path: Path, colors: dict | None = None) -> Path | None:
    """Recall@K against K (log axis), one line per model, one panel per retrieval task.

    From the per-query ranks when saved (:func:`recall_curves`: every K up to the gallery
    size); the recorded R@K as dots (and alone where no ranks were saved). Band: ±1 std over
    seeds.
    """
    df = enrich(df)
    colors = colors or report_colors(df)
    rk = df[df["metric"].map(recall_k).notna()].copy()
    curves = recall_curves(df)
    tasks = _task_order(set(rk["task"]) | set(curves["task"]))
    if not tasks:
        return None
    rk["k"] = rk["metric"].map(recall_k)
    stats = _stats(rk).merge(rk[["metric", "k"]].drop_duplicates(), on="metric")
    paper = paper_numbers(df)
    fig, axes = _figure(len(tasks))
    for ax, task in zip(axes, tasks, strict=True):
        sub = curves[curves["task"] == task]
        for row, line in sub.groupby(ROW):
            ax.plot(line["k"], line["mean"], color=colors[row], label=row, linewidth=1.6)
            if line["std"].notna().any():
                ax.fill_between(line["k"], line["mean"] - line["std"], line["mean"] + line["std"],
                                color=colors[row], alpha=0.18, linewidth=0)
        points = stats[stats["task"] == task]
        for row, line in points.groupby(ROW):
            line = line.sort_values("k")
            ax.plot(line["k"], line["mean"], linestyle="none", marker="o", markersize=4,
                    color=colors[row], label=row if row not in set(sub[ROW]) else "_")
        published = [(k, paper.get((task, f"R@{k}"))) for k in sorted(points["k"].unique())]
        published = [(k, v) for k, v in published if v is not None]
        if published:
            xs, ys = zip(*published, strict=True)
            ax.plot(xs, ys, linestyle="--", marker="s", mfc="none", color="black", label=_paper_label(df))
        ax.set_xscale("log")
        ax.set(title=task_title(task), xlabel="K (log scale)", ylabel="recall@K (%) ↑", ylim=(0, 101))
    _legend_below(fig, axes)
    fig.suptitle("Text→video retrieval: recall@K for every K (mean over seeds, band ±1 std; "
                 "dots: recorded R@K)")
    return _save(fig, path)


def rank_histogram(df: pd.DataFrame, n_bins: int = 24) -> pd.DataFrame:
    """Share of queries (percent, seeds pooled) whose ground truth lands in each log-spaced bin
    of 1-based rank ``[lo, hi)``: one line per (row, task, bin) with ``share``, ``per_rank``
    (share / bin width: flat for a model that ranks at random) and ``misses`` (absent queries,
    per (row, task)), so that shares + misses = 100."""
    ranks = _ranks_by_record(enrich(df))
    out = []
    for task, sub in ranks.groupby("task"):
        top = int(sub["denominator"].max())
        bins = np.unique(np.round(np.logspace(0, math.log10(top + 1), n_bins + 1)).astype(int))
        for row, runs in sub.groupby(ROW):
            r = np.concatenate(list(runs["ranks"])) + 1.0
            total = int(runs["denominator"].sum())
            found = r[np.isfinite(r)]
            share = 100.0 * np.histogram(found, bins=bins)[0] / max(total, 1)
            out.append(pd.DataFrame({ROW: row, "task": task, "lo": bins[:-1], "hi": bins[1:],
                                     "share": share, "per_rank": share / np.diff(bins),
                                     "misses": 100.0 * (total - len(found)) / max(total, 1)}))
    cols = [ROW, "task", "lo", "hi", "share", "per_rank", "misses"]
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


@_styled
def plot_rank_histograms(df: pd.DataFrame, path: Path, colors: dict | None = None) -> Path | None:
    """:func:`rank_histogram` drawn per task, one step line per model."""
    df = enrich(df)
    hist = rank_histogram(df)
    if hist.empty:
        return None
    colors = colors or report_colors(df)
    tasks = _task_order(hist["task"])
    fig, axes = _figure(len(tasks))
    for ax, task in zip(axes, tasks, strict=True):
        misses = set()
        for row, h in hist[hist["task"] == task].groupby(ROW):
            misses.add(round(float(h["misses"].iloc[0]), 1))
            edges = np.concatenate([h["lo"].to_numpy(), h["hi"].to_numpy()[-1:]])
            per_rank = h["per_rank"].to_numpy()
            ax.stairs(np.where(per_rank > 0, per_rank, np.nan), edges, color=colors[row], linewidth=1.6,
                      label=row, baseline=None)
        if misses != {0.0}:  # the same data for every model: one note per panel
            text = "–".join(f"{m:g}" for m in sorted(misses))
            ax.text(0.02, 0.03, f"not shown: {text}% of queries whose clip\nis absent from the data (misses)",
                    transform=ax.transAxes, va="bottom", fontsize=8, color="0.3")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set(title=task_title(task), xlabel="rank of the ground-truth clip (1 = top, log scale)",
               ylabel="queries per rank (%, log scale)")
    _legend_below(fig, axes)
    fig.suptitle("Where the right clip lands: share of queries per rank, log bins (seeds pooled;\n"
                 "a model ranking at random is flat at 100 / gallery size)")
    return _save(fig, path)


# main scores ----------------------------------------------------------------------------------
@_styled
def plot_main_scores(df: pd.DataFrame, path: Path, colors: dict | None = None) -> Path | None:
    """Each task's main score per model (bars, ±1 std over seeds), paper number dashed."""
    df = enrich(df)
    main = df[df["main_score"].astype(bool)]
    if main.empty:
        return None
    stats = _stats(main)
    paper = paper_numbers(df)
    colors = colors or report_colors(df)
    cols = column_order(zip(stats["task"], stats["metric"], strict=True))
    fig, axes = _figure(len(cols), width=4.2, height=3.2, max_cols=2)
    for ax, (task, metric) in zip(axes, cols, strict=True):
        sub = stats[(stats["task"] == task) & (stats["metric"] == metric)].sort_values(ROW)
        x = np.arange(len(sub))
        # Models are told apart by colour (shared legend below): long variant names as tick
        # labels would take more room than the bars.
        for xi, (_, r) in zip(x, sub.iterrows(), strict=True):
            err = 0 if pd.isna(r["std"]) else r["std"]
            ax.bar(xi, r["mean"], yerr=err, capsize=3, color=colors[r[ROW]], label=r[ROW])
            # above the error bar, in black: readable on small bars too, never under the whisker
            ax.annotate(f"{r['mean']:.1f}", (xi, r["mean"] + err), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=8)
        if (task, metric) in paper:
            ax.axhline(paper[(task, metric)], color="black", linestyle="--", linewidth=1,
                       label=_paper_label(df))
        ax.margins(y=0.15)
        ax.set_xticks([])
        ax.set(title=task_title(task), ylabel=f"{metric} {arrow(metric, task)}")
        ax.grid(axis="x", visible=False)
    _legend_below(fig, axes)
    fig.suptitle(f"Main score per task ({_n_text(stats)}; error bars ±1 std over seeds)")
    return _save(fig, path)


# ablation differences -------------------------------------------------------------------------
@_styled
def plot_ablation_deltas(df: pd.DataFrame, path: Path, reference: str,
                         metrics: str | Sequence[str] | None = None, colors: dict | None = None,
                         tests: pd.DataFrame | None = None) -> Path | None:
    """Each variant's change from ``reference`` per metric, signed so that up means better.

    Error bars: the 95% paired-bootstrap interval of the difference (``tests``, from
    :func:`mcnbench.report.significance.compare_rows`) where the per-query arrays allow it, else
    ±1 standard error of the difference of seed means; significant differences get a ``*``.
    """
    from mcnbench.report.tables import resolve_label

    df = enrich(df)
    # The paper's ablation tables show one number per task (its main score): so does this one.
    stats = _stats(select_metrics(df, metrics or "main"))
    try:
        reference = resolve_label(df, reference)
    except ValueError:
        return None
    ref = stats[stats[ROW] == reference].set_index(["task", "metric"])
    others = sorted(set(stats[ROW]) - {reference})
    if ref.empty or not others:
        return None
    if tests is None:
        from mcnbench.report.significance import compare_rows

        tests = compare_rows(df, reference, columns=list(ref.index))
    tests = tests.set_index(["row", "task", "metric"]) if len(tests) else None
    cols = [c for c in column_order(ref.index) if c in ref.index]
    colors = colors or report_colors(df)
    fig, axes = _figure(1, width=min(12.0, max(6.0, 0.5 * len(cols) * (len(others) + 1))), height=4.6)
    ax = axes[0]
    width = 0.8 / len(others)
    x = np.arange(len(cols))
    kinds: dict[str, set] = {"ci": set(), "se": set()}
    for i, label in enumerate(others):
        var = stats[stats[ROW] == label].set_index(["task", "metric"]).reindex(cols)
        sign = np.array([-1.0 if lower_is_better(m, t) else 1.0 for t, m in cols])
        delta = sign * (var["mean"].to_numpy() - ref.loc[cols, "mean"].to_numpy())
        # ±1 s.e. of a difference of two seed means (0 when a side has one seed) ...
        se = np.sqrt((var["std"] ** 2 / var["n"]).fillna(0).to_numpy()
                     + (ref.loc[cols, "std"] ** 2 / ref.loc[cols, "n"]).fillna(0).to_numpy())
        err = np.vstack([se, se])
        marks = [""] * len(cols)
        for j, (t, m) in enumerate(cols):  # ... replaced by the bootstrap interval where known
            if tests is not None and (label, t, m) in tests.index:
                row = tests.loc[(label, t, m)]
                lo, hi = sorted((sign[j] * row["lo"], sign[j] * row["hi"]))
                err[:, j] = [max(delta[j] - lo, 0), max(hi - delta[j], 0)]
                marks[j] = "*" if row["significant"] else ""
                kinds["ci"].add((t, m))
            else:
                kinds["se"].add((t, m))
        xs = x + (i - (len(others) - 1) / 2) * width
        ax.bar(xs, delta, width, yerr=err, capsize=3, label=label, color=colors[label])
        for xj, d, s, lo_err, hi_err in zip(xs, delta, marks, err[0], err[1], strict=True):
            if math.isfinite(d):  # beyond the whisker, on the side the bar points to
                up = d >= 0
                ax.annotate(f"{d:+.1f}{s}", (xj, d + hi_err if up else d - lo_err),
                            xytext=(0, 2 if up else -2), textcoords="offset points", ha="center",
                            va="bottom" if up else "top", fontsize=8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.margins(y=0.15)
    ax.set_xticks(x, [f"{task_title(t)}\n{m} {arrow(m, t)}" for t, m in cols])
    ax.set_ylabel(f"change vs {reference}\n(+ better, − worse)")
    se_only = sorted(kinds["se"] - kinds["ci"])
    if not kinds["ci"]:
        what = "error bars: ±1 standard error of the difference over seeds"
    else:
        what = "error bars: 95% paired bootstrap interval over queries (* p < 0.05)"
        if se_only:
            names = ", ".join(f"{task_title(t)} {m}" for t, m in column_order(se_only))
            what += f"; ±1 s.e. over seeds for {names} (no per-query arrays)"
    import textwrap

    ax.set_title(f"Ablation: difference from {reference} (signed so that up is better)\n"
                 + "\n".join(textwrap.wrap(what, 72)), fontsize=10)
    _legend_below(fig, axes)
    ax.grid(axis="x", visible=False)
    return _save(fig, path)


# CrossTask per task ---------------------------------------------------------------------------
def crosstask_per_task(df: pd.DataFrame) -> pd.DataFrame:
    """Per-task CrossTask recalls as (label, seed, task_id, value), from what records carry.

    Metrics named ``recall/<task_id>`` are used first; otherwise a dict of numbers in the
    record's ``info`` whose key mentions both "task" and "recall" (``per_task_recall``). The
    ``label`` column holds the row key.
    """
    df = with_row(enrich(df))
    ct = df[df["task"] == "crosstask"]
    hits = ct["metric"].str.extract(_PER_TASK, expand=False)
    if hits.notna().any():
        out = ct[hits.notna()].assign(task_id=hits[hits.notna()], label=ct[ROW])
        return out[["label", "seed", "task_id", "value"]].reset_index(drop=True)
    rows = []
    for (path, label, seed), _ in ct.groupby(["path", ROW, "seed"]):
        for key, value in _info(df, path).items():
            if isinstance(value, dict) and "task" in key.lower() and "recall" in key.lower():
                rows += [{"label": label, "seed": seed, "task_id": str(k), "value": float(v)}
                         for k, v in value.items() if isinstance(v, (int, float))]
                break
    return pd.DataFrame(rows, columns=["label", "seed", "task_id", "value"])


def _info(df: pd.DataFrame, path: str) -> dict:
    record = _records(df).get(path)
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
def plot_crosstask(df: pd.DataFrame, path: Path, colors: dict | None = None) -> Path | None:
    per_task = crosstask_per_task(df)
    if per_task.empty:
        return None
    stats = per_task.groupby(["label", "task_id"])["value"].agg(mean="mean", std="std").reset_index()
    task_ids = sorted(stats["task_id"].unique(), key=lambda t: (len(t), t))
    labels = sorted(stats["label"].unique())
    colors = colors or report_colors(df)
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
           title="CrossTask step localisation: recall per task\n(mean over seeds, error bars ±1 std)")
    _legend_below(fig, axes)
    ax.grid(axis="x", visible=False)
    return _save(fig, path)


# alignment timelines --------------------------------------------------------------------------
@dataclass
class VideoTimeline:
    """One video's ground truth and prediction, per second.

    gt:           [T] label per second (-1 = background); CrossTask: the GT step, MYT: the class
    pred:         [T] predicted label per second (Mining YouTube), or None
    pred_seconds: [K] the second each step was placed at (CrossTask's one-second-per-step DP;
                  -1 = not placed), or None
    """

    task: str
    video_id: str
    group: str              # CrossTask task id; "" for Mining YouTube
    gt: np.ndarray
    pred: np.ndarray | None = None
    pred_seconds: np.ndarray | None = None

    @property
    def T(self) -> int:
        return len(self.gt)


def timelines(record_file: str | Path, task: str) -> list[VideoTimeline]:
    """The per-video timelines saved beside a CrossTask or Mining YouTube record (videos in the
    order they were scored); empty when the record predates the timeline arrays."""
    f = str(record_file)
    vids, T = _per_query(f, "video_ids"), _per_query(f, "T")
    if vids is None or T is None:
        return []
    starts = np.concatenate([[0], np.cumsum(T)])
    if task == "crosstask":
        K, pred_s, gt = _per_query(f, "K"), _per_query(f, "pred_second"), _per_query(f, "gt_step")
        groups = _per_query(f, "task_ids")
        if K is None or pred_s is None or gt is None or len(gt) != starts[-1]:
            return []
        k0 = np.concatenate([[0], np.cumsum(K)])
        return [VideoTimeline(task, str(v), "" if groups is None else str(groups[i]),
                              gt[starts[i]:starts[i + 1]].astype(int),
                              pred_seconds=pred_s[k0[i]:k0[i + 1]].astype(int))
                for i, v in enumerate(vids)]
    pred, gt = _per_query(f, "pred_label"), _per_query(f, "gt_label")
    if pred is None or gt is None or len(gt) != starts[-1] or len(pred) != len(gt):
        return []
    return [VideoTimeline(task, str(v), "", gt[starts[i]:starts[i + 1]].astype(int),
                          pred=pred[starts[i]:starts[i + 1]].astype(int)) for i, v in enumerate(vids)]


def _label_names(df: pd.DataFrame, task: str) -> dict[tuple[str, int], str]:
    """(group, label) → name from the data root the records name (step texts, class names);
    empty when the data root is not on this machine."""
    roots = {r.data.get("root") for p, r in _records(df).items() if r.task.get("name") == task}
    for root in sorted(r for r in roots if r):
        try:
            if task == "crosstask":
                from mcnbench.data.crosstask import load_crosstask

                release = load_crosstask(root)
                return {(tid, k): s for tid, c in release.tasks.items() for k, s in enumerate(c.steps)}
            from mcnbench.data.mining_youtube import read_class_dict

            classes = read_class_dict(Path(root) / "mining_youtube" / "weakYouTube_dict.txt")
            return {("", k): c.replace("_", " ") for k, c in enumerate(classes)}
        except Exception:  # a data root moved or changed since: names are a nicety, keep going
            continue
    return {}


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(label, start, stop) runs of a [T] label sequence."""
    if len(labels) == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [len(labels)]])
    return [(int(labels[s]), int(s), int(e)) for s, e in zip(starts, stops, strict=True)]


def timeline_selection(df: pd.DataFrame, n_videos: int = 3) -> dict[str, dict[str, list[VideoTimeline]]]:
    """{task: {row: timelines of the chosen videos}} for CrossTask and Mining YouTube: the first
    ``n_videos`` videos (sorted ids) that every row scored, each row's lowest seed."""
    df = with_row(enrich(df))
    out: dict[str, dict[str, list[VideoTimeline]]] = {}
    for task in ("crosstask", "mining_youtube"):
        sub = df[df["task"] == task].sort_values("seed")
        per_row = {}
        for row, rows in sub.groupby(ROW):
            for path in rows["path"].unique():
                found = timelines(path, task)
                if found:
                    per_row[row] = {(t.group, t.video_id): t for t in found}
                    break
        if not per_row:
            continue
        common = sorted(set.intersection(*(set(v) for v in per_row.values())))[:n_videos]
        if common:
            out[task] = {row: [v[key] for key in common] for row, v in sorted(per_row.items())}
    return out


@_styled
def plot_timelines(df: pd.DataFrame, path: Path, n_videos: int = 3,
                   colors: dict | None = None) -> Path | None:
    """A few CrossTask and Mining YouTube videos: the ground truth and each model's prediction
    as coloured bars over seconds (one colour per step / class, grey = background); CrossTask's
    prediction is one second per step, drawn as a tick at that second."""
    from matplotlib import colormaps
    from matplotlib.patches import Patch

    df = enrich(df)
    chosen = timeline_selection(df, n_videos)
    if not chosen:
        return None
    colors = colors or report_colors(df)
    panels = [(task, i) for task, per_row in chosen.items() for i in range(len(next(iter(per_row.values()))))]
    n_rows = max(len(per_row) for per_row in chosen.values()) + 1
    fig, axes = _figure(len(panels), width=6.4, height=0.45 * n_rows + 1.4, max_cols=2)
    cmap = colormaps["tab20"]
    names = {task: _label_names(df, task) for task in chosen}

    def colour(label: int):
        return BACKGROUND if label < 0 else cmap(label % 20)

    for ax, (task, i) in zip(axes, panels, strict=True):
        per_row = chosen[task]
        rows = list(per_row)
        gt = per_row[rows[0]][i]
        lanes = ["ground truth", *rows]
        for lane, (label, s, e) in ((0, r) for r in _runs(gt.gt)):
            ax.broken_barh([(s, e - s)], (lane - 0.4, 0.8), color=colour(label))
        for j, row in enumerate(rows, start=1):
            video = per_row[row][i]
            if video.pred is not None:
                for label, s, e in _runs(video.pred):
                    ax.broken_barh([(s, e - s)], (j - 0.4, 0.8), color=colour(label))
            else:
                ax.broken_barh([(0, video.T)], (j - 0.4, 0.8), color=BACKGROUND)
                for k, sec in enumerate(video.pred_seconds):
                    if sec >= 0:
                        ax.broken_barh([(sec, 1)], (j - 0.45, 0.9), color=colour(k), edgecolor="black",
                                       linewidth=0.6)
        long = max(map(len, lanes)) > 30  # a run's settings: wrapped, smaller, so the bars keep the width
        ax.set_yticks(range(len(lanes)), [textwrap.fill(x, 30) for x in lanes] if long else lanes,
                      fontsize=7 if long else None)
        for tick, lane in zip(ax.get_yticklabels()[1:], rows, strict=True):
            tick.set_color(colors.get(lane, "black"))
        ax.invert_yaxis()
        ax.set_xlim(0, gt.T)
        ax.grid(False)
        group = f"task {gt.group}, " if gt.group else ""
        ax.set(xlabel="second", title=f"{task_title(task)}: {group}video {gt.video_id}")
        preds = [per_row[r][i].pred for r in rows if per_row[r][i].pred is not None]
        seen = sorted({int(x) for x in gt.gt if x >= 0} | {int(x) for p in preds for x in p if x >= 0})
        if task == "crosstask":
            seen = sorted(set(seen) | set(range(len(per_row[rows[0]][i].pred_seconds))))
        kind = "step" if task == "crosstask" else "class"
        handles = [Patch(color=colour(k), label=names[task].get((gt.group, k), f"{kind} {k}"))
                   for k in seen[:10]] + [Patch(color=BACKGROUND, label="background")]
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.suptitle("Alignment timelines: ground truth vs prediction (lowest seed; CrossTask predicts "
                 "one second per step, drawn as a boxed tick)")
    return _save(fig, path)


# training curves ------------------------------------------------------------------------------
def read_train_logs(roots: Sequence[str | Path]) -> tuple[pd.DataFrame, list[str]]:
    """Every ``train_log.jsonl`` / ``train_log.csv`` under ``roots`` as one frame with ``run``
    (the log's folder, relative to its root), ``log`` (its path) and ``seed`` (from a
    ``train-seed<k>`` folder name) columns, and notes naming lines or files that could not be
    read."""
    frames, notes, seen = [], [], set()
    for root in map(Path, roots):
        base, found = _logs_under(root)
        for log in found:
            # one training run, one log: several record files name the same log, and two
            # results folders may each keep a copy of one cached run's (<model>/train/<key>/seed<k>)
            run_id = ((log.parent.parent.name, log.parent.name, log.name)
                      if log.parent.parent.parent.name == "train" else log.resolve())
            if run_id in seen:
                continue
            seen.add(run_id)
            rows, bad = _read_log(log)
            if bad:
                notes.append(f"{log}: skipped {bad} unreadable line(s)")
            if rows:
                run = str(log.parent.relative_to(base)) if log.parent != base else base.name
                m = _TRAIN_SEED.match(log.parent.name)
                frames.append(pd.DataFrame(rows).assign(run=run, log=str(log),
                                                        seed=int(m.group(1)) if m else np.nan))
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), notes


def _logs_under(root: Path) -> tuple[Path, list[Path]]:
    """(base folder, its training logs): every log under a folder; for a record file, only the
    log of the run it names, where the runner keeps it (``<model>/train/<cache key>/seed<k>/``,
    the record being ``<model>/<run id>/<task>/seed<k>.json``), else any log beside it."""
    if root.is_dir():
        return root, sorted([*root.rglob("train_log.jsonl"), *root.rglob("train_log.csv")])
    try:
        rec = json.loads(root.read_text(encoding="utf-8"))
        key, seed = rec["model"]["checkpoint"]["key"], int(rec["seed"])
    except (OSError, ValueError, KeyError, TypeError):
        key = seed = None
    if key is not None and len(root.parents) > 2:
        model_dir = root.parents[2]
        logs = [model_dir / "train" / str(key) / f"seed{seed}" / name
                for name in ("train_log.jsonl", "train_log.csv")]
        if any(p.is_file() for p in logs):
            return model_dir, [p for p in logs if p.is_file()]
    base = root.parent
    return base, sorted([*base.rglob("train_log.jsonl"), *base.rglob("train_log.csv")])


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


def loss_terms(train_config: dict | None) -> dict[str, str] | None:
    """The log keys a model's training has, with their names, from its training config:
    ``{"loss": "total", "mms": "MMS" | "NCE" | "MIL-NCE", "cluster": "joint" ..., "recon": ...}``.
    The contrastive term is logged as ``mms`` whatever the loss; clustering only when
    ``cluster_mode`` is not ``none``, reconstruction only with ``recon``. None without a config."""
    if not train_config:
        return None
    loss = str(train_config.get("loss", "mms"))
    terms = {"loss": "total", "mms": CONTRASTIVE_NAMES.get(loss, loss)}
    mode = str(train_config.get("cluster_mode", "joint"))
    if mode != "none":
        terms["cluster"] = f"{mode} k-means"
    if train_config.get("recon", True) in (True, 1, "1", "true", "True"):
        terms["recon"] = "reconstruction"
    return terms


def attach_owners(logs: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """Add ``row`` (the model's row key) and ``config`` (its training config, or None) to each
    log line: the records of the same seed in the log's model folder (the folder above
    ``train-seed<k>``) say which model it trained; a log no record claims keeps its ``run``."""
    df = with_row(enrich(df))
    recs = _records(df)
    owners: dict[str, tuple[str, dict | None]] = {}
    for log, lines in logs.groupby("log"):
        seed = lines["seed"].iloc[0]
        folder, key = Path(log).parent.parent.resolve(), None
        if folder.parent.name == "train":  # <model>/train/<cache key>/seed<k>: the key says which run
            folder, key = folder.parent.parent, folder.name
        hit = None
        keys = {((getattr(r, "model", None) or {}).get("checkpoint") or {}).get("key") for r in recs.values()}
        if key not in keys:  # a log no record names by its cache key (migrated): by folder and seed
            key = None
        for path, row, rseed in df[["path", ROW, "seed"]].drop_duplicates().itertuples(index=False):
            ckpt = (getattr(recs.get(path), "model", None) or {}).get("checkpoint") or {}
            if key is not None and ckpt.get("key") != key:
                continue
            if (math.isnan(seed) or int(rseed) == int(seed)) and folder in Path(path).resolve().parents:
                cfg = (getattr(recs.get(path), "model", None) or {}).get("config") or {}
                hit = (row, cfg.get("train") if isinstance(cfg.get("train"), dict) else None)
                break
        owners[log] = hit or (lines["run"].iloc[0], None)
    canon = curve_rows(df)
    out = logs.copy()
    out[ROW] = out["log"].map(lambda x: canon.get(owners[x][0], owners[x][0]))
    out["config"] = out["log"].map(lambda x: owners[x][1])
    return out


def curve_rows(df: pd.DataFrame) -> dict[str, str]:
    """Row → the row that draws its training curve. One trained model, one curve: task views of
    it (``mcn direction=t2v``) share its model key, so their logs go to its plainest row (the
    shortest label with that key). ``df``: records with ``with_row(enrich(...))``'s columns."""
    canon: dict[str, str] = {}
    if "model_key" in df.columns:
        for _, rows in df[[ROW, "model_key"]].dropna().drop_duplicates().groupby("model_key"):
            plain = min(rows[ROW], key=lambda r: (len(r), r))
            canon.update({r: plain for r in rows[ROW]})
    return canon


MONITOR_PREFIXES = ("val_", "val/")  # the trainer logs val_R@10 ...; val/... from other tools
MONITOR_TITLES = {"val_R@10": "held-out caption→clip R@10 (%), the model's own clip score",
                  "val_video_R@10": "held-out caption→clip R@10 (%) by text · video"}
TERM_COLORS = {"loss": "black", "mms": "tab:blue", "cluster": "tab:orange", "recon": "tab:green"}


def _val_keys(logs: pd.DataFrame) -> list[str]:
    return sorted(c for c in logs.columns if str(c).startswith(MONITOR_PREFIXES)
                  and pd.to_numeric(logs[c], errors="coerce").notna().any())


def _is_monitor(key: str) -> bool:
    return str(key).startswith(MONITOR_PREFIXES)


def training_panels(logs: pd.DataFrame) -> dict[str, dict[str, str]]:
    """What the training figures draw: ``{panel key: {row: term name}}`` in panel order.

    Panels are the loss keys (``loss``, ``mms`` = the contrastive term whatever the loss,
    ``cluster``, ``recon``) and every validation monitor present (``val_R@10`` ..., as the
    trainer logs them). A row gets a line in a loss panel only when its config has that term
    (:func:`loss_terms`) and its log has numbers there; a row without a config gets a term that is
    not zero throughout. Term names come from the config (``MMS``, ``NCE``, ``MIL-NCE``; ``joint
    k-means``; ...), "" when unknown.
    """
    if logs.empty:
        return {}
    if ROW not in logs.columns:
        logs = logs.assign(**{ROW: logs["run"], "config": None})
    panels: dict[str, dict[str, str]] = {}
    for row, lines in logs.groupby(ROW):
        terms = loss_terms(lines["config"].iloc[0])
        for key in LOSS_KEYS:
            if key not in lines.columns:
                continue
            y = pd.to_numeric(lines[key], errors="coerce")
            if not y.notna().any():
                continue
            if terms is not None and key not in terms:
                continue
            if terms is None and key != "loss" and (y.fillna(0) == 0).all():
                continue
            panels.setdefault(key, {})[row] = (terms or {}).get(key, "")
        for key in _val_keys(lines):
            panels.setdefault(key, {})[row] = ""
    order = [*LOSS_KEYS, *_val_keys(logs)]
    return {k: panels[k] for k in order if k in panels}


def shared_settings(rows: Sequence[str]) -> tuple[dict[str, str], str]:
    """Row labels without the ``key=value`` settings every one of them shows, and those settings
    (for a figure's title), so that five models trained alike read ``mcn``, ``nce``, ... instead
    of five copies of ``epochs=12 val_fraction=0.1``. Nothing is dropped if two rows would then
    read the same."""
    split = {r: str(r).split(" ") for r in rows}
    # every row has its say: a row showing no settings trained with the defaults
    sets = [{t for t in toks[1:] if "=" in t} for toks in split.values()]
    common = set.intersection(*sets) if len(sets) > 1 else set()
    short = {r: " ".join([toks[0], *(t for t in toks[1:] if t not in common)]) for r, toks in split.items()}
    if not common or len(set(short.values())) < len(short):
        return {r: str(r) for r in rows}, ""
    return short, " ".join(t for t in split[next(iter(split))][1:] if t in common)


def seed_band(lines: pd.DataFrame, key: str) -> pd.DataFrame:
    """One row's ``key`` over steps across its seeds: ``[step] -> mean, lo, hi, n`` (lo/hi: the
    min and max over the seeds logged at that step). ``lines``: that row's log lines (a ``log``
    column tells the seeds apart)."""
    x_col = "step" if "step" in lines.columns else None
    per_seed = []
    for _, run in lines.groupby("log" if "log" in lines.columns else "run"):
        y = pd.to_numeric(run[key], errors="coerce")
        x = run[x_col] if x_col else pd.Series(np.arange(len(run)), index=run.index)
        keep = y.notna()
        per_seed.append(pd.Series(y[keep].to_numpy(), index=x[keep].to_numpy()).groupby(level=0).last())
    wide = pd.concat(per_seed, axis=1).sort_index()
    return pd.DataFrame({"mean": wide.mean(axis=1), "lo": wide.min(axis=1), "hi": wide.max(axis=1),
                         "n": wide.notna().sum(axis=1)})


def _r10_monitors(logs: pd.DataFrame) -> list[str]:
    """The monitor keys the learning-curve views show: the R@10 ones."""
    return [k for k in _val_keys(logs) if str(k).endswith("R@10")] if not logs.empty else []


def _monitor_bands(logs: pd.DataFrame, key: str):
    """``(row, seed_band(row's lines, key))`` for every row whose log has the monitor ``key``."""
    if key not in logs.columns:
        return
    for row, lines in logs.groupby(ROW if ROW in logs.columns else "run"):
        if pd.to_numeric(lines[key], errors="coerce").notna().any():
            yield row, seed_band(lines, key)


def _band_summary(row, band: pd.DataFrame) -> dict:
    gain = tail_gain(band.index, band["mean"])
    return {"row": row, "seeds": int(band["n"].max()), "steps": int(band.index[-1]),
            "final": float(band["mean"].iloc[-1]), "best": float(band["mean"].max()),
            "best_step": int(band["mean"].idxmax()),
            "tail_gain": gain, "plateaued": bool(gain < PLATEAU_GAIN)}


def learning_curve_summary(logs: pd.DataFrame, key: str = "val_R@10") -> pd.DataFrame:
    """Per row with the monitor ``key``: ``seeds``, ``steps`` (last step), ``final`` (mean over
    seeds at the last step), ``best`` (the mean curve's maximum) and ``best_step`` (where; a
    curve that peaked early and fell is overfitting, not still learning), ``tail_gain`` (:func:`tail_gain`)
    and ``plateaued`` (``tail_gain < PLATEAU_GAIN``)."""
    return pd.DataFrame([_band_summary(row, band) for row, band in _monitor_bands(logs, key)],
                        columns=["row", "seeds", "steps", "final", "best", "best_step", "tail_gain",
                                 "plateaued"])


def length_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows that differ only in their training length (the same label but for ``epochs=``), the
    second convergence test: does training longer still pay? ``summary``: one monitor's
    :func:`learning_curve_summary`. Per row: ``group`` (the label without ``epochs=``), ``row``,
    ``steps``, ``seeds``, ``final``, ``tail_gain`` and ``vs_shorter``: ``final`` minus the
    ``final`` of the group's next shorter run (NaN for the shortest). Groups with one length are
    left out; rows are sorted by group, then steps."""
    s = summary.copy()
    s.insert(0, "group", [" ".join(t for t in str(r).split(" ") if not t.startswith("epochs="))
                          for r in s["row"]])
    s = s[s.groupby("group")["steps"].transform("nunique") > 1].sort_values(["group", "steps"])
    s["vs_shorter"] = s.groupby("group")["final"].diff()
    return s.reset_index(drop=True)[["group", "row", "steps", "seeds", "final", "tail_gain", "vs_shorter"]]


def write_plateau_table(logs: pd.DataFrame, path: Path) -> Path:
    """``learning_curves.md``: per model and monitor, seeds, steps, the final and best mean R@10
    and the gain over the last 20 % of the steps, with the plateau verdict."""
    from tabulate import tabulate

    from mcnbench.utils.io import atomic_write_text

    parts, lengths = [], []
    for key in _r10_monitors(logs):
        s = learning_curve_summary(logs, key)
        if (table := _length_table(length_summary(s), key)) is not None:
            lengths.append(table)
        rows = [[r.row, r.seeds, r.steps, f"{r.final:.1f}", f"{r.best:.1f}", r.best_step,
                 f"{r.tail_gain:+.2f}", "yes" if r.plateaued else "**no**"]
                for r in s.itertuples(index=False)]
        parts.append(f"### {MONITOR_TITLES.get(key, key)} (`{key}`)\n\n" + tabulate(
            rows, headers=["model", "seeds", "steps", "final", "best", "best at step", "gain, last 20 %",
                           "plateaued"],
            tablefmt="github", disable_numparse=True))
    note = (f"*Mean over seeds of the validation monitor (held-out corpus videos, never a test set). "
            f"Plateaued: less than {PLATEAU_GAIN:g} points gained over the last {TAIL:.0%} of "
            "the steps (last value minus the value at the last logged step at or before 80 % of the "
            "run).*")
    if lengths:
        lengths.append("*The same models trained for different lengths (rows that differ only in "
                       "`epochs`; each length is its own run with its own warm-up and cosine "
                       "schedule, not a longer look at one run). A model has converged in length when "
                       "the longer run's final score no longer beats the shorter one's.*")
    return atomic_write_text(path, "\n\n".join([*parts, note, *lengths]) + "\n")


def _length_table(s: pd.DataFrame, key: str) -> str | None:
    """Monitor ``key``'s training-length table (:func:`length_summary` ``s``), None when no model
    was trained for more than one length."""
    from tabulate import tabulate

    if s.empty:
        return None
    rows = [[r.group, r.steps, r.seeds, f"{r.final:.1f}", f"{r.tail_gain:+.2f}",
             "–" if math.isnan(r.vs_shorter) else f"{r.vs_shorter:+.1f}"] for r in s.itertuples(index=False)]
    return f"### Training length: {MONITOR_TITLES.get(key, key)} (`{key}`)\n\n" + tabulate(
        rows, headers=["model", "steps", "seeds", "final", "gain, last 20 %", "final − shorter run's"],
        tablefmt="github", disable_numparse=True)


@_styled
def plot_learning_curves(logs: pd.DataFrame, path: Path, colors: dict | None = None) -> Path | None:
    """The validation monitor over training steps, one panel per R@10 it logs (the model's own
    clip score; text · video), one colour per model: mean over seeds, band = min–max over the
    seeds; the legend gives each model's gain over the last 20 % of its steps (the plateau test).
    None when no log has a monitor."""
    keys = _r10_monitors(logs)
    if not keys:
        return None
    if ROW not in logs.columns:
        logs = logs.assign(**{ROW: logs["run"]})
    colors = colors or model_colors(logs[ROW].unique())
    short, shared = shared_settings(sorted(logs[ROW].unique()))
    fig, axes = _figure(len(keys), width=5.6, height=4.4, max_cols=2)
    for ax, key in zip(axes, keys, strict=True):
        for row, band in _monitor_bands(logs, key):  # each band computed once, for line and legend
            c = colors.get(row, "black")
            summary = _band_summary(row, band)
            n, gain = summary["seeds"], summary["tail_gain"]
            ax.fill_between(band.index, band["lo"], band["hi"], color=c, alpha=0.18, linewidth=0)
            ax.plot(band.index, band["mean"], color=c, marker="o", markersize=2.5,
                    label=f"{short[row]} (n={n}): {gain:+.1f}")
        ax.set(title=MONITOR_TITLES.get(key, f"validation {key}"), xlabel="step", ylabel=key)
        ax.title.set_fontsize(10)
        # per panel: the gains differ between the two monitors
        ax.legend(fontsize=7, loc="lower right", title="gain over the last 20 %", title_fontsize=7)
    fig.suptitle("Learning curves on held-out corpus videos: mean over seeds, band = min–max over "
                 f"seeds (plateaued: < {PLATEAU_GAIN:g} points gained over the last "
                 f"{TAIL:.0%} of the steps)" + (f"\nevery row: {shared}" if shared else ""),
                 fontsize=10)
    return _save(fig, path)


@_styled
def plot_training_curves(logs: pd.DataFrame, path: Path, colors: dict | None = None) -> Path | None:
    """One panel per trained model with the loss terms its config has (named from it: MMS, NCE or
    MIL-NCE, the clustering mode, reconstruction; a term a model does not have is not drawn, never
    as zeros), on a log axis when every value is positive: mean over seeds (a rolling mean of the
    per-step values), band = min–max over seeds. The panel title has the model's report colour.
    ``logs``: :func:`read_train_logs`, optionally with :func:`attach_owners`' columns."""
    panels = {k: v for k, v in training_panels(logs).items() if not _is_monitor(k)}
    if not panels:
        return None
    if ROW not in logs.columns:
        logs = logs.assign(**{ROW: logs["run"], "config": None})
    rows = sorted({r for terms in panels.values() for r in terms})
    colors = colors or model_colors(logs[ROW].unique())
    short, shared = shared_settings(rows)
    fig, axes = _figure(len(rows), width=3.6, height=2.9)
    for ax, row in zip(axes, rows, strict=True):
        lines = logs[logs[ROW] == row]
        keys = [k for k in LOSS_KEYS if row in panels.get(k, {})]
        if len(keys) == 2 and "loss" in keys:  # one term: the total is that term, drawn once
            keys.remove("loss")
        lo, hi = math.inf, 0.0
        for key in keys:
            band = seed_band(lines, key)
            window = max(1, len(band) // 25)
            smooth = band.rolling(window, min_periods=1).mean() if window > 1 else band
            lo, hi = min(lo, float(smooth["lo"].min())), max(hi, float(smooth["hi"].max()))
            c = TERM_COLORS[key]
            ax.fill_between(smooth.index, smooth["lo"], smooth["hi"], color=c, alpha=0.2, linewidth=0)
            ax.plot(smooth.index, smooth["mean"], color=c, linewidth=1.4,
                    label=PANEL_TITLES[key] if key != "mms" else "contrastive loss")
        if lo > 0 and hi / lo > 10:  # terms a decade or more apart: a log axis shows them all
            ax.set_yscale("log")
        n = lines["log"].nunique() if "log" in lines.columns else 1
        contrastive = panels.get("mms", {}).get(row)
        title = textwrap.fill(short[row], 32) + f"\n{contrastive + ', ' if contrastive else ''}" \
            f"{n} seed{'s' * (n > 1)}"
        ax.set_title(title, fontsize=9)
        ax.spines["left"].set(color=colors.get(row, "black"), linewidth=3)  # the model's colour
        ax.set(xlabel="step", ylabel="loss")
    _legend_below(fig, axes, ncols=4)
    fig.suptitle("Training loss terms each model has (named from its config): mean over seeds, "
                 "band = min–max over seeds" + (f"\nevery row: {shared}" if shared else ""))
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    """Save atomically, so an interrupted report never leaves a truncated PNG behind."""
    import io

    from mcnbench.utils.io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())


# all of them ----------------------------------------------------------------------------------
FIGURES = ("recall_at_k.png", "rank_histogram.png", "main_scores.png", "ablation_delta.png",
           "crosstask_per_task.png", "timelines.png", "training_curves.png", "learning_curves.png")


def default_reference(df: pd.DataFrame, reference: str | None) -> str | None:
    """The row Δ and significance are read against: ``reference``, else ``mcn`` when present
    and there is something to compare it with (the paper's ablations are all read against full
    MCN)."""
    df = enrich(df)
    if reference is None and "mcn" in set(df["model"]) and df["label"].nunique() > 1:
        return "mcn"
    return reference


def write_plots(df: pd.DataFrame, roots: Sequence[str | Path], out_dir: str | Path,
                reference: str | None = None, metrics: str | Sequence[str] | None = None,
                *, tests: pd.DataFrame | None = None) -> tuple[list[Path], list[str]]:
    """Write every figure the data allows into ``out_dir``; return (written, notes on skips)."""
    out_dir = Path(out_dir)
    df = enrich(df)
    colors = report_colors(df)
    written, notes = [], []

    def attempt(name: str, made: Path | None, why: str) -> None:
        (written.append(made) if made else notes.append(f"{name}: skipped, {why}"))

    attempt("recall_at_k.png", plot_recall_at_k(df, out_dir / "recall_at_k.png", colors),
            "no R@K metrics or ranks")
    attempt("rank_histogram.png", plot_rank_histograms(df, out_dir / "rank_histogram.png", colors),
            "no per-query ranks saved beside the records")
    attempt("main_scores.png", plot_main_scores(df, out_dir / "main_scores.png", colors), "no main scores")
    reference = default_reference(df, reference)
    if reference:
        attempt("ablation_delta.png", plot_ablation_deltas(df, out_dir / "ablation_delta.png", reference,
                                                           metrics, colors, tests),
                "nothing to compare with the reference")
    else:
        notes.append("ablation_delta.png: skipped, no reference model (use --reference)")
    attempt("crosstask_per_task.png", plot_crosstask(df, out_dir / "crosstask_per_task.png", colors),
            "no per-task CrossTask recalls (metrics recall/<task_id> or info per_task_recall)")
    attempt("timelines.png", plot_timelines(df, out_dir / "timelines.png", colors=colors),
            "no per-video predictions saved (CrossTask pred_second/gt_step, Mining YouTube "
            "pred_label/gt_label; records written before they were added have none)")
    logs, log_notes = read_train_logs(roots)
    notes += log_notes
    if not logs.empty:
        logs = attach_owners(logs, df)
        # a task view (``mcn direction=t2v``) of a drawn model has its curve under that model's row
        canon, drawn = curve_rows(with_row(enrich(df))), set(logs[ROW])
        missing = [r for r in trained_rows(df) if canon.get(r, r) not in drawn]
        if missing:
            notes.append(f"training_curves.png: no train_log.jsonl for {', '.join(missing)} "
                         "(their records name a trained checkpoint)")
    attempt("training_curves.png", plot_training_curves(logs, out_dir / "training_curves.png", colors),
            "no train_log.jsonl/.csv with loss columns under the results")
    made = plot_learning_curves(logs, out_dir / "learning_curves.png", colors)
    attempt("learning_curves.png", made, "no validation monitor in the training logs (train with "
            "--set val_fraction=0.1 --set val_every=N)")
    if made:
        written.append(write_plateau_table(logs, out_dir / "learning_curves.md"))
    return written, notes


def trained_rows(df: pd.DataFrame) -> list[str]:
    """Rows whose records name a checkpoint the harness trained (``checkpoint.cached``)."""
    df = with_row(enrich(df))
    recs = _records(df)
    out = set()
    for path, row in df[["path", ROW]].drop_duplicates().itertuples(index=False):
        ckpt = (getattr(recs.get(path), "model", None) or {}).get("checkpoint")
        if isinstance(ckpt, dict) and ckpt.get("cached"):
            out.add(row)
    return sorted(out)


@_styled
def plot_sweep(logs: pd.DataFrame, chosen: dict[str, str], monitor: str, path: Path,
               tail: float = TAIL) -> Path | None:
    """``sweep.png``: one panel per model, the monitor over steps for each swept setting (mean
    over seeds, band = min–max), the chosen one drawn thick, the scored last ``tail`` of the
    steps shaded.

    logs:   log lines with ``model``, ``setting`` (``"lr=0.001"``, in grid order of first
            appearance), ``log`` (one per seed), ``step`` and ``monitor`` columns
    chosen: ``{model: setting}``
    None when no line has the monitor."""
    from matplotlib import colormaps

    if logs.empty or monitor not in logs.columns:
        return None
    models = list(dict.fromkeys(logs["model"]))
    settings = list(dict.fromkeys(logs["setting"]))
    fig, axes = _figure(len(models), width=4.6, height=3.6, max_cols=3)
    for ax, name in zip(axes, models, strict=True):
        for i, setting in enumerate(settings):
            lines = logs[(logs["model"] == name) & (logs["setting"] == setting)]
            if lines.empty or pd.to_numeric(lines[monitor], errors="coerce").isna().all():
                continue
            band = seed_band(lines, monitor)
            c = colormaps["viridis"](0.9 * i / max(len(settings) - 1, 1))
            best = setting == chosen.get(name)
            ax.fill_between(band.index, band["lo"], band["hi"], color=c, alpha=0.15, linewidth=0)
            ax.plot(band.index, band["mean"], color=c, linewidth=2.6 if best else 1.2,
                    label=setting + (" (chosen)" if best else ""))
        last = float(pd.to_numeric(logs.loc[logs["model"] == name, "step"]).max())
        ax.axvspan((1.0 - tail) * last, last, color="0.5", alpha=0.12, linewidth=0)
        ax.set(title=name, xlabel="step", ylabel=monitor)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Sweep on the validation monitor ({monitor}, held-out corpus videos): mean over "
                 f"seeds, band = min–max; grey: the last {tail:.0%} of the steps, whose mean is "
                 "the score", fontsize=10)
    return _save(fig, path)
