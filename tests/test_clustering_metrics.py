"""Clustering scores (NMI, ARI, Hungarian accuracy, ⟨H⟩, ⟨p_max⟩), k-means, and CrossTask
IoU/IoD: a worked 3-cluster example, brute-force references, property tests."""
from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcnbench.metrics.clustering import (
    ari,
    cluster_scores,
    cluster_video,
    contingency,
    entropy_purity,
    hungarian_accuracy,
    kmeans,
    mean_scores,
    nmi,
    single_label_seconds,
)
from mcnbench.metrics.overlap import crosstask_overlap, step_overlap

# 9 seconds of 3 steps; the clustering puts step 0 in cluster 1, splits step 1 over clusters 0
# and 2, and step 2 in cluster 2.
TRUE = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
PRED = np.array([1, 1, 1, 0, 0, 2, 2, 2, 2])


def test_three_cluster_worked_example():
    np.testing.assert_array_equal(contingency(TRUE, PRED), [[0, 3, 0], [2, 0, 1], [0, 0, 3]])
    acc, mapping = hungarian_accuracy(TRUE, PRED)
    assert acc == pytest.approx(8 / 9) and mapping == {0: 1, 1: 0, 2: 2}
    # ARI: sum C(n_ij, 2) = 3 + 1 + 3 = 7, rows 3·C(3,2) = 9, columns 1 + 3 + 6 = 10, C(9,2) = 36
    expected = 9 * 10 / 36
    assert ari(TRUE, PRED) == pytest.approx((7 - expected) / ((9 + 10) / 2 - expected))
    # NMI: I = 1/3 ln3 + 2/9 ln3 + 1/9 ln(3/4) + 1/3 ln(9/4); H(true) = ln 3;
    # H(pred) = -(2/9 ln 2/9 + 1/3 ln 1/3 + 4/9 ln 4/9)
    mi = math.log(3) / 3 + 2 / 9 * math.log(3) + math.log(3 / 4) / 9 + math.log(9 / 4) / 3
    h_pred = -(2 / 9 * math.log(2 / 9) + math.log(1 / 3) / 3 + 4 / 9 * math.log(4 / 9))
    assert nmi(TRUE, PRED) == pytest.approx(mi / ((math.log(3) + h_pred) / 2))
    # clusters {1, 1} and {0, 0, 0} are pure; {1, 2, 2, 2} has H = -(1/4 ln 1/4 + 3/4 ln 3/4)
    H, p = entropy_purity(TRUE, PRED)
    assert H == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)) / 3)
    assert p == pytest.approx((1 + 1 + 0.75) / 3)
    assert set(cluster_scores(TRUE, PRED)) == {"NMI", "ARI", "Acc", "H", "p_max"}


def test_special_cases():
    one = np.zeros(5, dtype=int)
    assert nmi(one, one) == 1.0 and ari(one, one) == 1.0
    assert nmi(one, np.arange(5)) == 0.0  # one true group, 5 clusters: no information
    assert ari(np.arange(5), np.arange(5)) == 1.0
    perfect = cluster_scores(TRUE, (TRUE + 1) % 3)  # relabelled: a perfect clustering
    assert perfect == pytest.approx({"NMI": 1.0, "ARI": 1.0, "Acc": 1.0, "H": 0.0, "p_max": 1.0})


def _brute_ari(y, c) -> float:
    """The Rand index counted over every pair, adjusted by its permutation-model expectation."""
    n = len(y)
    pairs = list(itertools.combinations(range(n), 2))
    same_y = np.array([y[i] == y[j] for i, j in pairs])
    same_c = np.array([c[i] == c[j] for i, j in pairs])
    index = float((same_y & same_c).sum())
    a, b, total = float(same_y.sum()), float(same_c.sum()), float(len(pairs))
    expected, maximum = a * b / total, (a + b) / 2
    return 1.0 if maximum == expected else (index - expected) / (maximum - expected)


def _brute_nmi(y, c) -> float:
    n = len(y)
    py, pc, pyc = Counter(y), Counter(c), Counter(zip(y, c, strict=True))
    mi = sum(v / n * math.log((v / n) / (py[a] / n * pc[b] / n)) for (a, b), v in pyc.items())
    hy = -sum(v / n * math.log(v / n) for v in py.values())
    hc = -sum(v / n * math.log(v / n) for v in pc.values())
    if len(py) == len(pc) == 1:
        return 1.0
    return mi / ((hy + hc) / 2) if hy + hc > 0 else 0.0


labels = st.lists(st.integers(0, 3), min_size=2, max_size=12)


