"""CrossTask DP against a slow state-machine port (tie-breaking) and brute force (optimal cost)."""
import itertools

import numpy as np
import pytest

from mcnbench.metrics.alignment import (
    ShortVideoError,
    crosstask_dp,
    crosstask_dp_batch,
    crosstask_ground_truth,
    crosstask_recall,
    step_costs,
)


def state_machine_dp(C):
    """Slow port of the official semantics: 2K+1 states, stay (background only), advance, skip
    (step k-1 -> step k); candidates tried in that order, a later one wins only if strictly
    cheaper; at the end the final background wins only if strictly cheaper. T > K only."""
    T, K = C.shape
    n = 2 * K + 1
    cost = [[None] * n for _ in range(T + 1)]
    prev = [[None] * n for _ in range(T + 1)]
    cost[0][0] = 0.0
    for t in range(1, T + 1):
        for k in range(n):
            step = (k + 1) // 2 if k % 2 else 0
            cands = ([k] if step == 0 else []) + ([k - 1] if k >= 1 else []) \
                + ([k - 2] if step and k >= 2 else [])
            best = arg = None
            for j in cands:
                v = cost[t - 1][j]
                if v is not None and (best is None or v < best):
                    best, arg = v, j
            if best is not None:
                cost[t][k] = best + (float(C[t - 1, step - 1]) if step else 0.0)
                prev[t][k] = arg
    k = n - 1 if cost[T][n - 1] < cost[T][n - 2] else n - 2
    Y = np.zeros((T, K), dtype=np.uint8)
    for t in range(T, 0, -1):
        if k % 2:
            Y[t - 1, (k + 1) // 2 - 1] = 1
        k = prev[t][k]
    return Y


def brute_force_cost(C):
    T, K = C.shape
    return min(sum(C[t, k] for k, t in enumerate(ts)) for ts in itertools.combinations(range(T), K))


def placement(Y):
    return Y.argmax(axis=0).tolist()


@pytest.mark.parametrize("T,K,expected", [(5, 2, [0, 4]), (7, 3, [0, 1, 6]), (10, 4, [0, 1, 2, 9]),
                                          (6, 1, [5])])
def test_uniform_costs_worked_examples(T, K, expected):
    for ls in (False, True):
        assert placement(crosstask_dp(np.zeros((T, K)), log_softmax=ls)) == expected
    assert placement(state_machine_dp(np.zeros((T, K)))) == expected


def random_cases(n, seed):
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        K = int(rng.integers(1, 5))
        T = int(rng.integers(K + 1, 10))
        if i % 4 == 3:  # continuous scores, occasional exact duplicates
            cases.append(rng.standard_normal((T, K)).round(1))
        else:  # small integers: ties everywhere
            cases.append(rng.integers(-2, 1, size=(T, K)).astype(float))
    return cases


def test_batch_equals_state_machine_and_brute_force_on_random_ties():
    cases = random_cases(2500, seed=0)
    for ls in (False, True):
        res = crosstask_dp_batch(cases, log_softmax=ls, max_elements=2000)  # many batches
        assert res.counts == {"ok": len(cases), "diagonal": 0, "skipped": 0}
        for scores, pred in zip(cases, res.preds, strict=True):
            C = step_costs(scores, log_softmax=ls)
            ref = state_machine_dp(C)
            assert placement(pred) == placement(ref), scores
            assert pred.sum() == C.shape[1] and (pred.sum(axis=0) == 1).all()
            if not ls:  # exact integer costs: compare optimal cost with brute force
                got = sum(C[t, k] for k, t in enumerate(placement(pred)))
                assert got == brute_force_cost(C)
                assert placement(pred) == sorted(set(placement(pred)))  # strictly increasing


def test_single_equals_batch():
    cases = random_cases(200, seed=1)
    res = crosstask_dp_batch(cases)
    for scores, pred in zip(cases, res.preds, strict=True):
        np.testing.assert_array_equal(crosstask_dp(scores), pred)


def test_short_videos():
    scores = np.arange(12, dtype=float).reshape(3, 4)
    with pytest.raises(ShortVideoError):
        crosstask_dp(scores)  # T < K
    square = np.ones((3, 3))
    assert placement(crosstask_dp(square)) == [0, 1, 2]
    with pytest.raises(ShortVideoError):
        crosstask_dp(square, short="skip")
    res = crosstask_dp_batch([scores, square, np.ones((5, 3))], short="diagonal")
    assert res.status == ["skipped", "diagonal", "ok"] and res.preds[0] is None
    assert res.counts == {"ok": 1, "diagonal": 1, "skipped": 1}
    assert crosstask_dp_batch([square], short="skip").counts["skipped"] == 1


def test_raw_scores_vs_log_softmax_differ_when_rows_differ_in_scale():
    # second 1 scores high for both steps: raw similarities put step 1 there, but normalised
    # over the steps it is only a weak step-1 second (MCN uses raw scores, CrossTask log-softmax)
    scores = np.array([[0.0, 0.0], [10.0, 10.5], [0.0, 5.0]])
    assert placement(crosstask_dp(scores)) == [1, 2]
    assert placement(crosstask_dp(scores, log_softmax=True)) == [0, 2]


def test_bad_scores():
    with pytest.raises(ValueError, match="NaN"):
        crosstask_dp(np.array([[0.0, np.nan], [0.0, 0.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="short"):
        crosstask_dp(np.zeros((3, 2)), short="official")


def test_ground_truth_floor_ceil_and_clipping():
    Y = crosstask_ground_truth([(1, 33.54, 39.94), (2, 2.0, 3.0), (2, 45.5, 60.0), (3, -0.5, 0.2)],
                               T=50, K=3)
    assert Y.dtype == np.uint8 and Y.shape == (50, 3)
    assert np.flatnonzero(Y[:, 0]).tolist() == list(range(33, 40))
    assert np.flatnonzero(Y[:, 1]).tolist() == [2] + list(range(45, 50))
    assert np.flatnonzero(Y[:, 2]).tolist() == [0]
    with pytest.raises(ValueError, match="step 4"):
        crosstask_ground_truth([(4, 0, 1)], T=5, K=3)


def gt_with(T, K, present_at):
    Y = np.zeros((T, K), dtype=np.uint8)
    for k, t in present_at.items():
        Y[t, k] = 1
    return Y


def test_recall_worked_example():
    # video A: 4 GT steps, 2 hit; video B: 1 GT step, 1 hit
    ya_true = gt_with(10, 4, {0: 1, 1: 3, 2: 5, 3: 7})
    ya_pred = gt_with(10, 4, {0: 1, 1: 3, 2: 6, 3: 8})
    yb_true = gt_with(10, 4, {2: 4})
    yb_pred = gt_with(10, 4, {0: 0, 1: 1, 2: 4, 3: 9})
    r = crosstask_recall({"t1": [(ya_pred, ya_true), (yb_pred, yb_true)]})
    assert r["recall"] == pytest.approx(0.60)
    assert r["recall_per_video"] == pytest.approx(0.75)
    assert r["per_task"] == {"t1": pytest.approx(0.6)} and r["n_videos"] == 2


def test_recall_tasks_no_gt_and_skipped():
    y = gt_with(6, 2, {0: 1, 1: 4})
    empty = np.zeros((6, 2), dtype=np.uint8)
    r = crosstask_recall({
        "a": [(gt_with(6, 2, {0: 1, 1: 5}), y), (gt_with(6, 2, {0: 0, 1: 1}), empty)],
        "b": [(None, y)],
        "c": [(gt_with(6, 2, {0: 0, 1: 1}), empty)],
    })
    assert r["per_task"] == {"a": 0.5, "b": 0.0}
    assert r["per_task_per_video"] == {"a": 0.5, "b": 0.0}
    assert r["recall"] == 0.25 and r["recall_per_video"] == 0.25
    assert r["n_videos_no_gt"] == 2 and r["n_videos_skipped"] == 1
    assert r["tasks_without_gt"] == ["c"] and r["n_tasks"] == 2
    with pytest.raises(ValueError, match="differ"):
        crosstask_recall({"a": [(np.zeros((5, 2)), y)]})


def test_longer_videos_equal_state_machine():
    rng = np.random.default_rng(2)
    cases = []
    for _ in range(150):
        K = int(rng.integers(2, 9))
        cases.append(rng.integers(-3, 1, size=(int(rng.integers(K + 1, 40)), K)).astype(float))
    res = crosstask_dp_batch(cases)
    for scores, pred in zip(cases, res.preds, strict=True):
        assert placement(pred) == placement(state_machine_dp(step_costs(scores)))
