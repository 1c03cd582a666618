"""Training: config, schedule, resume after a crash, the final checkpoint, the registered models,
and that training on the tiny synthetic world lowers every loss term."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from mcnbench.data.batch import Batch
from mcnbench.models.checkpoint import load_mcn
from mcnbench.registry import get_model
from mcnbench.training import TrainConfig, read_log, train
from mcnbench.training.schedule import lr_factor, warmup_cosine
from mcnbench.zoo.context import ModelContext


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    from mcnbench.data.synth import generate

    return generate(tmp_path_factory.mktemp("world") / "tiny", preset="tiny", seed=0)


def _configs(root, **train_changes):
    from mcnbench.zoo.mcn import build_configs

    return build_configs(ModelContext(root), {"device": "cpu", **train_changes})


# -- config and schedule ---------------------------------------------------------------------
def test_config_round_trip_and_coercion():
    cfg = TrainConfig(epochs=3, cluster_mode="fused")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    got = TrainConfig.from_dict({"epochs": "2", "recon": "false", "lr": "3e-4", "loss": "nce"})
    assert (got.epochs, got.recon, got.lr, got.loss) == (2, False, 3e-4, "nce")
    with pytest.raises(ValueError, match="unknown training option"):
        TrainConfig.from_dict({"epoch": 1})
    with pytest.raises(ValueError, match="cluster_mode"):
        TrainConfig(cluster_mode="both")
    with pytest.raises(ValueError, match="cannot seed"):
        TrainConfig(batch_videos=2, n_pair=2, n_clusters=8)


def test_schedule_warmup_then_half_cosine():
    assert lr_factor(0, 10, 110) == 0.0
    assert lr_factor(5, 10, 110) == 0.5
    assert lr_factor(10, 10, 110) == 1.0
    assert lr_factor(60, 10, 110) == pytest.approx(0.5)
    assert lr_factor(35, 10, 110) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_factor(110, 10, 110) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(500, 10, 110) == 0.0
    assert lr_factor(0, 0, 10) == 1.0  # no warm-up: the peak at once
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    sched = warmup_cosine(opt, 10, 110)
    seen = []
    for _ in range(110):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([2.0 * lr_factor(s, 10, 110) for s in range(110)])


# -- a run, a crash, a resume ------------------------------------------------------------------
class Crash(RuntimeError):
    pass


def _crash_at(step):
    def hook(global_step, terms):
        if global_step == step:
            raise Crash(f"killed after step {step}")
    return hook


@pytest.fixture(scope="session")
def tiny_run(tiny_root, tmp_path_factory):
    """An uninterrupted 2-epoch run on the tiny world (3 steps per epoch)."""
    ncfg, tcfg = _configs(tiny_root, epochs=2, checkpoint_every=2)
    out = tmp_path_factory.mktemp("run") / "full"
    path = train(ncfg, tcfg, tiny_root, out, progress=False)
    return out, path, ncfg, tcfg


@pytest.mark.parametrize("crash_step", [5, 3])  # mid-epoch (checkpoint at 4); at an epoch end
def test_resumed_run_ends_with_the_same_weights(tiny_root, tiny_run, tmp_path, crash_step):
    full_dir, full_path, ncfg, tcfg = tiny_run
    out = tmp_path / "crashed"
    with pytest.raises(Crash):
        train(ncfg, tcfg, tiny_root, out, progress=False, on_step=_crash_at(crash_step))
    assert not (out / "model.pth").exists()
    path = train(ncfg, tcfg, tiny_root, out, progress=False)
    a, b = torch.load(full_path, weights_only=True), torch.load(path, weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert read_log(out / "train_log.jsonl") == read_log(full_dir / "train_log.jsonl")


def test_finished_run_resumes_to_the_same_file(tiny_root, tiny_run):
    full_dir, full_path, ncfg, tcfg = tiny_run
    before = torch.load(full_path, weights_only=True)
    again = train(ncfg, tcfg, tiny_root, full_dir, progress=False)  # nothing left to do
    after = torch.load(again, weights_only=True)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert len(read_log(full_dir / "train_log.jsonl")) == 6


def test_resume_refuses_other_settings(tiny_root, tiny_run):
    full_dir, _, ncfg, tcfg = tiny_run
    with pytest.raises(ValueError, match="other settings"):
        train(ncfg, tcfg.replace(lr=0.5), tiny_root, full_dir, progress=False)


def test_outputs_log_and_checkpoint_load_with_load_mcn(tiny_run):
    out, path, ncfg, tcfg = tiny_run
    assert path == out / "model.pth"
    log = read_log(out / "train_log.jsonl")
    assert [r["step"] for r in log] == list(range(1, 7))
    assert {"step", "epoch", "loss", "mms", "cluster", "recon", "lr"} <= set(log[0])
    assert log[0]["lr"] == 0.0 and [r["epoch"] for r in log] == [0, 0, 0, 1, 1, 1]
    for r in log:
        total = r["mms"] + tcfg.cluster_weight * r["cluster"] + tcfg.recon_weight * r["recon"]
        assert r["loss"] == pytest.approx(total, rel=1e-5)
    net = load_mcn(path)
    assert net.config.embd_dim == ncfg.embd_dim and net.config.video_dim == ncfg.video_dim
    sd = torch.load(path, weights_only=True)
    assert not any(k.startswith("module.") for k in sd)
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["epochs"] == 2 and config["steps"] == 6
    state = torch.load(out / "checkpoint.pth", weights_only=True)
    assert {"trainer", "rng", "epoch", "step_in_epoch", "global_step", "configs"} <= set(state)
    assert state["trainer"]["kmeans"]["fused"]["queue"].shape[1] == ncfg.embd_dim


# -- registered models ------------------------------------------------------------------------
def _clip_batch(ctx, n=5):
    rng = np.random.default_rng(0)
    dim = 2 * ctx.manifest["video_half_dim"]
    return Batch(ids=[f"c{i}" for i in range(n)], task="t",
                 video=rng.random((n, dim), dtype=np.float32),
                 audio=-80 * rng.random((n, 40, 250), dtype=np.float32),
                 nframes=np.array([250, 100, 20, 1, 250][:n]))


@pytest.mark.parametrize("name", ["mcn", "random"])
def test_registered_models_embed_a_batch(tiny_root, name):
    ctx = ModelContext(tiny_root, seed=3)
    model = get_model(name).obj(ctx)
    d = ctx.hints["model"]["embd_dim"]
    assert model.modalities == ("video", "audio", "text")
    assert model.trainable is (name == "mcn")
    json.dumps(model.config)  # JSON-able, goes into every record
    clips = model.embed(_clip_batch(ctx))
    assert {k: v.shape for k, v in clips.items()} == {"video": (5, d), "audio": (5, d)}
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in clips.values())
    text = model.embed(Batch(ids=["a", "b"], task="t", text=["crack the egg", "Zzyzx"]))
    assert text["text"].shape == (2, d)
    # eval mode: audio pooled over each clip's valid frames only (nframes matters)
    b = _clip_batch(ctx)
    with torch.no_grad():
        want = model.net.eval().embed_audio(torch.from_numpy(b.audio), torch.from_numpy(b.nframes))
    np.testing.assert_allclose(clips["audio"], want.numpy(), rtol=1e-5, atol=1e-5)
    b.nframes[:] = 250
    assert not np.allclose(model.embed(b)["audio"][2], clips["audio"][2])
    again = get_model(name).obj(ModelContext(tiny_root, seed=3)).embed(_clip_batch(ctx))
    np.testing.assert_array_equal(again["video"], clips["video"])  # seeded


def test_overrides_and_checkpoint_shapes(tiny_root, tiny_run):
    ctx = ModelContext(tiny_root)
    model = get_model("mcn").obj(ctx, embd_dim=48, cluster_mode="none", recon=False, epochs=1)
    assert model.config["network"]["embd_dim"] == 48 and model.config["network"]["recon"] is False
    assert model.config["train"]["cluster_mode"] == "none" and model.config["train"]["epochs"] == 1
    with pytest.raises(TypeError, match="unknown option"):
        get_model("mcn").obj(ctx, embd=3)
    _, path, ncfg, _ = tiny_run
    loaded = get_model("mcn").obj(ModelContext(tiny_root, checkpoint=path), embd_dim=48)
    assert loaded.config["network"]["embd_dim"] == ncfg.embd_dim  # the file decides the shapes
    ref = load_mcn(path)
    batch = _clip_batch(ctx)
    with torch.no_grad():
        want = ref.embed_video(torch.from_numpy(batch.video)).numpy()
    np.testing.assert_allclose(loaded.embed(batch)["video"], want, rtol=1e-6)


# -- it learns ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_training_on_tiny_world_lowers_every_loss_term(tiny_root, tmp_path):
    # 20 epochs x 3 steps. embd_dim 512 / lr 3e-3: with raw dot products the logits scale with
    # D, and at the tiny preset's original D = 64 the MMS term barely moves in a few dozen steps
    # (docs/training.md, "Speed and quality on the synthetic worlds").
    ncfg, tcfg = _configs(tiny_root, epochs=20, embd_dim=512, lr=3e-3)
    train(ncfg, tcfg, tiny_root, tmp_path / "run", progress=False)
    log = read_log(tmp_path / "run" / "train_log.jsonl")
    assert len(log) == 60
    first, last = log[:6], log[-6:]
    for term in ("mms", "cluster", "recon", "loss"):
        before = np.mean([r[term] for r in first])
        after = np.mean([r[term] for r in last])
        assert after < 0.95 * before, (term, before, after)


# -- the optimiser step inside the backward pass ------------------------------------------------
def _small_trainer(step_in_backward, **changes):
    from mcnbench.models.mcn import MCNConfig
    from mcnbench.training.trainer import Trainer

    cfg = TrainConfig(epochs=1, batch_videos=4, n_pair=4, min_time=1.0, audio_frames=32, max_words=5,
                      lr=1e-2, warmup_steps=1, n_clusters=3, queue_batches=1, refit_every=2,
                      amp="off", device="cpu", seed=7, **changes)
    model = MCNConfig(embd_dim=16, video_dim=8, we_dim=6, davenet_widths=(4, 4, 4, 8),
                      audio_gate_dim=8, recon_size=8)
    return Trainer(model, cfg, total_steps=5, step_in_backward=step_in_backward), cfg


def _small_batches(n):
    """``n`` seeded batches of 16 clips in :func:`_small_trainer`'s shapes."""
    g = torch.Generator().manual_seed(0)
    return [{"video": torch.rand(16, 8, generator=g), "audio": -80 * torch.rand(16, 40, 32, generator=g),
             "nframes": torch.randint(1, 33, (16,), generator=g),
             "text": torch.randn(16, 5, 6, generator=g)} for _ in range(n)]


