"""Bootstrap intervals of a recorded metric from the per-query arrays saved beside its record.

A record stores its metrics and, beside it, per-query arrays (``seed0.ranks.npy`` ...). To put a
95% interval on a metric, this module knows how each metric is computed from those arrays:

=================  ==============================  ==========================================
metric             arrays                          statistic per bootstrap replicate
=================  ==============================  ==========================================
``R@K``            ``ranks`` (NaN = miss)          hits@K / complete test set (misses padded)
``MedR``/``MeanR`` ``ranks``                       median / mean of the non-missing ranks + 1
``recall``         ``matches``, ``present``,       CrossTask: per task Σmatches / Σpresent,
                   ``task_ids``                    then the mean over tasks
``MoF``            ``correct``, ``T``              Σcorrect / ΣT (frames pooled over videos)
``IoU``/``IoD``    ``T``, ``gt_label``,            per ground-truth class ∩/∪ (∩/detected) of
                   ``pred_label``                  the pooled frames, mean over classes
any ``m``          ``m`` or ``m_hits``             mean (× 100 for 0/1 hits)
=================  ==============================  ==========================================

Every candidate is first applied to the unresampled arrays and used only when it reproduces the
recorded value: an interval computed by a rule the task did not use would mislead, so then the
answer is "no interval" (shown as n/a). Queries (videos) are resampled with replacement; the
resampling itself is ``mcnbench.metrics.stats.bootstrap_ci``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcnbench.metrics.stats import bootstrap_ci, mean_rank_fn, median_rank_fn, pad_missing, recall_fn
from mcnbench.records import ResultRecord, load_per_query, safe_name
from mcnbench.report.frame import recall_k


@dataclass(frozen=True)
class Candidate:
    """One way to compute a metric from per-query arrays: ``fn([B, Q, len(arrays)]) -> [B]``
    (or ``[B, Q] -> [B]`` for one array), with the ranks padded to ``pad_to`` queries first."""

    arrays: tuple[str, ...]
    fn: Callable[[np.ndarray], np.ndarray]
    pad_to: int | None = None
    build: Callable[[Path], np.ndarray | None] | None = None  # [Q, C] from the files, if not stacked


def _mean_fn(scale: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda v: scale * np.nanmean(v, axis=1)


def _pooled_ratio(v: np.ndarray) -> np.ndarray:
    """[B, Q, 2] (numerator, denominator) per query → 100 × Σnum / Σden per replicate."""
    return 100.0 * v[..., 0].sum(axis=1) / v[..., 1].sum(axis=1)


def _per_group_ratio_mean(v: np.ndarray) -> np.ndarray:
    """[B, Q, 3] (numerator, denominator, group code) → 100 × mean over groups of Σnum / Σden.

    Groups with no denominator in a replicate are left out, as CrossTask leaves out tasks with
    no present step. One ``bincount`` over (replicate, group) does all replicates at once.
    """
    b = v.shape[0]
    groups = v[..., 2].astype(np.int64)
    n_groups = int(groups.max()) + 1 if groups.size else 1
    flat = (groups + n_groups * np.arange(b)[:, None]).ravel()
    num = np.bincount(flat, weights=v[..., 0].ravel(), minlength=b * n_groups).reshape(b, n_groups)
    den = np.bincount(flat, weights=v[..., 1].ravel(), minlength=b * n_groups).reshape(b, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * np.nanmean(np.where(den > 0, num / den, np.nan), axis=1)


def segment_counts(record_file: Path) -> np.ndarray | None:
    """Per video and class of the pooled ground truth (background, -1, left out): frames in
    both, in the ground truth, in the prediction, as ``[V, 3·K]`` (all K intersections, then the
    K ground-truth counts, then the K prediction counts), from ``T``, ``gt_label`` and
    ``pred_label``. All three counts add over videos, so a resample of videos pools them as
    the dataset-averaged IoU/IoD pools frames. None when the arrays are absent or disagree."""
    try:
        lengths, gt, pred = (np.asarray(load_per_query(record_file, n)) for n in ("T", "gt_label",
                                                                               "pred_label"))
    except (OSError, ValueError):
        return None
    if lengths.ndim != 1 or gt.shape != pred.shape or int(lengths.sum()) != gt.size or not gt.size:
        return None
    classes = np.unique(gt[gt >= 0])
    video = np.repeat(np.arange(lengths.size), lengths.astype(np.int64))
    k, v = classes.size, lengths.size

    def per_video(mask: np.ndarray, labels: np.ndarray) -> np.ndarray:
        code = np.searchsorted(classes, labels)
        keep = mask & (labels >= 0) & (code < k) & (classes[np.minimum(code, k - 1)] == labels)
        return np.bincount(video[keep] * k + code[keep], minlength=v * k).reshape(v, k)

    both = per_video(gt == pred, gt)
    return np.concatenate([both, per_video(np.ones_like(gt, bool), gt),
                           per_video(np.ones_like(pred, bool), pred)], axis=1).astype(np.float64)


def _pooled_segment_score(kind: str) -> Callable[[np.ndarray], np.ndarray]:
    """[B, V, 3K] :func:`segment_counts` → 100 × the mean over the replicate's ground-truth
    classes of IoU = ∩ / (G + D − ∩) or IoD = ∩ / D (0 when never predicted)."""
    def fn(v: np.ndarray) -> np.ndarray:
        inter, g, d = np.split(v.sum(axis=1), 3, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            score = inter / (g + d - inter) if kind == "iou" else np.where(d > 0, inter / d, 0.0)
            return 100.0 * np.nanmean(np.where(g > 0, score, np.nan), axis=1)
    return fn


def candidates(metric: str, info: dict) -> list[Candidate]:
    """The ways ``metric`` may have been computed from per-query arrays, most likely first."""
    k = recall_k(metric)
    if k is not None:  # R@K divides by the complete test set: absent queries padded as misses
        sizes = dict.fromkeys([info.get("r_at_k_denominator"), info.get("complete_size"), None])
        return [Candidate(("ranks",), recall_fn(k), size) for size in sizes]
    leaf = metric.rsplit("/", 1)[-1].lower()
    if leaf == "medr":
        return [Candidate(("ranks",), median_rank_fn())]
    if leaf == "meanr":
        return [Candidate(("ranks",), mean_rank_fn())]
    out = []
    if metric == "recall":
        out.append(Candidate(("matches", "present", "task_ids"), _per_group_ratio_mean))
    if metric == "MoF":
        out.append(Candidate(("correct", "T"), _pooled_ratio))
    if metric in ("IoU", "IoD") and info.get("iou_average", "dataset") == "dataset":
        out.append(Candidate(("T", "gt_label", "pred_label"), _pooled_segment_score(metric.lower()),
                             build=segment_counts))
    for name in (metric, f"{metric}_hits"):
        out += [Candidate((name,), _mean_fn(100.0)), Candidate((name,), _mean_fn(1.0))]
    return out


def _load(record_file: Path, cand: Candidate) -> np.ndarray | None:
    """The candidate's arrays as [Q] (one) or [Q, C] (several, strings coded as ints); None if
    an array is absent or unusable."""
    if cand.build is not None:
        return cand.build(record_file)
    columns = []
    for name in cand.arrays:
        if not record_file.with_suffix(f".{safe_name(name)}.npy").is_file():
            return None
        try:
            a = np.asarray(load_per_query(record_file, name))
        except (OSError, ValueError):
            return None
        if a.ndim != 1 or a.size == 0:
            return None
        if a.dtype.kind in "US":  # group labels (task ids): only their identity matters
            a = np.unique(a, return_inverse=True)[1]
        columns.append(a.astype(np.float64))
    if len({c.size for c in columns}) != 1:
        return None
    if len(columns) == 1:
        try:
            return pad_missing(columns[0], cand.pad_to)
        except (ValueError, TypeError):
            return None
    return np.stack(columns, axis=1)


def metric_interval(record_file: str | Path, record: ResultRecord, metric: str, value: float, *,
                    n_boot: int = 1000, alpha: float = 0.05,
                    seed: int = 0) -> tuple[float, float] | None:
    """The (lo, hi) bootstrap interval of ``metric`` for this record, or None when its per-query
    arrays are absent or do not reproduce the recorded ``value``."""
    if value is None or not math.isfinite(value):
        return None
    record_file = Path(record_file)
    for cand in candidates(metric, record.info or {}):
        values = _load(record_file, cand)
        if values is None:
            continue
        with np.errstate(all="ignore"):
            point = float(cand.fn(values[None])[0])
        if math.isfinite(point) and math.isclose(point, value, rel_tol=1e-6, abs_tol=1e-6):
            return bootstrap_ci(values, cand.fn, n_boot=n_boot, alpha=alpha, seed=seed)
    return None
