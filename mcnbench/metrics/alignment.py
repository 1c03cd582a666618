"""CrossTask step localisation: the ordered one-second-per-step DP, ground truth and recall.

The official decoder (CrossTask ``dp.pyx``, ``exactly_one=True, bg_cost=0``) walks 2K+1 states
(background before step 1, step 1, background, ..., step K, final background). With a free
background it is equivalent to choosing one second ``t_1 < t_2 < ... < t_K`` per step that
minimises ``sum_k C[t_k, k]``. Writing ``a_k[t]`` for the best cost of steps 1..k with step k at
second t::

    a_1[t] = C[t, 1]
    a_k[t] = C[t, k] + min_{t' < t} a_{k-1}[t']          (inf where t < k - 1: unreachable)

each step is one prefix-minimum over time, so the whole DP is K vector operations over
``[videos, T]`` (videos padded with +inf cost and batched).

Tie-breaking equals the state machine's (candidates in the order stay, advance, skip; a later one
wins only if strictly cheaper; at the end the final background wins only if strictly cheaper
than ending on step K). Unrolled, the backtrack of those rules reads:

* step K goes to the last second ``T-1`` if ``a_K[T-1] <= min_{t < T-1} a_K[t]``, otherwise to
  the *earliest* second reaching that minimum (a background stay resolves to the earliest minimum);
* given step k+1 at second ``u``, step k goes to the *earliest* argmin of ``a_k[0 .. u-1]``
  (advance-through-background beats the direct skip on a tie, and the background traces back to
  the earliest minimum).

So uniform costs put steps 1..K-1 at seconds 0..K-2 and step K at T-1. Sums are accumulated in
float64 in the same order as the state machine, so ties are the same ties.

Short videos: T < K has no valid placement (the official code reads out of bounds); T == K has
exactly one (the diagonal), which the official end test can miss because it reads the cost of
an unreachable state. ``short="diagonal"`` (default) returns that diagonal, ``short="skip"``
skips the video; T < K always skips. :func:`crosstask_dp` raises :class:`ShortVideoError` for a
skipped video; :func:`crosstask_dp_batch` reports a status per video for callers to count.

Recalls are fractions in [0, 1] (tasks convert to percent).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SHORT_POLICIES = ("diagonal", "skip")


class ShortVideoError(ValueError):
    """The video has fewer seconds than steps (or exactly as many, with ``short="skip"``)."""


@dataclass
class DPBatch:
    """Result of :func:`crosstask_dp_batch`, aligned with its input list.

    preds: per video a [T, K] uint8 prediction, or None when skipped.
    status: per video ``"ok"``, ``"diagonal"`` (T == K, forced diagonal) or ``"skipped"``.
    """

    preds: list
    status: list

    @property
    def counts(self) -> dict:
        return {s: self.status.count(s) for s in ("ok", "diagonal", "skipped")}


def _checked(scores) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"scores must be [T, K], got shape {s.shape}")
    if not np.isfinite(s).all():
        bad = np.argwhere(~np.isfinite(s))[0].tolist()
        raise ValueError(f"scores contain NaN/inf at (second, step) {bad}")
    return s


def step_costs(scores, log_softmax: bool = False) -> np.ndarray:
    """[T, K] scores (similarities) -> [T, K] float64 costs exactly as the DP uses them:
    ``-scores``, or ``-log_softmax(scores)`` normalised over the K steps of each second."""
    s = _checked(scores)
    if s.shape[0] == 0:
        return -s
    return _padded_costs([s], log_softmax)[0][:, 0, :].T.copy()


def crosstask_dp(scores, *, log_softmax: bool = False, short: str = "diagonal") -> np.ndarray:
    """Ordered one-second-per-step prediction for one video.

    scores: [T, K] step-to-second similarities (cost = -scores or -log_softmax(scores)).
    Returns pred [T, K] uint8 with exactly one 1 per column. Raises ShortVideoError when the video
    is skipped (T < K, or T == K with ``short="skip"``).
    """
    res = crosstask_dp_batch([scores], log_softmax=log_softmax, short=short)
    if res.preds[0] is None:
        T, K = np.shape(scores)
        raise ShortVideoError(f"video has T={T} seconds for K={K} steps (short={short!r})")
    return res.preds[0]


def crosstask_dp_batch(scores_list, *, log_softmax: bool = False, short: str = "diagonal",
                       max_elements: int = 1 << 23) -> DPBatch:
    """The DP of :func:`crosstask_dp` for many videos at once.

    scores_list: sequence of [T_i, K_i] arrays (T and K may differ between videos). Videos with
    the same K are sorted by length and padded into batches of at most ``max_elements`` cost
    entries. Returns a :class:`DPBatch`.
    """
    if short not in SHORT_POLICIES:
        raise ValueError(f"short must be one of {SHORT_POLICIES}, got {short!r}")
    shapes = [np.shape(s) for s in scores_list]
    for i, sh in enumerate(shapes):
        if len(sh) != 2 or sh[1] < 1:
            raise ValueError(f"video {i}: scores must be [T, K] with K >= 1, got shape {sh}")
    preds: list = [None] * len(shapes)
    status = ["skipped" if T < K or (T == K and short == "skip") else ("diagonal" if T == K else "ok")
              for T, K in shapes]
    by_k: dict[int, list[int]] = {}
    for i, (_, K) in enumerate(shapes):
        if status[i] != "skipped":
            by_k.setdefault(K, []).append(i)
    for K, idx in by_k.items():
        idx.sort(key=lambda i: shapes[i][0])
        start = 0
        while start < len(idx):
            # grow the batch while the padded [V, T_max, K] block stays under max_elements
            stop = start + 1
            while stop < len(idx) and (stop + 1 - start) * shapes[idx[stop]][0] * K <= max_elements:
                stop += 1
            batch = idx[start:stop]
            pos = _positions(_padded_costs([scores_list[i] for i in batch], log_softmax))
            for i, p in zip(batch, pos, strict=True):
                y = np.zeros(shapes[i], dtype=np.uint8)
                y[p, np.arange(K)] = 1
                preds[i] = y
            start = stop
    return DPBatch(preds, status)


def _padded_costs(scores: list, log_softmax: bool) -> tuple[np.ndarray, np.ndarray]:
    """Videos -> ([K, V, T_max] float64 costs, [V] lengths); built step-major so that every
    step's costs are contiguous over (video, time) for the DP's vector operations."""
    lengths = np.array([np.shape(s)[0] for s in scores])
    K = np.shape(scores[0])[1]
    S = np.zeros((K, len(scores), int(lengths.max())))
    for i, s in enumerate(scores):
        S[:, i, : lengths[i]] = _checked(s).T  # padding is 0 for now
    if log_softmax:
        # log-softmax over the K steps (axis 0 here); cheaper than scipy's generic version
        m = S.max(axis=0)
        S -= m
        S -= np.log(np.exp(S).sum(axis=0))
    np.negative(S, out=S)
    pad = np.arange(S.shape[2])[None, :] >= lengths[:, None]
    S[:, pad] = np.inf  # a step can never be placed in the padding
    return S, lengths


def _positions(costs_lengths) -> np.ndarray:
    """[K, V, T] padded costs, [V] lengths -> [V, K] second of each step (see module doc)."""
    Ck, lengths = costs_lengths
    K, V, T = Ck.shape
    a = np.empty_like(Ck)
    a[0] = Ck[0]
    for k in range(1, K):
        prev = np.minimum.accumulate(a[k - 1], axis=1)
        a[k, :, 0] = np.inf
        np.add(Ck[k, :, 1:], prev[:, :-1], out=a[k, :, 1:])
    t = np.arange(T)[None, :]
    rows = np.arange(V)
    pos = np.empty((V, K), dtype=np.int64)
    end = a[K - 1, rows, lengths - 1]
    before = np.where(t < (lengths - 1)[:, None], a[K - 1], np.inf)
    arg = before.argmin(axis=1)  # argmin returns the first (earliest) minimum
    pos[:, K - 1] = np.where(end <= before[rows, arg], lengths - 1, arg)
    for k in range(K - 2, -1, -1):
        pos[:, k] = np.where(t < pos[:, k + 1][:, None], a[k], np.inf).argmin(axis=1)
    return pos


def crosstask_ground_truth(annotations, T: int, K: int) -> np.ndarray:
    """[T, K] uint8 ground truth from ``(step, start, end)`` lines (1-based step, seconds).

    Row t covers second [t, t+1): rows ``floor(start) .. ceil(end) - 1`` of column ``step - 1``
    are set, clipped to [0, T) (intervals past the features are dropped, as slicing does in the
    official code; a negative start is clamped to 0 rather than wrapping around).
    """
    Y = np.zeros((int(T), int(K)), dtype=np.uint8)
    for step, start, end in annotations:
        if not 1 <= int(step) <= K:
            raise ValueError(f"annotation step {step} outside 1..{K}")
        lo, hi = max(0, math.floor(start)), min(int(T), math.ceil(end))
        if hi > lo:
            Y[lo:hi, int(step) - 1] = 1
    return Y


def video_hits(y_pred, y_true) -> tuple[int, int, int]:
    """(matches, steps hit, steps present) for one video; y_pred None counts as no prediction.

    matches = sum(y_true * y_pred) (the official count); steps hit = steps with at least one
    predicted second inside their GT (MCN's count). With the one-second-per-step DP they agree.
    """
    y_true = np.asarray(y_true)
    present = int((y_true.sum(axis=0) > 0).sum())
    if y_pred is None:
        return 0, 0, present
    y_pred = np.asarray(y_pred)
    if y_pred.shape != y_true.shape:
        raise ValueError(f"prediction {y_pred.shape} and ground truth {y_true.shape} differ")
    both = (y_pred > 0) & (y_true > 0)
    return int(both.sum()), int(both.any(axis=0).sum()), present


def crosstask_recall(preds_by_task: dict) -> dict:
    """CrossTask recall, official and MCN variants (fractions).

    preds_by_task: {task: [(Y_pred [T, K] or None, Y_true [T, K]), ...]}; None (a skipped video)
    predicts nothing, so its present steps are misses in both variants.
    Returns
      recall            official headline: per task sum(matches) / sum(present steps), then the
                        unweighted mean over tasks (tasks with no present step are left out);
      recall_per_video  MCN's variant: per video hits / present, mean over the task's videos,
                        then mean over tasks; videos with no GT step are left out and counted;
      per_task, per_task_per_video: {task: value};
      n_tasks, n_videos, n_videos_no_gt, n_videos_skipped, tasks_without_gt (list).
    """
    per_task, per_task_video, no_gt_tasks = {}, {}, []
    n_videos = n_no_gt = n_skipped = 0
    for task, pairs in preds_by_task.items():
        match = total = 0
        video_recalls = []
        for y_pred, y_true in pairs:
            m, hit, present = video_hits(y_pred, y_true)
            n_videos += 1
            n_skipped += y_pred is None
            match, total = match + m, total + present
            if present == 0:
                n_no_gt += 1
            else:
                video_recalls.append(hit / present)
        if total == 0:
            no_gt_tasks.append(task)
            continue
        per_task[task] = match / total
        per_task_video[task] = float(np.mean(video_recalls))
    nan = float("nan")
    return {
        "recall": float(np.mean(list(per_task.values()))) if per_task else nan,
        "recall_per_video": float(np.mean(list(per_task_video.values()))) if per_task_video else nan,
        "per_task": per_task,
        "per_task_per_video": per_task_video,
        "n_tasks": len(per_task),
        "n_videos": n_videos,
        "n_videos_no_gt": n_no_gt,
        "n_videos_skipped": n_skipped,
        "tasks_without_gt": no_gt_tasks,
    }
