"""Speed of one MCN training step at the ``default`` preset's hints (clips/s), of the clip
sampler, and the trainer's speed and peak memory at the paper's shapes side by side with the
reference formulation (run: pytest tests/benchmarks --benchmark-enable --benchmark-only).

The batch is built from synthetic tensors of the default world's shapes (no world on disk is
needed), so the step measures the network, the losses, k-means and Adam only. ``extra_info``
holds clips per second and the threads used.

``test_paper_shapes_trainer_vs_reference`` runs each side in a fresh process (peak memory is a
process's high-water mark, ``ru_maxrss``), alternating reference, trainer, reference, trainer
(``MCNBENCH_BENCH_ROUNDS`` rounds, 2 by default), so that a drift of the machine's speed falls on
both sides alike; each process times ``MCNBENCH_BENCH_STEPS`` steps (3) after one warm-up step.
The reference is the official formulation (``Conv2d`` DAVEnet, Adam's default per-tensor loop)
as ``test_bench_model.py``'s ``naive`` step; the trainer is :class:`Trainer` itself (fused
Adam stepped inside the backward pass, FFT audio convolutions), 64 clips (2 videos x 32),
fp32, 1,000 audio frames. Both run with glibc keeping freed memory, as the trainer does on CPU.
About 5 GB per process, 1-2 minutes each on 2 cores.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

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


MIL_NCE = {"loss": "mil-nce", "no_audio": True, "cluster_mode": "none", "recon": False}
CHANGES = {"full": {}, "contrastive-only": {"cluster_mode": "none", "recon": False},
           "mil-nce": MIL_NCE, "mil-nce, audio branch run": MIL_NCE}


@pytest.mark.parametrize("what", list(CHANGES))
def test_train_step_default_hints(benchmark, what):
    trainer, batch, tcfg = _setup(**CHANGES[what])
    if what == "mil-nce, audio branch run":  # the path before the skip: the reference for it
        trainer.skip_audio = False
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


# -- the paper's shapes: trainer vs reference, speed and peak memory, one process each -----------
PAPER_CLIPS = 64  # 2 videos x 32 clips
ROUNDS = int(os.environ.get("MCNBENCH_BENCH_ROUNDS", "2"))
STEPS = int(os.environ.get("MCNBENCH_BENCH_STEPS", "3"))


def _paper_child(side: str, steps: int) -> dict:
    """In this (fresh) process: build one side, run 1 + ``steps`` steps, and report the step
    times, the losses and the peak resident memory."""
    from mcnbench.models.mcn import MCNConfig

    if side == "reference":
        sys.path.insert(0, str(Path(__file__).parent))
        from test_bench_model import VARIANTS, TrainStep

        step = TrainStep(MCNConfig(), PAPER_CLIPS, **VARIANTS["naive"])
        run = step
    else:
        net = MCNConfig()
        cfg = TrainConfig(batch_videos=2, n_pair=32, audio_frames=1000, max_words=20,
                          n_clusters=32, device="cpu", amp="off", warmup_steps=0)
        trainer = Trainer(net, cfg, total_steps=1000)
        g = torch.Generator().manual_seed(0)
        batch = {"video": torch.rand(PAPER_CLIPS, net.video_dim, generator=g),
                 "audio": -80 * torch.rand(PAPER_CLIPS, 40, 1000, generator=g),
                 "nframes": torch.full((PAPER_CLIPS,), 1000),
                 "text": 0.1 * torch.randn(PAPER_CLIPS, 20, net.we_dim, generator=g)}
        trainer.start_epoch()
        trainer.step(batch, 0)  # the first k-means fit happens here, in the warm-up
        counter = iter(range(1, 10**6))
        run = lambda: trainer.step(batch, next(counter) % cfg.refit_every or 1)  # noqa: E731
    if side == "reference":
        run()  # warm-up
    times, losses = [], []
    for _ in range(steps):
        t = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t)
        losses.append(out if isinstance(out, float) else out["loss"])
    return {"side": side, "step_s": times, "losses": losses, "threads": torch.get_num_threads(),
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def _spawn_child(side: str) -> dict:
    out = subprocess.run([sys.executable, __file__, side, str(STEPS)], capture_output=True,
                         text=True, check=True, env={**os.environ, "TQDM_DISABLE": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_paper_shapes_trainer_vs_reference(benchmark):
    results = {"reference": [], "trainer": []}

    def one_round():
        for side in ("reference", "trainer"):
            results[side].append(_spawn_child(side))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    best = {s: [min(r["step_s"]) for r in rs] for s, rs in results.items()}
    ratios = [a / b for a, b in zip(best["reference"], best["trainer"], strict=True)]
    benchmark.extra_info.update(
        clips=PAPER_CLIPS, threads=results["trainer"][0]["threads"],
        reference_step_s=best["reference"], trainer_step_s=best["trainer"],
        speedup_paired=ratios, speedup_median=statistics.median(ratios),
        reference_peak_rss_gb=[r["peak_rss_gb"] for r in results["reference"]],
        trainer_peak_rss_gb=[r["peak_rss_gb"] for r in results["trainer"]],
        trainer_clips_per_s=PAPER_CLIPS / min(best["trainer"]),
        reference_clips_per_s=PAPER_CLIPS / min(best["reference"]))


if __name__ == "__main__":  # the child process of test_paper_shapes_trainer_vs_reference
    from mcnbench.utils.malloc import keep_freed_memory

    keep_freed_memory()
    print(json.dumps(_paper_child(sys.argv[1], int(sys.argv[2]))))
