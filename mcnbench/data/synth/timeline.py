"""What happens in a video (segments of steps and background) and what is said when (narration).

A video follows its task's step list (some steps skipped, swapped or repeated) with background
gaps between steps. Each segment has an instance latent:

    step segment of concept c:  z_seg = z[c] + σ_inst·ε
    background segment:         z_seg = sqrt(1 - σ_bg²)·z_background + σ_bg·ε

Narration tiles the video with captions. A caption's reference time is its midpoint shifted by
N(0, align_jitter_s²); if a step is shown then, the caption describes it (p_aligned), the
previous or next step (p_neighbour) or nothing (p_unrelated, filler talk); over background it
announces the next step (p_background_upcoming) or is filler.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcnbench.data.synth import sentences
from mcnbench.data.synth.world import World

KINDS = ("aligned", "neighbour", "unrelated", "background", "upcoming")


@dataclass
class Timeline:
    """Consecutive segments covering [0, duration]; ``concept`` is -1 for background."""

    duration: float
    start: np.ndarray    # [S] seconds
    end: np.ndarray      # [S]
    concept: np.ndarray  # [S] int64
    z: np.ndarray        # [S, L] instance latents

    def at(self, t: np.ndarray) -> np.ndarray:
        """Segment index of each time ``t`` (clipped into the video)."""
        i = np.searchsorted(self.start, np.asarray(t, np.float64), side="right") - 1
        return np.clip(i, 0, len(self.start) - 1)

    @property
    def step_segments(self) -> np.ndarray:
        return np.flatnonzero(self.concept >= 0)


def step_order(rng: np.random.Generator, K: int, p_skip: float, p_swap: float,
               p_repeat: float, min_steps: int = 1) -> list[int]:
    """Indices into a task's K steps as one video performs them."""
    keep = np.flatnonzero(rng.random(K) >= p_skip)
    if len(keep) < min(min_steps, K):
        keep = np.sort(rng.choice(K, min(min_steps, K), replace=False))
    order = list(keep)
    for i in range(len(order) - 1):
        if rng.random() < p_swap:
            order[i], order[i + 1] = order[i + 1], order[i]
    out = []
    for i, s in enumerate(order):
        out.append(int(s))
        if rng.random() < p_repeat and i + 1 < len(order):
            # done again later: after the next step, never right after itself
            order.insert(i + 2, s)
    return out


def _split(rng: np.random.Generator, total: float, n: int, shape: float) -> np.ndarray:
    # gamma weights, mixed with a uniform share so that no segment is vanishingly short
    w = rng.gamma(shape, size=n)
    return total * (0.2 / n + 0.8 * w / w.sum())


def layout(rng: np.random.Generator, world: World, concepts: list[int] | np.ndarray,
           duration: float, background: float) -> Timeline:
    """Steps ``concepts`` in order, separated (and preceded, followed) by background gaps that
    fill the fraction ``background`` of ``duration``."""
    k = world.knobs
    concepts = np.asarray(concepts, np.int64)
    n = len(concepts)
    lengths = np.empty(2 * n + 1)
    lengths[1::2] = _split(rng, duration * (1.0 - background), n, 4.0)
    lengths[0::2] = _split(rng, duration * background, n + 1, 1.5)
    ends = np.cumsum(lengths)
    ends[-1] = duration
    starts = np.concatenate([[0.0], ends[:-1]])
    seg_concept = np.full(2 * n + 1, -1, np.int64)
    seg_concept[1::2] = concepts
    L = world.z.shape[1]
    noise = rng.standard_normal((2 * n + 1, L))
    sb = k.background_scale
    z = np.where((seg_concept >= 0)[:, None],
                 world.z[np.maximum(seg_concept, 0)] + k.instance_scale * noise,
                 np.sqrt(max(0.0, 1 - sb ** 2)) * world.z_background + sb * noise)
    return Timeline(float(duration), starts, ends, seg_concept, z)


@dataclass
class Narration:
    """Captions of one video: times, what they talk about, and how that relates to the video."""

    start: np.ndarray      # [N] seconds
    end: np.ndarray        # [N]
    narrated: np.ndarray   # [N] concept talked about, -1 for filler talk
    shown: np.ndarray      # [N] concept shown at the caption's midpoint, -1 for background
    kind: np.ndarray       # [N] index into KINDS
    text: list[str]

    def __len__(self) -> int:
        return len(self.start)


def narrate(rng: np.random.Generator, world: World, tl: Timeline, p_silent: float = 0.0
            ) -> Narration:
    """Captions tiling the video (a fraction ``p_silent`` of the slots left without speech)."""
    k = world.knobs
    lo, hi = k.caption_s
    n_max = int(tl.duration / lo) + 2
    lengths = rng.uniform(lo, hi, n_max)
    gaps = rng.uniform(0.0, 0.5, n_max)
    start = np.concatenate([[0.0], np.cumsum(lengths + gaps)[:-1]]) + gaps[0]
    end = start + lengths
    keep = end <= tl.duration
    if not keep.any():  # a video shorter than one caption: one caption over all of it
        start, end = np.array([0.0]), np.array([tl.duration])
    else:
        start, end = start[keep], end[keep]
    n = len(start)
    mid = 0.5 * (start + end)
    seg = tl.at(mid + k.align_jitter_s * rng.standard_normal(n))
    steps = tl.step_segments
    step_concepts = tl.concept[steps]
    rank = np.full(len(tl.concept), -1)
    rank[steps] = np.arange(len(steps))
    r = rank[seg]
    u = rng.random(n)
    kind = np.where(u < k.p_aligned, 0, np.where(u < k.p_aligned + k.p_neighbour, 1, 2))
    # neighbour: the previous or next step performed (the other one at either end)
    step_dir = np.where(rng.random(n) < 0.5, -1, 1)
    nr = r + step_dir
    nr = np.where((nr < 0) | (nr >= len(steps)), r - step_dir, nr)
    kind = np.where((kind == 1) & ((nr < 0) | (nr >= len(steps))), 2, kind)
    # over background: announce the next step, or chat
    nxt = np.searchsorted(steps, seg)
    upcoming = (rng.random(n) < k.p_background_upcoming) & (nxt < len(steps))
    kind = np.where(r >= 0, kind, np.where(upcoming, 4, 3))
    narrated = np.full(n, -1, np.int64)
    narrated[kind == 0] = tl.concept[seg[kind == 0]]
    narrated[kind == 1] = step_concepts[nr[kind == 1]]
    narrated[kind == 4] = step_concepts[nxt[kind == 4]]
    shown = tl.concept[tl.at(mid)]
    voiced = rng.random(n) >= p_silent
    text = [sentences.narration(rng, world, int(c)) for c in narrated[voiced]]
    return Narration(start[voiced], end[voiced], narrated[voiced], shown[voiced],
                     kind[voiced], text)
