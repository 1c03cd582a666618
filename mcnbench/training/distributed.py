"""Multi-process training pieces: the process group, an all-gather that carries gradients, and
batch normalisation over the global batch.

The contract (DESIGN "Training"): N processes with B/N videos each compute what 1 process with B
videos computes. Every rank gathers all ranks' embeddings and evaluates the *whole* loss L on the
global batch, so all ranks hold the same L. Read the N copies as one objective N·L: the backward
of a gather is then a sum-all-reduce of the incoming gradient (each copy of L contributes), so a
rank's local gradient is N·∂L/∂θ_local, and DDP's averaging over N ranks leaves exactly ∂L/∂θ.
Batch-norm statistics are reduced the same way (sum semantics), which makes the DAVEnet's
``BatchNorm`` layers see the global batch, as in 1 process. ``torch.nn.SyncBatchNorm`` would do
this on GPU but refuses CPU tensors (torch 2.13), so :class:`GlobalBatchNorm` does it with plain
collectives on any backend (gloo on CPU, nccl on GPU).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistEnv:
    """Where this process stands: ``rank`` of ``world_size`` (1 = plain single process)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    group: object = None  # a process group of our own, so our collectives never interleave DDP's
    owns_group: bool = False  # we called init_process_group (and so destroy it)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def setup(cls, device: str) -> DistEnv:
        """Join the torchrun process group if ``WORLD_SIZE`` > 1 (or one already exists).

        Backend: nccl for CUDA, gloo for CPU. Single process: a ``DistEnv()`` that does nothing.
        """
        owns = False
        if not dist.is_initialized():
            if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
                return cls()
            backend = "nccl" if str(device).startswith("cuda") else "gloo"
            dist.init_process_group(backend=backend)
            owns = True
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", rank))
        if world <= 1:
            return cls(owns_group=owns)
        return cls(rank, world, local, dist.new_group(list(range(world))), owns)

    def shard(self, global_items: list) -> list:
        """This rank's contiguous share of one global batch (rank r takes part r of N), so the
        gathered batch is the global batch in its original order."""
        n = len(global_items)
        if n % self.world_size:
            raise ValueError(f"a global batch of {n} videos does not split over "
                             f"{self.world_size} processes; make batch_videos a multiple of it")
        per = n // self.world_size
        return global_items[self.rank * per:(self.rank + 1) * per]

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


class _AllGather(torch.autograd.Function):
    """Concatenate every rank's ``[b, ...]`` along dim 0 -> ``[N·b, ...]`` (rank order).

    Backward: the gradient of the gathered tensor is summed over ranks (each rank's copy of the
    loss contributes) and this rank's slice is returned.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, group, world: int, rank: int) -> torch.Tensor:
        ctx.group, ctx.rank, ctx.b = group, rank, x.shape[0]
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous(), group=group)
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad[ctx.rank * ctx.b:(ctx.rank + 1) * ctx.b], None, None, None


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks, every rank gets the result; backward sums the gradient the same way."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, group) -> torch.Tensor:
        ctx.group = group
        out = x.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad, None


def all_gather_with_grad(x: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """``[b, ...]`` on each rank -> ``[N·b, ...]`` on every rank, differentiable (see module doc).
    All ranks must pass the same shape. Identity when not distributed."""
    if not env.enabled:
        return x
    return _AllGather.apply(x, env.group, env.world_size, env.rank)


def all_reduce_sum_with_grad(x: torch.Tensor, env: DistEnv) -> torch.Tensor:
    if not env.enabled:
        return x
    return _AllReduceSum.apply(x, env.group)


class GlobalBatchNorm(nn.BatchNorm2d):
    """``BatchNorm2d`` (also on ``[N, C, T]``) whose training statistics are those of the global
    batch across ranks: exact two-pass mean / biased variance over all N·H·W positions, running
    statistics updated with the unbiased global variance, as ``F.batch_norm`` does in 1 process.
    Same parameters and buffers (same state_dict) as the layer it replaces. Eval mode, or a single
    process, is plain batch norm.
    """

    env: DistEnv | None = None

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() not in (3, 4):
            raise ValueError(f"expected 3D or 4D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        env = self.env
        if not (self.training and env is not None and env.enabled):
            return super().forward(x)
        self._check_input_dim(x)
        out_dtype = x.dtype
        x = x.to(torch.promote_types(x.dtype, torch.float32))  # statistics in fp32 under autocast
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = torch.tensor([x.numel() // x.shape[1]], dtype=torch.float64, device=x.device)
        dist.all_reduce(count, group=env.group)
        n = float(count.item())
        mean = all_reduce_sum_with_grad(x.sum(dim=dims), env) / n
        centred = x - mean.view(shape)
        var = all_reduce_sum_with_grad(centred.square().sum(dim=dims), env) / n
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape).to(y.dtype) + self.bias.view(shape).to(y.dtype)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else \
                    1.0 / float(self.num_batches_tracked.item())
                self.running_mean.mul_(1 - m).add_(mean.detach().to(self.running_mean.dtype), alpha=m)
                unbiased = var.detach() * (n / max(n - 1.0, 1.0))
                self.running_var.mul_(1 - m).add_(unbiased.to(self.running_var.dtype), alpha=m)
        return y.to(out_dtype)


def convert_batchnorm(module: nn.Module, env: DistEnv) -> nn.Module:
    """Replace every ``BatchNorm2d`` in ``module`` by a :class:`GlobalBatchNorm` bound to ``env``,
    keeping parameters and buffers (the same tensors), so state_dict keys are unchanged."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.BatchNorm2d) and not isinstance(child, GlobalBatchNorm):
            new = GlobalBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                  child.track_running_stats)
            new.env = env
            if child.affine:
                new.weight, new.bias = child.weight, child.bias
            if child.track_running_stats:
                new.running_mean, new.running_var = child.running_mean, child.running_var
                new.num_batches_tracked = child.num_batches_tracked
            new.train(child.training)
            setattr(module, name, new)
        else:
            convert_batchnorm(child, env)
    return module


def broadcast_object(obj, env: DistEnv, src: int = 0):
    """``obj`` from rank ``src`` on every rank (identity in 1 process)."""
    if not env.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src, group=env.group)
    return box[0]


def barrier(env: DistEnv) -> None:
    if env.enabled:
        dist.barrier(group=env.group)


__all__ = ["DistEnv", "GlobalBatchNorm", "all_gather_with_grad", "all_reduce_sum_with_grad",
           "barrier", "broadcast_object", "convert_batchnorm"]
