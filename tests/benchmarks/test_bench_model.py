"""Speed of the MCN training step and of the k-means refit.

Run: ``pytest tests/benchmarks/test_bench_model.py --benchmark-enable --benchmark-only``.
Runs on CUDA when available, else CPU (``MCNBENCH_BENCH_DEVICE`` overrides);
``MCNBENCH_BENCH_CLIPS`` sets the step's batch (64).
Figures (clips/s, seconds per k-means iteration, the losses of each round so that variants can
be compared for identical results) go into each benchmark's ``extra_info``. The paper-shape step
needs about 4 GB of memory per variant at 64 clips.

Step variants (same seed, same initial weights):

* ``naive`` — the reference formulation: ``Conv2d`` on ``[N, 1, 40, F]`` and Adam's default
  implementation (the per-tensor loop on CPU);
* ``direct`` — every convolution as a direct ``conv1d`` and ``Adam(fused=True)``: the same
  arithmetic, results equal up to float rounding;
* ``fast`` — the default execution (``davenet_impl="auto"``): ``direct`` with the wide stride-1
  convolutions through the FFT on CPU (``mcnbench/models/fftconv.py``), rounding no larger than
  a direct convolution's (``tests/test_fftconv.py``);
* ``fast-bf16`` — ``fast`` under bfloat16 autocast (which runs every convolution direct): *not*
  identical (shows the headroom; the reference trained with fp16 AMP on GPU).

Every variant runs with glibc told to keep freed memory (``mcnbench.utils.malloc``), as the
trainer does on CPU: without it the FFT path's large temporaries page-fault every step.
"""
from __future__ import annotations

import os
import time

import pytest
import torch
import torch.nn.functional as F

from mcnbench.models.fftconv import fft_conv1d
from mcnbench.models.kmeans import assign_cosine, cosine_kmeans
from mcnbench.models.losses import clustering_loss, mms_triplet, recon_loss
from mcnbench.models.mcn import MCNConfig, MCNNet, MCNOutput
from mcnbench.utils.malloc import keep_freed_memory

keep_freed_memory()

DEVICE = os.environ.get("MCNBENCH_BENCH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
PAPER = MCNConfig()  # embd 6144, video 4096, 40-band audio, DAVEnet up to 1024, recon 1024
SMALL = MCNConfig(embd_dim=256, video_dim=128, we_dim=300, audio_bands=40,
                  davenet_widths=(16, 32, 32, 64), audio_gate_dim=64, recon_size=64)
CLIPS = int(os.environ.get("MCNBENCH_BENCH_CLIPS", "64"))  # default 2 videos x 32 clips
FRAMES, WORDS, K = 1000, 20, 256
VARIANTS = {
    "naive": {"impl": "conv2d", "adam": {}, "bf16": False},
    "direct": {"impl": "conv1d", "adam": {"fused": True}, "bf16": False},
    "fast": {"impl": "auto", "adam": {"fused": True}, "bf16": False},
    "fast-bf16": {"impl": "auto", "adam": {"fused": True}, "bf16": True},
}


def _sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


class TrainStep:
    """One MCN iteration: forward, MMS over 3 pairs, joint centroid contrast (frozen centroids,
    i.e. a non-refit step), reconstruction x 50, backward, Adam step."""

    def __init__(self, cfg: MCNConfig, clips: int, impl: str, adam: dict, bf16: bool, seed: int = 0):
        torch.manual_seed(seed)
        self.net = MCNNet(cfg, davenet_impl=impl).to(DEVICE).train()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-4, **adam)
        self.bf16 = bf16
        g = torch.Generator().manual_seed(seed)
        self.video = torch.rand(clips, cfg.video_dim, generator=g).to(DEVICE)
        self.audio = (-80 * torch.rand(clips, cfg.audio_bands, FRAMES, generator=g)).to(DEVICE)
        self.nframes = torch.full((clips,), FRAMES, device=DEVICE)
        self.text = (0.1 * torch.randn(clips, WORDS, cfg.we_dim, generator=g)).to(DEVICE)
        self.centroids = torch.randn(K, cfg.embd_dim, generator=g).to(DEVICE)
        self.losses: list[float] = []

    def __call__(self) -> float:
        self.opt.zero_grad(set_to_none=True)
        with torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.net(self.video, self.audio, self.nframes, self.text)
        out = MCNOutput(*(None if x is None else x.float() for x in out))
        labels = assign_cosine(out.fused.detach(), self.centroids)
        loss = (mms_triplet(out.video, out.audio, out.text)
                + clustering_loss(out, self.centroids, labels, "joint")
                + recon_loss(out.recon_per_clip))
        loss.backward()
        self.opt.step()
        _sync()
        self.losses.append(loss.item())
        return self.losses[-1]