@pytest.mark.parametrize("changes", [{}, {"cluster_mode": "per-modality", "no_audio": True}])
def test_step_in_backward_is_bit_identical_to_stepping_after(changes):
    batches = _small_batches(5)
    runs = {}
    for inside in (True, False):
        trainer, _ = _small_trainer(inside, **changes)
        assert trainer.step_in_backward is inside
        trainer.start_epoch()
        logs = [trainer.step(b, i) for i, b in enumerate(batches)]  # refits at steps 0, 2, 4
        runs[inside] = logs, trainer.net.state_dict(), trainer.optimizer.state_dict()
        held = [p.grad is not None for p in trainer.net.parameters()]
        assert not any(held) if inside else any(held)  # freed as they were used
    (log_a, net_a, opt_a), (log_b, net_b, opt_b) = runs[True], runs[False]
    assert log_a == log_b
    assert all(torch.equal(net_a[k], net_b[k]) for k in net_a)
    for i, state in opt_b["state"].items():
        assert all(torch.equal(state[k], opt_a["state"][i][k]) for k in state)


def test_step_in_backward_only_where_it_applies():
    assert _small_trainer(None)[0].step_in_backward  # CPU, one process: on by default
    from mcnbench.training.distributed import DistEnv
    from mcnbench.training.trainer import Trainer

    trainer, cfg = _small_trainer(False)
    with pytest.raises(ValueError, match="one process"):
        Trainer(trainer.model_config, cfg, total_steps=5, env=DistEnv(0, 2), step_in_backward=True)


