"""1-D convolution through the FFT, for the wide ``1 x 9`` convolutions of ResDAVEnet on CPU.

``fft_conv1d(x, w, stride, padding)`` computes exactly what ``F.conv1d`` computes (cross-
correlation, zero padding, no bias, stride 1 or more) as a product in the frequency domain:

    y = irfft( sum_p  rfft(x_p) @ G_p )[:T_out],   G_p[f] = sum_k w[:, :, k] e^{2 pi i f q_k / N}

where ``x_p = x[..., p::stride]`` are the polyphase components of the input and tap ``k`` reads
``x_p[t + q_k]`` with ``k - padding = stride * q_k + p``. The FFT length ``N`` is long enough that
the circular product never wraps, so the result is the linear convolution, not an approximation.

Why: a direct convolution costs ``9 * T_out`` multiply-adds per (batch, in, out) channel triple; the
frequency-domain product costs about ``2 * T_out * stride`` (``N/2 + 1`` complex bins at 4 real
products each), so the 1024-channel convolutions of the paper model run 2.3x faster (forward and
backward, 64 clips, 2 cores) on a CPU that is already at its matmul peak. Rounding differs from
a direct convolution but is no larger: measured against a float64 reference, the FFT path's
float32 outputs and input gradients have the same error as ``F.conv1d``'s and its weight
gradients a smaller one (``tests/test_fftconv.py``).

All complex arithmetic is done as real batched matmuls on planar (real, imaginary) stacks, so
every product has ``2 * batch`` rows: ``[Ur; Ui] @ [Gr, Gi]`` gives the four real products that
make ``U G``. The backward pass is written out (not traced through ``torch.fft``) so that it
recomputes the input spectra instead of saving them and folds the weight gradient into the
taps one block of frequency bins at a time, while it is still in cache. The kernel spectra are
likewise made one block of bins at a time, in forward and again in backward, and never kept:
whole, they would hold 8x the weight of the 1024-channel convolutions.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

__all__ = ["fft_applicable", "fft_conv1d", "fft_length", "fft_worthwhile"]

_BLOCK_BYTES = 32 << 20  # kernel / weight-gradient spectra per block: about an L3 cache
_MAX_SPECTRUM_BYTES = 512 << 20  # auto: longer inputs (e.g. 5,120-frame eval audio) stay direct


@functools.cache
def fft_length(n: int) -> int:
    """Smallest even ``N >= n`` whose prime factors are 2, 3, 5 and 7 (fast sizes for the FFT)."""
    m = max(2, n + n % 2)
    while True:
        r = m
        for p in (2, 3, 5, 7):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 2


@dataclass(frozen=True)
class _Plan:
    t_in: int
    t_out: int
    stride: int
    phase_len: int  # L: length of each polyphase component x[..., p::stride]
    n: int          # FFT length
    taps: tuple[tuple[int, int, int], ...]  # (k, phase p, shift q): tap k reads x_p[t + q]

    @property
    def bins(self) -> int:
        return self.n // 2 + 1


@functools.lru_cache(maxsize=256)
def _plan(t_in: int, width: int, stride: int, padding: int) -> _Plan:
    t_out = (t_in + 2 * padding - width) // stride + 1
    if t_out < 1:
        raise ValueError(f"input of {t_in} frames is too short for a width-{width} convolution "
                         f"with padding {padding}")
    phase_len = -(-t_in // stride)
    taps = tuple((k, (k - padding) % stride, (k - padding) // stride) for k in range(width))
    q_min = min(q for _, _, q in taps)
    q_max = max(q for _, _, q in taps)
    # No wrap-around: reads left of 0 must land on zeros past the signal (N - L >= -q_min), reads
    # right of the signal must stay below N (t_out - 1 + q_max < N).
    n = fft_length(max(phase_len - min(q_min, 0), t_out + max(q_max, 0)))
    return _Plan(t_in, t_out, stride, phase_len, n, taps)


@functools.lru_cache(maxsize=256)
def _kernel_dft(plan: _Plan, dtype: torch.dtype,
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per phase, the real matrices taking the kernel taps to the kernel's spectrum and back.

    ``fwd[p]  [2F, K]``: rows ``(f, re/im)``, ``G_p[f] = sum_k w_k e^{2 pi i f q_k / N}`` (zero for
    taps of another phase). ``adj[p] [K, 2F]``: the adjoint of the whole chain for the weight
    gradient, ``fwd[p].T`` scaled by ``c_f / N`` (``c_f = 1`` at DC and Nyquist, else 2), the
    weights ``irfft`` gives each bin.
    """
    f = torch.arange(plan.bins, dtype=torch.float64)
    fwd = torch.zeros(plan.stride, plan.bins, 2, len(plan.taps), dtype=torch.float64)
    for k, p, q in plan.taps:
        angle = 2 * math.pi * f * q / plan.n
        fwd[p, :, 0, k] = torch.cos(angle)
        fwd[p, :, 1, k] = torch.sin(angle)
    weight = torch.full((plan.bins,), 2.0, dtype=torch.float64)
    weight[0] = weight[-1] = 1.0  # n is even: the last bin is Nyquist
    adj = (fwd * (weight / plan.n)[None, :, None, None]).flatten(1, 2).transpose(1, 2)
    return (fwd.flatten(1, 2).to(device, dtype).contiguous(),
            adj.to(device, dtype).contiguous())


