"""The validation monitor: caption→clip retrieval on held-out corpus videos during training.

The corpus is split by a hash of the video id (:func:`mcnbench.data.howto100m.is_heldout`,
``TrainConfig.val_fraction``); the training batches never see the held-out videos. From them the
monitor draws, once and with its own generator (``val_seed``, the same for every training seed so
that all runs are measured on the same clips), ``val_clips`` distinct (video, caption) pairs, and
builds each clip as training does (caption extended to ``min_time``, the appended words as its
text, ``audio_frames`` spectrogram frames). Every ``val_every`` steps it embeds them with the
network in eval mode (BatchNorm running statistics, audio pooled over the valid frames, as the
evaluation tasks do) and ranks the clips for each caption by ``text · (video + audio)`` (audio
left out under ``no_audio``), the YouCook2 score, and by ``text · video`` alone. In the corpus
the audio carries the narration, so the first score also rewards matching speech to its words;
the second is the same for models with and without audio. It is a held-out split of the *training*
distribution, not a test task: choosing a training length or a learning rate on it never reads a
test set.
"""
from __future__ import annotations

import contextlib
import time

import numpy as np
import torch

from mcnbench.metrics.retrieval import ranks_from_embeddings, retrieval_metrics

VAL_KEYS = ("val_R@1", "val_R@5", "val_R@10", "val_MedR")
VIDEO_KEYS = ("val_video_R@1", "val_video_R@5", "val_video_R@10", "val_video_MedR")
_CLIP_SALT = 0x7A1  # separates the monitor's clip draw from every training stream


def choose_clips(n_captions: list[int], n_clips: int, seed: int) -> list[tuple[int, int]]:
    """``min(n_clips, Σ n_captions)`` distinct ``(video, caption)`` pairs, sorted, drawn
    uniformly without replacement by a generator seeded with ``seed`` alone.

    ``n_captions[i]``: captions of held-out video ``i``.
    """
    offsets = np.concatenate([[0], np.cumsum(n_captions)]).astype(np.int64)
    total = int(offsets[-1])
    rng = np.random.default_rng([int(seed) % 2**63, _CLIP_SALT])
    flat = np.sort(rng.choice(total, size=min(int(n_clips), total), replace=False))
    video = np.searchsorted(offsets, flat, side="right") - 1
    return [(int(v), int(f - offsets[v])) for v, f in zip(video, flat, strict=True)]


class ValMonitor:
    """Held-out clips kept in memory as tensors, and the R@K of a network on them.

    ``data``: the held-out :class:`~mcnbench.data.clip_sampler.ClipDataset` (``split="val"``);
    ``n_clips``/``seed``: the draw (:func:`choose_clips`); ``modalities``: the trained ones
    (audio enters the clip score only when trained); ``batch``: clips per forward pass.
    """

    def __init__(self, data, n_clips: int, seed: int, modalities=("video", "audio", "text"),
                 batch: int = 256):
        self.pairs = choose_clips([data.n_captions(i) for i in range(len(data))], n_clips, seed)
        self.use_audio = "audio" in modalities
        self.batch = int(batch)
        parts: dict[int, list[int]] = {}
        for v, c in self.pairs:
            parts.setdefault(v, []).append(c)
        items = [data.clips(v, caps) for v, caps in parts.items()]
        self.inputs = {k: torch.from_numpy(np.concatenate([it[k] for it in items]))
                       for k in ("video", "audio", "nframes", "text")}
        self.video_ids = [data.video_id(v) for v in parts]
        self.seconds = 0.0  # spent in measure(), for the cost figure in config.json

    def __len__(self) -> int:
        return len(self.pairs)

    @torch.no_grad()
    def embeddings(self, net, device: str | torch.device = "cpu",
                   amp: torch.dtype | None = None) -> dict[str, torch.Tensor]:
        """``{"video", "audio", "text"}`` float32 ``[N, D]`` on the CPU, ``net`` in eval mode
        (its train/eval mode is restored afterwards)."""
        device = torch.device(device)
        was_training = net.training
        net.eval()
        out: dict[str, list[torch.Tensor]] = {"video": [], "audio": [], "text": []}
        ctx = (torch.autocast(device.type, dtype=amp) if amp is not None
               else contextlib.nullcontext())
        try:
            for s in range(0, len(self), self.batch):
                x = {k: v[s:s + self.batch].to(device) for k, v in self.inputs.items()}
                with ctx:
                    emb = {"video": net.embed_video(x["video"]),
                           "audio": net.embed_audio(x["audio"], x["nframes"]),
                           "text": net.embed_text(x["text"])}
                for k, v in emb.items():
                    out[k].append(v.float().cpu())
        finally:
            net.train(was_training)
        return {k: torch.cat(v) for k, v in out.items()}

    def measure(self, net, device: str | torch.device = "cpu",
                amp: torch.dtype | None = None) -> dict[str, float]:
        """``{"val_R@1", "val_R@5", "val_R@10", "val_MedR"}`` (R@K in %) of caption i
        retrieving clip i among the ``N`` clips by the trained clip score, and the same by
        ``text · video`` alone as ``val_video_*`` (one score every model has, audio or not);
        ties share their mean rank."""
        t0 = time.perf_counter()
        emb = self.embeddings(net, device, amp)
        got = metrics_from_embeddings(emb, self.use_audio)
        video = metrics_from_embeddings(emb, use_audio=False)
        got.update({k.replace("val_", "val_video_"): v for k, v in video.items()})
        self.seconds += time.perf_counter() - t0
        return got


def metrics_from_embeddings(emb: dict[str, torch.Tensor], use_audio: bool = True) -> dict[str, float]:
    """Caption→clip R@1/5/10 (%) and MedR from ``{"video", "audio", "text"} [N, D]``: caption i's
    ground truth is clip i."""
    clip = emb["video"] + emb["audio"] if use_audio else emb["video"]
    res = ranks_from_embeddings(emb["text"].double().numpy(), clip.double().numpy())
    m = retrieval_metrics(res, ks=(1, 5, 10))
    return {f"val_{k}": float(m[k]) for k in ("R@1", "R@5", "R@10", "MedR")}


__all__ = ["VAL_KEYS", "VIDEO_KEYS", "ValMonitor", "choose_clips", "metrics_from_embeddings"]
