"""``sinkhorn-swap`` / ``sinkhorn-swap-soft``: SwAV-style swapped prediction between modalities
(the paper's Table 6 "Sinkhorn, Swap" rows).

Each modality's Sinkhorn-Knopp code over learnable prototypes is predicted from the prototype
scores of every other modality: Σ_m Σ_{n≠m} H(q_n, softmax(s_m / τ)) / 3, with hard (argmax) or
soft codes (docs/training.md, "Clustering variants").
"""
from mcnbench.registry import register_model
from mcnbench.zoo.mcn import build_mcn


@register_model("sinkhorn-swap", version="1",
                description="MCN with Sinkhorn-Knopp prototype codes instead of k-means; each "
                            "modality predicts the other modalities' hard codes (Table 6 "
                            "'Sinkhorn / Swap / hard')")
def sinkhorn_swap(ctx, **overrides):
    return build_mcn("sinkhorn-swap", ctx,
                     {"cluster_mode": "sinkhorn-swap", "cluster_labels": "hard", **overrides})


@register_model("sinkhorn-swap-soft", version="1",
                description="as sinkhorn-swap with the soft Sinkhorn codes as targets (Table 6 "
                            "'Sinkhorn / Swap / soft')")
def sinkhorn_swap_soft(ctx, **overrides):
    return build_mcn("sinkhorn-swap-soft", ctx,
                     {"cluster_mode": "sinkhorn-swap", "cluster_labels": "soft", **overrides})