def _planar_spectrum(x: torch.Tensor, n: int) -> torch.Tensor:
    """``x [B, C, L]`` real -> ``[F, 2B, C]``: rows ``0..B-1`` real parts, ``B..2B-1`` imaginary."""
    spec = torch.view_as_real(torch.fft.rfft(x, n=n))  # [B, C, F, 2]
    return spec.permute(2, 3, 0, 1).flatten(1, 2)      # copy into [F, 2, B, C]


def _from_planar(z: torch.Tensor, n: int, length: int) -> torch.Tensor:
    """``[F, 2B, C]`` planar spectrum -> real signal ``[B, C, length]`` (``irfft`` then crop)."""
    bins, rows, ch = z.shape
    z = z.view(bins, 2, rows // 2, ch).permute(2, 3, 0, 1).contiguous()  # [B, C, F, 2]
    return torch.fft.irfft(torch.view_as_complex(z), n=n)[..., :length]


def _phases(x: torch.Tensor, plan: _Plan) -> list[torch.Tensor]:
    if plan.stride == 1:
        return [x]
    return [x[..., p::plan.stride] for p in range(plan.stride)]


def _bin_blocks(plan: _Plan, out_ch: int, in_ch: int, itemsize: int) -> list[tuple[int, int]]:
    """Blocks ``[lo, hi)`` of frequency bins whose kernel spectra take about ``_BLOCK_BYTES``."""
    step = max(1, _BLOCK_BYTES // (2 * out_ch * in_ch * itemsize))
    return [(lo, min(plan.bins, lo + step)) for lo in range(0, plan.bins, step)]


def _kernel_block(taps: torch.Tensor, fwd_p: torch.Tensor, lo: int, hi: int, out_ch: int,
                  buf: torch.Tensor) -> torch.Tensor:
    """Bins ``lo:hi`` of one phase's kernel spectrum, ``[hi - lo, 2O, C]`` (rows ``(re/im, o)``:
    ``G_p`` transposed), written into ``buf``.

    ``taps [K, O·C]`` is the weight tap-major, ``fwd_p [2F, K]`` the phase's DFT matrix.
    """
    m = fwd_p[2 * lo:2 * hi]
    g = torch.mm(m, taps, out=buf[:m.shape[0]])
    return g.view(hi - lo, 2 * out_ch, -1)


def _taps(w: torch.Tensor) -> torch.Tensor:
    """``w [O, C, K] -> [K, O·C]``."""
    out_ch, in_ch, width = w.shape
    return w.permute(2, 0, 1).reshape(width, out_ch * in_ch)


class _FFTConv1d(torch.autograd.Function):
    # The kernel spectra are 2F/K times the weight's size (8x for the 1024-channel convs of the
    # paper model, 1.5 GB over layers 2-4): they are never kept whole, but made one block of
    # bins at a time, used while the block is in cache, and remade in backward.

    @staticmethod
    def forward(ctx, x, w, stride, padding):
        plan = _plan(x.shape[-1], w.shape[-1], stride, padding)
        fwd, _ = _kernel_dft(plan, x.dtype, x.device)
        batch, out_ch, in_ch = x.shape[0], w.shape[0], w.shape[1]
        taps = _taps(w)
        blocks = _bin_blocks(plan, out_ch, in_ch, x.element_size())
        buf = taps.new_empty(2 * (blocks[0][1] - blocks[0][0]), taps.shape[1])
        prod = x.new_empty(plan.bins, 2 * batch, 2 * out_ch)
        for p, xp in enumerate(_phases(x, plan)):
            u = _planar_spectrum(xp, plan.n)
            for lo, hi in blocks:
                g = _kernel_block(taps, fwd[p], lo, hi, out_ch, buf).transpose(1, 2)
                # [Ur; Ui] @ [Gr, Gi] -> [[Ur Gr, Ur Gi], [Ui Gr, Ui Gi]]   ([f, 2B, 2O])
                if p == 0:
                    torch.bmm(u[lo:hi], g, out=prod[lo:hi])
                else:
                    prod[lo:hi].baddbmm_(u[lo:hi], g)
        rr, ri = prod[:, :batch, :out_ch], prod[:, :batch, out_ch:]
        ir, ii = prod[:, batch:, :out_ch], prod[:, batch:, out_ch:]
        spec = torch.cat([rr - ii, ri + ir], dim=1)  # Y = U G, planar [F, 2B, O]
        ctx.save_for_backward(x, w)
        ctx.conf = (stride, padding)
        return _from_planar(spec, plan.n, plan.t_out)

    @staticmethod
    def backward(ctx, grad_y):
        x, w = ctx.saved_tensors
        stride, padding = ctx.conf
        plan = _plan(x.shape[-1], w.shape[-1], stride, padding)
        fwd, adj = _kernel_dft(plan, x.dtype, x.device)
        batch, out_ch, in_ch = x.shape[0], w.shape[0], w.shape[1]
        blocks = _bin_blocks(plan, out_ch, in_ch, x.element_size())
        gy = _planar_spectrum(grad_y.contiguous(), plan.n)  # [F, 2B, O]: rfft of the gradient
        gr, gi = gy[:, :batch], gy[:, batch:]
        # M = [[gYr, gYi], [gYi, -gYr]]: M @ [Gr^T; Gi^T] = gY G^H and M^T @ [Ur; Ui] = (U^H gY)^T.
        m = torch.cat([torch.cat([gr, gi], dim=2), torch.cat([gi, -gr], dim=2)], dim=1)
        del gy, gr, gi
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            taps = _taps(w)
            buf = taps.new_empty(2 * (blocks[0][1] - blocks[0][0]), taps.shape[1])
            grad_x = x.new_empty(x.shape)
            gxs = x.new_empty(plan.bins, 2 * batch, in_ch)
            for p in range(plan.stride):
                for lo, hi in blocks:
                    torch.bmm(m[lo:hi], _kernel_block(taps, fwd[p], lo, hi, out_ch, buf),
                              out=gxs[lo:hi])
                gx = _from_planar(gxs, plan.n, plan.phase_len)
                target = grad_x[..., p::stride]
                target.copy_(gx[..., :target.shape[-1]])
        if ctx.needs_input_grad[1]:
            width = w.shape[-1]
            acc = w.new_zeros(width, out_ch * in_ch)
            mt = m.transpose(1, 2)
            # U^H gY one block of bins at a time, folded into the taps while it is in cache.
            for p, xp in enumerate(_phases(x, plan)):
                u = _planar_spectrum(xp, plan.n)
                for lo, hi in blocks:
                    gg = torch.bmm(mt[lo:hi], u[lo:hi])  # [f, 2O, C]
                    acc.addmm_(adj[p][:, 2 * lo:2 * hi], gg.view(-1, out_ch * in_ch))
            grad_w = acc.view(width, out_ch, in_ch).permute(1, 2, 0).contiguous()
        return grad_x, grad_w, None, None


def fft_conv1d(x: torch.Tensor, w: torch.Tensor, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """``F.conv1d(x, w, None, stride, padding)`` through the FFT (float32/float64, any device).

    ``x [B, C, T]``, ``w [O, C, K]`` -> ``[B, O, (T + 2*padding - K) // stride + 1]``.
    """
    if x.dim() != 3 or w.dim() != 3 or x.shape[1] != w.shape[1]:
        raise ValueError(f"expected x [B, C, T] and w [O, C, K] with the same C, got "
                         f"{tuple(x.shape)} and {tuple(w.shape)}")
    if x.dtype not in (torch.float32, torch.float64) or w.dtype != x.dtype:
        raise TypeError(f"fft_conv1d takes float32 or float64 tensors of one dtype, got "
                        f"{x.dtype} and {w.dtype}")
    if stride < 1 or padding < 0:
        raise ValueError(f"stride must be >= 1 and padding >= 0, got {stride} and {padding}")
    return _FFTConv1d.apply(x, w, int(stride), int(padding))


def fft_applicable(x: torch.Tensor, w: torch.Tensor) -> bool:
    """Whether :func:`fft_conv1d` can stand in for ``F.conv1d``: float32/float64 tensors of one
    dtype, outside autocast (a half-precision product would not be the same arithmetic), and a
    kernel wider than one tap."""
    return (x.dtype in (torch.float32, torch.float64) and w.dtype == x.dtype
            and not torch.is_autocast_enabled(x.device.type) and w.shape[-1] > 1)


def fft_worthwhile(x: torch.Tensor, w: torch.Tensor, stride: int = 1, padding: int = 0) -> bool:
    """Whether the FFT path beats ``F.conv1d`` here: applicable, on the CPU, stride 1, at least 5
    taps, at least 256 channels in and out, and kernel spectra of at most 512 MB.

    Measured on 2 cores (``tests/benchmarks/test_bench_model.py::test_conv_layer``): about 2x
    at 256-1024 channels; break-even at 128 channels, where the transforms cost as much as the
    smaller products save; no gain at stride 2, whose two polyphase components double the
    products. On CUDA, cuDNN's own algorithms (FFT and Winograd among them) are used instead.
    """
    if not (fft_applicable(x, w) and x.device.type == "cpu" and stride == 1):
        return False
    out_ch, in_ch, width = w.shape
    if x.shape[-1] + 2 * padding < width:
        return False  # no output frame: let F.conv1d say so
    bins = _plan(x.shape[-1], width, stride, padding).bins
    return (width >= 5 and min(out_ch, in_ch) >= 256
            and 2 * bins * out_ch * in_ch * x.element_size() <= _MAX_SPECTRUM_BYTES)
