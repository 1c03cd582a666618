"""The FFT convolution computes what ``F.conv1d`` computes: exactly in float64, and in float32
with rounding no larger than the direct convolution's, measured against a float64 reference."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mcnbench.models.fftconv import fft_applicable, fft_conv1d, fft_length, fft_worthwhile


def _pair(b, c, o, t, k, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, c, t, generator=g, dtype=dtype).requires_grad_()
    w = (torch.randn(o, c, k, generator=g, dtype=dtype) / math.sqrt(c * k)).requires_grad_()
    return x, w


CASES = [(t, k, s, p) for t in (1, 5, 16, 17, 63)
         for k, s, p in [(9, 1, 4), (9, 2, 4), (3, 1, 1), (5, 3, 2), (9, 1, 0), (4, 2, 3), (1, 2, 0)]
         if t + 2 * p >= k]  # at least one output frame


@pytest.mark.parametrize(("t", "k", "stride", "padding"), CASES)
def test_equals_conv1d_in_float64(t, k, stride, padding):
    x, w = _pair(2, 3, 4, t, k)
    y = fft_conv1d(x, w, stride, padding)
    ref = F.conv1d(x, w, None, stride, padding)
    assert y.shape == ref.shape
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)
    gy = torch.randn_like(ref)
    got = torch.autograd.grad(y, (x, w), gy)
    want = torch.autograd.grad(ref, (x, w), gy)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_gradcheck():
    x, w = _pair(2, 2, 3, 11, 5)
    assert torch.autograd.gradcheck(lambda a, b: fft_conv1d(a, b, 2, 2), (x, w))
    assert torch.autograd.gradcheck(lambda a, b: fft_conv1d(a, b, 1, 4), (x, _pair(1, 2, 3, 1, 9)[1]))


def test_only_the_weight_or_only_the_input_may_need_a_gradient():
    x, w = _pair(2, 3, 4, 20, 9)
    ref_w = torch.autograd.grad(F.conv1d(x.detach(), w, None, 1, 4).sum(), w)[0]
    torch.testing.assert_close(torch.autograd.grad(fft_conv1d(x.detach(), w, 1, 4).sum(), w)[0], ref_w)
    ref_x = torch.autograd.grad(F.conv1d(x, w.detach(), None, 2, 4).sum(), x)[0]
    torch.testing.assert_close(torch.autograd.grad(fft_conv1d(x, w.detach(), 2, 4).sum(), x)[0], ref_x)


@pytest.mark.parametrize("stride", [1, 2])
def test_float32_rounding_no_worse_than_direct(stride):
    """The claim behind "identical outputs": against float64 truth, the FFT path's float32 error
    is at most the direct convolution's (with a margin for the max over a few thousand values)."""
    x64, w64 = _pair(4, 256, 256, 63, 9, seed=1)
    ref = F.conv1d(x64, w64, None, stride, 4)
    gy = torch.randn_like(ref)
    truth = (ref, *torch.autograd.grad(ref, (x64, w64), gy))

    def run(conv):
        x = x64.detach().float().requires_grad_()
        w = w64.detach().float().requires_grad_()
        y = conv(x, w, stride)
        return (y, *torch.autograd.grad(y, (x, w), gy.float()))

    direct = run(lambda x, w, s: F.conv1d(x, w, None, s, 4))
    fft = run(lambda x, w, s: fft_conv1d(x, w, s, 4))
    for name, d, f, t in zip(("output", "input grad", "weight grad"), direct, fft, truth, strict=True):
        err_d = ((d.double() - t).abs().max() / t.abs().max()).item()
        err_f = ((f.double() - t).abs().max() / t.abs().max()).item()
        assert err_f <= 2 * err_d + 1e-7, (name, err_f, err_d)


def test_fft_length_is_the_smallest_even_7_smooth_size():
    def smooth(m):
        for p in (2, 3, 5, 7):
            while m % p == 0:
                m //= p
        return m == 1
    for n in range(1, 700):
        want = next(m for m in range(max(n, 2), 4 * n + 4) if m % 2 == 0 and smooth(m))
        assert fft_length(n) == want, n


