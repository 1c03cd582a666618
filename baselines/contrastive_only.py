"""``contrastive-only``: the MCN network trained with the masked-margin softmax alone."""
from mcnbench.registry import register_model
from mcnbench.zoo.mcn import build_mcn


@register_model("contrastive-only", version="1",
                description="MCN's network trained with MMS only: no clustering, no "
                            "reconstruction (the paper's 'MMS' row, Table 5)")
def contrastive_only(ctx, **overrides):
    return build_mcn("contrastive-only", ctx, {"cluster_mode": "none", "recon": False, **overrides})
