"""ResDAVEnet: the audio CNN of MCN/AVLnet (reference: mcn_spec §3.2).

Input a log-mel spectrogram ``[N, bands, F]``; output frame features ``[N, C, F']`` with
``F' = ceil(F / 16)`` for four stride-2 stages (1000 -> 63, 1024 -> 64, 3072 -> 192, 5120 -> 320).

Parameters are stored exactly as the released checkpoint stores them (``Conv2d`` weights
``[out, in, kh, kw]`` and ``BatchNorm2d`` buffers under the same names), but the default forward
runs the network as 1-D convolutions over time. This is exact, not an approximation: the first
convolution's kernel spans all ``bands`` rows and leaves a feature map of height 1, after which
every ``1 x 9`` convolution is a ``Conv1d`` of width 9 on ``[N, C, T]`` and every ``BatchNorm2d``
normalises over (N, T) just as ``BatchNorm1d`` would. ``impl`` chooses how they run:

* ``"auto"`` (default): ``conv1d``, except that the wide stride-1 convolutions on the CPU (256+
  channels: layers 2-4 of the paper model) go through the FFT (``fftconv.py``), about twice as
  fast there with rounding no larger than a direct convolution's; and on the CPU a network with
  no convolution that wide (every width < 256, e.g. the synthetic presets') runs
  ``"channels_last"``;
* ``"channels_last"``: the 4-D formulation on ``[N, C, 1, T]`` tensors in channels-last memory
  layout (time-major, channels innermost), the layout oneDNN's direct convolutions are fastest
  in: at the ``default`` preset's widths (32-128 channels, 300 frames, 256 clips) forward +
  backward take 0.62x the CPU time of ``conv1d`` on 1 thread and 0.89x on 2, and eval at 5,120
  frames 0.53x; outputs equal ``conv1d``'s to 1e-13 in float64. The output ``[N, C, T']`` is then
  a time-major (non-contiguous) view;
* ``"conv1d"``: every convolution direct (oneDNN);
* ``"fft"``: every ``1 x k`` convolution through the FFT where it applies (tests, benchmarks);
* ``"conv2d"``: the literal 4-D formulation of the reference code (equivalence tests, speed
  comparisons).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .fftconv import fft_applicable, fft_conv1d, fft_worthwhile

__all__ = ["DAVEnet", "output_frames", "pool_frames"]

IMPLS = ("auto", "conv1d", "fft", "conv2d", "channels_last")
_FFT_MIN_CHANNELS = 256  # fft_worthwhile needs at least this many channels in and out


class _TimeConv(nn.Conv2d):
    """A ``Conv2d`` whose kernel covers the whole height of its input.

    On a 4-D input it is a plain ``Conv2d``. On a 3-D input ``[N, C*kh, T]`` (height folded into
    channels; only ever ``kh = bands`` with ``C = 1`` for the first layer, or ``kh = 1``) it runs
    the same arithmetic as ``conv1d`` with a *view* of its weight, so gradients land in the
    stored 4-D parameter and the state_dict is unchanged.
    """

    impl: str = "conv1d"  # set by DAVEnet: "auto" and "fft" route 1-D convs through the FFT

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            if self.impl == "conv2d":
                return super().forward(x)
            # channels-last weights make oneDNN pick its channels-last kernels (a [N, 1, H, W]
            # input alone is both layouts at once and would not); the gradient reaches the
            # stored contiguous parameter through the copy
            weight = self.weight.contiguous(memory_format=torch.channels_last)
            return F.conv2d(x, weight, self.bias, self.stride, self.padding)
        out_ch, in_ch, kh, kw = self.weight.shape
        weight = self.weight.reshape(out_ch, in_ch * kh, kw)
        stride, padding = self.stride[1], self.padding[1]
        if self.bias is None and (
                (self.impl == "auto" and fft_worthwhile(x, weight, stride, padding))
                or (self.impl == "fft" and fft_applicable(x, weight))):
            return fft_conv1d(x, weight, stride, padding)
        return F.conv1d(x, weight, self.bias, stride, padding)


class _BatchNorm(nn.BatchNorm2d):
    """``BatchNorm2d`` that also accepts ``[N, C, T]`` (same statistics as on ``[N, C, 1, T]``)."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() not in (3, 4):
            raise ValueError(f"expected 3D or 4D input (got {input.dim()}D input)")


