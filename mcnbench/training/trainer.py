"""One MCN training iteration: network, optimiser, schedule, online k-means and the loss.

``Trainer.step(batch)`` is the whole iteration on this process's share of the global batch; the
embeddings of all ranks are gathered (with gradient) before any loss, so the loss is always the
loss of the global batch (see :mod:`mcnbench.training.distributed`).

Loss (reference mcn_spec §4, README run)::

    L = contrastive + cluster_weight · clustering + recon_weight · mean(recon_per_clip)

contrastive = Σ over the pairs (t,v), (a,t), (a,v) of MMS (or NCE / MIL-NCE) of the ``[B, B]``
dot-product matrix; clustering = centroid contrast against online k-means of the detached fused
``(v+a+t)/3``, or one of the Table 6 variants (``cluster_mode``,
:mod:`mcnbench.training.clustering`); the audio pairs and audio are dropped with ``no_audio``.
"""
from __future__ import annotations

import contextlib
import inspect

import torch
from torch import nn

from mcnbench.models.kmeans import OnlineKMeans
from mcnbench.models.losses import mil_nce_loss, mms_loss, nce_loss
from mcnbench.models.mcn import MCNConfig, MCNNet, MCNOutput
from mcnbench.training.clustering import ClusterObjective
from mcnbench.training.config import TrainConfig
from mcnbench.training.distributed import DistEnv, all_gather_with_grad, convert_batchnorm
from mcnbench.training.schedule import warmup_cosine
from mcnbench.utils.malloc import keep_freed_memory
from mcnbench.utils.seed import seed_everything

PAIRS = (("text", "video"), ("audio", "text"), ("audio", "video"))  # rows · columnsᵀ, as the reference


