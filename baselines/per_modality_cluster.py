"""``per-modality-cluster``: k-means on each modality separately instead of on the fused embedding."""
from mcnbench.registry import register_model
from mcnbench.zoo.mcn import build_mcn


@register_model("per-modality-cluster", version="1",
                description="k-means on each modality; each modality is pulled to the centroid "
                            "another modality's clustering gave the clip (the paper's 'K-means "
                            "Swap', Table 6); --set cluster_swap=false keeps it within-modality")
def per_modality_cluster(ctx, **overrides):
    return build_mcn("per-modality-cluster", ctx,
                     {"cluster_mode": "per-modality", "cluster_swap": True, **overrides})
