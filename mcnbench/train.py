"""MCN training — the public entry point (the code lives in :mod:`mcnbench.training`).

    from mcnbench.train import TrainConfig, train
    model_path = train(MCNConfig(embd_dim=256), TrainConfig(epochs=6), data_root, "runs/mcn")

One process by default; under ``torchrun --nproc_per_node N`` the same call runs
DistributedDataParallel with each rank on B/N videos of every global batch (docs/training.md).
"""
from mcnbench.training import CHECKPOINT_NAME, CONFIG_NAME, LOG_NAME, MODEL_NAME, TrainConfig, read_log, train
from mcnbench.training.schedule import lr_factor

__all__ = ["CHECKPOINT_NAME", "CONFIG_NAME", "LOG_NAME", "MODEL_NAME", "TrainConfig", "lr_factor",
           "read_log", "train"]
