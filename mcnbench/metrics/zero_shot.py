"""Zero-shot classification: Top-K accuracy of class-text scores (MCN Supp. Table D; spec §6.8).

``scores [N, C]`` hold video n's score against class c's text; ``labels [N]`` the true class.
Top-K is a retrieval recall with the classes as the gallery: the true class's rank among the C
class scores, under the tie rule in force (:mod:`mcnbench.metrics.retrieval`): ``mean`` (default)
ranks a tied true class at the mean of its tied positions, ``optimistic`` first,
``pessimistic`` last; a hit at K is ``rank < K`` and Top-1 needs rank 0.

``legacy`` reproduces MCN's ``Eval_classification`` (``train_tri_cos_mil.py``): Top-1 is
``np.argmax`` over the classes, which takes the *first* (lowest-index) class among equal maxima;
Top-5 is "the true class is among the 5 last entries of ``argsort``", and among equal scores the
later (higher-index) classes come last in a stable sort (numpy's default sort is not stable, so
the published order of equal scores is unspecified; ``legacy`` fixes it as a stable sort does).
"""
from __future__ import annotations

import numpy as np

from mcnbench.metrics.retrieval import hits_at, ranks_from_similarity


def topk_hits(scores, labels, ks=(1, 5), *, tie_rule: str = "mean") -> np.ndarray:
    """``[N, len(ks)]`` bool: is video n's true class among its K best (see module doc)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    if s.ndim != 2 or y.shape != (s.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"need scores [N, C] and int labels [N], got {s.shape}, {y.dtype} {y.shape}")
    if len(y) and (y.min() < 0 or y.max() >= s.shape[1]):
        raise ValueError(f"labels must lie in [0, {s.shape[1]})")
    if tie_rule != "legacy":
        ranks = ranks_from_similarity(s, y, tie_rule=tie_rule).ranks
        return np.stack([hits_at(ranks, k) for k in ks], axis=1)
    order = np.argsort(s, axis=1, kind="stable")
    cols = []
    for k in ks:
        if k == 1:
            cols.append(np.argmax(s, axis=1) == y)
        else:
            cols.append((order[:, -k:] == y[:, None]).any(axis=1))
    return np.stack(cols, axis=1)


def topk_accuracy(scores, labels, ks=(1, 5), *, tie_rule: str = "mean") -> dict[str, float]:
    """``{"top1": ..., "top5": ...}`` in percent over all N videos."""
    hits = topk_hits(scores, labels, ks, tie_rule=tie_rule)
    n = max(hits.shape[0], 1)
    return {f"top{k}": 100.0 * float(hits[:, j].sum()) / n for j, k in enumerate(ks)}
