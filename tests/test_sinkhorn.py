"""Sinkhorn-Knopp codes, prototypes and the online (queued) assignment (mcnbench.models.sinkhorn)."""
from __future__ import annotations

import math

import pytest
import torch

from mcnbench.models.sinkhorn import OnlineSinkhorn, Prototypes, sinkhorn_knopp


def brute_force_sinkhorn(scores: torch.Tensor, epsilon: float, iters: int) -> torch.Tensor:
    """SwAV's algorithm written out with Python loops over plain exponentials ([K, N] layout)."""
    n, k = scores.shape
    Q = [[math.exp(float(scores[i, j]) / epsilon) for i in range(n)] for j in range(k)]  # [K][N]
    total = sum(sum(row) for row in Q)
    Q = [[q / total for q in row] for row in Q]
    for _ in range(iters):
        for j in range(k):  # every prototype's mass -> 1/K
            s = sum(Q[j])
            Q[j] = [q / s / k for q in Q[j]]
        for i in range(n):  # every sample's mass -> 1/N
            s = sum(Q[j][i] for j in range(k))
            for j in range(k):
                Q[j][i] = Q[j][i] / s / n
    return torch.tensor([[Q[j][i] * n for j in range(k)] for i in range(n)], dtype=torch.float64)


@pytest.mark.parametrize("n,k,epsilon,iters", [(7, 3, 0.05, 3), (5, 8, 0.3, 1), (12, 4, 0.1, 10)])
def test_equals_the_brute_force_loop(n, k, epsilon, iters):
    scores = torch.rand(n, k, generator=torch.Generator().manual_seed(n * k), dtype=torch.float64) * 2 - 1
    torch.testing.assert_close(sinkhorn_knopp(scores, epsilon, iters),
                               brute_force_sinkhorn(scores, epsilon, iters), rtol=1e-10, atol=1e-12)


def test_marginals_rows_exact_columns_converge_to_equipartition():
    n, k = 40, 5
    scores = torch.rand(n, k, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    errors = []
    for iters in (1, 3, 30, 300):
        Q = sinkhorn_knopp(scores, 0.1, iters)
        assert (Q >= 0).all()
        torch.testing.assert_close(Q.sum(dim=1), torch.ones(n, dtype=torch.float64), rtol=0, atol=1e-12)
        errors.append((Q.sum(dim=0) - n / k).abs().max().item())
    assert errors == sorted(errors, reverse=True) and errors[0] > 1e-2
    assert errors[-1] < 1e-9  # doubly stochastic (rows 1, columns N/K) to tolerance


def test_symmetric_case_by_hand():
    # balanced scores: the column sums are already equal, so Q is the row softmax of S / ε
    S = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    a = math.exp(2) / (1 + math.exp(2))  # ε = 0.5: softmax([2, 0])
    torch.testing.assert_close(sinkhorn_knopp(S, 0.5, 3), torch.tensor([[a, 1 - a], [1 - a, a]]))


def test_equipartition_spreads_a_batch_that_prefers_one_prototype():
    # every clip is closest to prototype 0; softmax would send all of them there, Sinkhorn
    # splits the batch evenly and sends the clips least attached to 0 elsewhere
    n = 8
    S = torch.stack([torch.ones(n), torch.linspace(0.0, 0.9, n)], dim=1)
    Q = sinkhorn_knopp(S, 0.05, 200)
    assert torch.softmax(S / 0.05, dim=1).argmax(dim=1).eq(0).all()
    torch.testing.assert_close(Q.sum(dim=0), torch.full((2,), n / 2.0), rtol=0, atol=1e-4)
    assert Q.argmax(dim=1).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


def test_small_epsilon_stays_finite():
    S = torch.rand(64, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    Q = sinkhorn_knopp(S, 1e-3, 3)  # exp(S / ε) alone overflows float32
    assert torch.isfinite(Q).all()
    torch.testing.assert_close(Q.sum(dim=1), torch.ones(64), rtol=0, atol=1e-5)


def test_no_gradient_and_bad_arguments():
    S = torch.randn(4, 3, requires_grad=True)
    assert not sinkhorn_knopp(S).requires_grad
    with pytest.raises(ValueError, match="epsilon"):
        sinkhorn_knopp(S, 0.0)
    with pytest.raises(ValueError, match="iters"):
        sinkhorn_knopp(S, 0.05, 0)
    with pytest.raises(ValueError, match=r"\[N, K\]"):
        sinkhorn_knopp(torch.randn(3))


def test_prototypes_score_cosines_and_can_be_frozen():
    protos = Prototypes(3, 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(protos.weight.norm(dim=1), torch.ones(3))
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(1), requires_grad=True)
    want = torch.nn.functional.cosine_similarity(x[:, None], protos.weight[None], dim=2)
    torch.testing.assert_close(protos(x), want)
    protos(x, detach_weight=True).sum().backward()
    assert protos.weight.grad is None and x.grad is not None
    with torch.no_grad():
        protos.weight.mul_(3.0)
    protos.normalize_()
    torch.testing.assert_close(protos.weight.norm(dim=1), torch.ones(3))
    same = Prototypes(3, 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(same.weight, protos.weight)  # seeded by its own generator


def test_online_codes_use_the_queue_once_full_and_resume_exactly():
    dim, cpv, n_videos = 4, 2, 3  # a push stores 1 clip per video: 3 rows
    protos = Prototypes(3, dim, generator=torch.Generator().manual_seed(0))
    sk = OnlineSinkhorn(protos, queue_rows=6, epsilon=0.1, iters=3)
    g = torch.Generator().manual_seed(2)
    batches = [torch.randn(n_videos * cpv, dim, generator=g) for _ in range(5)]
    normed = [torch.nn.functional.normalize(b, dim=1) for b in batches]
    for step in range(2):  # queue not full yet: the batch alone
        torch.testing.assert_close(sk.step(batches[step], step, cpv),
                                   sinkhorn_knopp(normed[step] @ protos.weight.t(), 0.1, 3))
    assert sk.full
    queue = torch.cat([normed[s].view(n_videos, cpv, dim)[:, 0] for s in range(2)])
    torch.testing.assert_close(sk.queue_contents(), queue)
    rows = torch.cat((queue, normed[2]))
    torch.testing.assert_close(sk.step(batches[2], 2, cpv),
                               sinkhorn_knopp(rows @ protos.weight.t(), 0.1, 3)[-6:])
    other = OnlineSinkhorn(protos, queue_rows=6, epsilon=0.1, iters=3)
    other.load_state_dict(sk.state_dict())
    # the ring now starts mid-buffer; it is scored as it lies, equal to oldest-first order
    assert sk._queue.ptr == 3
    rows = torch.cat((sk.queue_contents(), normed[3]))
    want = sinkhorn_knopp(rows @ protos.weight.t(), 0.1, 3)[-6:]
    for step in (3, 4):
        got = sk.step(batches[step], step, cpv)
        assert torch.equal(got, other.step(batches[step], step, cpv))  # resumed: bit-identical
        if step == 3:
            torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="whole number of videos"):
        sk.step(torch.randn(5, dim), 0, 2)
    with pytest.raises(ValueError, match="queue_rows"):
        OnlineSinkhorn(protos, queue_rows=4).load_state_dict(sk.state_dict())
