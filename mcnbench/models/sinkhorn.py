"""Sinkhorn-Knopp cluster assignment with learnable prototypes (SwAV; the "Sinkhorn" rows of the
MCN paper's Table 6, mcn_spec §3.6 and §4.4).

Prototypes ``W [K, D]`` have unit rows (renormalised in place before each use, as SwAV and the
reference's ``classification`` layer do). The prototype scores of an embedding ``x`` are
``s = (x / |x|) Wᵀ`` (cosines in [-1, 1]). Per batch the codes (soft cluster assignments) are

    Q = diag(u) · exp(S / ε) · diag(r),   S = [s_1; …; s_N]  [N, K]

with ``u, r`` found by ``iters`` rounds of Sinkhorn-Knopp: scale every prototype's column to
total mass 1/K (equipartition over prototypes), then every sample's row to 1/N; the result is
multiplied by N so that each row is a probability vector over the K prototypes. After the last
round the rows sum to 1 exactly and the columns to N/K approximately (exactly in the limit).

Everything here is pure torch and runs on the scores' device; the assignment has no gradient.
It is computed in the log domain (``logsumexp`` instead of sums of ``exp``), which is the same
arithmetic without overflow or underflow for small ε.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mcnbench.models.kmeans import FeatureQueue, check_whole_videos

__all__ = ["DEFAULT_EPSILON", "DEFAULT_ITERS", "sinkhorn_knopp", "Prototypes", "OnlineSinkhorn"]

DEFAULT_EPSILON = 0.05  # SwAV's ε
DEFAULT_ITERS = 3  # SwAV's number of Sinkhorn-Knopp rounds


@torch.no_grad()
def sinkhorn_knopp(scores: torch.Tensor, epsilon: float = DEFAULT_EPSILON,
                   iters: int = DEFAULT_ITERS) -> torch.Tensor:
    """Codes ``Q [N, K]`` of the prototype scores ``scores [N, K]`` (module docstring).

    Rows of the result sum to 1; column sums approach N/K as ``iters`` grows. Computed in
    float32 or wider, returned in the scores' dtype. No gradient.
    """
    if scores.dim() != 2 or 0 in scores.shape:
        raise ValueError(f"scores must be a non-empty [N, K] matrix, got {tuple(scores.shape)}")
    if epsilon <= 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters!r}")
    n, k = scores.shape
    log_q = scores.detach().to(torch.promote_types(scores.dtype, torch.float32)) / epsilon
    log_q = log_q - torch.logsumexp(log_q.flatten(), dim=0)  # Q /= ΣQ
    log_n, log_k = math.log(n), math.log(k)
    for _ in range(iters):
        log_q = log_q - torch.logsumexp(log_q, dim=0, keepdim=True) - log_k  # columns: 1/K each
        log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True) - log_n  # rows: 1/N each
    return (log_q + log_n).exp().to(scores.dtype)


class Prototypes(nn.Module):
    """K learnable prototypes of dimension D (a bias-free linear layer with unit rows).

    ``forward(x [B, D]) -> scores [B, K]`` = ``normalize(x) · Wᵀ``; ``detach_weight`` keeps the
    prototypes out of the graph (the reference freezes them during the first epoch).
    Initialised from ``generator`` (not the global RNG, so the network's initialisation is
    unchanged by their presence) with standard-normal rows, normalised.
    """

    def __init__(self, k: int, dim: int, *, generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        if k < 1 or dim < 1:
            raise ValueError(f"need k >= 1 and dim >= 1, got k={k}, dim={dim}")
        w = torch.randn(k, dim, generator=generator, dtype=dtype or torch.get_default_dtype())
        self.weight = nn.Parameter(F.normalize(w, dim=1))

    @torch.no_grad()
    def normalize_(self) -> None:
        """Rescale every prototype to unit length in place (before each training step)."""
        self.weight.copy_(F.normalize(self.weight, dim=1))

    def forward(self, x: torch.Tensor, *, detach_weight: bool = False) -> torch.Tensor:
        w = self.weight.detach() if detach_weight else self.weight
        return F.normalize(x, dim=1) @ w.t().to(x.dtype)


class OnlineSinkhorn:
    """Sinkhorn codes of one stream of embeddings (a modality, or the fused vector) per step,
    over ``[queue ; batch]`` once MCN's FIFO queue is full, as the k-means of MCN
    (:class:`~mcnbench.models.kmeans.OnlineKMeans`): the queue holds the *normalised* embeddings
    of the first half of each video's clips of past batches, and their scores are recomputed
    with the current prototypes every step (SwAV's queue). Returns the batch's last-B rows.

    Under DDP pass the all-gathered batch: every rank then computes the same codes.
    """

    def __init__(self, prototypes: Prototypes, queue_rows: int, *, epsilon: float = DEFAULT_EPSILON,
                 iters: int = DEFAULT_ITERS, push_per_video: int | None = None,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
        self.prototypes, self.epsilon, self.iters = prototypes, epsilon, iters
        self.dim = prototypes.weight.shape[1]
        self.queue_rows = queue_rows
        self._queue = FeatureQueue(queue_rows, self.dim, push_per_video, device=device, dtype=dtype)

    @property
    def full(self) -> bool:
        return self._queue.full

    def reset_epoch(self) -> None:
        """Nothing to forget: the prototypes are learned, the queue persists across epochs."""

    def queue_contents(self) -> torch.Tensor:
        return self._queue.contents()

    @torch.no_grad()
    def step(self, x: torch.Tensor, step_in_epoch: int, clips_per_video: int) -> torch.Tensor:
        """Codes ``[B, K]`` (rows sum to 1) of this batch's embeddings ``x [B, dim]``, whose
        videos' clips are contiguous; then pushes the batch's normalised rows to the queue.
        ``step_in_epoch`` is unused (the same signature as ``OnlineKMeans.step``)."""
        buf = self._queue.buffer
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must be [B, {self.dim}], got {tuple(x.shape)}")
        check_whole_videos(x.shape[0], clips_per_video)
        z = F.normalize(x.detach().to(device=buf.device, dtype=buf.dtype), dim=1)
        w = self.prototypes.weight.detach().t().to(buf.dtype)
        scores = z @ w
        if self.full:  # codes do not depend on the rows' order: score the ring as it lies (no copy)
            scores = torch.cat((buf @ w, scores))
        codes = sinkhorn_knopp(scores, self.epsilon, self.iters)[-z.shape[0]:]
        self._queue.push(z, clips_per_video)
        return codes

    def state_dict(self) -> dict:
        """The queue (oldest first) and the ring's write position, so that a resumed run scores
        the ring in the same row order (bit-identical codes); the prototypes are saved with the
        module that owns them."""
        return {"dim": self.dim, "queue_rows": self.queue_rows,
                "queue": self._queue.contents().clone(), "ptr": self._queue.ptr}

    def load_state_dict(self, state: dict) -> None:
        for key in ("dim", "queue_rows"):
            if state[key] != getattr(self, key):
                raise ValueError(f"OnlineSinkhorn state has {key}={state[key]}, "
                                 f"this instance {getattr(self, key)}")
        self._queue.load(state["queue"], state.get("ptr"))
