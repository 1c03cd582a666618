"""``sinkhorn-joint`` / ``sinkhorn-joint-soft``: the Sinkhorn-Knopp code of the fused embedding
(v+a+t)/3 predicted from each modality (the paper's Table 6 "Sinkhorn, Joint" rows).

[H(q, p_v) + H(q, p_a) + H(q, p_t)] / 3 with q the fused vector's code over learnable
prototypes and p_m = softmax(s_m / τ) (docs/training.md, "Clustering variants").
"""
from mcnbench.registry import register_model
from mcnbench.zoo.mcn import build_mcn


@register_model("sinkhorn-joint", version="1",
                description="MCN with Sinkhorn-Knopp prototype codes of the fused embedding as "
                            "hard targets, predicted from each modality (Table 6 'Sinkhorn / "
                            "Joint / hard')")
def sinkhorn_joint(ctx, **overrides):
    return build_mcn("sinkhorn-joint", ctx,
                     {"cluster_mode": "sinkhorn-joint", "cluster_labels": "hard", **overrides})


@register_model("sinkhorn-joint-soft", version="1",
                description="as sinkhorn-joint with the soft Sinkhorn codes as targets (Table 6 "
                            "'Sinkhorn / Joint / soft')")
def sinkhorn_joint_soft(ctx, **overrides):
    return build_mcn("sinkhorn-joint-soft", ctx,
                     {"cluster_mode": "sinkhorn-joint", "cluster_labels": "soft", **overrides})
