"""``MCNModel``: the registered ``mcn`` (and ``random``) model object — the model contract
(docs/contracts.md) around :class:`~mcnbench.models.mcn.MCNNet`.

* ``embed(batch)`` runs the network in eval mode (masked audio pooling, BatchNorm running
  statistics) in chunks and returns float32 ``[N, D]`` per modality the batch carries; text is
  tokenised with the data root's word2vec (``ctx.word_vectors``) and ``batch.max_words``.
* ``fit(corpus_root, out_dir, ...)`` trains with :func:`mcnbench.training.train` and loads the result.
* ``load(checkpoint)`` loads weights (shapes read from the file).

The full config (``config``) is ``{"network": MCNConfig fields, "train": TrainConfig fields}``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from mcnbench.models.mcn import MCNConfig, MCNNet
from mcnbench.training.config import TrainConfig

NETWORK_KEYS = tuple(f.name for f in dataclasses.fields(MCNConfig))
TRAIN_KEYS = TrainConfig.field_names()
# rows of the first DAVEnet activation kept in memory at once while embedding audio
_AUDIO_BUDGET = 64 * 2**20


def split_overrides(overrides: dict) -> tuple[dict, dict]:
    """``overrides`` -> (network part, training part); an unknown key raises naming the known."""
    unknown = sorted(set(overrides) - set(NETWORK_KEYS) - set(TRAIN_KEYS))
    if unknown:
        raise TypeError(f"unknown option(s) {unknown}; network options: {sorted(NETWORK_KEYS)}; "
                        f"training options: {sorted(TRAIN_KEYS)}")
    return ({k: v for k, v in overrides.items() if k in NETWORK_KEYS},
            {k: v for k, v in overrides.items() if k in TRAIN_KEYS})


def network_config(base: dict, **changes) -> MCNConfig:
    """An :class:`MCNConfig` from ``base`` + ``changes``; ``audio_gate_dim`` follows the last
    DAVEnet width unless given (the reference ties them), ints coerced from strings."""
    d = {**base, **changes}
    if "davenet_widths" in d:
        widths = d["davenet_widths"]
        if isinstance(widths, str):
            widths = [w for w in widths.replace("(", "").replace(")", "").split(",") if w.strip()]
        d["davenet_widths"] = tuple(int(w) for w in widths)
        if "audio_gate_dim" not in changes:
            d["audio_gate_dim"] = d["davenet_widths"][-1]
    for k in ("embd_dim", "video_dim", "we_dim", "audio_bands", "audio_gate_dim", "recon_size"):
        if k in d:
            d[k] = int(d[k])
    if "recon" in d and isinstance(d["recon"], str):
        d["recon"] = d["recon"].strip().lower() in ("1", "true", "yes", "on")
    return MCNConfig.from_dict(d)


class MCNModel:
    """An MCN network that embeds batches, trains itself and loads checkpoints.

    ``ctx`` is the :class:`~mcnbench.zoo.context.ModelContext` (data root, device, seed).
    The network is built at once with ``train_config.seed`` (untrained weights until ``fit`` or
    ``load``), so an untrained ``mcn`` and ``random`` with the same seed are the same network.
    """

    modalities: tuple[str, ...] = ("video", "audio", "text")

    def __init__(self, name: str, network: MCNConfig, train_config: TrainConfig, ctx, *,
                 trainable: bool = True):
        self.name, self.ctx, self.trainable = name, ctx, trainable
        self.train_config = train_config
        self.device = torch.device(ctx.device if ctx.device != "auto" else
                                   ("cuda" if torch.cuda.is_available() else "cpu"))
        if train_config.no_audio:
            self.modalities = ("video", "text")
        with torch.random.fork_rng(devices=[]):  # do not disturb the caller's RNG
            torch.manual_seed(train_config.seed)
            self.net = MCNNet(network).to(self.device).eval()
        self.checkpoint: Path | None = None

    @property
    def network_config(self) -> MCNConfig:
        return self.net.config

    @property
    def config(self) -> dict:
        return {"network": self.network_config.to_dict(), "train": self.train_config.to_dict()}

    def __repr__(self) -> str:
        return (f"MCNModel({self.name!r}, embd_dim={self.network_config.embd_dim}, "
                f"checkpoint={self.checkpoint})")

    # -- the model contract --------------------------------------------------------------------
    @torch.no_grad()
    def embed(self, batch) -> dict[str, np.ndarray]:
        """Embeddings of a :class:`~mcnbench.data.batch.Batch`: ``{"text": [N, D]}`` for
        sentences, else ``{"video": [N, D], "audio": [N, D]}`` for the inputs present."""
        net = self.net.eval()
        out: dict[str, np.ndarray] = {}
        n = len(batch)
        if batch.text is not None:
            from mcnbench.data.text import Tokenizer

            tok = Tokenizer(self.ctx.word_vectors, batch.max_words)
            out["text"] = self._chunks(n, 4096, lambda i, j: net.embed_text(
                self._tensor(tok.encode(list(batch.text[i:j]))[0])))
            return out
        if batch.video is not None:
            out["video"] = self._chunks(n, 4096, lambda i, j: net.embed_video(
                self._tensor(batch.video[i:j])))
        if batch.audio is not None and "audio" in self.modalities:
            frames = max(1, batch.audio.shape[-1])
            rows = max(1, _AUDIO_BUDGET // (4 * frames * self.network_config.davenet_widths[0]))
            out["audio"] = self._chunks(n, rows, lambda i, j: net.embed_audio(
                self._tensor(batch.audio[i:j]),
                torch.as_tensor(np.asarray(batch.nframes[i:j]), dtype=torch.long, device=self.device)))
        return out

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)

    def _chunks(self, n: int, size: int, fn) -> np.ndarray:
        parts = [fn(i, min(n, i + size)).float().cpu().numpy() for i in range(0, n, size)]
        if not parts:
            return np.zeros((0, self.network_config.embd_dim), np.float32)
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    # -- training and weights --------------------------------------------------------------------
    def fit(self, corpus_root: str | Path, out_dir: str | Path, *, seed: int | None = None,
            device: str | None = None, resume: bool = True, progress: bool = True) -> Path:
        """Train on the HowTo100M-format corpus under ``corpus_root`` into ``out_dir``; returns
        ``out_dir/model.pth`` and loads it. ``seed``/``device`` override the config's."""
        if not self.trainable:
            raise TypeError(f"model {self.name!r} is not trainable")
        from mcnbench.training import train

        changes = {k: v for k, v in (("seed", seed), ("device", device)) if v is not None}
        self.train_config = self.train_config.replace(**changes)
        path = train(self.network_config, self.train_config, corpus_root, out_dir,
                     resume=resume, progress=progress)
        self.load(path)
        return path

    def load(self, checkpoint: str | Path) -> MCNModel:
        """Load weights from ``checkpoint`` (a state_dict file, ours or the released format);
        the network's shapes are read from the file."""
        from mcnbench.models.checkpoint import load_mcn

        self.net = load_mcn(checkpoint, map_location=self.device).eval()
        self.checkpoint = Path(checkpoint)
        return self
