"""The HowTo100M training clip sampler (reference mcn_spec §2.3) as a torch ``Dataset``.

One item is one video: ``n_pair`` caption indices drawn uniformly with replacement, each caption
extended to at least ``min_time`` seconds by the shorter-span neighbour rule (words of every added
caption appended at the end), then per clip

* video ``[2·Dh]``: 2D (1 fps) and 3D (1.5 fps) rows ``int(s·fps)`` .. ``int(e·fps)+1`` max-pooled,
  each half L2-normalised (:func:`mcnbench.data.prep.pool_clips`);
* audio ``[40, audio_frames]``: spectrogram frames ``time_to_frames(s)`` .. ``time_to_frames(e)``,
  truncated / zero-padded, with ``nframes`` valid frames; the first frame is clamped at 0 unless
  ``audio_clamp=False`` (the official loader's unclamped slice, defect §9.2-10);
* text ``[max_words, d]``: word vectors of the (appended) word list.

Randomness is a pure function of ``(seed, epoch, video index)`` (item keys are ``(epoch, index)``
tuples), and the video order of an epoch a pure function of ``(seed, epoch)``
(:class:`RunBatches`), so data-loader workers, several ranks and a resumed run all see the same
clips. Each video's features and tokenised captions are cached in memory after the first read.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mcnbench.data.prep import pool_clips, time_to_frames
from mcnbench.data.text import Tokenizer, tokenize
from mcnbench.data.word2vec import WordVectors

SPLITS = ("all", "train", "val")
_ORDER_SALT = 0x0DE5  # separates the epoch-order stream from the per-item streams
_ITEM_SALT = 0x17E3


def _seed_words(seed: int) -> int:
    return int(seed) % (2**63)  # SeedSequence takes non-negative integers


def extend_caption(start: np.ndarray, end: np.ndarray, ind: int, min_time: float
                   ) -> tuple[list[int], int, int]:
    """Grow caption ``ind`` to span at least ``min_time`` seconds (official rule, §2.3).

    While the span is short: with neighbours on both sides, take the previous caption if the
    span it gives (d2) is ≤ the span the next one gives (d1), else the next; at the first caption
    extend forward only, at the last backward only; stop when there is nothing left to add.
    Returns the caption indices in the order their words are appended (``[ind, ...added]``), and
    the first and last caption of the span.
    """
    n = len(start)
    lo = hi = int(ind)
    order = [lo]
    while end[hi] - start[lo] < min_time:
        if lo > 0 and hi < n - 1:
            d1 = end[hi + 1] - start[lo]
            d2 = end[hi] - start[lo - 1]
            if d2 <= d1:
                lo -= 1
                order.append(lo)
            else:
                hi += 1
                order.append(hi)
        elif lo > 0:
            lo -= 1
            order.append(lo)
        elif hi < n - 1:
            hi += 1
            order.append(hi)
        else:
            break
    return order, lo, hi


def audio_windows(spec: np.ndarray, start: np.ndarray, end: np.ndarray, n_frames: int,
                  clamp: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Windows ``[k, bands, n_frames]`` float32 and ``nframes [k]`` int64 of ``spec [bands, F]``.

    Vectorised :func:`mcnbench.data.prep.audio_window`: frames from ``time_to_frames`` of each
    start and end; ``clamp`` sets negative frames to 0, otherwise they index from the end as the
    official ``mel[:, f0:f1]`` slice does.
    """
    spec = np.asarray(spec, np.float32)
    total = spec.shape[1]
    f0 = time_to_frames(start)
    f1 = time_to_frames(end)
    if clamp:
        f0, f1 = np.maximum(f0, 0), np.maximum(f1, 0)
    # Python slice semantics: a negative bound counts from the end, then both clip to [0, F]
    s = np.clip(np.where(f0 < 0, f0 + total, f0), 0, total)
    e = np.clip(np.where(f1 < 0, f1 + total, f1), 0, total)
    nframes = np.clip(e - s, 0, n_frames).astype(np.int64)
    cols = s[:, None] + np.arange(n_frames)                                   # [k, A]
    valid = np.arange(n_frames)[None, :] < nframes[:, None]
    out = spec[:, np.minimum(cols, max(total - 1, 0))]                        # [bands, k, A]
    out = np.where(valid[None], out, 0.0).transpose(1, 0, 2)
    return np.ascontiguousarray(out, dtype=np.float32), nframes


