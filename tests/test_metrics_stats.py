"""Bootstrap intervals and paired tests over per-query ranks."""
import numpy as np
import pytest

from mcnbench.metrics.retrieval import RankResult, retrieval_metrics
from mcnbench.metrics.stats import (
    bootstrap_ci,
    bootstrap_replicates,
    mean_rank_fn,
    median_rank_fn,
    metric_intervals,
    pad_missing,
    paired_bootstrap_test,
    recall_fn,
)


def ranks_sample(n, seed, scale=20.0):
    return np.floor(np.random.default_rng(seed).exponential(scale, size=n))


def test_vectorised_replicates_equal_a_loop():
    r = ranks_sample(300, 0)
    fn = recall_fn(5)
    reps = bootstrap_replicates(r, fn, n_boot=50, seed=3)
    idx = np.random.default_rng(3).integers(0, r.size, size=(50, r.size))
    loop = [retrieval_metrics(r[i], ks=(5,))["R@5"] for i in idx]
    np.testing.assert_allclose(reps, loop)
    # batching the replicates does not change them
    np.testing.assert_allclose(bootstrap_replicates(r, fn, 50, seed=3, max_elements=1000), reps)


def test_metric_functions_match_retrieval_metrics():
    r = np.array([0.0, 0.5, 3.0, np.nan, 12.0])
    m = retrieval_metrics(r, ks=(1, 5), complete_size=8)
    padded = pad_missing(r, 8)[None]
    assert recall_fn(1)(padded)[0] == pytest.approx(m["R@1"])
    assert recall_fn(5)(padded)[0] == pytest.approx(m["R@5"])
    assert median_rank_fn()(padded)[0] == m["MedR"] and mean_rank_fn()(padded)[0] == m["MeanR"]


def test_ci_constant_and_reproducible():
    assert bootstrap_ci(np.zeros(40), recall_fn(1)) == (100.0, 100.0)
    r = ranks_sample(500, 1)
    a = bootstrap_ci(r, mean_rank_fn(), n_boot=200, seed=7)
    assert a == bootstrap_ci(r, mean_rank_fn(), n_boot=200, seed=7)
    assert a != bootstrap_ci(r, mean_rank_fn(), n_boot=200, seed=8)
    lo, hi = bootstrap_ci(r, median_rank_fn(), n_boot=200, seed=7)
    assert lo <= np.median(r) + 1 <= hi


def test_ci_covers_estimate_and_shrinks_with_queries():
    small, big = ranks_sample(200, 2), ranks_sample(5000, 2)
    lo, hi = bootstrap_ci(small, recall_fn(10), n_boot=300)
    assert lo <= retrieval_metrics(small)["R@10"] <= hi
    lo2, hi2 = bootstrap_ci(big, recall_fn(10), n_boot=300)
    assert hi2 - lo2 < hi - lo


def test_metric_intervals_with_complete_size():
    r = np.zeros(968)  # every present query right, 32 absent
    iv = metric_intervals(r, complete_size=1000, n_boot=300)
    assert set(iv) == {"R@1", "R@5", "R@10", "MedR", "MeanR"}
    lo, hi = iv["R@1"]
    assert lo < 96.8 < hi and hi < 100.0
    assert iv["MedR"] == (1.0, 1.0)
    res = RankResult(np.zeros(10), np.ones(10, dtype=np.int64), "legacy")
    with pytest.raises(ValueError, match="legacy"):
        metric_intervals(res)
    assert metric_intervals(res.with_rule("mean"), n_boot=20)["R@1"] == (100.0, 100.0)


def test_paired_test():
    a = ranks_sample(800, 4, scale=5.0)
    same = paired_bootstrap_test(a, a, recall_fn(5), n_boot=200)
    assert same["diff"] == 0.0 and same["p_value"] == 1.0 and same["ci"] == (0.0, 0.0)
    b = a + np.random.default_rng(5).integers(0, 8, size=a.size)  # b is never better than a
    out = paired_bootstrap_test(a, b, recall_fn(5), n_boot=500, seed=1)
    assert out["diff"] > 0 and out["p_value"] < 0.01 and out["ci"][0] > 0
    assert out["diff"] == pytest.approx(retrieval_metrics(a)["R@5"] - retrieval_metrics(b)["R@5"])
    # tiny noisy difference: not significant
    c = a.copy()
    c[:3] += 10
    assert paired_bootstrap_test(a, c, recall_fn(5), n_boot=500)["p_value"] > 0.05
    with pytest.raises(ValueError, match="same queries"):
        paired_bootstrap_test(a, a[:10], recall_fn(5))


def test_mining_youtube_iou_interval_pools_frames_as_the_task_does(tmp_path):
    """The IoU/IoD candidate rebuilt from per-second labels equals iou_iod on the full set,
    and is a real interval around it."""
    from mcnbench.metrics.segmentation import iou_iod
    from mcnbench.records import ResultRecord, write_record
    from mcnbench.report.intervals import metric_interval, segment_counts

    rng = np.random.default_rng(0)
    lengths = rng.integers(20, 60, size=12)
    gts = [np.where(rng.random(t) < 0.4, -1, rng.integers(0, 5, t)) for t in lengths]
    preds = [np.where(rng.random(g.size) < 0.5, g, rng.integers(-1, 6, g.size)) for g in gts]  # 5: not GT
    iou = 100 * iou_iod(preds, gts, bg=-1)["iou"]
    iod = 100 * iou_iod(preds, gts, bg=-1)["iod"]
    rec = ResultRecord(model={"name": "m", "version": "1", "config": {}},
                       task={"name": "mining_youtube", "version": "3", "options": {}}, seed=0,
                       data={"kind": "synthetic"}, metrics={"IoU": iou, "IoD": iod}, main_score="IoU",
                       tie_rule="mean", versions={"python": "3"}, info={"iou_average": "dataset"})
    path = write_record(rec, tmp_path, {"video_ids": np.array([f"v{i}" for i in range(12)]),
                                        "T": lengths, "gt_label": np.concatenate(gts),
                                        "pred_label": np.concatenate(preds)})
    counts = segment_counts(path)
    assert counts.shape == (12, 3 * 5)                   # classes 0..4 of the ground truth
    assert counts[:, 5:10].sum() == sum(int((g >= 0).sum()) for g in gts)
    for metric, value in (("IoU", iou), ("IoD", iod)):
        lo, hi = metric_interval(path, rec, metric, value)
        assert lo < value < hi and hi - lo < 30
    assert metric_interval(path, rec, "IoU", iou + 1.0) is None   # not reproduced: no interval
