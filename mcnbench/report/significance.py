"""Is one model's score different from another's? A paired bootstrap over queries.

Two rows of a report (two models, or a variant and its reference) were evaluated on the same
queries (text queries, videos). The per-query arrays beside their records say how each query
went, so the difference of a metric can be resampled *paired*: one resample draws Q query
indices with replacement and both rows are scored on those same queries. Seeds are combined
inside each resample: a row's metric is the mean over its seeds of the metric on the resampled
queries, so the observed difference is exactly the Δ of the tables (mean over seeds of row minus
mean over seeds of the reference).

The test (:data:`TEST_NAME`): two-sided percentile bootstrap of the difference, 1,000 resamples by
default; ``p = min(1, 2·min(P*(d ≤ 0), P*(d ≥ 0)))`` with the ``(count + 1) / (B + 1)``
correction, so identical rows give p = 1 and a row better on every query gives the smallest p
the resamples can show. A difference is marked significant when ``p < alpha`` (then the
``1 - alpha`` interval excludes 0).

How a metric is computed from per-query arrays comes from :mod:`mcnbench.report.intervals`
(R@K, MedR, MeanR, CrossTask recall, MoF, any per-query mean), and is used only when it
reproduces the recorded value; metrics that are not a function of per-query arrays (IoU, IoD)
get no test. Queries are paired by the ``ids`` / ``video_ids`` arrays when present.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mcnbench.records import ResultRecord, load_per_query, safe_name
from mcnbench.report.identity import row_key
from mcnbench.report.intervals import Candidate, _load, candidates

TEST_NAME = "paired bootstrap over queries (two-sided percentile test, seeds averaged per resample)"
QUERY_ID_ARRAYS = ("ids", "video_ids")
MetricFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PairedResult:
    """The difference ``a − b`` of a metric: observed, its interval, the p-value."""

    diff: float
    lo: float
    hi: float
    p: float
    n_queries: int
    n_boot: int

    def significant(self, alpha: float = 0.05) -> bool:
        return math.isfinite(self.p) and self.p < alpha


def _chunks(rng: np.random.Generator, q: int, n_boot: int, max_elements: int = 1 << 23):
    per = max(1, max_elements // max(q, 1))
    done = 0
    while done < n_boot:
        b = min(per, n_boot - done)
        yield rng.integers(0, q, size=(b, q))
        done += b


def paired_bootstrap(a: Sequence[np.ndarray], b: Sequence[np.ndarray], fn_a: MetricFn,
                     fn_b: MetricFn | None = None, *, n_boot: int = 1000, alpha: float = 0.05,
                     seed: int = 0) -> PairedResult:
    """Paired bootstrap of ``metric(a) − metric(b)`` over queries.

    a, b:  per seed, per-query values ``[Q]`` or ``[Q, C]``, row q of every array the same query
           (the two sides may have different numbers of seeds).
    fn_a:  ``[B, Q(, C)] -> [B]`` the metric of side a on B resamples (``fn_b`` defaults to it).
    Returns the observed difference (mean over seeds of a minus mean over seeds of b), the
    ``1 - alpha`` percentile interval of the resampled differences and the two-sided p-value.
    """
    fn_b = fn_b or fn_a
    if not a or not b:
        raise ValueError("each side needs at least one seed of per-query values")
    sizes = {len(x) for x in (*a, *b)}
    if len(sizes) != 1:
        raise ValueError(f"the two sides must have the same queries; got sizes {sorted(sizes)}")
    q = sizes.pop()
    if q == 0:
        raise ValueError("no queries to resample")

    def side(values: Sequence[np.ndarray], fn: MetricFn, idx: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.mean([fn(v[idx]) for v in values], axis=0)

    full = np.arange(q)[None]
    observed = float(side(a, fn_a, full)[0] - side(b, fn_b, full)[0])
    rng = np.random.default_rng(seed)
    diffs = np.concatenate([side(a, fn_a, idx) - side(b, fn_b, idx) for idx in _chunks(rng, q, n_boot)])
    diffs = diffs[np.isfinite(diffs)]
    if diffs.size == 0:
        return PairedResult(observed, math.nan, math.nan, math.nan, q, 0)
    lo, hi = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    below = (np.count_nonzero(diffs <= 0) + 1) / (diffs.size + 1)
    above = (np.count_nonzero(diffs >= 0) + 1) / (diffs.size + 1)
    return PairedResult(observed, float(lo), float(hi), float(min(1.0, 2 * min(below, above))), q,
                        int(diffs.size))


# from records ---------------------------------------------------------------------------------
@dataclass
class QueryValues:
    """One record's per-query values of one metric, in a canonical query order."""

    values: np.ndarray          # [Q] or [Q, C], padded misses (absent queries) at the end
    fn: MetricFn
    ids: tuple[str, ...] | None  # the evaluated queries' ids (None: order taken as given)


