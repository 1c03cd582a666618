"""``per-modality-cluster``: k-means on each modality separately instead of on the fused embedding."""
from mcnbench.models.zoo import build_mcn
from mcnbench.registry import register_model


@register_model("per-modality-cluster", version="1",
                description="k-means on each modality; each modality is pulled to the centroid "
                            "another modality's clustering gave the clip (the paper's 'K-means "
                            "Swap', Table 6); --set cluster_swap=false keeps it within-modality")
def per_modality_cluster(ctx, **overrides):
    return build_mcn("per-modality-cluster", ctx,
                     {"cluster_mode": "per-modality", "cluster_swap": True, **overrides})