def amp_dtype(amp: str, device: str) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device``, None for full precision.

    "auto": bf16 where the GPU supports it, else fp16; full precision on CPU, so that CPU runs
    stay exact by default. "bf16" asks for bf16 autocast on CPU too: at the paper's shapes on
    2 cores 12 clips/s against 10 for the exact fp32 default and 6 for the reference's
    formulation (docs/training.md), at the cost of ~1e-4 relative differences. "fp16" is CUDA
    only. "off": full precision.
    """
    cuda = str(device).startswith("cuda")
    if amp == "off" or (amp == "auto" and not cuda):
        return None
    if amp == "bf16" or (amp == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16 if cuda else None


class Trainer:
    """Everything that changes while training, for one process.

    ``model_config`` shapes the network (its ``recon`` follows ``cfg.recon``); ``total_steps``
    sizes the cosine schedule; ``env`` says which rank this is (``DistEnv()`` = 1 process).
    Initialisation depends only on ``cfg.seed``, so every rank builds the same network.

    The optimiser is Adam's fused implementation (one kernel per step instead of a loop of
    element-wise ops per tensor; the same arithmetic up to float rounding). ``step_in_backward``
    (default: on for one CPU process without a gradient scaler) applies each parameter's Adam
    update as soon as its gradient is complete during the backward pass and frees that
    gradient, so the gradients of the whole network are never held at once (at the paper's
    shapes 0.9 GB of the peak). The result is bit-identical to stepping after the backward
    pass: Adam updates every tensor from its own gradient alone. ``p.grad`` is then None after
    :meth:`step`.
    """

    def __init__(self, model_config: MCNConfig, cfg: TrainConfig, *, total_steps: int,
                 device: str = "cpu", env: DistEnv | None = None,
                 step_in_backward: bool | None = None):
        self.cfg, self.env, self.device = cfg, env or DistEnv(), torch.device(device)
        self.total_steps = int(total_steps)
        if step_in_backward and self.env.enabled:
            # DDP reduces gradients in buckets once they are complete, and a scaler must see
            # every gradient (inf check) before any step: both need the step after backward
            raise ValueError("step_in_backward needs one process (DDP steps after backward)")
        seed_everything(cfg.seed)
        if self.device.type == "cpu":
            keep_freed_memory()  # large per-step temporaries: no page faults each step
        if model_config.recon != cfg.recon:
            model_config = MCNConfig.from_dict({**model_config.to_dict(), "recon": cfg.recon})
        self.model_config = model_config
        self.net = MCNNet(model_config).to(self.device)
        self.model: nn.Module = self.net
        if self.env.enabled:
            convert_batchnorm(self.net, self.env)
            ids = [self.device.index] if self.device.type == "cuda" else None
            # unused: DAVEnet.batchnorm1 (built, never called, as in the reference) and, with
            # no_audio, nothing else — the audio branch still feeds the reconstruction loss
            # BatchNorm buffers are kept equal by GlobalBatchNorm; no per-forward broadcast
            ddp = nn.parallel.DistributedDataParallel
            no_sync = ({"forward_sync_buffers": False}
                       if "forward_sync_buffers" in inspect.signature(ddp).parameters
                       else {"broadcast_buffers": False})
            self.model = ddp(self.net, device_ids=ids, find_unused_parameters=True, **no_sync)
        self.modalities = ("video", "text") if cfg.no_audio else ("video", "audio", "text")
        # No audio pair and no reconstruction: the audio branch feeds no loss, yet running it
        # costs ~90 % of a synthetic-world step (its backward on zero gradients included), so it
        # is not run. Every other weight and the losses are bit-identical (tests/test_train.py);
        # only the unused DAVEnet's BatchNorm running statistics stay at their initial values.
        self.skip_audio = bool(cfg.no_audio and not model_config.recon)
        self.clustering = self._make_clustering()  # its heads (if any) train with the network
        heads = list(self.clustering.head.parameters())
        self.optimizer = torch.optim.Adam([*self.net.parameters(), *heads], lr=cfg.lr, fused=True)
        self.scheduler = warmup_cosine(self.optimizer, cfg.warmup_steps, self.total_steps)
        self.amp = amp_dtype(cfg.amp, str(self.device))
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp == torch.float16)
        # the step inside backward: one process, no fp16 scaler, and no clustering heads (the
        # Sinkhorn prototypes are frozen for a while, which per-parameter hooks would not see)
        possible = not self.env.enabled and not self.scaler.is_enabled() and not heads
        if step_in_backward is None:
            step_in_backward = possible and self.device.type == "cpu"
        if step_in_backward and not possible:
            raise ValueError("step_in_backward needs one process, no fp16 gradient scaler and no "
                             "clustering heads")
        self.step_in_backward = bool(step_in_backward)
        if self.step_in_backward:
            for param in self.net.parameters():
                if param.requires_grad:
                    param.register_post_accumulate_grad_hook(self._step_one)

    # -- construction -----------------------------------------------------------------------
    def _make_clustering(self) -> ClusterObjective:
        """k-means / Sinkhorn state and heads of ``cfg.cluster_mode`` (outside the network, so
        ``model.pth`` keeps the released keys)."""
        return ClusterObjective(self.cfg, self.model_config.embd_dim, self.modalities,
                                total_steps=self.total_steps, device=self.device,
                                dtype=torch.promote_types(torch.float32, torch.get_default_dtype()))

    @property
    def kmeans(self) -> dict[str, OnlineKMeans]:
        return self.clustering.kmeans

    # -- one iteration ----------------------------------------------------------------------
    def start_epoch(self) -> None:
        """MCN's ``fastC``: forget the centroids at each epoch start (queue kept)."""
        self.clustering.start_epoch()

    def step(self, batch: dict[str, torch.Tensor], step_in_epoch: int) -> dict[str, float]:
        """One optimiser step on this rank's ``batch`` (:func:`collate_clips` layout, video-major
        ``[b·n_pair, ...]``). Returns the global-batch loss terms and the lr used."""
        self.model.train()
        dev = self.device
        video, audio = batch["video"].to(dev, non_blocking=True), batch["audio"].to(dev, non_blocking=True)
        nframes, text = batch["nframes"].to(dev, non_blocking=True), batch["text"].to(dev, non_blocking=True)
        ctx = (torch.autocast(dev.type, dtype=self.amp) if self.amp is not None
               else contextlib.nullcontext())
        with ctx:
            out = self.model(video, None if self.skip_audio else audio, nframes, text)
        full = self._gather(out)
        loss, terms = self.objective(full, step_in_epoch)
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if not self.step_in_backward:  # otherwise every parameter has been stepped already
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.scheduler.step()
        values = torch.stack([loss.detach(), *(t.detach() for t in terms.values())]).tolist()
        return {"loss": values[0], **dict(zip(terms, values[1:], strict=True)), "lr": lr}

    def _step_one(self, param: torch.Tensor) -> None:
        """Post-accumulate hook: Adam on ``param`` alone (the only tensor with a gradient now:
        the others are stepped and freed already or not reached yet), then free its gradient."""
        self.optimizer.step()
        param.grad = None

    def _gather(self, out: MCNOutput) -> MCNOutput:
        """All ranks' embeddings in global-batch order (fp32 or wider) in one differentiable
        all-gather: ``[N·b, 3D (+1 recon)]``."""
        d = self.model_config.embd_dim
        parts = [out.video, out.audio, out.text]
        if out.recon_per_clip is not None:
            parts.append(out.recon_per_clip[:, None])
        # losses and k-means in full precision even under autocast
        wide = torch.promote_types(torch.float32, parts[0].dtype)
        full = all_gather_with_grad(torch.cat([p.to(wide) for p in parts], dim=1), self.env)
        recon = full[:, 3 * d] if out.recon_per_clip is not None else None
        return MCNOutput(full[:, :d], full[:, d:2 * d], full[:, 2 * d:3 * d], recon)

    def objective(self, out: MCNOutput, step_in_epoch: int) -> tuple[torch.Tensor, dict]:
        """Total loss and its unweighted terms ``{"mms", "cluster", "recon"}`` on the global
        batch ``out``; advances the online k-means (labels for this batch)."""
        cfg = self.cfg
        zero = out.video.new_zeros(())
        contrastive = sum((self._contrastive(getattr(out, x), getattr(out, y))
                           for x, y in PAIRS if x in self.modalities and y in self.modalities), zero)
        # the scheduler has stepped once per optimiser step: its count is this step's index
        cluster = self.clustering.loss(out, step_in_epoch, self.scheduler.last_epoch)
        recon = out.recon_per_clip.mean() if out.recon_per_clip is not None and cfg.recon else zero
        loss = contrastive + cfg.cluster_weight * cluster + cfg.recon_weight * recon
        return loss, {"mms": contrastive, "cluster": cluster, "recon": recon}

    def _contrastive(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.cfg.loss == "mil-nce":
            return mil_nce_loss(x, y)
        fn = nce_loss if self.cfg.loss == "nce" else mms_loss
        return fn(x @ y.t(), self.cfg.margin)

    # -- resumable state ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"model": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                **self.clustering.state_dict()}  # kmeans, sinkhorn, cluster_head

    def load_state_dict(self, state: dict) -> None:
        self.clustering.load_state_dict(state)  # first: names a clustering-mode mismatch
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
