"""``train()``: the MCN training run over a HowTo100M-format corpus, resumable, 1 or N processes.

Run layout in ``out_dir``::

    checkpoint.pth     resumable state (model, optimiser, scheduler, k-means, RNG, position,
                       configs), rewritten atomically every ``checkpoint_every`` steps and at
                       each epoch end
    train_log.jsonl    one line per step: step, epoch, loss, mms, cluster, recon, lr; with the
                       validation monitor (``val_every``) also val_R@1/5/10 and val_MedR on
                       the steps it measures, and a line with ``step`` 0 before training
    model.pth          final weights only (released-format keys; ``load_mcn`` reads it)
    config.json        model + training config, steps, corpus, timing

Determinism: the data of step (epoch, i) is a pure function of (seed, epoch) (see
:mod:`mcnbench.data.clip_sampler`), and every RNG is in the checkpoint, so a run that was killed
and resumed ends with the same weights as one that was not (on CPU; GPU kernels may not be
bit-deterministic).
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from mcnbench.models.mcn import MCNConfig
from mcnbench.training.config import TrainConfig
from mcnbench.training.distributed import DistEnv, barrier
from mcnbench.training.state import (
    CHECKPOINT_NAME,
    LOG_NAME,
    StepLog,
    load_state,
    rng_state,
    save_state,
    set_rng_state,
)
from mcnbench.training.trainer import Trainer

MODEL_NAME = "model.pth"
CONFIG_NAME = "config.json"
StepHook = Callable[[int, dict], None]


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when available, else "cpu"; anything else as given."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for, but torch sees no CUDA device")
    return device


def as_configs(model_config: MCNConfig | dict, train_config: TrainConfig | dict
               ) -> tuple[MCNConfig, TrainConfig]:
    cfg = train_config if isinstance(train_config, TrainConfig) else TrainConfig.from_dict(train_config)
    mcfg = model_config if isinstance(model_config, MCNConfig) else MCNConfig.from_dict(dict(model_config))
    if mcfg.recon != cfg.recon:  # the training config decides whether recon heads exist
        mcfg = MCNConfig.from_dict({**mcfg.to_dict(), "recon": cfg.recon})
    return mcfg, cfg


def train(model_config: MCNConfig | dict, train_config: TrainConfig | dict,
          corpus_root: str | Path, out_dir: str | Path, *, resume: bool = True,
          progress: bool = True, on_step: StepHook | None = None) -> Path:
    """Train MCN on the corpus under ``corpus_root`` (a data root with ``howto100m/`` and
    ``word2vec.bin``) and return the path of the final ``model.pth``.

    ``resume`` continues from ``out_dir/checkpoint.pth`` when present (its configs must equal
    these); a finished run returns at once. ``on_step(global_step, terms)`` is called after every
    step (tests use it to simulate a crash). Under ``torchrun`` every rank calls this; rank r
    trains on part r of each global batch and rank 0 writes the files.
    """
    mcfg, cfg = as_configs(model_config, train_config)
    device = resolve_device(cfg.device)
    if device == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"  # one GPU per process
    if device.startswith("cuda:"):
        torch.cuda.set_device(device)  # before NCCL starts
    env = DistEnv.setup(device)
    try:
        return _train(mcfg, cfg, Path(corpus_root), Path(out_dir), device, env, resume,
                      progress, on_step)
    finally:
        env.close()


def _train(mcfg: MCNConfig, cfg: TrainConfig, root: Path, out_dir: Path, device: str,
           env: DistEnv, resume: bool, progress: bool, on_step: StepHook | None) -> Path:
    from mcnbench.data.clip_sampler import ClipDataset, RunBatches, collate_clips
    from mcnbench.data.word2vec import load_word2vec

    t0 = time.perf_counter()
    wv = load_word2vec(root / "word2vec.bin")
    opts = dict(n_pair=cfg.n_pair, min_time=cfg.min_time, audio_frames=cfg.audio_frames,
                max_words=cfg.max_words, seed=cfg.seed, audio_clamp=cfg.audio_clamp,
                val_fraction=cfg.val_fraction)
    data = ClipDataset(root, wv, split="train" if cfg.val_fraction > 0 else "all", **opts)
    # input widths are the data's (paper defaults 4096 / 300 fit real data only)
    mcfg = MCNConfig.from_dict({**mcfg.to_dict(), "we_dim": wv.dim, "video_dim": data.video_dim})
    steps_per_epoch = len(data) // cfg.batch_videos
    total = steps_per_epoch * cfg.epochs
    trainer = Trainer(mcfg, cfg, total_steps=total, device=device, env=env)
    configs = {"model": trainer.model_config.to_dict(), "train": cfg.to_dict()}

    ckpt_path = out_dir / CHECKPOINT_NAME
    epoch, step, global_step = 0, 0, 0
    if resume and ckpt_path.exists():
        state = load_state(ckpt_path)
        _check_same_run(ckpt_path, state["configs"], configs)
        trainer.load_state_dict(state["trainer"])
        set_rng_state(state["rng"])
        epoch, step, global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
        if env.is_main:  # said with or without a progress bar: a resume is never silent
            print(f"mcnbench train: resuming {out_dir} at epoch {epoch} step {step} "
                  f"({global_step}/{total})", file=sys.stderr)

    def checkpoint(epoch: int, step: int) -> None:
        if env.is_main:
            save_state(ckpt_path, {"trainer": trainer.state_dict(), "rng": rng_state(),
                                   "epoch": epoch, "step_in_epoch": step,
                                   "global_step": global_step, "configs": configs})

    log = StepLog(out_dir / LOG_NAME, resume_step=global_step) if env.is_main else None
    # rank 0 alone measures (eval mode, no collectives); the others wait for it in the next
    # step's first collective, so nothing can deadlock
    monitor = _monitor(root, wv, cfg, opts, trainer) if cfg.val_every and env.is_main else None

    def validate(record: dict) -> dict:
        # no timings in the log: a resumed run's log must equal an uninterrupted one's
        return {**record, **monitor.measure(trainer.net, trainer.device, trainer.amp)}

    if monitor is not None and global_step == 0:
        log.write(validate({"step": 0, "epoch": 0}))
    sampler = RunBatches(len(data), cfg.batch_videos, cfg.seed, cfg.epochs, start=(epoch, step),
                         shard=env.shard)
    loader = torch.utils.data.DataLoader(
        data, batch_sampler=sampler, collate_fn=collate_clips, num_workers=cfg.num_workers,
        pin_memory=device.startswith("cuda"), prefetch_factor=4 if cfg.num_workers else None)
    bar = _progress_bar(total, global_step, progress and env.is_main)
    try:
        for batch in loader:
            if step == 0:
                trainer.start_epoch()
            terms = trainer.step(batch, step)
            global_step, step = global_step + 1, step + 1
            record = {"step": global_step, "epoch": epoch, **terms}
            if monitor is not None and (global_step % cfg.val_every == 0 or global_step == total):
                record = validate(record)
            if log is not None:
                log.write(record)
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{terms[k]:.3g}" for k in ("loss", "mms", "cluster", "recon")},
                                refresh=False)
            if step == steps_per_epoch:
                epoch, step = epoch + 1, 0
                checkpoint(epoch, step)
            elif cfg.checkpoint_every and global_step % cfg.checkpoint_every == 0:
                checkpoint(epoch, step)
            if on_step is not None:
                on_step(global_step, terms)
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    val = None if monitor is None else {"clips": len(monitor), "videos": len(monitor.video_ids),
                                        "seconds_this_process": round(monitor.seconds, 3)}
    return _finish(trainer, configs, out_dir, env, root, data, global_step,
                   time.perf_counter() - t0, val)


def _monitor(root: Path, wv, cfg: TrainConfig, opts: dict, trainer: Trainer):
    from mcnbench.data.clip_sampler import ClipDataset
    from mcnbench.training.monitor import ValMonitor

    held = ClipDataset(root, wv, split="val", **opts)
    return ValMonitor(held, cfg.val_clips, cfg.val_seed, trainer.modalities)


def _finish(trainer: Trainer, configs: dict, out_dir: Path, env: DistEnv, root: Path, data,
            steps: int, seconds: float, val: dict | None = None) -> Path:
    from mcnbench.models.checkpoint import save_checkpoint
    from mcnbench.utils.io import atomic_write_json

    path = out_dir / MODEL_NAME
    if env.is_main:
        sd = {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.cpu()
              for k, v in trainer.net.state_dict().items()}
        save_checkpoint(path, sd)
        atomic_write_json(out_dir / CONFIG_NAME, {
            **configs, "steps": steps, "world_size": env.world_size, "corpus": str(root),
            "videos": len(data), "skipped_videos": len(data.skipped),
            "heldout_videos": data.n_heldout if data.split == "train" else 0,
            "train_seconds_this_process": round(seconds, 3),
            **({"validation": val} if val is not None else {})})
    barrier(env)
    return path


def _check_same_run(path: Path, saved: dict, now: dict) -> None:
    # a field the checkpoint lacks was added since: that run had its default
    defaults = {"model": MCNConfig().to_dict(), "train": TrainConfig().to_dict()}
    diff = {f"{part}.{k}": (saved[part].get(k, defaults[part].get(k)), v)
            for part in ("model", "train") for k, v in now[part].items()
            if saved[part].get(k, defaults[part].get(k)) != v
            and not (part == "train" and k in ("num_workers", "device", "checkpoint_every"))}
    if diff:
        shown = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in sorted(diff.items()))
        raise ValueError(f"{path} belongs to a run with other settings ({shown}); "
                         "use another output folder or --no-resume")


def _progress_bar(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="train", unit="step", dynamic_ncols=True,
                file=sys.stderr)