def _run_step(benchmark, cfg: MCNConfig, variant: str, rounds: int) -> None:
    step = TrainStep(cfg, CLIPS, **VARIANTS[variant])
    benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=1)
    best = benchmark.stats.stats.min
    benchmark.extra_info.update(
        device=DEVICE, threads=torch.get_num_threads(), clips=CLIPS, variant=variant,
        clips_per_s=CLIPS / best, losses=step.losses)
    del step


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_train_step_paper_shapes(benchmark, variant):
    """Embd 6144, video 4096, audio 40 x 1000, text 20 x 300, 64 clips (224 M parameters)."""
    _run_step(benchmark, PAPER, variant, rounds=3)


@pytest.mark.parametrize("variant", ["naive", "direct"])
def test_train_step_small_dims(benchmark, variant):
    _run_step(benchmark, SMALL, variant, rounds=10)


# (in, out, frames in, stride): the stride-1 convolutions of layers 2-4 and one stride-2 first conv
LAYERS = [(128, 128, 500, 1), (256, 256, 250, 1), (512, 512, 125, 1), (1024, 1024, 63, 1),
          (512, 1024, 125, 2)]


@pytest.mark.parametrize("impl", ["direct", "fft"])
@pytest.mark.parametrize("layer", LAYERS, ids=lambda s: "x".join(map(str, s)))
def test_conv_layer(benchmark, layer, impl):
    """Forward + backward of one DAVEnet ``1 x 9`` convolution at 64 clips (CPU float32): the
    figures behind ``fft_worthwhile``'s thresholds."""
    in_ch, out_ch, frames, stride = layer
    g = torch.Generator().manual_seed(0)
    x = torch.randn(CLIPS, in_ch, frames, generator=g, requires_grad=True)
    w = (torch.randn(out_ch, in_ch, 9, generator=g) / (9 * in_ch) ** 0.5).requires_grad_()
    conv = (lambda: F.conv1d(x, w, None, stride, 4)) if impl == "direct" else \
        (lambda: fft_conv1d(x, w, stride, 4))

    def step():
        y = conv()
        return torch.autograd.grad(y, (x, w), torch.ones_like(y))

    benchmark.pedantic(step, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info.update(threads=torch.get_num_threads(), clips=CLIPS,
                                clips_per_s=CLIPS / benchmark.stats.stats.min)


def _library_style_iteration(X: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """One iteration as a straightforward port would write it: normalise X and C every time,
    argmax, then the new centroids as a dense one-hot [K, N] @ X (as much work as the
    assignment)."""
    Xn = X / (X.norm(dim=1, keepdim=True) + 1e-8)
    Cn = C / (C.norm(dim=1, keepdim=True) + 1e-8)
    labels = (Xn @ Cn.t()).argmax(dim=1)
    onehot = (labels[None, :] == torch.arange(C.shape[0], device=X.device)[:, None]).to(X.dtype)
    return onehot @ X / onehot.sum(dim=1, keepdim=True).clamp(min=1)


def test_kmeans_refit_paper_queue(benchmark):
    """A refit on the full queue + batch: 40,960 + 4,096 = 45,056 rows x 6,144, K = 256."""
    iters = 5
    g = torch.Generator(device=DEVICE).manual_seed(0)
    X = torch.randn(45_056, 6_144, generator=g, device=DEVICE)
    init = X[:K].clone()

    def refit():
        out = cosine_kmeans(X, K, init=init, max_iter=iters, tol=-1.0)  # tol < 0: all iterations
        _sync()
        return out

    benchmark.pedantic(refit, rounds=2, iterations=1, warmup_rounds=1)
    per_iter = benchmark.stats.stats.min / iters
    t = time.perf_counter()
    _library_style_iteration(X, init)
    _sync()
    naive = time.perf_counter() - t
    t = time.perf_counter()
    assign_cosine(X[-4096:], init)  # what the 19 steps between refits pay
    _sync()
    assign_batch = time.perf_counter() - t
    benchmark.extra_info.update(device=DEVICE, rows=X.shape[0], dim=X.shape[1], k=K,
                                s_per_iteration=per_iter, library_style_s_per_iteration=naive,
                                speedup_vs_library_style=naive / per_iter,
                                assign_4096_rows_s=assign_batch)