@dataclass
class _Video:
    """One video's features and captions, as cached."""

    f2d: np.ndarray        # [T2, Dh]
    f3d: np.ndarray        # [T3, Dh]
    spec: np.ndarray       # [40, F]
    start: np.ndarray      # [n] seconds
    end: np.ndarray        # [n]
    tokens: list[list[str]]


class ClipDataset(torch.utils.data.Dataset):
    """HowTo100M-format corpus -> one item per video (module doc).

    ``root``: a data root holding ``howto100m/`` or that folder itself (``videopaths.csv``,
    ``caption.pickle``, ``features/``, ``audio/``). Videos without captions are skipped
    (``self.skipped`` lists them); at least one must remain.

    ``split`` keeps ``"all"`` videos, or only the ``"train"`` or the held-out ``"val"`` part of
    the ``val_fraction`` split (:func:`mcnbench.data.howto100m.is_heldout`, by video id);
    ``self.n_heldout`` counts the captioned videos of the held-out part whatever ``split`` is.

    ``dataset[(epoch, index)]`` (or ``dataset[index]`` = epoch 0) returns a dict: ``video``
    ``[n_pair, 2Dh]``, ``audio`` ``[n_pair, 40, audio_frames]``, ``nframes`` ``[n_pair]``,
    ``text`` ``[n_pair, max_words, d]`` (float32 / int64 numpy), ``index``.
    """

    def __init__(self, root: str | Path, word_vectors: WordVectors, *, n_pair: int = 32,
                 min_time: float = 10.0, audio_frames: int = 1000, max_words: int = 20,
                 seed: int = 0, audio_clamp: bool = True, cache: bool = True,
                 split: str = "all", val_fraction: float = 0.0):
        from mcnbench.data.howto100m import howto_dir, is_heldout, load_captions, read_video_paths

        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if not 0.0 <= float(val_fraction) < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
        self.root = howto_dir(root)
        self.split, self.val_fraction = split, float(val_fraction)
        self.tokenizer = Tokenizer(word_vectors, max_words)
        self.n_pair, self.min_time, self.audio_frames = int(n_pair), float(min_time), int(audio_frames)
        self.seed, self.audio_clamp, self.cache = int(seed), bool(audio_clamp), bool(cache)
        captions = load_captions(self.root / "caption.pickle")
        self.paths: list[str] = []
        self.video_ids: list[str] = []
        self.captions = []
        self.skipped: list[str] = []
        self.n_heldout = 0
        for path, vid in read_video_paths(self.root / "videopaths.csv"):
            cap = captions.get(vid)
            if cap is None or len(cap.start) == 0:
                self.skipped.append(vid)
                continue
            held = is_heldout(vid, self.val_fraction)
            self.n_heldout += held
            if (split == "train" and held) or (split == "val" and not held):
                continue
            self.paths.append(path)
            self.video_ids.append(vid)
            self.captions.append(cap)
        if not self.paths:
            from mcnbench.data.errors import DataError
            what = "" if split == "all" else f" in the {split!r} part of a {val_fraction} split"
            raise DataError(self.root / "videopaths.csv", None,
                            f"no listed video{what} has captions in caption.pickle")
        self._cache: dict[int, _Video] = {}

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def video_dim(self) -> int:
        """Width of the clip video input, ``2·Dh`` (read from the first video)."""
        v = self._video(0)
        return v.f2d.shape[1] + v.f3d.shape[1]

    def video_id(self, index: int) -> str:
        return self.video_ids[index]

    def _video(self, index: int) -> _Video:
        hit = self._cache.get(index)
        if hit is not None:
            return hit
        from mcnbench.data.features import load_npz_features, load_spectrogram
        from mcnbench.data.howto100m import feature_paths, spectrogram_path

        path, cap = self.paths[index], self.captions[index]
        f2d, f3d = feature_paths(self.root, path)
        video = _Video(
            f2d=load_npz_features(f2d), f3d=load_npz_features(f3d),
            spec=load_spectrogram(spectrogram_path(self.root, path)),
            start=np.asarray(cap.start, np.float64), end=np.asarray(cap.end, np.float64),
            tokens=[tokenize(t) for t in cap.text])
        if self.cache:
            self._cache[index] = video
        return video

    def clip_spans(self, epoch: int, index: int) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
        """The ``n_pair`` clips of video ``index`` in ``epoch``: per clip the caption order
        (words appended in it), and start / end seconds ``[n_pair]``."""
        return self._spans(self._video(index), epoch, index)

    def _spans(self, v: _Video, epoch: int, index: int):
        rng = np.random.default_rng([_seed_words(self.seed), int(epoch), _ITEM_SALT, int(index)])
        draws = rng.integers(0, len(v.start), size=self.n_pair)
        orders, starts, ends = [], np.empty(self.n_pair), np.empty(self.n_pair)
        for i, ind in enumerate(draws):
            order, lo, hi = extend_caption(v.start, v.end, int(ind), self.min_time)
            orders.append(order)
            starts[i], ends[i] = v.start[lo], v.end[hi]
        return orders, starts, ends

    def n_captions(self, index: int) -> int:
        """Captions of video ``index`` (read from the caption file, no features loaded)."""
        return len(self.captions[index].start)

    def __getitem__(self, key) -> dict:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        index = int(index)
        v = self._video(index)
        return {**self._clips(v, *self._spans(v, epoch, index)), "index": index}

    def clips(self, index: int, caption_indices) -> dict:
        """The clips of video ``index`` that start from the given captions (each extended to
        ``min_time`` as in training, no randomness): the item layout of ``dataset[...]`` with
        ``len(caption_indices)`` clips instead of ``n_pair``."""
        v = self._video(int(index))
        orders, starts, ends = [], [], []
        for ind in caption_indices:
            order, lo, hi = extend_caption(v.start, v.end, int(ind), self.min_time)
            orders.append(order)
            starts.append(v.start[lo])
            ends.append(v.end[hi])
        return {**self._clips(v, orders, np.asarray(starts, np.float64), np.asarray(ends, np.float64)),
                "index": int(index)}

    def _clips(self, v: _Video, orders: list[list[int]], starts: np.ndarray, ends: np.ndarray
               ) -> dict:
        audio, nframes = audio_windows(v.spec, starts, ends, self.audio_frames, self.audio_clamp)
        words = [[w for c in order for w in v.tokens[c]] for order in orders]
        text, _ = self.tokenizer.encode_tokens(words)
        return {"video": pool_clips(v.f2d, v.f3d, starts, ends), "audio": audio,
                "nframes": nframes, "text": text}


