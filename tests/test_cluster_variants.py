"""The clustering variants of the paper's Table 6 (``cluster_mode`` sinkhorn-swap, sinkhorn-joint,
kmeans-joint, ``cluster_labels`` hard/soft): worked examples of the loss, the K-means Joint
classifier learning, exact resume of the heads, and short runs on the tiny synthetic world."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from mcnbench.models.checkpoint import load_mcn
from mcnbench.models.mcn import MCNConfig, MCNNet
from mcnbench.registry import get_model
from mcnbench.training import TrainConfig, read_log, train
from mcnbench.training.clustering import ClusterObjective
from mcnbench.training.trainer import Trainer
from mcnbench.zoo.context import ModelContext

VARIANTS = [("sinkhorn-swap", "hard"), ("sinkhorn-swap", "soft"), ("sinkhorn-joint", "hard"),
            ("sinkhorn-joint", "soft"), ("kmeans-joint", "hard"), ("kmeans-joint", "soft")]


# -- configuration ---------------------------------------------------------------------------
def test_config_accepts_the_variants_and_names_a_bad_value():
    for mode, labels in VARIANTS:
        cfg = TrainConfig.from_dict({"cluster_mode": mode, "cluster_labels": labels})  # as --set gives
        assert (cfg.cluster_mode, cfg.cluster_labels) == (mode, labels)
    with pytest.raises(ValueError, match="cluster_labels must be one of .* got 'fuzzy'"):
        TrainConfig(cluster_labels="fuzzy")
    with pytest.raises(ValueError, match="cluster_mode must be one of"):
        TrainConfig(cluster_mode="sinkhorn")
    with pytest.raises(ValueError, match="sinkhorn_epsilon must be > 0"):
        TrainConfig(sinkhorn_epsilon=0)
    # prototypes need no batch to seed them; k-means does
    TrainConfig(batch_videos=2, n_pair=2, n_clusters=8, cluster_mode="sinkhorn-swap")
    with pytest.raises(ValueError, match="cannot seed"):
        TrainConfig(batch_videos=2, n_pair=2, n_clusters=8, cluster_mode="kmeans-joint")


# -- worked examples ---------------------------------------------------------------------------
def _objective(mode, labels, *, k=2, dim=2, modalities=("video", "text"), epsilon=0.5, tau=1.0,
               freeze=0, clips=2):
    cfg = TrainConfig(epochs=1, batch_videos=clips, n_pair=1, n_clusters=k, queue_batches=0,
                      cluster_mode=mode, cluster_labels=labels, sinkhorn_epsilon=epsilon,
                      cluster_temperature=tau, prototype_freeze_epochs=freeze, refit_every=1)
    return ClusterObjective(cfg, dim, modalities, total_steps=10)


@pytest.mark.parametrize("labels", ["hard", "soft"])
def test_two_modality_swapped_loss_by_hand(labels):
    # prototypes = the axes; video clip i sits on axis i, text clip i on the other axis
    obj = _objective("sinkhorn-swap", labels)
    with torch.no_grad():
        obj.head.prototypes.weight.copy_(torch.eye(2))
    out = SimpleNamespace(video=torch.tensor([[2.0, 0.0], [0.0, 3.0]]),
                          text=torch.tensor([[0.0, 1.0], [5.0, 0.0]]))
    # scores (cosines): video I, text the swap; balanced, so the codes are row softmaxes of S/ε:
    # q_v = [[a, 1-a], [1-a, a]], q_t = [[1-a, a], [a, 1-a]], a = σ(2) at ε = 0.5;
    # predictions at τ = 1: p_v = [[b, 1-b], [1-b, b]], p_t likewise swapped, b = σ(1)
    a, b = 1 / (1 + math.exp(-2)), 1 / (1 + math.exp(-1))
    if labels == "soft":  # H(q_t, p_v) = H(q_v, p_t) = -(1-a) log b - a log(1-b), for both clips
        expected = 2 * (-(1 - a) * math.log(b) - a * math.log(1 - b)) / 3
    else:  # hard codes: argmax q_t = (1, 0), the least likely class under p_v
        expected = 2 * -math.log(1 - b) / 3
    assert obj.loss(out, 0, 0).item() == pytest.approx(expected, rel=1e-6)


def test_joint_target_is_the_fused_code():
    obj = _objective("sinkhorn-joint", "hard")
    with torch.no_grad():
        obj.head.prototypes.weight.copy_(torch.eye(2))
    # fused = mean(v, t) = [[1, 0.5], [0.5, 1]] -> codes argmax (0, 1); text alone would say (1, 0)
    out = SimpleNamespace(video=torch.tensor([[2.0, 0.0], [0.0, 2.0]]),
                          text=torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    b = 1 / (1 + math.exp(-1))  # p_v = row softmax of I, p_t of the swap (τ = 1)
    expected = (-math.log(b) - math.log(1 - b)) / 3  # video predicts it right, text wrong
    assert obj.loss(out, 0, 0).item() == pytest.approx(expected, rel=1e-6)


def test_prototypes_get_no_gradient_while_frozen():
    obj = _objective("sinkhorn-swap", "soft", k=3, dim=4, freeze=1, clips=4)  # 10 steps frozen
    g = torch.Generator().manual_seed(0)
    out = SimpleNamespace(video=torch.randn(4, 4, generator=g, requires_grad=True),
                          text=torch.randn(4, 4, generator=g))
    obj.loss(out, 9, 9).backward()
    assert obj.head.prototypes.weight.grad is None and out.video.grad is not None
    obj.loss(out, 10, 10).backward()
    assert obj.head.prototypes.weight.grad is not None
    torch.testing.assert_close(obj.head.prototypes.weight.norm(dim=1), torch.ones(3))  # renormalised


def test_kmeans_joint_classifier_learns_separable_clusters():
    # three well-separated directions; each modality is a noisy view of its clip's direction
    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.eye(3, 6)
    which = torch.arange(48) % 3
    out = SimpleNamespace(**{m: centres[which] + 0.3 * torch.randn(48, 6, generator=g)
                             for m in ("video", "audio", "text")})
    obj = _objective("kmeans-joint", "hard", k=3, dim=6, modalities=("video", "audio", "text"),
                     clips=48)
    obj.kmeans["fused"].refit_every = 1000  # one k-means fit, then fixed labels
    opt = torch.optim.Adam(obj.head.parameters(), lr=0.05)
    losses = []
    for step in range(60):
        loss = obj.loss(out, step, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 0.5 and losses[-1] < 0.1 * losses[0]
    labels = obj.kmeans["fused"].step(torch.stack([out.video, out.audio, out.text]).mean(0), 1, 1)
    for m in ("video", "audio", "text"):
        assert torch.equal(obj.head.classifier(getattr(out, m)).argmax(dim=1), labels)


# -- the trainer: heads outside the network, exact resume ----------------------------------------
MODEL = dict(embd_dim=16, video_dim=8, we_dim=6, davenet_widths=(4, 4, 4, 8), audio_gate_dim=8,
             recon_size=8)


def _trainer(mode, labels):
    cfg = TrainConfig(epochs=2, batch_videos=4, n_pair=4, min_time=1.0, audio_frames=32, max_words=5,
                      lr=1e-2, warmup_steps=1, n_clusters=3, queue_batches=1, refit_every=2,
                      amp="off", device="cpu", seed=7, cluster_mode=mode, cluster_labels=labels)
    return Trainer(MCNConfig(**MODEL), cfg, total_steps=6)


def _batches(n=6):
    g = torch.Generator().manual_seed(0)
    return [{"video": torch.rand(16, 8, generator=g), "audio": -80 * torch.rand(16, 40, 32, generator=g),
             "nframes": torch.randint(1, 33, (16,), generator=g), "text": torch.randn(16, 5, 6, generator=g)}
            for _ in range(n)]


def _run(trainer, batches, start=0):
    for i, b in enumerate(batches, start):
        if i % 3 == 0:
            trainer.start_epoch()
        trainer.step(b, i % 3)


@pytest.mark.parametrize("mode,labels", VARIANTS[::2] + [("sinkhorn-joint", "soft")])
def test_resume_restores_heads_and_queues_exactly(tmp_path, mode, labels):
    batches = _batches()
    full = _trainer(mode, labels)
    _run(full, batches)
    first = _trainer(mode, labels)
    _run(first, batches[:4])  # the prototypes train from step 3 (frozen during epoch 0)
    torch.save(first.state_dict(), tmp_path / "state.pth")
    resumed = _trainer(mode, labels)
    resumed.load_state_dict(torch.load(tmp_path / "state.pth", weights_only=True))
    _run(resumed, batches[4:], start=4)
    a, b = full.state_dict(), resumed.state_dict()
    assert a["cluster_head"].keys() == b["cluster_head"].keys() and len(a["cluster_head"]) > 0
    for part in ("model", "cluster_head"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    for name in a["sinkhorn"]:
        assert torch.equal(a["sinkhorn"][name]["queue"], b["sinkhorn"][name]["queue"])
    trained = full.clustering.head.state_dict()
    untrained = _trainer(mode, labels).clustering.head.state_dict()
    assert any(not torch.equal(trained[k], untrained[k]) for k in trained)  # the head did train


def test_heads_stay_out_of_the_network_and_mcn_state_is_unchanged():
    t = _trainer("sinkhorn-swap", "soft")
    assert t.net.state_dict().keys() == MCNNet(MCNConfig(**MODEL)).state_dict().keys()
    assert set(t.clustering.sinkhorn) == {"video", "audio", "text"} and not t.kmeans
    head = {id(p) for p in t.clustering.head.parameters()}
    assert head <= {id(p) for g in t.optimizer.param_groups for p in g["params"]}
    mcn = _trainer("joint", "hard")
    assert list(mcn.clustering.head.parameters()) == [] and set(mcn.kmeans) == {"fused"}
    assert set(mcn.state_dict()["kmeans"]) == {"fused"}
    with pytest.raises(ValueError, match="checkpoint has kmeans"):
        t.load_state_dict(mcn.state_dict())


# -- the tiny synthetic world --------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    from mcnbench.data.synth import generate

    return generate(tmp_path_factory.mktemp("world") / "tiny", preset="tiny", seed=0)


def _configs(root, **changes):
    from mcnbench.zoo.mcn import build_configs

    # embd_dim 64 keeps these runs short; the variants, not the learning, are under test here
    return build_configs(ModelContext(root), {"device": "cpu", "embd_dim": 64, **changes})


@pytest.fixture(scope="module")
def swap_run(tiny_root, tmp_path_factory):
    """An uninterrupted 2-epoch sinkhorn-swap (soft) run on the tiny world, 3 steps per epoch."""
    ncfg, tcfg = _configs(tiny_root, epochs=2, checkpoint_every=2, cluster_mode="sinkhorn-swap",
                          cluster_labels="soft")
    out = tmp_path_factory.mktemp("swap") / "full"
    return out, train(ncfg, tcfg, tiny_root, out, progress=False), ncfg, tcfg


@pytest.mark.slow
@pytest.mark.parametrize("mode,labels", [("sinkhorn-swap", "soft"), ("sinkhorn-joint", "hard"),
                                         ("kmeans-joint", "hard")])
def test_variant_trains_on_the_tiny_world(tiny_root, swap_run, tmp_path, mode, labels):
    if mode == "sinkhorn-swap":
        out, path, ncfg, _ = swap_run
    else:
        ncfg, tcfg = _configs(tiny_root, epochs=1, cluster_mode=mode, cluster_labels=labels)
        out, path = tmp_path, train(ncfg, tcfg, tiny_root, tmp_path, progress=False)
    log = read_log(out / "train_log.jsonl")
    assert len(log) in (3, 6) and all(math.isfinite(r["loss"]) and r["cluster"] > 0 for r in log)
    # model.pth is the network alone, loadable as a released-format checkpoint
    sd = torch.load(path, weights_only=True)
    assert sd.keys() == MCNNet(ncfg).state_dict().keys()
    load_mcn(path)
    head = torch.load(out / "checkpoint.pth", weights_only=True)["trainer"]["cluster_head"]
    want = {"kmeans-joint": {"classifier.weight", "classifier.bias"}}.get(mode, {"prototypes.weight"})
    assert set(head) == want


@pytest.mark.slow
def test_killed_sinkhorn_run_resumes_to_the_same_weights(tiny_root, swap_run, tmp_path):
    full, _, ncfg, tcfg = swap_run

    class Killed(RuntimeError):
        pass

    def crash(global_step, terms):
        if global_step == 5:
            raise Killed

    killed = tmp_path / "killed"
    with pytest.raises(Killed):
        train(ncfg, tcfg, tiny_root, killed, progress=False, on_step=crash)
    train(ncfg, tcfg, tiny_root, killed, progress=False)  # resumes after step 4
    a = torch.load(full / "checkpoint.pth", weights_only=True)["trainer"]
    b = torch.load(killed / "checkpoint.pth", weights_only=True)["trainer"]
    for part in ("model", "cluster_head"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    for name in a["sinkhorn"]:
        assert torch.equal(a["sinkhorn"][name]["queue"], b["sinkhorn"][name]["queue"])
    assert read_log(full / "train_log.jsonl") == read_log(killed / "train_log.jsonl")


def test_registered_variants_are_overrides_of_mcn(tiny_root):
    ctx = ModelContext(tiny_root)
    expect = {"sinkhorn-swap": ("sinkhorn-swap", "hard"), "sinkhorn-swap-soft": ("sinkhorn-swap", "soft"),
              "sinkhorn-joint": ("sinkhorn-joint", "hard"),
              "sinkhorn-joint-soft": ("sinkhorn-joint", "soft"),
              "kmeans-joint": ("kmeans-joint", "hard"), "per-modality-cluster": ("per-modality", "hard")}
    for name, (mode, labels) in expect.items():
        train_cfg = get_model(name).obj(ctx).config["train"]
        assert (train_cfg["cluster_mode"], train_cfg["cluster_labels"]) == (mode, labels), name
    soft = get_model("kmeans-joint").obj(ctx, cluster_labels="soft").config["train"]
    assert soft["cluster_labels"] == "soft"  # --set overrides a baseline's defaults