@settings(max_examples=60, deadline=None)
@given(labels, st.data())
def test_nmi_ari_match_brute_force(y, data):
    c = data.draw(st.lists(st.integers(0, 4), min_size=len(y), max_size=len(y)))
    assert ari(y, c) == pytest.approx(_brute_ari(y, c), abs=1e-12)
    assert nmi(y, c) == pytest.approx(_brute_nmi(y, c), abs=1e-12)
    assert 0.0 <= nmi(y, c) <= 1.0 + 1e-12 and ari(y, c) <= 1.0 + 1e-12
    # renaming clusters changes nothing
    renamed = [10 - x for x in c]
    assert nmi(y, renamed) == pytest.approx(nmi(y, c))
    assert ari(y, renamed) == pytest.approx(ari(y, c))


@settings(max_examples=40, deadline=None)
@given(labels, st.data())
def test_hungarian_is_the_best_one_to_one_map(y, data):
    c = data.draw(st.lists(st.integers(0, 3), min_size=len(y), max_size=len(y)))
    ys, cs = sorted(set(y)), sorted(set(c))
    best = 0
    for perm in itertools.permutations(ys if len(ys) >= len(cs) else cs):
        pairs = zip(cs, perm, strict=False) if len(ys) >= len(cs) else zip(perm, ys, strict=False)
        m = dict(pairs)
        best = max(best, sum(m.get(ci) == yi for yi, ci in zip(y, c, strict=True)))
    assert hungarian_accuracy(y, c)[0] == pytest.approx(best / len(y))


def test_kmeans_recovers_separated_blobs_and_is_seeded():
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8) * 5
    x = np.concatenate([c + 0.1 * rng.normal(size=(15, 8)) for c in centres])
    y = np.repeat(np.arange(3), 15)
    res = kmeans(x, 3, seed=1)
    assert cluster_scores(y, res.labels)["ARI"] == 1.0
    again = kmeans(x, 3, seed=1)
    np.testing.assert_array_equal(res.labels, again.labels)
    assert res.inertia == again.inertia
    scores = cluster_video(x, y)
    assert scores["k"] == 3 and scores["n"] == 45 and scores["NMI"] == pytest.approx(1.0)


def test_kmeans_edge_cases():
    x = np.ones((4, 3))  # identical rows cannot be split: k is capped at 1
    assert (kmeans(x, 3).labels == 0).all()
    with pytest.raises(ValueError, match="NaN"):
        kmeans(np.full((3, 2), np.nan), 2)
    with pytest.raises(ValueError, match=r"need x \[N, D\]"):
        kmeans(np.zeros((0, 2)), 2)


def test_mean_scores_and_single_label_seconds():
    a = {"NMI": 0.5, "ARI": 0.2, "Acc": 0.6, "H": 0.4, "p_max": 0.8}
    b = {"NMI": 0.7, "ARI": 0.4, "Acc": 0.8, "H": 0.2, "p_max": 1.0}
    assert mean_scores([a, b]) == pytest.approx({"NMI": 0.6, "ARI": 0.3, "Acc": 0.7, "H": 0.3,
                                                 "p_max": 0.9})
    assert np.isnan(mean_scores([])["NMI"])
    Y = np.array([[1, 0], [0, 0], [1, 1], [0, 1]])  # background, overlap: left out
    keep, lab = single_label_seconds(Y)
    np.testing.assert_array_equal(keep, [True, False, False, True])
    np.testing.assert_array_equal(lab, [0, 1])


# ----------------------------------------------------------------------------- IoU / IoD

def test_crosstask_overlap_worked_example():
    # task "a", two videos, 2 steps. Video 1: step 0 GT seconds 0-2, predicted at 1 (inside);
    # step 1 GT 4-5, predicted at 3 (outside). Video 2: step 0 GT 0-1, predicted at 1;
    # step 1 GT 2-3, predicted at 3.
    gt1 = np.zeros((6, 2), int)
    gt1[0:3, 0] = 1
    gt1[4:6, 1] = 1
    p1 = np.zeros((6, 2), int)
    p1[1, 0] = p1[3, 1] = 1
    gt2 = np.zeros((4, 2), int)
    gt2[0:2, 0] = 1
    gt2[2:4, 1] = 1
    p2 = np.zeros((4, 2), int)
    p2[1, 0] = p2[3, 1] = 1
    res = step_overlap([(p1, gt1), (p2, gt2)])
    # step 0: inter 2, union 3 + 2 = 5, detected 2; step 1: inter 1, union 3 + 2 = 5, det 2
    assert res["per_step"][0] == pytest.approx((2 / 5, 1.0))
    assert res["per_step"][1] == pytest.approx((1 / 5, 0.5))
    assert res["iou"] == pytest.approx(0.3) and res["iod"] == pytest.approx(0.75)
    # a second task "b" whose only video was skipped (no prediction): IoU 0, IoD 0
    both = crosstask_overlap({"a": [(p1, gt1), (p2, gt2)], "b": [(None, gt2)]})
    assert both["per_task"]["b"] == (0.0, 0.0)
    assert both["iou"] == pytest.approx(0.15) and both["iod"] == pytest.approx(0.375)
    assert np.isnan(step_overlap([(None, np.zeros((3, 2)))])["iou"])  # no step present
