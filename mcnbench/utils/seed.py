"""Seed every random number generator the harness touches."""
from __future__ import annotations

import os
import random

import numpy as np


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python's ``random``, numpy's global RNG and torch (CPU and CUDA).

    ``deterministic=True`` also asks torch for deterministic kernels (slower; opt-in).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    import torch

    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
