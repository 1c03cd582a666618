"""``mil-nce``: video–text MIL-NCE on the same features (the paper's "MIL-NCE*")."""
from mcnbench.registry import register_model
from mcnbench.zoo.mcn import build_mcn


@register_model("mil-nce", version="1",
                description="video-text MIL-NCE loss on MCN's video and text branches, no audio, "
                            "no clustering (the paper's 'MIL-NCE*' re-trained on R152+RX101)")
def mil_nce(ctx, **overrides):
    return build_mcn("mil-nce", ctx, {"loss": "mil-nce", "no_audio": True, "cluster_mode": "none",
                                      "recon": False, **overrides})
