"""The MCN network (reference: mcn_spec §3), checkpoint-compatible with the released weights.

Submodule names are those of the official ``model_kmeans_ICCV.Net`` so that, at the paper config,
``MCNNet().state_dict()`` has exactly the keys and shapes of ``mcn_state_dict_keys.tsv``:

    video  [B, video_dim]             -> GU_video                                   -> v [B, D]
    audio  [B, bands, F] (+ nframes)  -> DAVEnet -> pool -> GU_audio -> DAVEnet_projection -> a [B, D]
    text   [B, W, we_dim]             -> text_pooling_caption -> GU_text_captions   -> t [B, D]

No normalisation anywhere: similarities are raw dot products. ``train()``/``eval()`` matters for
the audio branch beyond BatchNorm: training pools over all frames (padding included), eval over
each clip's valid frames only (§3.2).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .davenet import DAVEnet, pool_frames

__all__ = ["MCNConfig", "MCNNet", "MCNOutput", "ContextGating", "GatedEmbeddingUnit",
           "SentenceMaxpool"]


@dataclass
class MCNConfig:
    """Architecture of an MCN network. The defaults are the released model (``MCN_sep_recon_r``).

    ``audio_gate_dim`` is the size of ``GU_audio`` and must equal the last DAVEnet width.
    """

    embd_dim: int = 6144
    video_dim: int = 4096
    we_dim: int = 300
    audio_bands: int = 40
    davenet_widths: tuple[int, ...] = (128, 256, 512, 1024)
    audio_gate_dim: int = 1024
    recon: bool = True
    recon_size: int = 1024

    def __post_init__(self) -> None:
        self.davenet_widths = tuple(int(w) for w in self.davenet_widths)
        if self.audio_gate_dim != self.davenet_widths[-1]:
            raise ValueError(f"audio_gate_dim ({self.audio_gate_dim}) must equal the last DAVEnet "
                             f"width ({self.davenet_widths[-1]})")
        for name in ("embd_dim", "video_dim", "we_dim", "audio_bands", "recon_size"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["davenet_widths"] = list(self.davenet_widths)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MCNConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``TypeError`` naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TypeError(f"unknown MCNConfig keys: {unknown}")
        return cls(**d)


class ContextGating(nn.Module):
    """``x * sigmoid(fc(x))`` (the reference's GLU over ``[x, fc(x)]``, without the concat copy)."""

    def __init__(self, dim: int):
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc(x))


