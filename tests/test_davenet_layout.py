"""ResDAVEnet's channels-last execution (``impl="channels_last"``, what ``"auto"`` runs on the CPU
when no convolution is wide enough for the FFT) computes what the 1-D direct convolutions
compute: to float64 rounding in outputs, gradients and BatchNorm statistics."""
from __future__ import annotations

import pytest
import torch

from mcnbench.models.davenet import DAVEnet

WIDTHS = (4, 8, 8, 12)


def _net(impl: str, widths=WIDTHS, dtype=torch.float64) -> DAVEnet:
    torch.manual_seed(0)
    return DAVEnet(bands=6, widths=widths, impl=impl).to(dtype)


def _spec(n=5, frames=37, dtype=torch.float64):
    return torch.randn(n, 6, frames, generator=torch.Generator().manual_seed(1), dtype=dtype)


@pytest.mark.parametrize("impl", ["channels_last", "auto"])
@pytest.mark.parametrize("train", [True, False])
def test_equals_conv1d_in_float64(impl, train):
    ref, net = _net("conv1d").train(train), _net(impl).train(train)
    x_ref, x = _spec().requires_grad_(), _spec().requires_grad_()
    y_ref, y = ref(x_ref), net(x)
    assert y.shape == y_ref.shape and y.stride(1) == 1  # time-major: the channels-last layout ran
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    gy = torch.randn_like(y_ref)
    y_ref.backward(gy)
    y.backward(gy)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-12, atol=1e-12)
    for (name, p_ref), p in zip(ref.named_parameters(), net.parameters(), strict=True):
        if p_ref.grad is None:  # batchnorm1: built, never used
            assert p.grad is None, name
            continue
        torch.testing.assert_close(p.grad, p_ref.grad, rtol=1e-10, atol=1e-12, msg=name)
        assert p.grad.is_contiguous() and p.is_contiguous(), name  # state_dict layout unchanged
    for (name, b_ref), b in zip(ref.named_buffers(), net.buffers(), strict=True):
        torch.testing.assert_close(b, b_ref, rtol=1e-12, atol=1e-12, msg=name)


def test_float32_agrees_to_rounding():
    y_ref = _net("conv1d", dtype=torch.float32)(_spec(dtype=torch.float32))
    y = _net("channels_last", dtype=torch.float32)(_spec(dtype=torch.float32))
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)


def test_auto_picks_the_layout_by_width_and_device():
    small, wide = _net("auto"), _net("auto", widths=(8, 256, 256, 256))
    spec = _spec()
    assert small.channels_last(spec)
    assert not wide.channels_last(spec)  # its wide convolutions go through the FFT, 3-D
    assert not _net("conv1d").channels_last(spec) and not _net("conv2d").channels_last(spec)
    assert _net("channels_last", widths=(8, 256, 256, 256)).channels_last(spec)
    with pytest.raises(ValueError, match="impl must be one of"):
        DAVEnet(impl="nhwc")
