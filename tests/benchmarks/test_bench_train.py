"""Speed of one MCN training step at the ``default`` preset's hints (clips/s), and of the clip
sampler (run: pytest tests/benchmarks --benchmark-enable --benchmark-only).

The batch is built from synthetic tensors of the default world's shapes (no world on disk is
needed), so the step measures the network, the losses, k-means and Adam only. ``extra_info``
holds clips per second and the threads used.
"""
from __future__ import annotations

import pytest
import torch

from mcnbench.data.synth import model_hints
from mcnbench.models.mcn import MCNConfig
from mcnbench.training.config import TrainConfig
from mcnbench.training.trainer import Trainer
from mcnbench.zoo.mcn_model import network_config

VIDEO_DIM, WE_DIM = 128, 100  # the default world's 2·video_half_dim and word2vec size


def _setup(preset: str = "default", **changes):
    hints = model_hints(preset)
    tcfg = TrainConfig.from_dict({**hints["train"], "device": "cpu", "amp": "off", **changes})
    ncfg = network_config(MCNConfig().to_dict(), **hints["model"], video_dim=VIDEO_DIM, we_dim=WE_DIM,
                          recon=tcfg.recon)
    g = torch.Generator().manual_seed(0)
    n = tcfg.clips_per_batch
    batch = {"video": torch.rand(n, VIDEO_DIM, generator=g),
             "audio": -80 * torch.rand(n, 40, tcfg.audio_frames, generator=g),
             "nframes": torch.full((n,), tcfg.audio_frames, dtype=torch.long),
             "text": 0.15 * torch.randn(n, tcfg.max_words, WE_DIM, generator=g)}
    trainer = Trainer(ncfg, tcfg, total_steps=1000)
    trainer.start_epoch()
    return trainer, batch, tcfg


@pytest.mark.parametrize("what", ["full", "contrastive-only"])
def test_train_step_default_hints(benchmark, what):
    changes = {"cluster_mode": "none", "recon": False} if what == "contrastive-only" else {}
    trainer, batch, tcfg = _setup(**changes)
    step = iter(range(10**9))
    trainer.step(batch, next(step))  # warm-up: first k-means fit, allocator
    benchmark.pedantic(lambda: trainer.step(batch, next(step) % tcfg.refit_every + 1),
                       rounds=5, iterations=1, warmup_rounds=1)
    clips = tcfg.clips_per_batch
    benchmark.extra_info.update(clips_per_batch=clips, threads=torch.get_num_threads(),
                                clips_per_s=clips / benchmark.stats.stats.min)


def test_train_step_with_kmeans_refit(benchmark):
    trainer, batch, tcfg = _setup()
    trainer.step(batch, 0)
    benchmark.pedantic(lambda: trainer.step(batch, 0), rounds=3, iterations=1)  # refit each time
    benchmark.extra_info.update(clips_per_s=tcfg.clips_per_batch / benchmark.stats.stats.min)
