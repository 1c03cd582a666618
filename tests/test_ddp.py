"""2 gloo processes with half the batch each compute what 1 process with the whole batch does:
same loss, same gradient of every parameter, same weights, BatchNorm statistics and k-means state
after several steps including k-means refits (DESIGN "Training").

The comparison runs in float64: in float32 the two computations agree only to rounding (sums
taken in another order inside BatchNorm and the gradient all-reduce give relative differences of
~1e-5 on gradients of size ~10 after a 10-layer DAVEnet), which would hide real errors behind a
loose tolerance. In float64 they agree to ~1e-12.
"""
from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mcnbench.models.mcn import MCNConfig
from mcnbench.training.config import TrainConfig
from mcnbench.training.distributed import DistEnv, all_gather_with_grad
from mcnbench.training.trainer import Trainer

WORLD = 2
MODEL = dict(embd_dim=16, video_dim=8, we_dim=6, davenet_widths=(4, 4, 4, 8), audio_gate_dim=8,
             recon_size=8)
TRAIN = dict(epochs=1, batch_videos=4, n_pair=4, min_time=1.0, audio_frames=32, max_words=5,
             lr=1e-2, warmup_steps=1, n_clusters=3, queue_batches=1, refit_every=2, amp="off",
             device="cpu", seed=7)
STEPS = 4  # refits at steps 0 and 2; the queue is full (and used) from step 1
# the clustering variants checked besides MCN's: Sinkhorn codes over the gathered batch and
# queues, prototypes trained from step 0 (their gradient is not behind the gather)
VARIANTS = {"joint": {}, "sinkhorn-swap": {"cluster_mode": "sinkhorn-swap", "cluster_labels": "soft",
                                           "prototype_freeze_epochs": 0}}


def _batches(cfg: TrainConfig) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    n = cfg.clips_per_batch
    return [{"video": torch.rand(n, 8, generator=g),
             "audio": -80 * torch.rand(n, 40, cfg.audio_frames, generator=g),
             "nframes": torch.randint(1, cfg.audio_frames + 1, (n,), generator=g),
             "text": torch.randn(n, cfg.max_words, 6, generator=g)} for _ in range(STEPS)]


def _run(trainer: Trainer, batches, rank: int = 0, world: int = 1) -> dict:
    per = batches[0]["video"].shape[0] // world
    losses, grads = [], []
    trainer.start_epoch()
    for i, b in enumerate(batches):
        local = {k: v[rank * per:(rank + 1) * per] for k, v in b.items()}
        losses.append(trainer.step(local, i))
        params = [*trainer.net.named_parameters(),
                  *(("head." + n, p) for n, p in trainer.clustering.head.named_parameters())]
        grads.append({n: p.grad.clone() for n, p in params if p.grad is not None})
    heads = {"head." + k: v for k, v in trainer.clustering.head.state_dict().items()}
    return {"losses": losses, "grads": grads, "state": {**trainer.net.state_dict(), **heads},
            "clustering": {kind: trainer.clustering.state_dict()[kind] for kind in ("kmeans", "sinkhorn")}}


def _worker(rank: int, port: int, out_dir: str, mode: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        env = DistEnv.setup("cpu")
        if mode == "gather":
            x = torch.arange(6.0).view(3, 2).add(10 * rank).requires_grad_()
            full = all_gather_with_grad(x, env)
            (full * torch.arange(12.0).view(6, 2)).sum().backward()  # same loss on each rank
            torch.save({"full": full.detach(), "grad": x.grad}, f"{out_dir}/gather{rank}.pt")
            return
        cfg = TrainConfig(**TRAIN, **VARIANTS[mode.split(":")[1]])
        trainer = Trainer(MCNConfig(**MODEL), cfg, total_steps=STEPS, env=env)
        torch.save(_run(trainer, _batches(cfg), rank, WORLD), f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(tmp_path, mode: str) -> list[dict]:
    mp.spawn(_worker, args=(_free_port(), str(tmp_path), mode), nprocs=WORLD, join=True)
    name = "gather" if mode == "gather" else "rank"
    return [torch.load(tmp_path / f"{name}{r}.pt", weights_only=True) for r in range(WORLD)]


def test_all_gather_backward_sums_the_copies(tmp_path):
    res = _spawn(tmp_path, "gather")
    expect = torch.cat([torch.arange(6.0).view(3, 2) + 10 * r for r in range(WORLD)])
    w = torch.arange(12.0).view(6, 2)
    for r, out in enumerate(res):
        torch.testing.assert_close(out["full"], expect, check_dtype=False)
        # each rank's copy of the loss contributes: gradient = WORLD x the rank's slice of w
        torch.testing.assert_close(out["grad"], WORLD * w[3 * r:3 * (r + 1)], check_dtype=False)


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_two_processes_equal_one(tmp_path, variant):
    cfg = TrainConfig(**TRAIN, **VARIANTS[variant])
    torch.set_default_dtype(torch.float64)
    try:
        # the gradients are compared, so the step comes after the backward pass (not in it)
        single = _run(Trainer(MCNConfig(**MODEL), cfg, total_steps=STEPS, step_in_backward=False),
                      _batches(cfg))
    finally:
        torch.set_default_dtype(torch.float32)
    assert single["grads"][0]["GU_video.fc.weight"].dtype == torch.float64
    ranks = _spawn(tmp_path, f"train:{variant}")
    if variant != "joint":
        assert any(n.startswith("head.") for n in single["grads"][0])
    for r, res in enumerate(ranks):
        for step, (a, b) in enumerate(zip(single["losses"], res["losses"], strict=True)):
            for term in ("loss", "mms", "cluster", "recon", "lr"):
                assert b[term] == pytest.approx(a[term], rel=1e-9, abs=1e-9), (r, step, term)
        for step, (ga, gb) in enumerate(zip(single["grads"], res["grads"], strict=True)):
            assert ga.keys() == gb.keys()
            for name in ga:
                # DDP averages the ranks' gradients: each must be the 1-process one
                torch.testing.assert_close(gb[name], ga[name], atol=1e-9, rtol=1e-7,
                                           msg=lambda m, n=name, s=step: f"{n} step {s}: {m}")
        for name, value in single["state"].items():  # weights and BatchNorm running stats
            torch.testing.assert_close(res["state"][name], value, atol=1e-9, rtol=1e-7,
                                       msg=lambda m, n=name: f"{n}: {m}")
        for kind in ("kmeans", "sinkhorn"):  # centroids and queues of every clustered source
            assert res["clustering"][kind].keys() == single["clustering"][kind].keys()
            for name, want in single["clustering"][kind].items():
                for key in ("centroids", "queue"):
                    if key in want:
                        torch.testing.assert_close(res["clustering"][kind][name][key], want[key],
                                                   atol=1e-9, rtol=1e-7)
