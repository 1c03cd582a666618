"""Speed of the evaluation-suite metrics at the real datasets' sizes (run:
pytest tests/benchmarks/test_bench_eval_suite.py --benchmark-enable --benchmark-only).

* text→full-video retrieval on YouCook2's 3,350 clips of 436 videos, all three protocols;
* per-video k-means + scores at Mining YouTube sizes (T seconds × D dims, k labels), on the Gram
  matrix (:func:`mcnbench.metrics.clustering.kmeans`) against Lloyd's steps in the D-dim
  coordinates (the first implementation: each iteration costs T·D·k instead of T²·k);
* zero-shot Top-K over UCF-101's 13,320 videos × 101 classes.
"""
import time

import numpy as np
import pytest

from mcnbench.metrics.clustering import cluster_scores, cluster_video
from mcnbench.metrics.video_retrieval import video_retrieval
from mcnbench.metrics.zero_shot import topk_accuracy


@pytest.fixture(scope="module")
def youcook2_matrix():
    rng = np.random.default_rng(0)
    video = np.unique(np.sort(rng.integers(0, 436, 3350)), return_inverse=True)[1]
    return rng.normal(size=(3350, 3350)), video


@pytest.mark.parametrize("rule", ["mean", "legacy"])
def test_video_retrieval_youcook2_scale(benchmark, youcook2_matrix, rule):
    m, video = youcook2_matrix
    names = [str(i) for i in range(video.max() + 1)]
    res = benchmark.pedantic(video_retrieval, args=(m, video, names), kwargs={"tie_rule": rule},
                             rounds=3, iterations=1)
    assert set(res.hits) == {"caption_avg", "mv_video", "mv_clip"}


def coordinate_kmeans(x, k, seed=0, n_init=10, max_iter=100, tol=1e-8):
    """Reference: the same k-means++ / Lloyd / restarts, on the D-dim coordinates."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    best = (None, np.inf)
    sq = (x ** 2).sum(1)
    for _ in range(n_init):
        c = [int(rng.integers(len(x)))]
        d2 = ((x - x[c[0]]) ** 2).sum(1)
        for _ in range(1, k):
            c.append(int(rng.choice(len(x), p=d2 / d2.sum())))
            d2 = np.minimum(d2, ((x - x[c[-1]]) ** 2).sum(1))
        cent = x[c].copy()
        for _ in range(max_iter):
            lab = (sq[:, None] - 2 * x @ cent.T + (cent ** 2).sum(1)).argmin(1)
            new = np.stack([x[lab == j].mean(0) if (lab == j).any() else cent[j] for j in range(k)])
            shift, cent = ((new - cent) ** 2).sum(), new
            if shift <= tol:
                break
        d = (sq[:, None] - 2 * x @ cent.T + (cent ** 2).sum(1))
        lab = d.argmin(1)
        inertia = d[np.arange(len(x)), lab].sum()
        if inertia < best[1]:
            best = (lab, inertia)
    return best[0]


@pytest.mark.parametrize("T, D, k", [(150, 1024, 8), (300, 6144, 10)])
def test_cluster_video_gram_vs_coordinates(benchmark, T, D, k):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(k, D))
    y = rng.integers(0, k, T)
    x = centres[y] + 2.0 * rng.normal(size=(T, D))
    t0 = time.process_time()
    ref = coordinate_kmeans(x, k)
    ref_cpu = time.process_time() - t0
    res = benchmark.pedantic(cluster_video, args=(x, y), rounds=3, iterations=1)
    t0 = time.process_time()
    cluster_video(x, y)
    cpu = time.process_time() - t0
    benchmark.extra_info.update({"coordinate_cpu_s": round(ref_cpu, 3), "gram_cpu_s": round(cpu, 3),
                                 "speedup_cpu": round(ref_cpu / max(cpu, 1e-9), 2),
                                 "gram_NMI": res["NMI"], "coordinate_NMI": cluster_scores(y, ref)["NMI"]})


def test_topk_ucf101_scale(benchmark):
    rng = np.random.default_rng(0)
    scores, labels = rng.normal(size=(13320, 101)), rng.integers(0, 101, 13320)
    acc = benchmark(topk_accuracy, scores, labels)
    assert set(acc) == {"top1", "top5"}
