"""Text→full-video retrieval from a clip-level score matrix (MCN Table 4; mcn_spec §6.5).

Input: ``m`` ``[Q, N]`` caption × clip scores of a clip set in which caption i belongs to clip i
(so ``Q == N``), and each clip's video index ``video [N]`` (``id[:11]`` for YouCook2, see
:func:`group_by_video`). A query is a *video*: all of its captions together. Three protocols:

``caption_avg`` (MCN's best)
    ``S[a, b] = mean over captions c of video a of (max over clips j of video b of m[c, j])``,
    a ``[V, V]`` matrix with the ground truth on the diagonal, ranked like clip retrieval
    (:func:`mcnbench.metrics.retrieval.ranks_from_similarity`), so every tie rule applies as it
    does there. Metrics R@K, MedR, MeanR.
``mv_video``
    Per caption, a video's score is its best clip (``max_j m[c, j]``); each caption votes for its
    K best videos; the K videos with the most votes over the query's captions are the prediction.
``mv_clip``
    Each caption votes for the videos of its K best *clips* (a video holding 3 of those clips
    gets 3 votes from that caption); then as ``mv_video``.

Ties in the vote protocols, for the tie rules ``mean`` / ``optimistic`` / ``pessimistic``:

* a caption's K best items are ambiguous when items tie at the K-th place. The slots left for
  that tied group are shared evenly: each of the ``t`` tied items gets ``r / t`` of a vote,
  ``r`` = K minus the items strictly above. That is the expected vote under a random order of
  the tied items, and every caption still casts exactly K votes;
* the query video's place among the vote totals uses the tie rule exactly as for clip ranks
  (``p`` totals strictly higher, ``t`` equal: rank ``p + (t-1)/2``, ``p`` or ``p + t - 1``), and
  a hit at K is :func:`~mcnbench.metrics.retrieval.hits_at` (R@1 needs rank 0). A video with no
  vote at all is never a hit (it was not predicted), whatever the rule. Totals are compared after
  rounding to 1e-9, so fractional votes that are mathematically equal stay tied.

``legacy`` reproduces the published ``evaluate_recall_youcook`` (MCN ``video_evaluation.py``):
per caption the K last entries of ``np.argsort`` (ascending) are its votes, the vote counts come
from ``np.unique(..., return_counts=True)`` (ids in ascending order) and the prediction is the
K last entries of ``np.argsort(counts)``; Caption Avg. hits when the GT is among the K last
entries of ``np.argsort`` of its row. numpy's default sort is not stable, so the published order
among equal scores or equal counts depends on the array size and the numpy build; ``legacy``
fixes it as a stable sort does (the later index wins: among tied scores the larger clip or video
index, among tied counts the larger video index), which is what the published code gives on
small arrays where numpy sorts by insertion. Only videos with a vote can be predicted there too.

R@K is ``100 * hits / denominator`` with the denominator the complete number of videos
(``complete_videos``, videos missing from the data count as misses), or the videos present.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mcnbench.metrics.retrieval import (
    RankResult,
    hits_at,
    ranks_from_similarity,
    retrieval_metrics,
)

PROTOCOLS = ("caption_avg", "mv_video", "mv_clip")
VOTE_DECIMALS = 9


@dataclass
class VideoRetrieval:
    """Result of :func:`video_retrieval`.

    videos:  [V] video ids in index order (sorted, as the published code sorts them).
    metrics: ``"<protocol>/R@K"`` (percent) for every protocol, plus ``caption_avg/MedR`` and
             ``caption_avg/MeanR`` (1-based ranks).
    hits:    protocol → [V, len(ks)] bool, whether video v is retrieved at each K.
    ranks:   [V] float, 0-based rank of each query video under Caption Avg. (tie rule applied;
             legacy: its place in the stable descending order).
    """

    videos: list[str]
    metrics: dict[str, float]
    hits: dict[str, np.ndarray]
    ranks: np.ndarray
    info: dict = field(default_factory=dict)


def group_by_video(clip_ids, key=lambda clip_id: clip_id[:11]) -> tuple[list[str], np.ndarray]:
    """(sorted distinct video ids ``[V]``, video index of each clip ``[N]`` int64).

    ``key`` maps a clip id to its video id; the default is YouCook2's ``id[:11]`` (the YouTube id).
    """
    names = [key(str(c)) for c in clip_ids]
    videos = sorted(set(names))
    index = {v: i for i, v in enumerate(videos)}
    return videos, np.fromiter((index[n] for n in names), dtype=np.int64, count=len(names))


def _grouped(ufunc, a: np.ndarray, group: np.ndarray, n_groups: int, axis: int) -> np.ndarray:
    """``ufunc.reduceat`` of ``a`` over the entries of each group along ``axis`` (every group
    non-empty): ``[.., n_groups, ..]``. One pass, unlike ``np.add.at``."""
    counts = np.bincount(group, minlength=n_groups)
    if (counts == 0).any():
        raise ValueError(f"video {int(np.flatnonzero(counts == 0)[0])} has no clip")
    order = np.argsort(group, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return ufunc.reduceat(np.take(a, order, axis=axis), starts, axis=axis)


def best_clip_scores(m: np.ndarray, video: np.ndarray, n_videos: int) -> np.ndarray:
    """``[Q, V]``: for each caption, the score of each video's best clip (``max_j m[c, j]``)."""
    return _grouped(np.maximum, m, video, n_videos, axis=1)


