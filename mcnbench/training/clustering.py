"""The clustering term of the MCN objective for every ``cluster_mode``, and what it keeps between
steps: online k-means or Sinkhorn assignment state, and the learnable heads of the variants
(prototypes, the K-means Joint classifier). Equations: docs/training.md, "Clustering variants".

The heads live here, beside the network, not in it: the released checkpoint's keys (and every
``model.pth``, which holds the network only) stay exactly the released ones, so released files
keep loading with ``strict=True``. The trainer adds the heads' parameters to its optimiser and
saves them in the resumable training checkpoint (``checkpoint.pth`` -> ``trainer.cluster_head``).

Under DDP every rank computes this term on the all-gathered global batch, so the codes, labels
and the heads' gradients are the same on every rank (the heads are not behind the gather, so
their gradient is already that of the global loss; DDP does not wrap them).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mcnbench.models.kmeans import OnlineKMeans, soft_assign_cosine
from mcnbench.models.losses import clustering_loss, fuse, prediction_loss
from mcnbench.models.sinkhorn import OnlineSinkhorn, Prototypes
from mcnbench.training.config import TrainConfig

HEAD_SEED_OFFSET = 7919  # the heads draw from their own generator, seeded seed + this


class ClusterObjective:
    """Clustering state and loss for one run (``cfg.cluster_mode``).

    ``dim`` = D of the embeddings; ``modalities`` those in the losses (audio dropped with
    ``no_audio``); ``total_steps`` sizes the prototype freeze (``prototype_freeze_epochs`` x
    steps per epoch). ``kmeans`` / ``sinkhorn`` map each clustered source (a modality or
    ``"fused"``) to its online assigner; ``head`` holds the learnable parameters (empty for the
    centroid modes, so MCN's optimiser and checkpoints are unchanged).
    """

    def __init__(self, cfg: TrainConfig, dim: int, modalities: Sequence[str], *, total_steps: int,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
        self.cfg, self.mode, self.modalities = cfg, cfg.cluster_mode, tuple(modalities)
        self.kmeans: dict[str, OnlineKMeans] = {}
        self.sinkhorn: dict[str, OnlineSinkhorn] = {}
        self.head = nn.Module()
        self.freeze_steps = cfg.prototype_freeze_epochs * (int(total_steps) // cfg.epochs)
        rows = OnlineKMeans.queue_rows_for(cfg.queue_batches, cfg.clips_per_batch)
        g = torch.Generator().manual_seed(cfg.seed + HEAD_SEED_OFFSET)
        if self.mode in ("joint", "fused", "per-modality", "kmeans-joint"):
            names = self.modalities if self.mode == "per-modality" else ("fused",)
            self.kmeans = {name: OnlineKMeans(cfg.n_clusters, dim, rows, cfg.refit_every,
                                              seed=cfg.seed + i, device=device, dtype=dtype)
                           for i, name in enumerate(names)}
        if self.mode == "kmeans-joint":
            # nn.Linear's default initialisation, U(±1/√D), from the heads' own generator
            bound = dim ** -0.5
            self.head.classifier = nn.Linear(dim, cfg.n_clusters, dtype=dtype)
            with torch.no_grad():
                self.head.classifier.weight.copy_(torch.empty_like(self.head.classifier.weight)
                                                  .uniform_(-bound, bound, generator=g))
                self.head.classifier.bias.copy_(torch.empty_like(self.head.classifier.bias)
                                                .uniform_(-bound, bound, generator=g))
        if self.mode in ("sinkhorn-swap", "sinkhorn-joint"):
            self.head.prototypes = Prototypes(cfg.n_clusters, dim, generator=g, dtype=dtype)
        self.head.to(device)
        if self.mode in ("sinkhorn-swap", "sinkhorn-joint"):
            names = self.modalities if self.mode == "sinkhorn-swap" else ("fused",)
            self.sinkhorn = {name: OnlineSinkhorn(self.head.prototypes, rows,
                                                  epsilon=cfg.sinkhorn_epsilon,
                                                  iters=cfg.sinkhorn_iters, device=device, dtype=dtype)
                             for name in names}

    def start_epoch(self) -> None:
        """MCN's ``fastC``: k-means forgets its centroids at each epoch start (queues kept)."""
        for assigner in (*self.kmeans.values(), *self.sinkhorn.values()):
            assigner.reset_epoch()

    def loss(self, out, step_in_epoch: int, global_step: int) -> torch.Tensor:
        """The (unweighted) clustering term of the global batch ``out`` (``.video/.audio/.text``
        ``[B, D]``); advances the assigners. ``global_step`` (0-based) decides the freeze."""
        cfg, mode, mods = self.cfg, self.mode, self.modalities
        if mode == "none":
            return out.video.new_zeros(())
        soft = cfg.cluster_labels == "soft"
        sources = {name: fuse(out, mods) if name == "fused" else getattr(out, name)
                   for name in (*self.kmeans, *self.sinkhorn)}
        if self.kmeans:
            labels = {n: km.step(sources[n].detach(), step_in_epoch, cfg.n_pair)
                      for n, km in self.kmeans.items()}
            if soft:  # softmax over the cosines to the (current) centroids
                labels = {n: soft_assign_cosine(sources[n].detach(), self.kmeans[n].centroids,
                                                cfg.cluster_temperature) for n in labels}
            if mode == "kmeans-joint":
                logits = {m: self.head.classifier(getattr(out, m)) for m in mods}
                return prediction_loss(logits, labels)
            cents = {n: km.centroids for n, km in self.kmeans.items()}
            if mode != "per-modality":
                labels, cents = labels["fused"], cents["fused"]
            return clustering_loss(out, cents, labels, mode, margin=cfg.margin, modalities=mods,
                                   swap=cfg.cluster_swap)
        protos: Prototypes = self.head.prototypes
        protos.normalize_()  # unit prototypes before every step (SwAV, the reference)
        codes = {n: sk.step(sources[n], step_in_epoch, cfg.n_pair) for n, sk in self.sinkhorn.items()}
        if not soft:
            codes = {n: q.argmax(dim=1) for n, q in codes.items()}
        frozen = global_step < self.freeze_steps
        scores = {m: protos(getattr(out, m), detach_weight=frozen) for m in mods}
        return prediction_loss(scores, codes, temperature=cfg.cluster_temperature)

    # -- resumable state ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``kmeans`` and ``sinkhorn`` assigner states by source, ``cluster_head`` parameters."""
        return {"kmeans": {n: km.state_dict() for n, km in self.kmeans.items()},
                "sinkhorn": {n: sk.state_dict() for n, sk in self.sinkhorn.items()},
                "cluster_head": self.head.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (checkpoints older than the variants lack the last two
        keys; they come from runs without heads)."""
        for key, mine in (("kmeans", self.kmeans), ("sinkhorn", self.sinkhorn)):
            saved = state.get(key, {})
            if set(saved) != set(mine):
                raise ValueError(f"checkpoint has {key} {sorted(saved)}, this run {sorted(mine)}")
            for name, assigner in mine.items():
                assigner.load_state_dict(saved[name])
        self.head.load_state_dict(state.get("cluster_head", {}))