def test_when_auto_uses_the_fft():
    x, w = torch.zeros(2, 256, 63), torch.zeros(512, 256, 9)
    assert fft_worthwhile(x, w)
    assert not fft_worthwhile(x, w, stride=2)                    # two phases: no gain
    assert not fft_worthwhile(x[:, :128], w[:, :128])            # narrow: transforms dominate
    assert not fft_worthwhile(x, w[..., :3])                     # short kernel
    assert not fft_worthwhile(torch.zeros(1, 256, 40_000), w)    # spectra over 512 MB
    assert not fft_worthwhile(x.double(), w)                     # mixed dtypes
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not fft_worthwhile(x, w) and not fft_applicable(x, w)
    assert not fft_applicable(x.half(), w.half())
    assert not fft_applicable(x, w[..., :1])                     # 1x1: nothing to gain or mean


def test_bad_arguments_are_named():
    x, w = _pair(2, 3, 4, 10, 3)
    with pytest.raises(ValueError, match=r"same C.*\(2, 3, 10\) and \(4, 2, 3\)"):
        fft_conv1d(x, w[:, :2])
    with pytest.raises(TypeError, match="float32 or float64"):
        fft_conv1d(x.float(), w)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        fft_conv1d(x, w, stride=0)
    with pytest.raises(ValueError, match="too short"):
        fft_conv1d(x[..., :1], _pair(1, 3, 4, 1, 9)[1], 1, 0)


def test_mcn_training_steps_match_direct_convolutions():
    """Three Adam steps of a small MCN whose audio convolutions all go through the FFT end where
    the direct ones end: in float64 to 1e-10, in float32 to float32 rounding."""
    from mcnbench.models.losses import mms_triplet, recon_loss
    from mcnbench.models.mcn import MCNConfig, MCNNet

    cfg = MCNConfig(embd_dim=32, video_dim=16, we_dim=8, audio_bands=6,
                    davenet_widths=(8, 16, 16, 16), audio_gate_dim=16, recon_size=8)

    def train(impl, dtype):
        torch.manual_seed(0)
        net = MCNNet(cfg, davenet_impl=impl).to(dtype).train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(1)
        video = torch.rand(6, 16, generator=g, dtype=dtype)
        audio = torch.randn(6, 6, 40, generator=g, dtype=dtype)
        text = torch.randn(6, 5, 8, generator=g, dtype=dtype)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            out = net(video, audio, torch.full((6,), 40), text)
            loss = mms_triplet(out.video, out.audio, out.text) + recon_loss(out.recon_per_clip)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, net.DAVEnet.layer4[1].conv2.weight.detach()

    for dtype, rtol in ((torch.float64, 1e-10), (torch.float32, 1e-5)):
        (l_fft, w_fft), (l_dir, w_dir) = train("fft", dtype), train("conv1d", dtype)
        assert l_fft == pytest.approx(l_dir, rel=rtol)
        if dtype == torch.float64:  # Adam divides by the gradient's RMS: 1e-16 noise -> ~1e-10
            torch.testing.assert_close(w_fft, w_dir, rtol=1e-6, atol=1e-8)


def test_blocks_of_bins_give_the_same_result(monkeypatch):
    """Kernel spectra are made a few frequency bins at a time: with blocks of one bin and of
    three (so the last block is short) the result equals the direct convolution in float64."""
    import mcnbench.models.fftconv as fc

    x, w = _pair(2, 3, 4, 17, 9)
    ref = F.conv1d(x, w, None, 2, 4)
    gy = torch.randn_like(ref)
    want = torch.autograd.grad(ref, (x, w), gy)
    for bins in (1, 3):
        monkeypatch.setattr(fc, "_BLOCK_BYTES", bins * 2 * 4 * 3 * 8)
        assert len(fc._bin_blocks(fc._plan(17, 9, 2, 4), 4, 3, 8)) > 1
        y = fft_conv1d(x, w, 2, 4)
        torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)
        for a, b in zip(torch.autograd.grad(y, (x, w), gy), want, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
