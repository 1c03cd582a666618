"""``kmeans-joint``: MCN's online k-means on the fused embedding, but a linear classifier on each
modality predicts the fused vector's cluster instead of the centroid contrast (the paper's
Table 6 "K-means, Joint" row; "K-means, Centroid" is ``mcn`` itself).

[CE(W v + b, y) + CE(W a + b, y) + CE(W t + b, y)] / 3, y the fused vector's nearest centroid
(docs/training.md, "Clustering variants"); ``--set cluster_labels=soft`` uses softmax(cos / τ).
"""
from mcnbench.registry import register_model
from mcnbench.zoo.mcn import build_mcn


@register_model("kmeans-joint", version="1",
                description="MCN's k-means on the fused embedding; a linear classifier on each "
                            "modality predicts the fused cluster id (Table 6 'K-means / Joint / "
                            "hard')")
def kmeans_joint(ctx, **overrides):
    return build_mcn("kmeans-joint", ctx,
                     {"cluster_mode": "kmeans-joint", "cluster_labels": "hard", **overrides})