def caption_average(per_caption: np.ndarray, video: np.ndarray, n_videos: int) -> np.ndarray:
    """``[V, V]``: row a = mean over the captions of video a of ``per_caption`` rows ``[Q, V]``."""
    sums = _grouped(np.add, per_caption.astype(np.float64), video, n_videos, axis=0)
    return sums / np.bincount(video, minlength=n_videos)[:, None]


def top_k_share(scores: np.ndarray, k: int) -> np.ndarray:
    """``[Q, M]`` fraction of a vote each item gets from each row's K best (see module doc):
    1 above the K-th largest value, ``r / t`` for the ``t`` items equal to it, 0 below."""
    M = scores.shape[1]
    k = min(int(k), M)
    kth = np.partition(scores, M - k, axis=1)[:, M - k][:, None]
    above = scores > kth
    equal = scores == kth
    left = k - above.sum(axis=1, keepdims=True)
    return above + equal * (left / equal.sum(axis=1, keepdims=True))


def vote_totals(share: np.ndarray, item_video: np.ndarray | None, caption_video: np.ndarray,
                n_videos: int) -> np.ndarray:
    """``[V, V]`` votes: row a = the votes of video a's captions for each video.

    share: ``[Q, M]`` per-caption vote shares over M items (clips, or videos when
    ``item_video`` is None); caption_video: ``[Q]`` video of each caption.
    """
    if item_video is not None:
        share = _grouped(np.add, share, item_video, n_videos, axis=1)
    return _grouped(np.add, share, caption_video, n_videos, axis=0)


def vote_hits(totals: np.ndarray, k: int, tie_rule: str) -> np.ndarray:
    """``[V]`` bool: is video a among the K most voted videos of its own captions (row a)."""
    t = np.round(totals, VOTE_DECIMALS)
    own = np.diagonal(t)[:, None]
    res = RankResult((t > own).sum(axis=1).astype(np.float64), (t == own).sum(axis=1), tie_rule)
    return hits_at(res.ranks, k) & (own[:, 0] > 0)


# --------------------------------------------------------------------------- legacy