class GatedEmbeddingUnit(nn.Module):
    """``Linear(in, out)`` followed by :class:`ContextGating` (``[B, in] -> [B, out]``)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)
        self.cg = ContextGating(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cg(self.fc(x))


class SentenceMaxpool(nn.Module):
    """``[B, W, we_dim] -> [B, D]``: Linear, ReLU, max over words.

    Zero-padded word slots are included in the max, as in the reference; they contribute
    ``ReLU(bias)``.
    """

    def __init__(self, we_dim: int, out_dim: int):
        super().__init__()
        self.fc = nn.Linear(we_dim, out_dim)

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc(words)).amax(dim=1)


def _recon_mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    # Indices 0 and 2 are the Linear layers, as in the checkpoint (recon_x.0 / recon_x.2).
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim),
                         nn.ReLU())


class MCNOutput(NamedTuple):
    """Embeddings ``[B, D]`` of one batch of clips, and the per-clip reconstruction error ``[B]``.

    A NamedTuple so that DataParallel/DDP and ``torch.compile`` treat it as plain tensors.
    """

    video: torch.Tensor
    audio: torch.Tensor
    text: torch.Tensor
    recon_per_clip: torch.Tensor | None = None

    @property
    def fused(self) -> torch.Tensor:
        """``(v + a + t) / 3``, the feature MCN clusters (§4.2); not detached."""
        return (self.video + self.audio + self.text) / 3


class MCNNet(nn.Module):
    """The MCN network. See the module docstring for the data flow and names.

    ``davenet_impl`` ("auto" default, "conv1d", "fft" or "conv2d"; see ``davenet.py``) only
    chooses how the audio convolutions are executed; weights, state_dict and results are the same
    up to float rounding.
    """

    def __init__(self, config: MCNConfig | None = None, *, davenet_impl: str = "auto"):
        super().__init__()
        cfg = config if config is not None else MCNConfig()
        self.config = cfg
        d = cfg.embd_dim
        self.DAVEnet = DAVEnet(bands=cfg.audio_bands, widths=cfg.davenet_widths,
                               impl=davenet_impl)
        self.DAVEnet_projection = nn.Linear(cfg.audio_gate_dim, d)
        self.GU_audio = GatedEmbeddingUnit(cfg.audio_gate_dim, cfg.audio_gate_dim)
        self.GU_video = GatedEmbeddingUnit(cfg.video_dim, d)
        self.text_pooling_caption = SentenceMaxpool(cfg.we_dim, d)
        self.GU_text_captions = GatedEmbeddingUnit(d, d)
        if cfg.recon:
            self.recon_v = _recon_mlp(d, cfg.recon_size, cfg.video_dim)
            self.recon_a = _recon_mlp(d, cfg.recon_size, cfg.audio_gate_dim)
            self.recon_t = _recon_mlp(d, cfg.recon_size, d)

    # -- one modality at a time (evaluation) ----------------------------------------------------
    def embed_video(self, video: torch.Tensor) -> torch.Tensor:
        """``video [B, video_dim] -> [B, D]``."""
        return self.GU_video(video)

    def pooled_audio(self, audio: torch.Tensor, nframes: torch.Tensor | None = None) -> torch.Tensor:
        """DAVEnet features pooled over time, ``[B, audio_gate_dim]`` (the audio recon target).

        Training mode: mean over all output frames (zero padding included, as the reference).
        Eval mode: mean over each clip's valid frames (``nframes``; all frames when None).
        """
        feats = self.DAVEnet(audio)  # [B, C, F']
        if self.training:
            return feats.mean(dim=2)
        return pool_frames(feats, nframes, audio.shape[-1])

    def embed_audio(self, audio: torch.Tensor, nframes: torch.Tensor | None = None) -> torch.Tensor:
        """``audio [B, bands, F]``, ``nframes [B]`` int -> ``[B, D]``."""
        return self._audio_from_pooled(self.pooled_audio(audio, nframes))

    def embed_text(self, text: torch.Tensor) -> torch.Tensor:
        """``text [B, W, we_dim]`` word vectors (zero-padded) -> ``[B, D]``."""
        return self.GU_text_captions(self.text_pooling_caption(text))

    def _audio_from_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        # Gating at 1024-d, then projection; no gating after the projection (reference).
        return self.DAVEnet_projection(self.GU_audio(pooled))

    # -- all three (training) --------------------------------------------------------------------
    def forward(self, video: torch.Tensor, audio: torch.Tensor | None, nframes: torch.Tensor | None,
                text: torch.Tensor) -> MCNOutput:
        """Embed a batch of clips in all three modalities.

        ``video [B, video_dim]``, ``audio [B, bands, F]`` (None: the audio branch is not run and
        ``audio`` is zeros, for a training that uses no audio; not with ``recon``), ``nframes [B]``
        (int, used in eval mode only), ``text [B, W, we_dim]``. With ``recon`` the output carries
        ``recon_per_clip [B] = mse_v + mse_a + mse_t`` (each a mean over feature dims). Targets are
        the raw video input, the pooled DAVEnet output and the sentence max-pool output; the last
        two are *not* detached, so their branches also get gradients through the targets (§3.5).
        """
        v = self.GU_video(video)
        if audio is None:
            if self.config.recon:
                raise ValueError("reconstruction needs the audio branch: pass the audio")
            pooled, a = None, torch.zeros_like(v)
        else:
            pooled = self.pooled_audio(audio, nframes)
            a = self._audio_from_pooled(pooled)
        words = self.text_pooling_caption(text)
        t = self.GU_text_captions(words)
        recon = None
        if self.config.recon:
            recon = (_mse_per_row(self.recon_v(v), video)
                     + _mse_per_row(self.recon_a(a), pooled)
                     + _mse_per_row(self.recon_t(t), words))
        return MCNOutput(video=v, audio=a, text=t, recon_per_clip=recon)


def _mse_per_row(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``[B, d], [B, d] -> [B]`` mean squared error over the feature axis."""
    return (pred - target).pow(2).mean(dim=-1)
