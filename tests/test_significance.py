"""The paired bootstrap between report rows: known answers, pairing by query id, seeds combined."""
from __future__ import annotations

import numpy as np
import pytest

from mcnbench.metrics.stats import recall_fn
from mcnbench.records import ResultRecord, write_record
from mcnbench.report import load
from mcnbench.report.significance import TEST_NAME, align, compare_rows, paired_bootstrap


def mean_fn(v: np.ndarray) -> np.ndarray:
    return 100.0 * v.mean(axis=1)


def test_identical_rows_are_not_significant():
    hits = np.random.default_rng(0).integers(0, 2, 200).astype(float)
    res = paired_bootstrap([hits], [hits.copy()], mean_fn, n_boot=500)
    assert res.diff == 0.0 and res.lo == 0.0 and res.hi == 0.0
    assert res.p == 1.0 and not res.significant()


def test_a_row_better_on_every_query_is_significant():
    b = np.random.default_rng(1).random(50)
    res = paired_bootstrap([b + 0.1], [b], mean_fn, n_boot=999)
    assert res.diff == pytest.approx(10.0)
    assert res.lo == pytest.approx(10.0) and res.hi == pytest.approx(10.0)  # the same on every resample
    assert res.p == pytest.approx(2 / 1000)                                  # the smallest p B=999 can give
    assert res.significant()


def test_pairing_sees_a_small_consistent_gain_that_noise_hides():
    # Per-query difficulty varies a lot; A is a little better on every query. Paired, that is
    # clear; comparing the two sides' intervals separately it would not be.
    rng = np.random.default_rng(2)
    difficulty = rng.random(300)
    a, b = difficulty + 0.02, difficulty
    res = paired_bootstrap([a], [b], mean_fn, n_boot=500)
    assert res.significant()
    ia = np.quantile([mean_fn(a[None, rng.integers(0, 300, 300)])[0] for _ in range(300)], [0.025, 0.975])
    ib = np.quantile([mean_fn(b[None, rng.integers(0, 300, 300)])[0] for _ in range(300)], [0.025, 0.975])
    assert ia[0] < ib[1]  # the unpaired intervals overlap


def test_seeds_are_averaged_inside_each_resample():
    # side a: two seeds with R@1 hits on disjoint halves; side b: one seed hitting everything
    # of the first half. Observed Δ = mean(50, 50) - 50 = 0 exactly.
    q = 40
    a1 = np.where(np.arange(q) < 20, 0.0, 5.0)
    a2 = np.where(np.arange(q) < 20, 5.0, 0.0)
    b = np.where(np.arange(q) < 20, 0.0, 5.0)
    res = paired_bootstrap([a1, a2], [b], recall_fn(1), n_boot=300)
    assert res.diff == pytest.approx(0.0)
    assert not res.significant()


def test_different_query_sets_are_refused():
    with pytest.raises(ValueError, match="same queries"):
        paired_bootstrap([np.zeros(3)], [np.zeros(4)], mean_fn)


def _write(root, model, seed, ranks, ids):
    r10 = 100.0 * float(np.count_nonzero(ranks < 10)) / len(ranks)
    r1 = 100.0 * float(np.count_nonzero(ranks == 0)) / len(ranks)
    rec = ResultRecord(model={"name": model, "version": "1", "config": {}},
                       task={"name": "toyret", "version": "1", "options": {}}, seed=seed,
                       data={"kind": "synthetic", "fingerprint": "f"}, metrics={"R@1": r1, "R@10": r10,
                                                                               "IoU": 3.0},
                       main_score="R@10", tie_rule="mean", versions={"python": "3"},
                       info={"complete_size": len(ranks)})
    return write_record(rec, root, {"ranks": ranks.astype(float), "ids": np.asarray(ids)})


def test_compare_rows_from_records_pairs_queries_by_id(tmp_path):
    rng = np.random.default_rng(3)
    q = 120
    ids = np.array([f"clip{i}" for i in range(q)])
    base = rng.integers(5, 60, q).astype(float)
    for seed in (0, 1):
        _write(tmp_path, "ref", seed, base, ids)
        # "better" ranks every query 5 places higher, written in another query order
        order = rng.permutation(q)
        _write(tmp_path, "better", seed, np.maximum(base - 5, 0)[order], ids[order])
        _write(tmp_path, "same", seed, base[order], ids[order])
    tests = compare_rows(load(tmp_path), "ref", n_boot=400).set_index(["row", "metric"])
    assert set(tests.index) == {("better", "R@1"), ("better", "R@10"), ("same", "R@1"), ("same", "R@10")}
    assert tests.loc[("same", "R@10"), "diff"] == 0.0 and tests.loc[("same", "R@10"), "p"] == 1.0
    better = tests.loc[("better", "R@10")]
    expected = 100.0 * (np.count_nonzero(np.maximum(base - 5, 0) < 10) - np.count_nonzero(base < 10)) / q
    assert better["diff"] == pytest.approx(expected) and better["significant"]
    assert better["n_seeds"] == 2 and better["n_seeds_ref"] == 2 and better["test"] == TEST_NAME
    # IoU has no per-query arrays behind it: never tested
    assert "IoU" not in set(tests.index.get_level_values("metric"))


def test_align_refuses_rows_evaluated_on_other_queries():
    from mcnbench.report.significance import QueryValues

    a = QueryValues(np.arange(3.0), mean_fn, ("x", "y", "z"))
    b = QueryValues(np.arange(3.0), mean_fn, ("x", "y", "w"))
    assert align([[a], [b]]) is None
    c = QueryValues(np.array([2.0, 0.0, 1.0]), mean_fn, ("z", "x", "y"))
    (got_a,), (got_c,) = align([[a], [c]])
    assert got_c.tolist() == got_a.tolist()  # reordered into a's query order
