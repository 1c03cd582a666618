"""Cost of the clustering variants (Table 6) against MCN's ``joint`` at the ``default`` preset's
hints (B = 256 clips, D = 1024, K = 32, queue of 5 batches): one whole training step, and the
clustering term alone (forward + backward on fixed embeddings, queue full).

    pytest tests/benchmarks/test_bench_cluster.py --benchmark-enable --benchmark-only \
        -p no:cacheprovider --benchmark-columns=min,median,rounds

Synthetic tensors of the default world's shapes; no world on disk is needed.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from mcnbench.data.synth import model_hints
from mcnbench.models.mcn import MCNConfig
from mcnbench.training.clustering import ClusterObjective
from mcnbench.training.config import TrainConfig
from mcnbench.training.trainer import Trainer
from mcnbench.zoo.mcn_model import network_config

VIDEO_DIM, WE_DIM = 128, 100  # the default world's 2·video_half_dim and word2vec size
MODES = ["joint", "per-modality", "kmeans-joint", "sinkhorn-swap", "sinkhorn-joint"]


def _cfg(mode: str, labels: str) -> TrainConfig:
    hints = model_hints("default")
    return TrainConfig.from_dict({**hints["train"], "device": "cpu", "amp": "off", "cluster_mode": mode,
                                  "cluster_labels": labels, "prototype_freeze_epochs": 0})


@pytest.mark.parametrize("labels", ["hard", "soft"])
@pytest.mark.parametrize("mode", MODES)
def test_train_step_per_cluster_mode(benchmark, mode, labels):
    tcfg = _cfg(mode, labels)
    ncfg = network_config(MCNConfig().to_dict(), **model_hints("default")["model"], video_dim=VIDEO_DIM,
                          we_dim=WE_DIM, recon=tcfg.recon)
    g = torch.Generator().manual_seed(0)
    n = tcfg.clips_per_batch
    batch = {"video": torch.rand(n, VIDEO_DIM, generator=g),
             "audio": -80 * torch.rand(n, 40, tcfg.audio_frames, generator=g),
             "nframes": torch.full((n,), tcfg.audio_frames, dtype=torch.long),
             "text": 0.15 * torch.randn(n, tcfg.max_words, WE_DIM, generator=g)}
    trainer = Trainer(ncfg, tcfg, total_steps=1000)
    trainer.start_epoch()
    step = iter(range(10**9))
    for _ in range(tcfg.queue_batches + 1):  # fill the queues, first k-means fit
        trainer.step(batch, next(step) % tcfg.refit_every + 1)
    benchmark.pedantic(lambda: trainer.step(batch, next(step) % tcfg.refit_every + 1),
                       rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(clips_per_s=n / benchmark.stats.stats.min, threads=torch.get_num_threads())


@pytest.mark.parametrize("labels", ["hard", "soft"])
@pytest.mark.parametrize("mode", MODES)
def test_clustering_term_alone(benchmark, mode, labels):
    tcfg = _cfg(mode, labels)
    d = model_hints("default")["model"]["embd_dim"]
    obj = ClusterObjective(tcfg, d, ("video", "audio", "text"), total_steps=1000)
    g = torch.Generator().manual_seed(0)
    out = SimpleNamespace(**{m: torch.randn(tcfg.clips_per_batch, d, generator=g).requires_grad_()
                             for m in ("video", "audio", "text")})
    step = iter(range(10**9))

    def once():
        s = next(step)
        obj.loss(out, s % tcfg.refit_every + 1, s).backward()  # no k-means refit: the usual step

    for _ in range(tcfg.queue_batches + 1):
        once()
    benchmark.pedantic(once, rounds=20, iterations=1, warmup_rounds=2)