def _conv1xk(in_ch: int, out_ch: int, width: int = 9, stride: int = 1) -> _TimeConv:
    return _TimeConv(in_ch, out_ch, kernel_size=(1, width), stride=(1, stride),
                     padding=(0, width // 2), bias=False)


class _BasicBlock(nn.Module):
    """Two ``1 x width`` convs with BN, residual connection (1x1 conv + BN when shape changes)."""

    def __init__(self, in_ch: int, out_ch: int, width: int = 9, stride: int = 1):
        super().__init__()
        self.conv1 = _conv1xk(in_ch, out_ch, width, stride)
        self.bn1 = _BatchNorm(out_ch)
        self.conv2 = _conv1xk(out_ch, out_ch, width)
        self.bn2 = _BatchNorm(out_ch)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                _TimeConv(in_ch, out_ch, kernel_size=1, stride=(1, stride), bias=False),
                _BatchNorm(out_ch),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        residual = x if self.downsample is None else self.downsample(x)
        return F.relu(out + residual, inplace=True)


class DAVEnet(nn.Module):
    """ResDAVEnet with ``len(widths)`` residual stages of ``blocks`` basic blocks each.

    ``forward(spec [N, bands, F]) -> [N, widths[-1], F']``. Module names follow the released
    checkpoint (``batchnorm1``, ``conv1``, ``bn1``, ``layer1..4``); ``batchnorm1`` (1 channel) is
    built but unused, exactly as in the reference, so that checkpoints load strictly.
    """

    def __init__(self, bands: int = 40, widths: Sequence[int] = (128, 256, 512, 1024),
                 blocks: int = 2, width: int = 9, impl: str = "auto"):
        super().__init__()
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        self.impl = impl
        self.bands = bands
        self.batchnorm1 = nn.BatchNorm2d(1)
        self.conv1 = _TimeConv(1, widths[0], kernel_size=(bands, 1), bias=False)
        self.bn1 = _BatchNorm(widths[0])
        in_ch = widths[0]
        for i, out_ch in enumerate(widths, start=1):
            stage = [_BasicBlock(in_ch, out_ch, width, stride=2)]
            stage += [_BasicBlock(out_ch, out_ch, width) for _ in range(blocks - 1)]
            self.add_module(f"layer{i}", nn.Sequential(*stage))
            in_ch = out_ch
        for m in self.modules():
            if isinstance(m, _TimeConv):
                m.impl = impl
        self.num_stages = len(widths)
        self.out_channels = in_ch
        self.max_width = max(widths)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reference init: conv ~ N(0, sqrt(2 / (kh * kw * out))), BN weight 1, bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                with torch.no_grad():
                    m.weight.normal_(0.0, math.sqrt(2.0 / fan))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def channels_last(self, spec: torch.Tensor) -> bool:
        """Whether this forward runs the channels-last 4-D formulation (``impl`` doc)."""
        return self.impl == "channels_last" or (
            self.impl == "auto" and spec.device.type == "cpu" and self.max_width < _FFT_MIN_CHANNELS)

    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, f"layer{i}") for i in range(1, self.num_stages + 1)]

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """``spec [N, bands, F]`` -> frame features ``[N, C, ceil(F / 2**stages)]``."""
        if spec.dim() != 3 or spec.shape[1] != self.bands:
            raise ValueError(f"expected audio [N, {self.bands}, F], got {tuple(spec.shape)}")
        # conv1d path: [N, bands, F] is already the "height folded into channels" layout.
        if self.impl == "conv2d":
            x = spec.unsqueeze(1)
        elif self.channels_last(spec):
            x = spec.unsqueeze(1).contiguous(memory_format=torch.channels_last)
        else:
            x = spec
        x = F.relu(self.bn1(self.conv1(x)), inplace=True)
        for stage in self.stages():
            x = stage(x)
        return x.squeeze(2) if x.dim() == 4 else x


def output_frames(frames: int, stages: int = 4) -> int:
    """Frames left after ``stages`` stride-2 stages (kernel 9, padding 4): ceil per stage."""
    for _ in range(stages):
        frames = (frames + 1) // 2
    return frames


def pool_frames(feats: torch.Tensor, nframes: torch.Tensor | None, in_frames: int) -> torch.Tensor:
    """Eval-mode pooling: mean over each clip's valid output frames.

    ``feats [N, C, T']`` from an input of ``in_frames`` spectrogram frames; ``nframes [N]`` valid
    input frames. With ``r = round(in_frames / T')`` a clip keeps its first
    ``max(1, floor(nframes / r))`` output frames (clamped to ``T'``). The reference divides
    ``nframes`` in place with ``div_``, which modern torch rejects on integer tensors; floor
    division is what it meant, and ``nframes`` is not modified here. ``nframes=None`` -> plain mean.
    """
    if nframes is None:
        return feats.mean(dim=2)
    t_out = feats.shape[2]
    ratio = max(1, round(in_frames / t_out))
    keep = torch.div(nframes.to(feats.device).long(), ratio, rounding_mode="floor")
    keep = keep.clamp(min=1, max=t_out)
    mask = torch.arange(t_out, device=feats.device)[None, :] < keep[:, None]  # [N, T']
    summed = (feats * mask[:, None, :].to(feats.dtype)).sum(dim=2)
    return summed / keep[:, None].to(feats.dtype)