def collate_clips(items: list[dict]) -> dict[str, torch.Tensor]:
    """Items of ``n_pair`` clips -> one flat batch of ``len(items)·n_pair`` clips, video-major
    (clip j of video i is row ``i·n_pair + j``), plus ``index [len(items)]``."""
    out = {k: torch.from_numpy(np.concatenate([it[k] for it in items]))
           for k in ("video", "audio", "nframes", "text")}
    out["index"] = torch.tensor([it["index"] for it in items], dtype=torch.int64)
    return out


def epoch_order(n_videos: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled video order of ``epoch``: a permutation of ``range(n_videos)`` that depends
    only on ``(seed, epoch)``."""
    rng = np.random.default_rng([_seed_words(seed), int(epoch), _ORDER_SALT])
    return rng.permutation(n_videos)


class RunBatches(torch.utils.data.Sampler):
    """Batch sampler over a whole run: yields, for every step from ``start`` on, this rank's keys
    ``[(epoch, index), ...]`` of the global batch of ``batch_videos`` videos.

    Epoch ``e`` visits :func:`epoch_order` (seed, e) in consecutive groups of ``batch_videos``
    (the incomplete last group is dropped, as ``drop_last=True``); ``shard`` (a
    :class:`~mcnbench.training.distributed.DistEnv` ``.shard``) picks this rank's part.
    ``start = (epoch, step)`` skips what a resumed run has already done, without loading it.
    """

    def __init__(self, n_videos: int, batch_videos: int, seed: int, epochs: int,
                 start: tuple[int, int] = (0, 0), shard=None):
        if n_videos < batch_videos:
            raise ValueError(f"the corpus has {n_videos} usable videos, fewer than one batch "
                             f"(batch_videos={batch_videos}); lower batch_videos")
        self.n_videos, self.batch_videos = n_videos, batch_videos
        self.seed, self.epochs, self.start = seed, epochs, start
        self.shard = shard or (lambda items: items)

    @property
    def steps_per_epoch(self) -> int:
        return self.n_videos // self.batch_videos

    def __len__(self) -> int:
        e0, s0 = self.start
        return max(0, (self.epochs - e0) * self.steps_per_epoch - s0)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        e0, s0 = self.start
        b = self.batch_videos
        for epoch in range(e0, self.epochs):
            order = epoch_order(self.n_videos, self.seed, epoch)
            for step in range(s0 if epoch == e0 else 0, self.steps_per_epoch):
                batch = [(epoch, int(i)) for i in order[step * b:(step + 1) * b]]
                yield self.shard(batch)
