"""Retrieval ranks and metrics against dense full-sort references, worked examples, properties."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mcnbench.metrics.retrieval import (
    RankResult,
    legacy_entries,
    ranks_from_embeddings,
    ranks_from_similarity,
    retrieval_metrics,
)

RULES = ("mean", "optimistic", "pessimistic")


def dense_ranks(S, gt=None, rule="mean"):
    """Reference: full argsort of each row, positions of every entry equal to the GT score."""
    S = np.asarray(S, dtype=np.float64)
    gt = np.arange(S.shape[0]) if gt is None else gt
    out = np.empty(S.shape[0])
    for i, row in enumerate(S):
        order = np.argsort(-row, kind="stable")
        tied_pos = np.flatnonzero(row[order] == row[gt[i]])
        out[i] = {"mean": tied_pos.mean(), "optimistic": tied_pos.min(),
                  "pessimistic": tied_pos.max()}[rule]
    return out


def official_compute_metrics(x, test_set_size=None):
    """The MCN/AVLnet definition (np.where over sorted differences), as fractions."""
    sx = np.sort(-x, axis=1)
    d = np.diag(-x)[:, None]
    ind = np.where(sx - d == 0)[1]
    n = test_set_size or x.shape[0]
    return {"R1": np.sum(ind == 0) / n, "R5": np.sum(ind < 5) / n, "R10": np.sum(ind < 10) / n,
            "MR": np.median(ind) + 1}


tie_matrices = st.integers(1, 9).flatmap(lambda q: st.integers(q, 12).flatmap(
    lambda n: arrays(np.float64, (q, n), elements=st.integers(0, 3).map(float))))


@settings(max_examples=60, deadline=None)
@given(tie_matrices, st.integers(1, 5))
def test_chunked_ranks_equal_dense_sort(S, chunk):
    for rule in RULES:
        got = ranks_from_similarity(S, tie_rule=rule, chunk_size=chunk).ranks
        np.testing.assert_array_equal(got, dense_ranks(S, rule=rule))


@settings(max_examples=40, deadline=None)
@given(tie_matrices)
def test_optimistic_le_mean_le_pessimistic(S):
    res = ranks_from_similarity(S)
    o, m, p = (res.with_rule(r).ranks for r in ("optimistic", "mean", "pessimistic"))
    assert np.all(o <= m) and np.all(m <= p)


@settings(max_examples=40, deadline=None)
@given(tie_matrices, st.randoms(use_true_random=False))
def test_metrics_invariant_to_query_order(S, rnd):
    perm = np.array(rnd.sample(range(S.shape[0]), S.shape[0]))
    gt = np.arange(S.shape[0])
    a = retrieval_metrics(ranks_from_similarity(S, gt), complete_size=20)
    b = retrieval_metrics(ranks_from_similarity(S[perm], gt[perm]), complete_size=20)
    assert a == pytest.approx(b)


@settings(max_examples=40, deadline=None)
@given(tie_matrices)
def test_recall_non_decreasing_in_k(S):
    ks = (1, 2, 3, 5, 10, 50)
    for rule in RULES + ("legacy",):
        m = retrieval_metrics(ranks_from_similarity(S, tie_rule=rule), ks=ks)
        vals = [m[f"R@{k}"] for k in ks]
        assert vals == sorted(vals)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.integers(0, 4), st.integers(1, 6), st.integers(0, 10**6))
def test_embeddings_equal_dense_reference(q, extra, d, seed):
    rng = np.random.default_rng(seed)
    # small integers: every dot product is exact, so chunking cannot move a tie
    queries = rng.integers(-2, 3, size=(q, d)).astype(np.float32)
    gallery = rng.integers(-2, 3, size=(q + extra, d)).astype(np.float32)
    gt = rng.integers(0, q + extra, size=q)
    for rule in RULES:
        got = ranks_from_embeddings(queries, gallery, gt, tie_rule=rule, chunk_size=3).ranks
        np.testing.assert_array_equal(got, dense_ranks(queries @ gallery.T, gt, rule))


def test_perfect_embeddings_give_full_recall():
    rng = np.random.default_rng(0)
    x = np.linalg.qr(rng.standard_normal((50, 50)))[0].astype(np.float32)
    m = retrieval_metrics(ranks_from_embeddings(x, x, chunk_size=7))
    assert m["R@1"] == 100.0 and m["MedR"] == 1.0 and m["MeanR"] == 1.0


def test_constant_matrix_mean_rule():
    for n in (2, 11, 30):
        res = ranks_from_similarity(np.full((n, n), 0.3))
        np.testing.assert_array_equal(res.ranks, np.full(n, (n - 1) / 2))
        m = retrieval_metrics(res)
        assert m["R@1"] == 0.0
        assert m["R@5"] == (0.0 if n >= 11 else 100.0)  # rank 4.5 at N=10 still hits R@5


def test_r1_needs_rank_zero_as_eao():
    # GT tied at the top with one other item: mean rank 0.5 misses R@1 (EAO `cols == 0`)
    S = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    m = retrieval_metrics(ranks_from_similarity(S), ks=(1, 2))
    assert m["R@1"] == 50.0 and m["R@2"] == 100.0
    assert retrieval_metrics(ranks_from_similarity(S, tie_rule="optimistic"))["R@1"] == 100.0


def test_legacy_all_zero_matches_official():
    S = np.zeros((10, 10))
    m = retrieval_metrics(ranks_from_similarity(S, tie_rule="legacy"))
    off = official_compute_metrics(S)
    assert (m["R@1"], m["R@5"], m["R@10"], m["MedR"]) == (100.0, 500.0, 1000.0, 5.5)
    assert (off["R1"], off["R5"], off["R10"], off["MR"]) == (1.0, 5.0, 10.0, 5.5)
    assert legacy_entries(S).size == 100


def test_legacy_eye_with_extra_tie():
    S = np.eye(4)
    S[0, 2] = 1.0
    m = retrieval_metrics(ranks_from_similarity(S, tie_rule="legacy"))
    assert m["R@1"] == 100.0 and m["R@5"] == 125.0
    np.testing.assert_array_equal(np.sort(legacy_entries(S)), [0, 0, 0, 0, 1])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12).flatmap(lambda n: arrays(np.float64, (n, n),
                                                    elements=st.integers(0, 2).map(float))))
def test_legacy_equals_official_code(S):
    m = retrieval_metrics(ranks_from_similarity(S, tie_rule="legacy"), complete_size=15)
    off = official_compute_metrics(S, 15)
    assert m["R@1"] == pytest.approx(100 * off["R1"])
    assert m["R@5"] == pytest.approx(100 * off["R5"])
    assert m["R@10"] == pytest.approx(100 * off["R10"])
    assert m["MedR"] == pytest.approx(off["MR"])
    np.testing.assert_array_equal(np.sort(legacy_entries(S)), np.sort(np.where(
        np.sort(-S, axis=1) - np.diag(-S)[:, None] == 0)[1]))


def test_legacy_nan_row_contributes_nothing():
    S = np.eye(3)
    S[1, 1] = np.nan
    off = official_compute_metrics(S)
    m = retrieval_metrics(ranks_from_similarity(S, tie_rule="legacy", nan_policy="miss"))
    assert m["R@1"] == pytest.approx(100 * off["R1"]) == pytest.approx(200 / 3)
    assert m["MedR"] == off["MR"] == 1.0


def test_msrvtt_divides_by_complete_size():
    ranks = np.zeros(968)
    m = retrieval_metrics(ranks, complete_size=1000)
    assert m["R@1"] == pytest.approx(96.8) and m["MedR"] == 1.0
    off = official_compute_metrics(np.eye(968), 1000)
    assert m["R@1"] == pytest.approx(100 * off["R1"])
    with pytest.raises(ValueError, match="complete_size"):
        retrieval_metrics(ranks, complete_size=900)


def test_medr_meanr_over_evaluated_queries_only():
    m = retrieval_metrics(np.array([0.0, 3.0, np.nan, 5.0]), ks=(1, 4), complete_size=10)
    assert m["R@1"] == 10.0 and m["R@4"] == 20.0
    assert m["MedR"] == 4.0 and m["MeanR"] == pytest.approx(1 + 8 / 3)


def test_nan_policy():
    S = np.eye(4)
    S[2, 3] = np.nan
    with pytest.raises(ValueError, match="query row 2"):
        ranks_from_similarity(S)
    res = ranks_from_similarity(S, nan_policy="miss")  # a NaN off the GT never outranks it
    np.testing.assert_array_equal(res.ranks, [0, 0, 0, 0])
    S[1, 1] = np.inf
    with pytest.raises(ValueError, match="query row 1"):
        ranks_from_similarity(S, chunk_size=1)
    res = ranks_from_similarity(S, nan_policy="miss")
    assert np.isnan(res.ranks[1]) and res.n_missed == 1 and res.tied[1] == 0
    assert retrieval_metrics(res)["R@1"] == 75.0


def test_finite_overflow_is_not_a_nan():
    S = np.full((2, 3), 3e38, dtype=np.float32)  # row sums overflow, values are finite
    S[0, 0] = S[1, 1] = 3.4e38
    np.testing.assert_array_equal(ranks_from_similarity(S).ranks, [0, 0])


def test_torch_backend_matches_numpy():
    pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    q = rng.integers(-2, 3, size=(20, 5)).astype(np.float32)
    g = rng.integers(-2, 3, size=(25, 5)).astype(np.float32)
    a = ranks_from_embeddings(q, g, chunk_size=6)
    b = ranks_from_embeddings(q, g, chunk_size=6, backend="torch")
    np.testing.assert_array_equal(a.higher, b.higher)
    np.testing.assert_array_equal(a.tied, b.tied)
    S = q @ g.T
    S[3, 4] = np.nan
    with pytest.raises(ValueError, match="query row 3"):
        ranks_from_similarity(S, backend="torch")


def test_bad_inputs():
    with pytest.raises(ValueError, match="faiss"):
        ranks_from_similarity(np.eye(2), backend="faiss")
    with pytest.raises(ValueError, match="tie_rule"):
        ranks_from_similarity(np.eye(2), tie_rule="random")
    with pytest.raises(ValueError, match="gt"):
        ranks_from_similarity(np.eye(2), gt=np.array([0, 2]))
    with pytest.raises(ValueError, match="N >= Q"):
        ranks_from_similarity(np.zeros((3, 2)))
    with pytest.raises(ValueError):
        ranks_from_embeddings(np.zeros((2, 3)), np.zeros((2, 4)))


def test_rank_result_entries_and_counts():
    res = RankResult(np.array([0.0, 2.0, np.nan]), np.array([3, 1, 0]), "legacy")
    np.testing.assert_array_equal(res.entries, [0, 1, 2, 2])
    assert res.n_tied == 1 and res.n_missed == 1
    assert res.with_rule("mean").ranks[0] == 1.0
    np.testing.assert_array_equal(res.with_rule("pessimistic").entries, [2, 2])
