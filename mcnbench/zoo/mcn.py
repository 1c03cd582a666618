"""Built-in model entries: ``mcn`` (trainable) and ``random`` (the floor); ``precomputed`` lives in
:mod:`mcnbench.zoo.precomputed`.

Config precedence: the paper's defaults (``MCNConfig()``, ``TrainConfig()``) <- the data root's
hints (synthetic presets size the model to their world) <- the factory's ``**overrides`` (any
network or training field: ``mcn(ctx, embd_dim=512, cluster_mode="none", recon=False)``). The
input widths (video, word vectors) always come from the data root. Baselines are overrides of
``mcn`` (e.g. contrastive-only = ``cluster_mode="none", recon=False``).
"""
from __future__ import annotations

from mcnbench.registry import register_model


def data_widths(ctx) -> dict:
    """``video_dim`` and ``we_dim``: the input widths of the data root's files."""
    return dict(ctx.root.widths)


def build_configs(ctx, overrides: dict):
    """(MCNConfig, TrainConfig) for ``ctx`` and ``overrides`` (module docstring)."""
    from mcnbench.models.mcn import MCNConfig
    from mcnbench.training.config import TrainConfig
    from mcnbench.zoo.mcn_model import network_config, split_overrides

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
    """An :class:`~mcnbench.zoo.mcn_model.MCNModel` called ``name`` for ``ctx`` with
    ``overrides`` (network or training fields) — the factory behind ``mcn``, ``random`` and the
    baselines (``build_mcn("contrastive-only", ctx, {"cluster_mode": "none", "recon": False})``).
    With ``ctx.checkpoint`` the network's shapes come from the file and its weights are loaded.
    """
    from mcnbench.zoo.mcn_model import MCNModel

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
    """MCN's architecture with its seeded random initialisation, never trained. Network options
    and ``no_audio`` (the score leaves audio out) apply; a training option (``epochs``, ``lr``,
    ...) cannot change an untrained network, so it is dropped with a warning rather than giving
    the same weights a second run identity (``run --model random --set epochs=12``)."""
    import warnings

    from mcnbench.zoo.mcn_model import TRAIN_KEYS

    idle = sorted(k for k in overrides if k in TRAIN_KEYS and k not in UNTRAINED_KEYS)
    if idle:
        warnings.warn(UnusedOptionWarning(
            f"random is never trained: training option(s) {', '.join(idle)} have no effect and "
            "are left out of its config"), stacklevel=2)
    model = build_mcn("random", ctx, {k: v for k, v in overrides.items() if k not in idle},
                      trainable=False)
    model.ignored_overrides = tuple(idle)  # the engine leaves them out of records and labels
    return model


# the training-config fields an untrained network's embeddings or scores depend on
UNTRAINED_KEYS = ("no_audio", "recon", "seed", "device")


class UnusedOptionWarning(UserWarning):
    """An option the model accepts but that cannot change its result."""
