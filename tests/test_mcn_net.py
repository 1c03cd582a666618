"""MCNNet / DAVEnet: checkpoint layout, shapes, pooling, reconstruction (mcn_spec §3)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mcnbench.models.davenet import DAVEnet, output_frames, pool_frames
from mcnbench.models.losses import mms_pairs
from mcnbench.models.mcn import MCNConfig, MCNNet

# The reference files sit beside the repository in ../shared/reference (never copied in).
TSV = Path(__file__).resolve().parents[2] / "shared" / "reference" / "mcn_state_dict_keys.tsv"
TINY = MCNConfig(embd_dim=16, video_dim=12, we_dim=6, audio_bands=5, davenet_widths=(4, 8, 8, 8),
                 audio_gate_dim=8, recon=True, recon_size=10)


def read_tsv(path: Path) -> dict[str, str]:
    """``{key: "AxBxC" | "scalar"}`` from the released-checkpoint key list."""
    rows = [line.rstrip("\n").split("\t") for line in path.read_text().splitlines()
            if line and not line.startswith("#")]
    assert rows[0] == ["key", "shape"]
    return dict(rows[1:])


def shape_str(t: torch.Tensor) -> str:
    return "scalar" if t.dim() == 0 else "x".join(map(str, t.shape))


def tiny_batch(cfg: MCNConfig = TINY, b: int = 6, frames: int = 40, words: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    video = torch.rand(b, cfg.video_dim, generator=g)
    audio = -torch.rand(b, cfg.audio_bands, frames, generator=g) * 5
    nframes = torch.randint(1, frames + 1, (b,), generator=g)
    text = torch.randn(b, words, cfg.we_dim, generator=g)
    return video, audio, nframes, text


@pytest.mark.skipif(not TSV.is_file(), reason=f"reference key list {TSV} not available")
def test_paper_config_state_dict_equals_released_keys_and_shapes():
    with torch.device("meta"):  # 224 M parameters: shapes only, no memory
        net = MCNNet(MCNConfig())
    ours = {k: shape_str(v) for k, v in net.state_dict().items()}
    released = read_tsv(TSV)
    assert sorted(set(ours) - set(released)) == []
    assert sorted(set(released) - set(ours)) == []
    assert {k: v for k, v in ours.items() if released[k] != v} == {}


def test_config_round_trip_and_validation():
    d = TINY.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert MCNConfig.from_dict(d) == TINY
    assert MCNConfig().to_dict()["embd_dim"] == 6144
    with pytest.raises(ValueError, match="audio_gate_dim"):
        MCNConfig(davenet_widths=(8, 8, 8, 16), audio_gate_dim=8)
    with pytest.raises(TypeError, match="bogus"):
        MCNConfig.from_dict({**d, "bogus": 1})


def test_no_recon_config_has_no_recon_modules():
    net = MCNNet(MCNConfig(**{**TINY.to_dict(), "recon": False}))
    assert not any(k.startswith("recon_") for k in net.state_dict())
    out = net(*tiny_batch())
    assert out.recon_per_clip is None


@pytest.mark.parametrize("frames,expected", [(1000, 63), (5120, 320), (3072, 192), (1024, 64)])
def test_davenet_output_length(frames, expected):
    assert output_frames(frames) == expected
    net = DAVEnet(bands=3, widths=(2, 2, 2, 4)).eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, frames)).shape == (1, 4, expected)


def test_davenet_init_follows_reference():
    net = DAVEnet(bands=40, widths=(64, 64, 64, 64))
    w = net.layer1[1].conv1.weight  # 64 x 64 x 1 x 9
    assert abs(w.std().item() - math.sqrt(2 / (9 * 64))) < 0.01
    assert torch.all(net.layer2[0].bn1.weight == 1) and torch.all(net.layer2[0].bn1.bias == 0)


@pytest.mark.parametrize("impl", ["conv1d", "fft", "auto"])
@pytest.mark.parametrize("train", [True, False])
def test_executions_equal_conv2d_reference(train, impl):
    torch.manual_seed(0)
    a = DAVEnet(bands=5, widths=(4, 8, 8, 8), impl=impl)
    b = DAVEnet(bands=5, widths=(4, 8, 8, 8), impl="conv2d")
    b.load_state_dict(a.state_dict())
    a.train(train)
    b.train(train)
    x = torch.randn(3, 5, 37)
    ya, yb = a(x), b(x)
    torch.testing.assert_close(ya, yb, rtol=1e-5, atol=1e-5)
    ya.square().sum().backward()
    yb.square().sum().backward()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        if pb.grad is None:  # batchnorm1: built, never used (as in the reference)
            assert pa.grad is None, name
            continue
        # float32 rounding of sums over ~100 terms, relative to the largest gradient entry
        scale = pb.grad.abs().max().item()
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-4, atol=1e-5 * scale, msg=name)
    if train:  # running statistics too
        torch.testing.assert_close(a.layer4[0].bn2.running_var, b.layer4[0].bn2.running_var)


def test_auto_runs_only_the_wide_stride_one_convs_through_the_fft(monkeypatch):
    from mcnbench.models import davenet

    calls = []
    monkeypatch.setattr(davenet, "fft_conv1d",
                        lambda x, w, s, p: calls.append((w.shape[0], w.shape[1], s)) or
                        torch.nn.functional.conv1d(x, w, None, s, p))
    net = DAVEnet(bands=4, widths=(128, 256, 256, 256), impl="auto")
    net(torch.randn(2, 4, 32))
    # layer1 (128 channels) and every stride-2 first conv stay direct; 2 stages x 3 convs + 3
    assert calls == [(256, 256, 1)] * 9
    with torch.autocast("cpu", dtype=torch.bfloat16):  # half precision: never the FFT
        calls.clear()
        net(torch.randn(2, 4, 32))
        assert calls == []


def test_unknown_impl_is_refused():
    with pytest.raises(ValueError, match="impl must be one of"):
        DAVEnet(impl="winograd")


def test_eval_pooling_masks_match_per_clip_loop():
    torch.manual_seed(0)
    feats = torch.randn(5, 3, 63)
    nframes = torch.tensor([1000, 17, 0, 500, 2000])  # ratio round(1000/63) = 16
    pooled = pool_frames(feats, nframes, in_frames=1000)
    for i, n in enumerate(nframes.tolist()):
        keep = min(63, max(1, n // 16))
        torch.testing.assert_close(pooled[i], feats[i, :, :keep].mean(dim=1))
    torch.testing.assert_close(pool_frames(feats, None, 1000), feats.mean(dim=2))


def test_train_mode_pools_all_frames_eval_mode_valid_frames_only():
    torch.manual_seed(0)
    net = MCNNet(TINY)
    video, audio, nframes, text = tiny_batch()
    nframes_before = nframes.clone()
    net.train()
    torch.testing.assert_close(net.pooled_audio(audio, nframes), net.DAVEnet(audio).mean(dim=2))
    net.eval()
    with torch.no_grad():
        feats = net.DAVEnet(audio)
        expected = pool_frames(feats, nframes, audio.shape[-1])
        torch.testing.assert_close(net.pooled_audio(audio, nframes), expected)
        short = torch.ones_like(nframes)  # one valid output frame per clip
        torch.testing.assert_close(net.pooled_audio(audio, short), feats[:, :, 0])
    assert torch.equal(nframes, nframes_before)  # the reference's div_ mutated its input


def test_forward_shapes_and_recon_error():
    torch.manual_seed(0)
    net = MCNNet(TINY).train()
    video, audio, nframes, text = tiny_batch()
    out = net(video, audio, nframes, text)
    for emb in (out.video, out.audio, out.text, out.fused):
        assert emb.shape == (6, TINY.embd_dim)
    torch.testing.assert_close(out.fused, (out.video + out.audio + out.text) / 3)
    pooled = net.DAVEnet(audio).mean(dim=2)
    words = F.relu(net.text_pooling_caption.fc(text)).amax(dim=1)
    expected = ((net.recon_v(out.video) - video) ** 2).mean(1) \
        + ((net.recon_a(out.audio) - pooled) ** 2).mean(1) \
        + ((net.recon_t(out.text) - words) ** 2).mean(1)
    torch.testing.assert_close(out.recon_per_clip, expected)


def test_gating_and_sentence_maxpool_formulas():
    torch.manual_seed(0)
    net = MCNNet(TINY)
    x = torch.randn(3, TINY.video_dim)
    h = net.GU_video.fc(x)
    torch.testing.assert_close(net.embed_video(x), h * torch.sigmoid(net.GU_video.cg.fc(h)))
    words = torch.zeros(2, 4, TINY.we_dim)  # all padding: max over ReLU(bias)
    pooled = net.text_pooling_caption(words)
    torch.testing.assert_close(pooled, F.relu(net.text_pooling_caption.fc.bias).expand(2, -1))


def test_embed_methods_equal_forward_in_eval_mode():
    torch.manual_seed(0)
    net = MCNNet(TINY).eval()
    video, audio, nframes, text = tiny_batch()
    with torch.no_grad():
        out = net(video, audio, nframes, text)
        torch.testing.assert_close(net.embed_video(video), out.video)
        torch.testing.assert_close(net.embed_audio(audio, nframes), out.audio)
        torch.testing.assert_close(net.embed_text(text), out.text)


def test_recon_targets_are_not_detached():
    # With the last decoder layers zeroed, recon_a/recon_t output 0 with no gradient, so the
    # audio/text terms reduce to mean(target²): their branches get gradient only via the target.
    torch.manual_seed(0)
    net = MCNNet(TINY).train()
    for mlp in (net.recon_a, net.recon_t):
        torch.nn.init.zeros_(mlp[2].weight)
        torch.nn.init.zeros_(mlp[2].bias)
    out = net(*tiny_batch())
    grads = torch.autograd.grad(out.recon_per_clip.sum(),
                                [net.DAVEnet.layer4[1].conv2.weight, net.text_pooling_caption.fc.weight])
    assert all(g.abs().sum() > 0 for g in grads)


def test_pairwise_mms_at_init_is_about_2_ln_batch():
    # Supp C.1 sanity check: untrained embeddings are near-orthogonal, so each MMS ≈ 2 ln B.
    torch.manual_seed(0)
    cfg = MCNConfig(embd_dim=256, video_dim=64, we_dim=30, audio_bands=40,
                    davenet_widths=(8, 16, 16, 32), audio_gate_dim=32, recon_size=32)
    b = 64
    video = F.normalize(torch.rand(b, 64), dim=1)
    audio = -80 * torch.rand(b, 40, 160)
    text = 0.1 * torch.randn(b, 20, 30)
    with torch.no_grad():
        out = MCNNet(cfg).train()(video, audio, torch.full((b,), 160), text)
    for name, value in mms_pairs(out.video, out.audio, out.text).items():
        assert value.item() == pytest.approx(2 * math.log(b), rel=0.05), name
