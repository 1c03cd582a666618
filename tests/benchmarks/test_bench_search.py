"""Search speed at gallery scale: faiss build time and query latency at 10^5 and 10^6 clips.

Run: ``pytest tests/benchmarks/test_bench_search.py --benchmark-enable --benchmark-only``.

The gallery is random unit vectors of the model's width (``MCNBENCH_BENCH_DIM``, default 512,
the MCN of the tiny preset; the default preset's 1024 doubles memory and time), drawn in chunks
from a fixed seed so the 10^6 case never holds more than the index itself (2 GB at 512-d)
plus one chunk. Queries are gallery rows plus noise (a caption near its clip). Figures go into
``extra_info``: build seconds, the index's memory, and for IVF its recall@10 against the exact
search of the same queries. Random vectors are the worst case for IVF (no cluster structure),
so its recall here is a floor, not what real embeddings get.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest

faiss = pytest.importorskip("faiss")

DIM = int(os.environ.get("MCNBENCH_BENCH_DIM", "512"))
CHUNK = 100_000
SIZES = (100_000, 1_000_000)


def chunks(n: int, seed: int = 0):
    """Unit vectors [n, DIM] float32 in chunks of CHUNK rows, the same for every call."""
    for start in range(0, n, CHUNK):
        rng = np.random.default_rng([seed, start])
        x = rng.standard_normal((min(CHUNK, n - start), DIM), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        yield x


def queries(n: int, q: int = 100, seed: int = 1) -> np.ndarray:
    rows = np.sort(np.random.default_rng(seed).choice(n, q, replace=False))
    base = np.concatenate([c[rows[(rows >= s) & (rows < s + len(c))] - s]
                           for s, c in zip(range(0, n, CHUNK), chunks(n), strict=False)])
    noise = np.random.default_rng(seed).standard_normal(base.shape, dtype=np.float32)
    noisy = base + 0.5 * noise / math.sqrt(DIM)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"{n:.0e}")
def exact(request):
    """(n, flat index, build seconds, the exact top-10 of the queries)."""
    n = request.param
    t0 = time.perf_counter()
    index = faiss.IndexFlatIP(DIM)
    for c in chunks(n):
        index.add(c)
    build_s = time.perf_counter() - t0
    q = queries(n)
    _, top = index.search(q, 10)
    yield n, index, build_s, q, top
    index.reset()


def test_flat_query_latency(benchmark, exact):
    n, index, build_s, q, _ = exact
    benchmark.pedantic(lambda: index.search(q[:1], 10), rounds=10, iterations=1, warmup_rounds=1)
    t0 = time.perf_counter()
    index.search(q, 10)
    batch_s = time.perf_counter() - t0
    benchmark.extra_info.update(n=n, dim=DIM, kind="IndexFlatIP", build_s=round(build_s, 3),
                                index_mb=round(n * DIM * 4 / 2**20), batch_100_s=round(batch_s, 4))


def test_ivf_build_and_query_latency(benchmark, exact):
    from mcnbench.search.index import DEFAULT_NPROBE

    n, flat, _, q, top = exact
    nlist = int(math.sqrt(n))  # sqrt(N) lists keep the k-means training of the benchmark to minutes
    train = np.concatenate(list(chunks(min(n, 64 * nlist), seed=2)))
    t0 = time.perf_counter()
    quantizer = faiss.IndexFlatIP(DIM)
    index = faiss.IndexIVFFlat(quantizer, DIM, nlist, faiss.METRIC_INNER_PRODUCT)
    index.train(train)
    for c in chunks(n):
        index.add(c)
    build_s = time.perf_counter() - t0
    index.nprobe = DEFAULT_NPROBE
    benchmark.pedantic(lambda: index.search(q[:1], 10), rounds=20, iterations=1, warmup_rounds=1)
    _, got = index.search(q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, got, strict=True)])
    benchmark.extra_info.update(n=n, dim=DIM, kind="IndexIVFFlat", nlist=nlist, nprobe=index.nprobe,
                                train_rows=len(train), build_s=round(build_s, 3),
                                recall_at_10_vs_exact=round(float(recall), 3))
    index.reset()
