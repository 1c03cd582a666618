"""MCN training: config, the loop (1 process or torchrun DDP), schedule, resumable state.

    from mcnbench.training import TrainConfig, train
    path = train(model_config, TrainConfig(epochs=2), "/data/root", "runs/mcn")
"""
from mcnbench.training.config import TrainConfig
from mcnbench.training.loop import CONFIG_NAME, MODEL_NAME, resolve_device, train
from mcnbench.training.state import CHECKPOINT_NAME, LOG_NAME, read_log

__all__ = ["CHECKPOINT_NAME", "CONFIG_NAME", "LOG_NAME", "MODEL_NAME", "TrainConfig", "read_log",
           "resolve_device", "train"]
