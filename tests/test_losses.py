"""Losses against hand-computed values (mcn_spec §4)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from mcnbench.models.losses import (
    cluster_contrast_loss,
    clustering_loss,
    fuse,
    mil_nce_loss,
    mms_loss,
    mms_pairs,
    mms_triplet,
    nce_loss,
    prediction_loss,
    recon_loss,
    soft_cross_entropy,
)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_mms_two_by_two_by_hand():
    S = torch.tensor([[2.0, 0.0], [1.0, 3.0]])
    # rows: CE([2,0],0) = log(1+e^-2); CE([1,3],1) = log(1+e^-2)
    # cols: CE([2,1],0) = log(1+e^-1); CE([0,3],1) = log(1+e^-3)
    expected = softplus(-2) + (softplus(-1) + softplus(-3)) / 2
    assert mms_loss(S, margin=0.0).item() == pytest.approx(expected, rel=1e-6)


def test_mms_margin_lowers_the_positive_logit():
    b, delta = 4, 0.3
    # all-zero S: each CE = -log(e^-δ / (e^-δ + B-1)) = δ + log(e^-δ + B - 1), two directions
    expected = 2 * (delta + math.log(math.exp(-delta) + b - 1))
    assert mms_loss(torch.zeros(b, b), margin=delta).item() == pytest.approx(expected, rel=1e-6)
    assert mms_loss(torch.zeros(b, b)).item() > 2 * math.log(b)  # default δ = 0.001 > 0


def test_mms_triplet_sums_three_pairs_and_drops_audio():
    torch.manual_seed(0)
    v, a, t = torch.randn(5, 3), torch.randn(5, 3), torch.randn(5, 3)
    expected = mms_loss(t @ v.t()) + mms_loss(a @ t.t()) + mms_loss(a @ v.t())
    torch.testing.assert_close(mms_triplet(v, a, t), expected)
    torch.testing.assert_close(mms_triplet(v, None, t, no_audio=True), mms_loss(t @ v.t()))
    assert set(mms_pairs(v, a, t)) == {"tv", "at", "av"}
    torch.testing.assert_close(mms_triplet(None, a, t, no_video=True), mms_loss(a @ t.t()))


def test_cluster_contrast_by_hand_and_centroids_get_no_gradient():
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0]], requires_grad=True)
    C = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    y = torch.tensor([0, 0])
    # clip 0: logits [1-δ, 0] target 0 -> log(1+e^-(1-δ)); clip 1: logits [0-δ, 2] target 0
    d = 0.001
    expected = (softplus(-(1 - d)) + (math.log(math.exp(-d) + math.exp(2)) + d)) / 2
    loss = cluster_contrast_loss(x, C, y)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert x.grad is not None and C.grad is None


def _out(seed=0, b=4, d=3):
    g = torch.Generator().manual_seed(seed)
    return SimpleNamespace(video=torch.randn(b, d, generator=g), audio=torch.randn(b, d, generator=g),
                           text=torch.randn(b, d, generator=g))


def test_clustering_modes():
    out = _out()
    C = torch.randn(2, 3, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 1, 0])
    cc = {m: cluster_contrast_loss(getattr(out, m), C, y) for m in ("video", "audio", "text")}
    torch.testing.assert_close(clustering_loss(out, C, y, "joint"), sum(cc.values()) / 3)
    fused = (out.video + out.audio + out.text) / 3
    torch.testing.assert_close(fuse(out), fused)
    torch.testing.assert_close(clustering_loss(out, C, y, "fused"), cluster_contrast_loss(fused, C, y))
    assert clustering_loss(out, None, None, "none").item() == 0.0
    # dropping audio keeps the reference's "/ 3"
    torch.testing.assert_close(clustering_loss(out, C, y, "joint", modalities=("video", "text")),
                               (cc["video"] + cc["text"]) / 3)
    with pytest.raises(ValueError, match="unknown clustering mode"):
        clustering_loss(out, C, y, "bogus")


def test_per_modality_swap_uses_other_modalities_labels():
    out = _out()
    g = torch.Generator().manual_seed(2)
    Cs = {m: torch.randn(2, 3, generator=g) for m in ("video", "audio", "text")}
    ys = {"video": torch.tensor([0, 0, 1, 1]), "audio": torch.tensor([1, 0, 1, 0]),
          "text": torch.tensor([0, 1, 1, 1])}

    def cc(m, n):
        return cluster_contrast_loss(getattr(out, m), Cs[n], ys[n])

    swap = (cc("video", "audio") + cc("video", "text") + cc("audio", "video") + cc("audio", "text")
            + cc("text", "video") + cc("text", "audio")) / 3
    torch.testing.assert_close(clustering_loss(out, Cs, ys, "per-modality"), swap)
    within = (cc("video", "video") + cc("audio", "audio") + cc("text", "text")) / 3
    torch.testing.assert_close(clustering_loss(out, Cs, ys, "per-modality", swap=False), within)
    with pytest.raises(TypeError):
        clustering_loss(out, Cs["video"], ys["video"], "per-modality")


def test_soft_cross_entropy_by_hand_and_one_hot_equals_hard():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    q = torch.tensor([[0.25, 0.75], [1.0, 0.0]])
    # row 0: -(0.25 log σ(2) + 0.75 log σ(-2)); row 1: -log σ(-1)
    expected = (0.25 * softplus(-2) + 0.75 * softplus(2) + softplus(1)) / 2
    assert soft_cross_entropy(logits, q).item() == pytest.approx(expected, rel=1e-6)
    y = torch.tensor([1, 0])
    torch.testing.assert_close(soft_cross_entropy(logits, torch.nn.functional.one_hot(y, 2).float()),
                               soft_cross_entropy(logits, y))
    with pytest.raises(ValueError, match="do not match"):
        soft_cross_entropy(logits, torch.ones(2, 3) / 3)


def test_soft_cluster_labels_generalise_the_hard_centroid_contrast():
    out = _out()
    C = torch.randn(2, 3, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 1, 0])
    one_hot = torch.nn.functional.one_hot(y, 2).float()
    # a one-hot soft label is the hard label, margin included
    torch.testing.assert_close(cluster_contrast_loss(out.video, C, one_hot),
                               cluster_contrast_loss(out.video, C, y))
    torch.testing.assert_close(clustering_loss(out, C, one_hot, "joint"),
                               clustering_loss(out, C, y, "joint"))
    # q = (0.5, 0.5) on x = (1, 0), C = I: logits (1 - δ/2, -δ/2), H = log(1 + e^-1) + 1/2
    x, q = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.5]])
    expected = softplus(-1) + 0.5
    assert cluster_contrast_loss(x, torch.eye(2), q).item() == pytest.approx(expected, rel=1e-6)


def test_prediction_loss_swapped_and_joint_terms():
    g = torch.Generator().manual_seed(3)
    z = {m: torch.randn(4, 2, generator=g) for m in ("video", "audio", "text")}
    q = {m: torch.softmax(torch.randn(4, 2, generator=g), dim=1) for m in ("video", "audio", "text")}

    def h(m, n, tau=0.5):
        return soft_cross_entropy(z[m] / tau, q[n])

    swapped = (h("video", "audio") + h("video", "text") + h("audio", "video") + h("audio", "text")
               + h("text", "video") + h("text", "audio")) / 3
    torch.testing.assert_close(prediction_loss(z, q, temperature=0.5), swapped)
    joint = (h("video", "text") + h("audio", "text") + h("text", "text")) / 3
    torch.testing.assert_close(prediction_loss(z, {"fused": q["text"]}, temperature=0.5), joint)
    no_audio = {m: z[m] for m in ("video", "text")}  # two cross terms, still / 3
    torch.testing.assert_close(prediction_loss(no_audio, {m: q[m] for m in no_audio}, temperature=0.5),
                               (h("video", "text") + h("text", "video")) / 3)
    with pytest.raises(ValueError, match="no cross terms"):
        prediction_loss({"video": z["video"]}, {"video": q["video"]})


def test_recon_loss_weight():
    assert recon_loss(torch.tensor([1.0, 2.0, 3.0])).item() == pytest.approx(100.0)
    assert recon_loss(torch.tensor([1.0, 3.0]), weight=1.0).item() == pytest.approx(2.0)


def test_nce_by_hand():
    S = torch.tensor([[2.0, 0.0], [1.0, 3.0]])
    # row 0: lse(S[0,:] ∪ S[:,0]) = lse(2,0,2,1) - 2 ; row 1: lse(1,3,0,3) - 3
    lse = lambda *xs: math.log(sum(math.exp(x) for x in xs))  # noqa: E731
    expected = ((lse(2, 0, 2, 1) - 2) + (lse(1, 3, 0, 3) - 3)) / 2
    assert nce_loss(S, margin=0.0).item() == pytest.approx(expected, rel=1e-6)
    # the margin is subtracted on the diagonal before everything else
    Sd = S - 0.5 * torch.eye(2)
    torch.testing.assert_close(nce_loss(S, margin=0.5), nce_loss(Sd, margin=0.0))


def test_mil_nce_brute_force_and_single_candidate_equals_nce():
    torch.manual_seed(0)
    b, p, d = 3, 2, 4
    v, t = torch.randn(b, d), torch.randn(b * p, d)
    x = (v @ t.t()).view(b, b, p)
    total = 0.0
    for i in range(b):
        pos = torch.logsumexp(x[i, i], dim=0)
        everything = torch.cat([x[i].flatten(), x[:, i].flatten()])
        total += (torch.logsumexp(everything, dim=0) - pos).item()
    assert mil_nce_loss(v, t).item() == pytest.approx(total / b, rel=1e-6)
    t1 = torch.randn(b, d)
    torch.testing.assert_close(mil_nce_loss(v, t1), nce_loss(v @ t1.t(), margin=0.0))
    with pytest.raises(ValueError):
        mil_nce_loss(v, torch.randn(b + 1, d))
