"""Built-in model entries: ``mcn`` (trainable) and ``random`` (the floor); ``precomputed`` lives in
:mod:`mcnbench.models.precomputed`.

Config precedence: the paper's defaults (``MCNConfig()``, ``TrainConfig()``) <- the data root's
hints (synthetic presets size the model to their world) <- the factory's ``**overrides`` (any
network or training field: ``mcn(ctx, embd_dim=512, cluster_mode="none", recon=False)``). The
input widths (video, word vectors) always come from the data root. Baselines are overrides of
``mcn`` (e.g. contrastive-only = ``cluster_mode="none", recon=False``).
"""
from __future__ import annotations

from mcnbench.registry import register_model


def data_widths(ctx) -> dict:
    """``video_dim`` and ``we_dim`` of the data root: the manifest's (synthetic) or the width
    of its feature files (:func:`~mcnbench.data.widths.infer_video_dim`; 4096 for the real
    features), and the word2vec file's dimension."""
    from mcnbench.data.widths import infer_video_dim

    return {"video_dim": infer_video_dim(ctx.data_root), "we_dim": int(ctx.word_vectors.dim)}


def build_configs(ctx, overrides: dict):
    """(MCNConfig, TrainConfig) for ``ctx`` and ``overrides`` (module docstring)."""
    from mcnbench.models.embedder import network_config, split_overrides
    from mcnbench.models.mcn import MCNConfig
    from mcnbench.training.config import TrainConfig

    net_over, train_over = split_overrides(overrides)
    hints = ctx.hints
    base_net = {**MCNConfig().to_dict(), **hints.get("model", {})}
    if "davenet_widths" in hints.get("model", {}):
        base_net["audio_gate_dim"] = int(hints["model"]["davenet_widths"][-1])
    train_dict = {**TrainConfig().to_dict(), **hints.get("train", {}),
                  "seed": ctx.seed, "device": ctx.device, **train_over}
    tcfg = TrainConfig.from_dict(train_dict)
    net_over.setdefault("recon", tcfg.recon)  # the training config decides the recon heads
    ncfg = network_config(base_net, **{**data_widths(ctx), **net_over})
    return ncfg, tcfg


def build_mcn(name: str, ctx, overrides: dict, *, trainable: bool = True):
    """An :class:`~mcnbench.models.embedder.MCNModel` called ``name`` for ``ctx`` with
    ``overrides`` (network or training fields) — the factory behind ``mcn``, ``random`` and the
    baselines (``build_mcn("contrastive-only", ctx, {"cluster_mode": "none", "recon": False})``).
    With ``ctx.checkpoint`` the network's shapes come from the file and its weights are loaded.
    """
    from mcnbench.models.embedder import MCNModel

    if ctx.checkpoint is not None:
        from mcnbench.models.checkpoint import config_from_state_dict, load_state_dict_file

        # the file decides the network's shapes (``recon`` is both a network and a training key)
        file_cfg = config_from_state_dict(load_state_dict_file(ctx.checkpoint)).to_dict()
        _check_input_widths(ctx, file_cfg)
        overrides = {**overrides, **file_cfg}
    ncfg, tcfg = build_configs(ctx, overrides)
    model = MCNModel(name, ncfg, tcfg, ctx, trainable=trainable)
    if ctx.checkpoint is not None:
        model.load(ctx.checkpoint)
    return model


def _check_input_widths(ctx, file_cfg: dict) -> None:
    """A checkpoint must take the data root's inputs: one clear error instead of a matmul one."""
    from mcnbench.data.errors import DataError

    wanted = data_widths(ctx)
    bad = [f"{k} {file_cfg[k]} in the checkpoint, {v} in the data root"
           for k, v in wanted.items() if int(file_cfg[k]) != int(v)]
    if bad:
        raise DataError(ctx.checkpoint, None, "input widths do not match the data root "
                        f"{ctx.data_root}: " + "; ".join(bad))


@register_model("mcn", version="1",
                description="Multimodal Clustering Network (ICCV 2021): MMS + online k-means "
                            "clustering + reconstruction; trains on the data root's corpus")
def mcn(ctx, **overrides):
    """MCN; ``overrides``: any MCNConfig or TrainConfig field (module docstring)."""
    return build_mcn("mcn", ctx, overrides, trainable=True)


@register_model("random", version="1",
                description="the MCN network untrained (seeded random init): the floor any "
                            "trained model must beat")
def random(ctx, **overrides):
    """MCN's architecture with its seeded random initialisation, never trained."""
    return build_mcn("random", ctx, overrides, trainable=False)
