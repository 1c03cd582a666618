"""``nce``: the NCE-style variant of the contrastive loss over the three modality pairs."""
from mcnbench.registry import register_model
from mcnbench.zoo.mcn import build_mcn


@register_model("nce", version="1",
                description="NCE loss (one logsumexp over row and column) over the three "
                            "modality pairs, no clustering, no reconstruction (Table 5 'NCE')")
def nce(ctx, **overrides):
    return build_mcn("nce", ctx, {"loss": "nce", "cluster_mode": "none", "recon": False,
                                  **overrides})
