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
copy the reference's block conventions. Ties between boundaries go to the earliest boundary.

The published decoder itself, conventions included, is :func:`official_alignment` (a legacy
option, like the retrieval ``legacy`` tie rule: it reproduces the dataset tool's output frame for
frame, see its docstring for the conventions and :data:`MYT_OFFICIAL` for its settings).

Metrics are fractions in [0, 1], aggregated frame-weighted over a list of videos.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from .alignment import crosstask_dp_batch, video_hits

MYT_REFERENCE = {"min_len": 20, "poisson_mean": 150.0, "frame_sampling": 20}
# the dataset tool's settings (alignment.py: Viterbi(frame_sampling=20, max_hypotheses=50000),
# PoissonModel(max_length=5000) over weakYouTube_length.txt, which holds the dummy 150 for all)
MYT_OFFICIAL = {"frame_sampling": 20, "poisson_mean": 150.0, "max_length": 5000,
                "max_hypotheses": 50000}


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


# --------------------------------------------------------------------------- published decoder

def official_poisson_scores(mean: float, n: int) -> np.ndarray:
    """[n] the dataset tool's renormalised log Poisson over lengths 0..n-1 frames:
    ``l·log(mean) - mean - log(l!) - norm`` with ``norm = r·log(r) - r - log(floor(mean)!)``,
    r = round(mean), and -inf at length 0 (summed in its order, so the values match it)."""
    logfak = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, max(n, 1), dtype=np.float64)))])
    r = float(np.round(mean))
    norm = r * np.log(r) - r - float(np.sum(np.log(np.arange(2, int(mean) + 1, dtype=np.float64))))
    out = np.arange(n, dtype=np.float64) * np.log(mean) - mean - logfak[:n] - norm
    out[0] = -np.inf
    return out


def official_alignment(log_probs, transcript, *, frame_sampling: int = 20,
                       poisson_mean: float | None = 150.0, max_length: int = 5000,
                       max_hypotheses: int | None = 50000, log_softmax: bool = False) -> Alignment:
    """The Mining YouTube dataset's Viterbi decoder (``video_alignment/src/utils/viterbi.py``),
    reproduced with its block conventions; a legacy option beside :func:`transcript_alignment`.

    log_probs: [T, C] frame log-probabilities (``log_softmax=True`` normalises raw scores over
    the C classes first); transcript: [L] class indices. Returns :class:`Alignment` with
    ``labels`` [T], ``bounds`` [L+1] (frames; a segment may be empty, see 3) and the tool's
    score. With s = ``frame_sampling`` and K = ceil(T / s) decoding steps t = 0, s, 2s, ...:

    1. *Scored (t-s, t], labelled [t, t+s).* Step t scores the frames ``max(0, t-s+1) .. t``
       under the label a hypothesis holds *before* the step, and a label change at step t
       labels frames ``[t, t+s)`` with the new label. Frames after (K-1)·s are never scored.
    2. *The first block counts twice.* The start scores frames ``0 .. s-1`` under the first
       transcript label, and steps 0 and s score frames 0 and 1..s again.
    3. *The first entry can vanish.* The start block's labels are dropped in the traceback, so
       a change at step 0 leaves the first transcript entry with no frame (bounds[0] ==
       bounds[1]); likewise the last entry may get frames that none of its scores covered.
    4. *Lengths* (Poisson, mean ``poisson_mean`` frames, renormalised as
       :func:`official_poisson_scores`; None = no length score) are counted in steps of s: the
       first segment's length includes the start block, the last one's one block more than it
       scored. A length of ``max_length`` frames or more scores -inf (the tool raises an
       IndexError at exactly ``max_length``, so wherever it runs the results agree).
    5. *Beam*: after each step only the best ``max_hypotheses`` (transcript position, length)
       hypotheses survive (None = no pruning; the tool's 50,000 never prune a video of up to
       ~50,000 / L steps). Frame scores are summed as the tool does: a float32 cumulative sum
       over frames, block differences of it added in float64.

    Exact ties (between boundaries, or at the beam's edge; they need e.g. a transcript entry
    repeating its predecessor) are broken by dictionary order in the tool; here the shorter
    segment wins. Raises ValueError when T < s, when the transcript has more entries than
    K + 1 (the tool fails on both), or when the beam keeps no hypothesis that completes the
    transcript (the tool then returns an incomplete path scored -inf).
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
    T, L, s = lp.shape[0], tr.size, int(frame_sampling)
    if s < 1 or T < s:
        raise ValueError(f"the official decoder needs T >= frame_sampling, got T={T}, frame_sampling={s}")
    K = -(-T // s)
    if L > K + 1:
        raise ValueError(f"no official alignment of {L} transcript entries over T={T} frames "
                         f"({K} steps of {s} frames)")
    # block scores [K, L] from a float32 cumulative sum, as the tool computes them
    cs = np.cumsum(lp[:, tr].astype(np.float32), axis=0)
    t = np.arange(K) * s
    blocks = cs[t].copy()
    blocks[1:] -= cs[t[1:] - s]
    blocks = blocks.astype(np.float64)
    start = cs[s - 1].astype(np.float64)[0]  # the first label over frames 0 .. s-1
    # length score by length in steps n (n·s frames), n = 0 .. K+1
    lengths = np.arange(K + 2) * s
    if poisson_mean is None:
        pois = np.where(lengths >= max_length, -np.inf, 0.0)
    else:
        table = official_poisson_scores(float(poisson_mean), int(max_length))
        pois = np.where(lengths < max_length, table[np.minimum(lengths, max_length - 1)], -np.inf)
    pois[0] = -np.inf
    H = np.full((L, K + 2), -np.inf)  # [position, length in steps] best score
    H[0, 1] = 0.0 + start
    arg = np.zeros((K, max(L - 1, 1)), dtype=np.int64)  # step k: best length leaving position j
    for k in range(K):
        Hb = H + blocks[k][:, None]  # every hypothesis scores block k under its current label
        new = np.full_like(H, -np.inf)
        new[:, 2:] = Hb[:, 1:-1]  # stay: one step longer
        if L > 1:
            leave = Hb[:-1] + pois[None, :]  # [L-1, K+2]: move on, scoring the finished length
            a = leave.argmax(axis=1)  # first maximum: the shorter segment on ties
            new[1:, 1] = leave[np.arange(L - 1), a]
            arg[k, :] = a
        if max_hypotheses is not None:
            _prune(new, int(max_hypotheses))
        H = new
    final = H[L - 1] + pois
    n = int(final.argmax())
    if not np.isfinite(final[n]):
        raise ValueError(f"no official alignment of {L} entries over T={T} frames "
                         f"(frame_sampling={s}, max_length={max_length})")
    # traceback: position j holding length n after step k was entered at step k - n + 1
    enter = np.zeros(L, dtype=np.int64)
    k = K - 1
    for j in range(L - 1, 0, -1):
        enter[j] = k - n + 1  # the step at which entry j-1 handed over to entry j
        k = enter[j] - 1
        n = int(arg[enter[j], j - 1])
    bounds = np.concatenate([[0], enter[1:] * s, [T]]).astype(np.int64)
    labels = np.repeat(tr, np.diff(bounds))
    return Alignment(labels, bounds, float(final.max()))


def _prune(H: np.ndarray, keep: int) -> None:
    """Keep the ``keep`` best finite entries of H (in place), as the tool's beam does."""
    flat = H.reshape(-1)
    alive = np.flatnonzero(np.isfinite(flat))
    if alive.size > keep:
        order = np.argsort(-flat[alive], kind="stable")
        flat[alive[order[keep:]]] = -np.inf


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
