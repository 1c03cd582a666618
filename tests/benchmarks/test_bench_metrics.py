"""Speed and memory of the metrics (run: pytest tests/benchmarks --benchmark-enable --benchmark-only).

Figures go into each benchmark's ``extra_info`` (seconds, MB, speed-ups), so they appear in the
saved JSON next to pytest-benchmark's own timing statistics.
"""
import resource
import time
import tracemalloc

import numpy as np
import pytest

from mcnbench.metrics import (
    MYT_REFERENCE,
    crosstask_dp_batch,
    ranks_from_embeddings,
    ranks_from_similarity,
    retrieval_metrics,
    transcript_alignment,
)

YC2_N, YC2_D = 3350, 6144


def _normed(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def yc2():
    """YouCook2-sized text/video embeddings (6144-d as MCN) and their similarity matrix."""
    rng = np.random.default_rng(0)
    video = _normed(rng.standard_normal((YC2_N, YC2_D), dtype=np.float32))
    text = _normed(video + 2.0 * rng.standard_normal((YC2_N, YC2_D), dtype=np.float32) / np.sqrt(YC2_D))
    return text, video, text @ video.T


def dense_argsort_metrics(S):
    """The classic full-sort evaluation: argsort every row, find the GT position (no tie rule)."""
    order = np.argsort(-S, axis=1)
    ranks = np.argmax(order == np.arange(S.shape[0])[:, None], axis=1).astype(np.float64)
    return retrieval_metrics(ranks)


def _best_of(fn, n):
    best = np.inf
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def test_ranks_3350_counting(benchmark, yc2):
    _, _, S = yc2
    result = benchmark.pedantic(lambda: retrieval_metrics(ranks_from_similarity(S)), rounds=5,
                                iterations=1, warmup_rounds=1)
    fast = _best_of(lambda: retrieval_metrics(ranks_from_similarity(S)), 3)
    dense = _best_of(lambda: dense_argsort_metrics(S), 2)
    benchmark.extra_info.update(fast_s=fast, dense_argsort_s=dense, speedup=dense / fast)
    assert result == pytest.approx(dense_argsort_metrics(S))  # continuous scores: no ties
    assert dense / fast >= 5.0


def test_ranks_3350_dense_argsort(benchmark, yc2):
    _, _, S = yc2
    benchmark.pedantic(lambda: dense_argsort_metrics(S), rounds=2, iterations=1)


def test_ranks_3350_from_embeddings(benchmark, yc2):
    """End to end from 6144-d embeddings: the 3350 x 3350 x 6144 product dominates."""
    text, video, _ = yc2
    benchmark.pedantic(lambda: retrieval_metrics(ranks_from_embeddings(text, video)), rounds=2,
                       iterations=1)


def test_ranks_100k_by_100k_memory(benchmark):
    """10^5 queries x 10^5 gallery at 256-d: peak memory of the ranking must stay under 2 GB."""
    n, d = 100_000, 256
    rng = np.random.default_rng(1)
    gallery = _normed(rng.standard_normal((n, d), dtype=np.float32))
    queries = _normed(gallery + 0.25 * rng.standard_normal((n, d), dtype=np.float32))
    inputs_mb = (queries.nbytes + gallery.nbytes) / 2**20
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    def run():
        tracemalloc.start()
        try:
            metrics = retrieval_metrics(ranks_from_embeddings(queries, gallery))
            peak = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
        return metrics, peak

    metrics, peak_mb = benchmark.pedantic(run, rounds=1, iterations=1)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    benchmark.extra_info.update(peak_traced_mb=peak_mb, inputs_mb=inputs_mb,
                                peak_with_inputs_mb=peak_mb + inputs_mb,
                                ru_maxrss_mb=rss1, ru_maxrss_delta_mb=rss1 - rss0,
                                **{k: float(v) for k, v in metrics.items()})
    assert peak_mb + inputs_mb < 2048
    assert 0.0 < metrics["R@1"] <= metrics["R@10"] <= 100.0


@pytest.fixture(scope="module")
def crosstask_videos():
    rng = np.random.default_rng(2)
    return [rng.standard_normal((600, 12)).astype(np.float32) for _ in range(1000)]


@pytest.mark.parametrize("log_softmax", [True, False], ids=["log_softmax", "raw"])
def test_crosstask_dp_1000_videos(benchmark, crosstask_videos, log_softmax):
    """1,000 videos x 600 s x 12 steps; target <= 0.4 s (the compiled official DP on 2 cores)."""
    res = benchmark.pedantic(lambda: crosstask_dp_batch(crosstask_videos, log_softmax=log_softmax),
                             rounds=5, iterations=1, warmup_rounds=1)
    best = _best_of(lambda: crosstask_dp_batch(crosstask_videos, log_softmax=log_softmax), 3)
    benchmark.extra_info.update(best_s=best)
    assert res.counts["ok"] == 1000
    assert best <= 0.4


MYT_SETTINGS = {
    "exact_default": {},
    "reference_blocks20_poisson": MYT_REFERENCE,
    "exact_poisson_min20": {"min_len": 20, "poisson_mean": 150.0},
}


@pytest.mark.parametrize("name", list(MYT_SETTINGS))
def test_myt_alignment_3000_frames(benchmark, name):
    """One 3,000-frame video, 513 classes, a 10-entry transcript alternating with background."""
    rng = np.random.default_rng(3)
    log_probs = np.log(rng.dirichlet(np.full(513, 0.5), size=3000))
    transcript = [512, 3, 512, 7, 512, 9, 512, 11, 512, 13]
    res = benchmark.pedantic(lambda: transcript_alignment(log_probs, transcript, **MYT_SETTINGS[name]),
                             rounds=3, iterations=1, warmup_rounds=1)
    assert res.labels.shape == (3000,) and res.bounds[-1] == 3000
