"""Learning-rate schedule of MCN (reference mcn_spec §5.1): linear warm-up from 0 over
``warmup_steps``, then half-cosine from the peak to 0 at ``total_steps``, stepped every iteration
(the official ``get_cosine_schedule_with_warmup`` with 0.5 cycles)."""
from __future__ import annotations

import math

import torch


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Multiplier of the peak lr before optimiser step ``step`` (0-based).

    ``step < warmup``: ``step / warmup``; then ``0.5·(1 + cos(π·p))`` with
    ``p = (step - warmup) / (total - warmup)``, clamped to [0, 1] so that steps past the end stay 0.
    """
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int,
                  total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` applying :func:`lr_factor`; call ``.step()`` after every optimiser step.

    Its state_dict holds only the step count (the lambda is rebuilt from the config on resume).
    """
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, warmup_steps, total_steps))
