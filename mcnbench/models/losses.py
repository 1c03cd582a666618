"""MCN losses (reference: mcn_spec §4) and the baselines' contrastive losses.

Conventions: embeddings are ``[B, D]`` and never normalised; similarity matrices are raw dot
products; row i and column i of a ``[B, B]`` matrix belong to the same clip (the positive pair).
All functions return scalar tensors (batch means) unless stated otherwise.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import torch
import torch.nn.functional as F

__all__ = [
    "MODALITIES", "CLUSTER_MODES", "CENTROID_MODES", "mms_loss", "mms_pairs", "mms_triplet",
    "cluster_contrast_loss", "clustering_loss", "soft_cross_entropy", "prediction_loss", "fuse",
    "recon_loss", "mil_nce_loss", "nce_loss",
]

MODALITIES = ("video", "audio", "text")
CENTROID_MODES = ("joint", "fused", "per-modality")  # the centroid-contrast modes of clustering_loss
CLUSTER_MODES = (*CENTROID_MODES, "none")
DEFAULT_MARGIN = 0.001  # δ of MMS and of the centroid contrast (loss.py, Supp B.1)


class _Embeddings(Protocol):
    video: torch.Tensor
    audio: torch.Tensor
    text: torch.Tensor


def _subtract_diagonal(S: torch.Tensor, margin: float) -> torch.Tensor:
    if S.dim() != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"expected a square [B, B] similarity matrix, got {tuple(S.shape)}")
    return S - margin * torch.eye(S.shape[0], device=S.device, dtype=S.dtype)


def mms_loss(S: torch.Tensor, margin: float = DEFAULT_MARGIN) -> torch.Tensor:
    """Masked margin softmax (§4.1) of a ``[B, B]`` similarity matrix.

    ``S' = S - margin * I``; loss = mean_i CE(S'[i], i) + mean_j CE(S'[:, j], j), the two
    directions *summed*. At random init with B clips it is about ``2 ln B``.
    """
    S = _subtract_diagonal(S, margin)
    target = torch.arange(S.shape[0], device=S.device)
    return F.cross_entropy(S, target) + F.cross_entropy(S.t(), target)


def mms_pairs(video: torch.Tensor, audio: torch.Tensor | None, text: torch.Tensor | None, *,
              margin: float = DEFAULT_MARGIN, no_audio: bool = False,
              no_video: bool = False) -> dict[str, torch.Tensor]:
    """The pairwise MMS terms by name: ``tv`` = MMS(t vᵀ), ``at`` = MMS(a tᵀ), ``av`` = MMS(a vᵀ).

    ``no_audio`` keeps only ``tv``; ``no_video`` keeps only ``at`` (reference flags).
    """
    if no_audio and no_video:
        raise ValueError("no_audio and no_video cannot both be set")
    if no_audio:
        return {"tv": mms_loss(text @ video.t(), margin)}
    if no_video:
        return {"at": mms_loss(audio @ text.t(), margin)}
    return {"tv": mms_loss(text @ video.t(), margin),
            "at": mms_loss(audio @ text.t(), margin),
            "av": mms_loss(audio @ video.t(), margin)}


def mms_triplet(video: torch.Tensor, audio: torch.Tensor | None, text: torch.Tensor | None,
                margin: float = DEFAULT_MARGIN, *, no_audio: bool = False,
                no_video: bool = False) -> torch.Tensor:
    """``MMS(t vᵀ) + MMS(a tᵀ) + MMS(a vᵀ)``, all ``[B, D]`` (see :func:`mms_pairs`)."""
    parts = mms_pairs(video, audio, text, margin=margin, no_audio=no_audio, no_video=no_video)
    return sum(parts.values())  # type: ignore[return-value]


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``mean_i H(q_i, softmax(logits_i)) = mean_i -Σ_k q_ik log softmax(logits_i)_k``.

    ``logits [B, K]``; ``targets`` either class ids ``[B]`` (int: plain cross-entropy) or
    probabilities ``[B, K]`` (float, rows summing to 1; no gradient flows into them).
    """
    if not targets.is_floating_point():
        return F.cross_entropy(logits, targets.to(device=logits.device, dtype=torch.long))
    if targets.shape != logits.shape:
        raise ValueError(f"soft targets {tuple(targets.shape)} do not match logits {tuple(logits.shape)}")
    q = targets.detach().to(device=logits.device, dtype=logits.dtype)
    return -(q * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def cluster_contrast_loss(x: torch.Tensor, centroids: torch.Tensor, labels: torch.Tensor,
                          margin: float = DEFAULT_MARGIN) -> torch.Tensor:
    """Centroid contrast (§4.2): mean_i -log softmax(x_i Cᵀ - margin·onehot(y_i))[y_i].

    ``x [B, D]``, ``centroids [K, D]`` (detached here: k-means owns them, no gradient),
    ``labels [B]`` int in [0, K) — or soft labels ``q [B, K]`` (float, rows summing to 1):
    mean_i H(q_i, softmax(x_i Cᵀ - margin·q_i)), which is the hard loss when q_i is one-hot.
    """
    logits = x @ centroids.detach().to(x.dtype).t()  # [B, K]
    if labels.is_floating_point():
        q = labels.detach().to(device=logits.device, dtype=logits.dtype)
        return soft_cross_entropy(logits - margin * q, q)
    labels = labels.to(device=logits.device, dtype=torch.long)
    logits = logits - margin * F.one_hot(labels, logits.shape[1]).to(logits.dtype)
    return F.cross_entropy(logits, labels)


def prediction_loss(logits: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor], *,
                    temperature: float = 1.0) -> torch.Tensor:
    """Cluster prediction across sources: Σ_m Σ_{n ≠ m} H(q_n, softmax(z_m / τ)) / 3.

    ``logits`` maps each modality m to its scores ``z_m [B, K]`` (prototype cosines, classifier
    logits); ``targets`` maps each source n to its labels ``q_n`` (``[B]`` ids or ``[B, K]``
    probabilities, see :func:`soft_cross_entropy`). Every modality predicts every *other*
    source's labels, so:

    * swapped prediction (Sinkhorn Swap, SwAV): sources = the modalities; six cross terms for
      v, a, t (two without audio);
    * joint prediction (Sinkhorn Joint, K-means Joint): one source ``"fused"``, predicted from
      each modality: [H(q, p_v) + H(q, p_a) + H(q, p_t)] / 3.

    The divisor stays 3 when a modality is dropped, as in :func:`clustering_loss`.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    terms = [soft_cross_entropy(z / temperature, targets[n])
             for m, z in logits.items() for n in targets if n != m]
    if not terms:
        raise ValueError(f"no cross terms: logits {sorted(logits)}, targets {sorted(targets)}")
    return sum(terms) / 3  # type: ignore[return-value]


def fuse(out: _Embeddings, modalities: Sequence[str] = MODALITIES) -> torch.Tensor:
    """Mean of the named embeddings, e.g. ``(v + a + t) / 3`` (``(v + t) / 2`` without audio)."""
    parts = [getattr(out, m) for m in modalities]
    return torch.stack(parts).mean(dim=0) if len(parts) > 1 else parts[0]


def clustering_loss(out: _Embeddings, centroids: torch.Tensor | Mapping[str, torch.Tensor] | None,
                    labels: torch.Tensor | Mapping[str, torch.Tensor] | None, mode: str = "joint",
                    *, margin: float = DEFAULT_MARGIN, modalities: Sequence[str] = MODALITIES,
                    swap: bool = True) -> torch.Tensor:
    """The clustering term for one batch; ``out`` has ``.video/.audio/.text`` ``[B, D]``.

    Modes (labels and centroids come from k-means, computed by the caller):

    * ``joint`` — MCN (reference ``mean=0``): k-means on the fused embedding gives one
      ``centroids [K, D]`` and ``labels [B]``; loss = [cc(v) + cc(a) + cc(t)] / 3.
    * ``fused`` — reference ``mean=1`` / ``joint=1``: cc(fused) on the mean embedding.
    * ``per-modality`` — each modality clustered on its own (``centroids``/``labels`` dicts keyed
      by modality). With ``swap`` (K-means Swap, Paper T6) every modality is pulled to the
      centroid that each *other* modality's clustering assigned the clip:
      Σ_m Σ_{n≠m} cc(x_m, C_n, y_n) / 3 (six cross terms over 3, as the reference's Sinkhorn
      swap); without ``swap``: Σ_m cc(x_m, C_m, y_m) / 3.
    * ``none`` — zero.

    ``labels`` may be soft (``[B, K]`` probabilities, see :func:`cluster_contrast_loss`). The
    other clustering variants (``kmeans-joint``, ``sinkhorn-*``) predict labels through
    :func:`prediction_loss`. The divisor stays 3 when ``modalities`` drops one (the reference's
    ``no_audio``/``no_video`` keep ``/ 3``).
    """
    if mode not in CLUSTER_MODES:
        raise ValueError(f"unknown clustering mode {mode!r}; expected one of {CLUSTER_MODES}")
    if mode == "none":
        return getattr(out, modalities[0]).new_zeros(())
    if mode in ("joint", "fused"):
        if not isinstance(centroids, torch.Tensor) or not isinstance(labels, torch.Tensor):
            raise TypeError(f"mode {mode!r} takes one centroid tensor and one label tensor")
        if mode == "fused":
            return cluster_contrast_loss(fuse(out, modalities), centroids, labels, margin)
        total = sum(cluster_contrast_loss(getattr(out, m), centroids, labels, margin)
                    for m in modalities)
        return total / 3
    if not isinstance(centroids, Mapping) or not isinstance(labels, Mapping):
        raise TypeError("mode 'per-modality' takes dicts of centroids and labels keyed by modality")
    if swap:
        terms = [cluster_contrast_loss(getattr(out, m), centroids[n], labels[n], margin)
                 for m in modalities for n in modalities if n != m]
    else:
        terms = [cluster_contrast_loss(getattr(out, m), centroids[m], labels[m], margin)
                 for m in modalities]
    return sum(terms) / 3  # type: ignore[return-value]


def recon_loss(recon_per_clip: torch.Tensor, weight: float = 50.0) -> torch.Tensor:
    """``weight * mean(recon_per_clip)``; the reference hard-codes weight 50 (§4.3)."""
    return weight * recon_per_clip.mean()


def mil_nce_loss(video: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """MIL-NCE (§4.4, the "MIL-NCE*" baseline), candidates grouped per clip.

    ``video [B, D]``; ``text [B*P, D]`` holds P candidate positives per clip, clip i's being rows
    ``i*P .. i*P+P-1`` (P = 1 for ``[B, D]``). With ``x[i, j, p] = v_i · t_{j,p}``:
    loss = mean_i [ logsumexp over {x[i, :, :], x[:, i, :]} (2·B·P terms, the positives twice)
    - logsumexp_p x[i, i, p] ].
    """
    b = video.shape[0]
    if text.shape[0] % b:
        raise ValueError(f"text rows ({text.shape[0]}) must be a multiple of the clips ({b})")
    x = (video @ text.t()).view(b, b, -1)  # [B, B, P]
    positives = torch.logsumexp(x.diagonal(dim1=0, dim2=1).t(), dim=1)  # [B]
    both = torch.cat((x, x.transpose(0, 1)), dim=1).reshape(b, -1)  # [B, 2·B·P]
    return (torch.logsumexp(both, dim=1) - positives).mean()


def nce_loss(S: torch.Tensor, margin: float = DEFAULT_MARGIN) -> torch.Tensor:
    """NCE variant of MMS (§4.4, plausibly the "NCE" baseline) on a ``[B, B]`` matrix.

    ``S' = S - margin * I``; loss = mean_i [logsumexp(row i ∪ column i of S') - S'_ii], a single
    softmax over 2B terms (the diagonal counted twice) instead of MMS's two separate CEs.
    """
    S = _subtract_diagonal(S, margin)
    both = torch.cat((S, S.t()), dim=1)  # row i: S'[i, :] then S'[:, i]
    return (torch.logsumexp(both, dim=1) - S.diagonal()).mean()
