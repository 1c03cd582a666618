"""The MCN network, its losses, online k-means and checkpoint I/O.

Names are resolved lazily (PEP 562) so that importing a light submodule such as
``mcnbench.zoo.context`` does not import torch.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MCNConfig": "mcn", "MCNNet": "mcn", "MCNOutput": "mcn",
    "DAVEnet": "davenet", "pool_frames": "davenet", "output_frames": "davenet",
    "mms_loss": "losses", "mms_pairs": "losses", "mms_triplet": "losses",
    "cluster_contrast_loss": "losses", "clustering_loss": "losses", "fuse": "losses",
    "recon_loss": "losses", "mil_nce_loss": "losses", "nce_loss": "losses",
    "cosine_kmeans": "kmeans", "assign_cosine": "kmeans", "OnlineKMeans": "kmeans",
    "CheckpointError": "checkpoint", "save_checkpoint": "checkpoint",
    "load_state_dict_file": "checkpoint", "config_from_state_dict": "checkpoint",
    "load_mcn": "checkpoint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
