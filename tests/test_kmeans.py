"""Cosine k-means against a brute-force numpy reference, and the online queue schedule."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mcnbench.models import kmeans as km
from mcnbench.models.kmeans import OnlineKMeans, assign_cosine, cosine_kmeans


def brute_force_kmeans(X: np.ndarray, init: np.ndarray, max_iter: int, tol: float):
    """The library algorithm written out with loops (float64)."""
    C = init.astype(np.float64).copy()
    labels = None
    for _ in range(max_iter):
        labels = np.empty(len(X), dtype=np.int64)
        for i, x in enumerate(X):
            sims = [x @ c / ((np.linalg.norm(x) + 1e-8) * (np.linalg.norm(c) + 1e-8)) for c in C]
            labels[i] = int(np.argmax(sims))
        new = np.zeros_like(C)
        for j in range(len(C)):
            members = X[labels == j]
            if len(members):
                new[j] = members.mean(axis=0)
        shift = ((new - C) ** 2).sum()
        C = new
        if shift <= tol:
            break
    return C, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_iter", [1, 3, 100])
def test_matches_brute_force(seed, max_iter):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 5)) + rng.normal(size=(1, 5))  # not centred: cosine != euclidean
    init = X[rng.choice(60, 4, replace=False)]
    C_ref, y_ref = brute_force_kmeans(X, init, max_iter, 1e-4)
    C, y = cosine_kmeans(torch.tensor(X), 4, init=torch.tensor(init), max_iter=max_iter)
    np.testing.assert_array_equal(y.numpy(), y_ref)
    np.testing.assert_allclose(C.numpy(), C_ref, rtol=1e-10, atol=1e-12)


def test_labels_are_from_the_start_of_the_last_iteration():
    X = torch.tensor([[1.0, 0.1], [1.0, -0.1], [0.1, 1.0], [0.2, -1.0]])
    init = torch.tensor([[1.0, 0.0], [1.0, 0.05]])  # both near the first pair
    C, y = cosine_kmeans(X, 2, init=init, max_iter=1)
    # assignments against init: rows 0, 2 -> centroid 1 (larger y), rows 1, 3 -> centroid 0
    assert y.tolist() == [1, 0, 1, 0]
    torch.testing.assert_close(C, torch.stack([X[[1, 3]].mean(0), X[[0, 2]].mean(0)]))


def test_empty_cluster_becomes_zero_or_is_reseeded():
    X = torch.rand(20, 3) + 0.1  # all in the positive orthant
    init = torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])  # the second never wins
    C, y = cosine_kmeans(X, 2, init=init, max_iter=1)
    assert torch.all(y == 0)
    assert torch.all(C[1] == 0)
    torch.testing.assert_close(C[0], X.mean(0))
    C2, _ = cosine_kmeans(X, 2, init=init, max_iter=1, empty="reseed",
                          generator=torch.Generator().manual_seed(0))
    assert any(torch.equal(C2[1], row) for row in X)


def test_warm_start_at_a_fixed_point_stops_after_one_iteration(monkeypatch):
    X = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    fixed = torch.stack([X[:2].mean(0), X[2:].mean(0)])
    calls = []
    real = km.assign_cosine
    monkeypatch.setattr(km, "assign_cosine", lambda *a, **k: calls.append(1) or real(*a, **k))
    C, y = cosine_kmeans(X, 2, init=fixed, max_iter=50)
    assert len(calls) == 1 and y.tolist() == [0, 0, 1, 1]
    torch.testing.assert_close(C, fixed)


def test_random_init_draws_distinct_rows():
    X = torch.eye(6) + 0.01  # 6 distinct directions, k = 6: every row must become a centroid
    C, y = cosine_kmeans(X, 6, max_iter=1, generator=torch.Generator().manual_seed(3))
    assert sorted(y.tolist()) == list(range(6))
    torch.testing.assert_close(C[y], X)
    with pytest.raises(ValueError, match="at least k"):
        cosine_kmeans(X, 7)


def test_chunked_assignment_equals_unchunked():
    g = torch.Generator().manual_seed(0)
    X, C = torch.randn(1000, 8, generator=g), torch.randn(7, 8, generator=g)
    assert torch.equal(assign_cosine(X, C, chunk_rows=64), assign_cosine(X, C, chunk_rows=10**6))
    brute = torch.nn.functional.cosine_similarity(X[:, None], C[None], dim=2).argmax(1)
    assert torch.equal(assign_cosine(X, C), brute)


# ---- OnlineKMeans -------------------------------------------------------------------------

def video_batch(n_videos: int, cpv: int, dim: int, step: int) -> torch.Tensor:
    """Fused rows whose first coordinate encodes (step, video, clip) so pushes can be traced."""
    ids = torch.arange(n_videos * cpv, dtype=torch.float64)
    x = torch.randn(n_videos * cpv, dim, generator=torch.Generator().manual_seed(step))
    x[:, 0] = step * 1000 + ids
    return x.float()


@pytest.mark.parametrize("n_videos,cpv", [(4, 4), (3, 2), (2, 6), (6, 1), (3, 3)])
def test_queue_pushes_first_half_of_each_video(n_videos, cpv):
    b, dim = n_videos * cpv, 4
    per_video = max(1, cpv // 2)
    okm = OnlineKMeans(k=2, dim=dim, queue_rows=3 * n_videos * per_video, refit_every=2, seed=0)
    pushed = []
    for step in range(5):
        x = video_batch(n_videos, cpv, dim, step)
        labels = okm.step(x, step, cpv)
        assert labels.shape == (b,) and labels.dtype == torch.long
        pushed.append(x.view(n_videos, cpv, dim)[:, :per_video].reshape(-1, dim))
        assert okm.full == (step >= 2)
    expected = torch.cat(pushed)[-okm.queue_rows:]  # FIFO: the newest queue_rows rows, oldest first
    torch.testing.assert_close(okm.queue_contents(), expected)


def test_queue_rows_for_reference_sizes():
    assert OnlineKMeans.queue_rows_for(20, 4096) == 40960
    assert OnlineKMeans.queue_rows_for(20, 64) == 640


def test_refit_schedule_and_queue_use(monkeypatch):
    seen = []
    real = km.cosine_kmeans

    def spy(X, k, **kw):
        seen.append((X.shape[0], kw["init"] is None))
        return real(X, k, **kw)

    monkeypatch.setattr(km, "cosine_kmeans", spy)
    b, cpv = 8, 4
    okm = OnlineKMeans(k=3, dim=5, queue_rows=8, refit_every=2, seed=0)  # full after 2 pushes of 4
    centroids = []
    for step in range(6):
        labels = okm.step(video_batch(2, cpv, 5, step), step, cpv)
        centroids.append(okm.centroids.clone())
        if step % 2:  # between refits: frozen centroids, nearest-centroid labels
            torch.testing.assert_close(centroids[-1], centroids[-2])
            assert torch.equal(labels, assign_cosine(video_batch(2, cpv, 5, step), okm.centroids))
    # refits at steps 0, 2, 4: batch only (random init), then queue + batch (warm start)
    assert seen == [(b, True), (8 + b, False), (8 + b, False)]
    okm.reset_epoch()
    okm.step(video_batch(2, cpv, 5, 9), 0, cpv)
    assert seen[-1] == (8 + b, True)  # new epoch: random init, queue kept


def test_online_state_dict_resume_is_exact():
    def run(okm, steps):
        return [okm.step(video_batch(3, 4, 6, s), s, 4) for s in steps]

    a = OnlineKMeans(k=3, dim=6, queue_rows=10, refit_every=3, seed=5)
    run(a, range(4))
    b = OnlineKMeans(k=3, dim=6, queue_rows=10, refit_every=3, seed=99)
    b.load_state_dict(a.state_dict())
    a.reset_epoch()
    b.reset_epoch()
    for la, lb in zip(run(a, range(5)), run(b, range(5)), strict=True):
        assert torch.equal(la, lb)
    torch.testing.assert_close(a.centroids, b.centroids)
    torch.testing.assert_close(a.queue_contents(), b.queue_contents())


def test_step_rejects_partial_videos():
    okm = OnlineKMeans(k=2, dim=3, queue_rows=4)
    with pytest.raises(ValueError, match="whole number of videos"):
        okm.step(torch.randn(5, 3), 0, 2)