def _legacy_vote_hits(order: np.ndarray, item_video: np.ndarray | None,
                      caption_video: np.ndarray, n_videos: int, k: int) -> np.ndarray:
    """The published majority vote with numpy's sorts made stable (see module doc); ``order``
    is the stable ascending argsort of each caption's scores."""
    votes = order[:, -k:] if item_video is None else item_video[order[:, -k:]]
    hits = np.zeros(n_videos, dtype=bool)
    for v in range(n_videos):
        ids, counts = np.unique(votes[caption_video == v], return_counts=True)
        hits[v] = v in ids[np.argsort(counts, kind="stable")[-k:]]
    return hits


def _legacy_ranks(S: np.ndarray) -> np.ndarray:
    """0-based place of each row's diagonal entry in the stable descending order of the row."""
    order = np.argsort(S, axis=1, kind="stable")[:, ::-1]
    return np.argmax(order == np.arange(len(S))[:, None], axis=1).astype(np.float64)


# --------------------------------------------------------------------------- all protocols

def video_retrieval(m, video: np.ndarray, videos: list[str], *, tie_rule: str = "mean",
                    ks=(1, 5, 10), complete_videos: int | None = None) -> VideoRetrieval:
    """All three protocols of the module doc.

    m: ``[N, N]`` caption × clip scores (caption i belongs to clip i). video: ``[N]`` video
    index of each clip (and so of each caption), in ``range(len(videos))``; every video has at
    least one clip. complete_videos: size of the complete set of videos (>= V); the absent ones
    count as misses. Returns :class:`VideoRetrieval`.
    """
    m = np.asarray(m, dtype=np.float64)
    video = np.asarray(video, dtype=np.int64)
    V = len(videos)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or video.shape != (m.shape[0],):
        raise ValueError(f"need m [N, N] and video [N], got {m.shape} and {video.shape}")
    if not np.isfinite(m).all():
        raise ValueError("scores contain NaN/inf")
    if len(video) and (video.min() < 0 or video.max() >= V):
        raise ValueError(f"video indices must lie in [0, {V})")
    denom = V if complete_videos is None else int(complete_videos)
    if denom < V:
        raise ValueError(f"complete_videos {denom} is smaller than the {V} videos present")
    per_caption = best_clip_scores(m, video, V)
    S = caption_average(per_caption, video, V)
    legacy = tie_rule == "legacy"
    hits: dict[str, np.ndarray] = {}
    if legacy:
        ranks = _legacy_ranks(S)
        hits["caption_avg"] = np.stack([ranks < k for k in ks], axis=1)
        caption_metrics = retrieval_metrics(ranks, ks, complete_size=denom)
    else:
        res = ranks_from_similarity(S, tie_rule=tie_rule)
        ranks = res.ranks
        hits["caption_avg"] = np.stack([hits_at(ranks, k) for k in ks], axis=1)
        caption_metrics = retrieval_metrics(res, ks, complete_size=denom)
    for name, scores, item_video in (("mv_video", per_caption, None), ("mv_clip", m, video)):
        cols = []
        order = np.argsort(scores, axis=1, kind="stable") if legacy else None
        for k in ks:
            if legacy:
                cols.append(_legacy_vote_hits(order, item_video, video, V, k))
            else:
                totals = vote_totals(top_k_share(scores, k), item_video, video, V)
                cols.append(vote_hits(totals, k, tie_rule))
        hits[name] = np.stack(cols, axis=1)
    metrics = {f"caption_avg/{key}": val for key, val in caption_metrics.items()}
    for name in ("mv_video", "mv_clip"):
        metrics.update({f"{name}/R@{k}": 100.0 * float(hits[name][:, j].sum()) / max(denom, 1)
                        for j, k in enumerate(ks)})
    info = {"videos": V, "complete_videos": denom, "captions": int(len(video)),
            "captions_per_video": {"min": int(np.bincount(video).min()) if V else 0,
                                   "max": int(np.bincount(video).max()) if V else 0},
            "caption_avg_ties": int(ranks_from_similarity(S).n_tied)}
    return VideoRetrieval(list(videos), metrics, hits, ranks, info)