def test_amp_modes_pick_the_autocast_dtype():
    """CPU stays full precision unless bf16 is asked for explicitly; fp16 is CUDA only."""
    import torch

    from mcnbench.training.trainer import amp_dtype

    assert amp_dtype("auto", "cpu") is None
    assert amp_dtype("off", "cuda") is None
    assert amp_dtype("bf16", "cpu") is torch.bfloat16
    assert amp_dtype("fp16", "cpu") is None
    assert amp_dtype("fp16", "cuda:0") is torch.float16


def test_a_training_without_audio_or_reconstruction_does_not_run_the_audio_branch():
    """MIL-NCE* (no audio, no recon): skipping the audio CNN changes no weight it trains."""
    batches = _small_batches(5)
    runs = {}
    for skip in (True, False):
        trainer, _ = _small_trainer(None, loss="mil-nce", no_audio=True, cluster_mode="none", recon=False)
        assert trainer.skip_audio
        trainer.skip_audio = skip  # False: the path that runs the audio branch for nothing
        trainer.start_epoch()
        runs[skip] = [trainer.step(b, i) for i, b in enumerate(batches)], trainer.net.state_dict()
    (log_a, net_a), (log_b, net_b) = runs[True], runs[False]
    assert log_a == log_b
    trained = [k for k in net_a if not k.startswith("DAVEnet.")]
    assert all(torch.equal(net_a[k], net_b[k]) for k in trained)
    assert not torch.equal(net_a["DAVEnet.conv1.weight"], torch.zeros(1))  # still there, untouched
    assert not _small_trainer(None, no_audio=True)[0].skip_audio           # recon uses the audio
