"""Mining YouTube: transcript-constrained alignment and segmentation metrics.

Alignment. Given per-frame log-probabilities ``[T, C]`` and an ordered transcript of ``L`` class
indices (background entries included, repeats allowed), every transcript entry gets one
contiguous segment, in order, covering all T frames, each of at least ``min_len`` frames. The
decoder maximises ``sum of frame log-probabilities + sum of per-segment length scores``. It is an
exact segment-level Viterbi over (transcript position, segment end):

    F[l][j] = cs[j, c_l] + max_i (F[l-1][i] - cs[i, c_l] + len_score(j - i))

with ``cs`` the cumulative frame sums. Without a length model the inner max is a prefix maximum,
so the cost is O(T * L); with the Poisson length model it is O(T^2 * L / frame_sampling^2),
done as blocked matrix maxima. ``frame_sampling = s`` restricts segment boundaries to multiples of
s (the last boundary is T), as the reference decoder's 20-frame blocks do; s = 1 is exact.

Defaults are the exact frame-level decoder without a length model (``min_len=1``). The settings
of the dataset's own decoder (``video_alignment/src/alignment.py``) are in :data:`MYT_REFERENCE`:
20-frame blocks, minimum segment 20 frames, Poisson lengths with the dummy mean 150. That
decoder is a beam search (50,000 hypotheses); this one is exact on the same grid, and it does not
copy the reference's traceback artefact (dropping the first block's labels). Ties between
boundaries go to the earliest boundary.

Metrics are fractions in [0, 1], aggregated frame-weighted over a list of videos.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from .alignment import crosstask_dp_batch, video_hits

MYT_REFERENCE = {"min_len": 20, "poisson_mean": 150.0, "frame_sampling": 20}


@dataclass
class Alignment:
    """labels: [T] int64 class per frame; bounds: [L+1] segment boundaries (0 .. T);
    score: the maximised objective."""

    labels: np.ndarray
    bounds: np.ndarray
    score: float


def poisson_length_scores(mean: float, n: int) -> np.ndarray:
    """[n + 1] log Poisson(d; mean) for d = 0..n, shifted so the maximum is 0 (the reference
    renormalises the same way; a constant per segment does not change the alignment)."""
    d = np.arange(n + 1, dtype=np.float64)
    lp = d * np.log(mean) - mean - gammaln(d + 1.0)
    lp[0] = -np.inf  # an empty segment is impossible
    return lp - lp[1:].max() if n >= 1 else lp


def align_transcript(log_probs, transcript, **options) -> np.ndarray:
    """[T, C] log-probs + [L] transcript -> [T] int64 labels. Options: :func:`transcript_alignment`."""
    return transcript_alignment(log_probs, transcript, **options).labels


def transcript_alignment(log_probs, transcript, *, min_len: int = 1,
                         poisson_mean: float | None = None, frame_sampling: int = 1,
                         max_len: int | None = None, log_softmax: bool = False,
                         max_elements: int = 1 << 22) -> Alignment:
    """Exact transcript-constrained alignment (see module doc).

    log_probs: [T, C] frame log-probabilities (raw scores with ``log_softmax=True``, which
    normalises over the C classes first). transcript: [L] class indices in order.
    min_len / max_len: segment length bounds in frames. poisson_mean: mean of the Poisson length
    model in frames (None = no length model). frame_sampling: boundary grid step in frames.
    Raises ValueError when no segmentation satisfies the constraints (e.g. T < L * min_len).
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    tr = np.asarray(transcript, dtype=np.int64)
    if lp.ndim != 2 or tr.ndim != 1 or tr.size == 0:
        raise ValueError(f"need log_probs [T, C] and a non-empty transcript [L], got {lp.shape}, {tr.shape}")
    if tr.min() < 0 or tr.max() >= lp.shape[1]:
        raise ValueError(f"transcript classes must lie in [0, {lp.shape[1]})")
    if not np.isfinite(lp).all():
        bad = np.argwhere(~np.isfinite(lp))[0].tolist()
        raise ValueError(f"log_probs contain NaN/inf at (frame, class) {bad}")
    if log_softmax:
        lp = lp - lp.max(axis=1, keepdims=True)
        lp -= np.log(np.exp(lp).sum(axis=1, keepdims=True))
    T, L = lp.shape[0], tr.size
    fs, min_len = int(frame_sampling), max(1, int(min_len))
    pos = np.unique(np.concatenate([np.arange(0, T, fs), [T]]))  # [G] boundary grid
    cols = lp[:, tr]  # only the transcript's columns matter
    cs = np.vstack([np.zeros((1, L)), np.cumsum(cols, axis=0)])[pos]  # [G, L] prefix sums
    use_matrix = poisson_mean is not None or max_len is not None
    table = _length_table(T, min_len, max_len, poisson_mean) if use_matrix else None
    G = pos.size
    F = np.full(G, -np.inf)
    F[0] = 0.0
    back = np.zeros((L, G), dtype=np.int64)
    # last grid index i with pos[i] <= pos[j] - min_len (-1: none)
    last_ok = np.searchsorted(pos, pos - min_len, side="right") - 1
    for l in range(L):
        H = F - cs[:, l]  # value of ending entry l-1 at boundary i, minus entry l's prefix
        if use_matrix:
            best, arg = _blocked_max(H, pos, table, max_elements)
        else:
            best, arg = _prefix_max(H, last_ok)
        F = cs[:, l] + best
        back[l] = arg
    if not np.isfinite(F[-1]):
        raise ValueError(f"no alignment of {L} segments over T={T} frames with min_len={min_len}, "
                         f"frame_sampling={fs}, max_len={max_len}")
    bounds = np.empty(L + 1, dtype=np.int64)
    j = G - 1
    for l in range(L - 1, -1, -1):
        bounds[l + 1] = pos[j]
        j = back[l, j]
    bounds[0] = pos[j]
    labels = np.repeat(tr, np.diff(bounds))
    return Alignment(labels, bounds, float(F[-1]))