def query_values(record_file: str | Path, record: ResultRecord, metric: str,
                 value: float) -> QueryValues | None:
    """The per-query values of ``metric`` that reproduce its recorded ``value``, or None."""
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
            return QueryValues(values, cand.fn, _query_ids(record_file, cand))
    return None


def _query_ids(record_file: Path, cand: Candidate) -> tuple[str, ...] | None:
    """Ids of the evaluated queries: ``ids`` or ``video_ids`` (CrossTask: with its task id)."""
    for name in QUERY_ID_ARRAYS:
        if record_file.with_suffix(f".{safe_name(name)}.npy").is_file():
            ids = np.asarray(load_per_query(record_file, name)).astype(str)
            if record_file.with_suffix(".task_ids.npy").is_file():
                tasks = np.asarray(load_per_query(record_file, "task_ids")).astype(str)
                if tasks.shape == ids.shape:
                    ids = np.char.add(np.char.add(tasks, "/"), ids)
            return tuple(ids.tolist())
    return None


def align(sides: Sequence[Sequence[QueryValues]]) -> list[list[np.ndarray]] | None:
    """Every side's arrays reordered to the query order of the first array; None when the
    query sets differ (the rows were not evaluated on the same queries)."""
    flat = [qv for s in sides for qv in s]
    if not flat:
        return None
    first = flat[0]
    if len({len(qv.values) for qv in flat}) != 1:
        return None
    if any(qv.ids is None for qv in flat):
        if any(qv.ids is not None and qv.ids != first.ids for qv in flat):
            return None
        return [[qv.values for qv in s] for s in sides]
    ref = {qid: i for i, qid in enumerate(first.ids)}
    out = []
    for s in sides:
        arrays = []
        for qv in s:
            if len(qv.ids) != len(ref) or set(qv.ids) != set(ref):
                return None
            order = np.empty(len(qv.ids), dtype=np.int64)
            order[[ref[q] for q in qv.ids]] = np.arange(len(qv.ids))
            # evaluated queries first (as the reference orders them), padded misses after
            arrays.append(np.concatenate([qv.values[order], qv.values[len(order):]]))
        out.append(arrays)
    return out


def compare_rows(df: pd.DataFrame, reference: str, *, columns: Sequence[tuple[str, str]] | None = None,
                 n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Paired tests of every row against ``reference`` (a row key) per (task, metric).

    ``df``: an enriched results frame (:func:`mcnbench.report.frame.enrich`); ``columns``: the
    (task, metric) pairs to test (default: all in ``df``). Returns one line per (row, task,
    metric) that could be tested: ``row, task, metric, diff, lo, hi, p, significant, n_queries,
    n_seeds, n_seeds_ref, test``; pairs without reproducible per-query arrays are left out.
    """
    from mcnbench.report.frame import enrich

    df = enrich(df)
    df = df.assign(_row=row_key(df))
    records = df.attrs.get("records", {})
    wanted = set(columns) if columns is not None else None
    cache: dict[tuple[str, str], QueryValues | None] = {}

    def side(rows: pd.DataFrame) -> list[QueryValues]:
        out = []
        for path, metric, value in rows[["path", "metric", "value"]].itertuples(index=False):
            key = (path, metric)
            if key not in cache:
                rec = records.get(path)
                cache[key] = query_values(path, rec, metric, value) if rec is not None else None
            if cache[key] is not None:
                out.append(cache[key])
        return out if len(out) == len(rows) else []

    lines = []
    for (task, metric), block in df.groupby(["task", "metric"], sort=False):
        if wanted is not None and (task, metric) not in wanted:
            continue
        ref_rows = block[block["_row"] == reference]
        ref = side(ref_rows) if len(ref_rows) else []
        if not ref:
            continue
        for row, rows in block[block["_row"] != reference].groupby("_row", sort=True):
            other = side(rows)
            aligned = align([other, ref]) if other else None
            if aligned is None:
                continue
            res = paired_bootstrap(aligned[0], aligned[1], other[0].fn, ref[0].fn, n_boot=n_boot,
                                   alpha=alpha, seed=seed)
            lines.append({"row": row, "task": task, "metric": metric, "diff": res.diff,
                          "lo": res.lo, "hi": res.hi, "p": res.p, "significant": res.significant(alpha),
                          "n_queries": res.n_queries, "n_seeds": len(other), "n_seeds_ref": len(ref),
                          "test": TEST_NAME})
    return pd.DataFrame(lines, columns=["row", "task", "metric", "diff", "lo", "hi", "p", "significant",
                                        "n_queries", "n_seeds", "n_seeds_ref", "test"])
