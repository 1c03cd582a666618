"""Bootstrap confidence intervals and paired bootstrap tests over per-query values.

Everything resamples *queries* (rows) with replacement. A metric function is vectorised: it takes
an array ``[B, Q, ...]`` (B bootstrap replicates of the Q per-query values) and returns ``[B]``.
:func:`recall_fn`, :func:`median_rank_fn` and :func:`mean_rank_fn` build such functions for ranks
(0-based, NaN = miss), matching :func:`mcnbench.metrics.retrieval.retrieval_metrics`.

Replicates are drawn in batches so that memory stays near ``max_elements`` values however large
``n_boot x Q`` is; the stream of random indices is fixed by ``seed`` and the batch size (which
depends only on Q), so results are reproducible.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .retrieval import hits_at

MetricFn = Callable[[np.ndarray], np.ndarray]


def recall_fn(k: int) -> MetricFn:
    """R@k in percent over ``[B, Q]`` ranks (hit rule of retrieval.hits_at; NaN = miss).

    For a complete test set larger than Q, pad the ranks with NaN first (:func:`pad_missing`) so
    that the absent queries are resampled as misses."""
    def fn(r: np.ndarray) -> np.ndarray:
        return 100.0 * np.count_nonzero(hits_at(r, k), axis=1) / r.shape[1]
    fn.__name__ = f"R@{k}"
    return fn


def median_rank_fn() -> MetricFn:
    """MedR = median over the non-NaN ranks + 1, per replicate ([B, Q] -> [B])."""
    def fn(r: np.ndarray) -> np.ndarray:
        return _nan_reduce(np.nanmedian, r) + 1.0
    fn.__name__ = "MedR"
    return fn


def mean_rank_fn() -> MetricFn:
    """MeanR = mean over the non-NaN ranks + 1, per replicate ([B, Q] -> [B])."""
    def fn(r: np.ndarray) -> np.ndarray:
        return _nan_reduce(np.nanmean, r) + 1.0
    fn.__name__ = "MeanR"
    return fn


def pad_missing(ranks, complete_size: int | None) -> np.ndarray:
    """[Q] ranks -> [complete_size] ranks, the absent queries as NaN (misses)."""
    ranks = _ranks_of(ranks)
    if complete_size is None or complete_size == ranks.size:
        return ranks
    if complete_size < ranks.size:
        raise ValueError(f"complete_size {complete_size} < {ranks.size} queries")
    return np.concatenate([ranks, np.full(complete_size - ranks.size, np.nan)])


def bootstrap_replicates(values, metric_fn: MetricFn, n_boot: int = 1000, seed: int = 0,
                         max_elements: int = 1 << 24) -> np.ndarray:
    """[n_boot] metric values over query resamples. values: [Q, ...] per-query values."""
    values = _ranks_or_values(values)
    if values.ndim < 1 or values.shape[0] == 0:
        raise ValueError("need at least one per-query value to bootstrap")
    rng = np.random.default_rng(seed)
    return np.concatenate([metric_fn(values[idx]) for idx in _index_batches(rng, values.shape[0],
                                                                             n_boot, max_elements)])


def bootstrap_ci(values, metric_fn: MetricFn, n_boot: int = 1000, alpha: float = 0.05,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval ``(lo, hi)`` at level ``1 - alpha`` of ``metric_fn``.

    values: [Q, ...] per-query values (ranks, hits); metric_fn: [B, Q, ...] -> [B].
    """
    reps = bootstrap_replicates(values, metric_fn, n_boot, seed)
    lo, hi = np.nanquantile(reps, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def metric_intervals(ranks, ks=(1, 5, 10), complete_size: int | None = None, *,
                     n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> dict:
    """Bootstrap ``(lo, hi)`` per retrieval metric: ``{"R@1": (lo, hi), ..., "MedR", "MeanR"}``.

    ranks: [Q] 0-based (NaN = miss) or a non-legacy RankResult. The queries absent from the data
    (complete_size - Q) are resampled as misses, so the R@K intervals use the same denominator as
    the point estimate.
    """
    r = pad_missing(ranks, complete_size)
    fns = [recall_fn(k) for k in ks] + [median_rank_fn(), mean_rank_fn()]
    # One set of resamples for all metrics: cheaper, and the intervals are mutually consistent.
    reps = bootstrap_replicates(r, lambda x: np.stack([f(x) for f in fns], axis=1), n_boot, seed)
    qs = np.nanquantile(reps, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    return {f.__name__: (float(qs[0, i]), float(qs[1, i])) for i, f in enumerate(fns)}


def paired_bootstrap_test(values_a, values_b, metric_fn: MetricFn, n_boot: int = 1000,
                          seed: int = 0, alpha: float = 0.05) -> dict:
    """Paired bootstrap of ``metric(a) - metric(b)`` on the same queries.

    values_a, values_b: [Q, ...] per-query values of two systems on the same queries in the same
    order (e.g. ranks). Query indices are resampled jointly for both. Returns
    ``{"diff": observed difference, "p_value": two-sided, "ci": (lo, hi)}``; the p-value tests
    "difference = 0" by re-centring the bootstrap differences on 0 (the shifted-null paired
    bootstrap): ``p = (1 + #{|d_b - d| >= |d|}) / (n_boot + 1)``.
    """
    a, b = _ranks_or_values(values_a), _ranks_or_values(values_b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"paired test needs the same queries: {a.shape[0]} vs {b.shape[0]}")
    diff = float(metric_fn(a[None])[0] - metric_fn(b[None])[0])
    both = np.stack([a, b], axis=1)  # [Q, 2, ...]: one index draw serves both systems

    def fn(x: np.ndarray) -> np.ndarray:
        return metric_fn(x[:, :, 0]) - metric_fn(x[:, :, 1])

    d = bootstrap_replicates(both, fn, n_boot, seed)
    d = d[~np.isnan(d)]
    p = (1.0 + np.count_nonzero(np.abs(d - diff) >= abs(diff))) / (d.size + 1.0)
    lo, hi = np.quantile(d, [alpha / 2.0, 1.0 - alpha / 2.0]) if d.size else (np.nan, np.nan)
    return {"diff": diff, "p_value": float(min(p, 1.0)), "ci": (float(lo), float(hi))}


# --------------------------------------------------------------------------- internals

def _index_batches(rng: np.random.Generator, q: int, n_boot: int, max_elements: int):
    per = max(1, max_elements // q)
    done = 0
    while done < n_boot:
        b = min(per, n_boot - done)
        yield rng.integers(0, q, size=(b, q))
        done += b


def _nan_reduce(reduce, r: np.ndarray) -> np.ndarray:
    out = np.full(r.shape[0], np.nan)
    ok = ~np.isnan(r).all(axis=1)  # replicates drawn with misses only have no rank statistic
    if ok.any():
        out[ok] = reduce(r[ok], axis=1)
    return out


def _ranks_of(ranks) -> np.ndarray:
    if hasattr(ranks, "tie_rule"):
        if ranks.tie_rule == "legacy":
            raise ValueError("legacy entries are not one value per query; bootstrap the ranks of "
                             "another tie rule (result.with_rule('mean'))")
        ranks = ranks.ranks
    return np.asarray(ranks, dtype=np.float64)


def _ranks_or_values(x) -> np.ndarray:
    return _ranks_of(x) if hasattr(x, "tie_rule") else np.asarray(x)