def _length_table(T: int, min_len: int, max_len, poisson_mean) -> np.ndarray:
    table = poisson_length_scores(poisson_mean, T) if poisson_mean is not None else np.zeros(T + 1)
    table[:min_len] = -np.inf
    if max_len is not None:
        table[int(max_len) + 1:] = -np.inf
    return table


def _prefix_max(H: np.ndarray, last_ok: np.ndarray):
    pm = np.maximum.accumulate(H)
    new = np.empty(H.size, dtype=bool)
    new[0] = True
    new[1:] = H[1:] > pm[:-1]  # strictly new maximum: keeps the earliest boundary on ties
    arg_pm = np.maximum.accumulate(np.where(new, np.arange(H.size), 0))
    ok = last_ok >= 0
    best = np.full(H.size, -np.inf)
    arg = np.zeros(H.size, dtype=np.int64)
    best[ok], arg[ok] = pm[last_ok[ok]], arg_pm[last_ok[ok]]
    return best, arg


def _blocked_max(H: np.ndarray, pos: np.ndarray, table: np.ndarray, max_elements: int):
    """max_i H[i] + table[pos[j] - pos[i]] for every j, by row blocks of the [G, G] matrix."""
    G = H.size
    best = np.full(G, -np.inf)
    arg = np.zeros(G, dtype=np.int64)
    rows = max(1, max_elements // G)
    for j0 in range(1, G, rows):
        j1 = min(G, j0 + rows)  # boundaries i < j1 can precede rows j0..j1-1
        d = pos[j0:j1, None] - pos[None, :j1]
        m = H[None, :j1] + table[np.clip(d, 0, None)]  # d <= 0 maps to table[0] = -inf
        a = m.argmax(axis=1)
        best[j0:j1], arg[j0:j1] = m[np.arange(j1 - j0), a], a
    return best, arg


# --------------------------------------------------------------------------- metrics

def _videos(preds, gts):
    if isinstance(preds, np.ndarray) and preds.ndim == 1:
        preds, gts = [preds], [gts]
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predictions for {len(gts)} ground truths")
    out = []
    for i, (p, g) in enumerate(zip(preds, gts, strict=True)):
        p, g = np.asarray(p), np.asarray(g)
        if p.shape != g.shape or p.ndim != 1:
            raise ValueError(f"video {i}: prediction {p.shape} and ground truth {g.shape} differ")
        out.append((p, g))
    return out


def mof(preds, gts, bg: int | None = None) -> float:
    """Frame-weighted mean over frames: correct frames / frames, pooled over all videos.

    preds, gts: [T] label arrays, or lists of them (one per video; lengths must match).
    bg: a background class whose GT frames are removed from numerator and denominator
    (the "without background" MoF); None counts every frame.
    """
    correct = total = 0
    for p, g in _videos(preds, gts):
        keep = g != bg if bg is not None else np.ones(g.shape, dtype=bool)
        correct += int((p[keep] == g[keep]).sum())
        total += int(keep.sum())
    return correct / total if total else float("nan")


def iou_iod(preds, gts, classes="gt", bg: int | None = None, average: str = "dataset") -> dict:
    """Per-class IoU = |G∩D| / |G∪D| and IoD = |G∩D| / |D|, averaged over classes.

    preds, gts: [T] label arrays or lists of them. classes: ``"gt"`` (default: the classes present
    in the GT), ``"union"`` (present in GT or prediction, so false-positive classes count as 0),
    or an explicit list (classes absent from both are skipped). ``bg`` is dropped from the class
    list when given (the "without background" variant; frames are not removed). A GT class never
    predicted has IoD 0. average: ``dataset`` pools the frame counts of all videos per class,
    then averages over classes; ``video`` averages over classes per video, then over videos.
    Returns ``{"iou", "iod", "per_class": {c: (iou, iod)}}`` (per_class for ``dataset`` only).
    """
    vids = _videos(preds, gts)
    if average == "video":
        scores = [iou_iod(p, g, classes, bg, "dataset") for p, g in vids]
        scores = [s for s in scores if s["per_class"]]
        mean = (lambda k: float(np.mean([s[k] for s in scores]))) if scores else (lambda k: float("nan"))
        return {"iou": mean("iou"), "iod": mean("iod"), "per_class": {}}
    if average != "dataset":
        raise ValueError(f"average must be 'dataset' or 'video', got {average!r}")
    p = np.concatenate([v[0] for v in vids]) if vids else np.zeros(0, dtype=np.int64)
    g = np.concatenate([v[1] for v in vids]) if vids else np.zeros(0, dtype=np.int64)
    if isinstance(classes, str):
        if classes not in ("gt", "union"):
            raise ValueError(f"classes must be 'gt', 'union' or a list, got {classes!r}")
        cls = np.unique(g) if classes == "gt" else np.unique(np.concatenate([g, p]))
    else:
        cls = np.asarray(classes)
    per_class = {}
    for c in cls.tolist():
        gi, di = g == c, p == c
        inter, union, det = int((gi & di).sum()), int((gi | di).sum()), int(di.sum())
        if (bg is not None and c == bg) or union == 0:
            continue
        per_class[c] = (inter / union, inter / det if det else 0.0)
    if not per_class:
        return {"iou": float("nan"), "iod": float("nan"), "per_class": per_class}
    vals = np.array(list(per_class.values()))
    return {"iou": float(vals[:, 0].mean()), "iod": float(vals[:, 1].mean()), "per_class": per_class}


def step_recall(items, *, log_softmax: bool = True, short: str = "diagonal") -> dict:
    """MCN's Mining YouTube "recall": per video, the one-second-per-step DP over the video's
    ordered steps (log-softmax over steps first), hits / present steps, mean over videos.

    items: list of ``(scores [T, K], Y_true [T, K])``. Videos with no GT step are left out of the
    mean and counted; skipped short videos (see alignment.crosstask_dp) count as all-miss.
    Returns ``{"recall", "n_videos", "n_videos_no_gt", "n_videos_skipped"}``.
    """
    batch = crosstask_dp_batch([s for s, _ in items], log_softmax=log_softmax, short=short)
    recalls, no_gt = [], 0
    for pred, (_, y_true) in zip(batch.preds, items, strict=True):
        _, hit, present = video_hits(pred, y_true)
        if present:
            recalls.append(hit / present)
        else:
            no_gt += 1
    return {"recall": float(np.mean(recalls)) if recalls else float("nan"),
            "n_videos": len(items), "n_videos_no_gt": no_gt,
            "n_videos_skipped": batch.counts["skipped"]}
