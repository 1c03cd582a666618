"""Turning stored features into model inputs, as the official loaders do (reference §2.3, §6.2,
§6.6). Pure numpy, no I/O.

Time bases: 2D video features at 1 row/s, 3D at 1.5 rows/s (24/16), spectrograms at 100
frames/s (16 kHz, hop 160, n_fft 400).
"""
from __future__ import annotations

import numpy as np

FPS_2D = 1.0
FPS_3D = 1.5


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``x / ||x||`` along ``axis`` in float32; an all-zero vector stays zero (never NaN)."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.sqrt(np.sum(np.square(x, dtype=np.float64), axis=axis, keepdims=True))
    return (x / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def video_input(f2d: np.ndarray, f3d: np.ndarray) -> np.ndarray:
    """``[..., Dh]`` 2D and 3D features -> ``[..., 2Dh]``: each half L2-normalised, then
    concatenated 2D first. Works on one clip ``[Dh]`` or a batch ``[N, Dh]``."""
    return np.concatenate([l2_normalize(f2d), l2_normalize(f3d)], axis=-1)


def l2_halves(v: np.ndarray) -> np.ndarray:
    """Re-normalise each half of ``[..., 2Dh]`` video inputs separately."""
    v = np.asarray(v)
    if v.shape[-1] % 2:
        raise ValueError(f"video input width {v.shape[-1]} is odd; expected [.., 2*Dh]")
    h = v.shape[-1] // 2
    return video_input(v[..., :h], v[..., h:])


def _segment_max(x: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Max over rows ``start[i]:end[i]`` of ``x [T, D]`` -> ``[N, D]``; empty -> zeros."""
    t = x.shape[0]
    s = np.clip(start, 0, t)
    e = np.clip(end, 0, t)
    ok = e > s
    out = np.zeros((len(s), x.shape[1]), np.float32)
    if not ok.any() or t == 0:
        return out
    # np.maximum.reduceat over interleaved (start, end) pairs reduces x[s:e] at even slots; an
    # end equal to T would be out of range, so reduce over x padded by one row.
    xp = np.concatenate([x, x[-1:]], axis=0)
    pairs = np.stack([s[ok], e[ok]], axis=1).ravel()
    out[ok] = np.maximum.reduceat(xp, pairs, axis=0)[::2]
    return out


def pool_clips(features_2d: np.ndarray, features_3d: np.ndarray, start, end,
               fps_2d: float = FPS_2D, fps_3d: float = FPS_3D) -> np.ndarray:
    """Video inputs ``[N, 2Dh]`` of N clips ``[start, end]`` (seconds) of one video.

    Per stream: rows ``int(start·fps)`` .. ``int(end·fps)+1`` (exclusive), max over time, L2;
    an empty slice (clip past the end of the features) gives zeros. ``int`` truncates as in the
    official loader; a negative start is clamped to row 0 instead of wrapping around.
    """
    start = np.atleast_1d(np.asarray(start, np.float64))
    end = np.atleast_1d(np.asarray(end, np.float64))
    halves = []
    for feats, fps in ((features_2d, fps_2d), (features_3d, fps_3d)):
        feats = np.asarray(feats, np.float32)
        s = np.trunc(start * fps).astype(np.int64)
        e = np.trunc(end * fps).astype(np.int64) + 1
        halves.append(l2_normalize(_segment_max(feats, s, e)))
    return np.concatenate(halves, axis=-1)


def pool_clip(features_2d: np.ndarray, features_3d: np.ndarray, start: float, end: float,
              fps_2d: float = FPS_2D, fps_3d: float = FPS_3D) -> np.ndarray:
    """One clip of :func:`pool_clips`: ``[T2, Dh]``, ``[T3, Dh]`` -> ``[2Dh]`` float32."""
    return pool_clips(features_2d, features_3d, [start], [end], fps_2d, fps_3d)[0]


def time_to_frames(t, sr: int = 16000, hop: int = 160, n_fft: int = 400) -> np.ndarray:
    """Spectrogram frame of time ``t`` (s), as ``librosa.time_to_frames`` computes it:
    ``floor((int(t·sr) - n_fft//2) / hop)``; negative for ``t < 0.0125`` s. int64, vectorised."""
    samples = (np.asarray(t, dtype=np.float64) * sr).astype(np.int64)
    return (samples - n_fft // 2) // hop


def pad_or_truncate(spec: np.ndarray, n: int) -> np.ndarray:
    """``[B, F]`` -> ``[B, n]`` float32: cut after ``n`` frames or zero-pad at the end."""
    spec = np.asarray(spec)
    out = np.zeros((spec.shape[0], n), np.float32)
    k = min(n, spec.shape[1])
    out[:, :k] = spec[:, :k]
    return out


def audio_window(spec: np.ndarray, start: float, end: float, n_frames: int,
                 clamp: bool = True) -> tuple[np.ndarray, int]:
    """The frames of ``spec [40, F]`` between ``start`` and ``end`` seconds, truncated or
    zero-padded to ``[40, n_frames]``, and the number of valid frames (≤ n_frames).

    ``clamp=False`` reproduces the official HowTo100M loader, which does not clamp: a start
    before 0.0125 s gives a negative first frame that Python slicing counts from the end, so
    the window comes out empty or as the last few frames. The default clamps to frame 0
    (as the official CrossTask loader does).
    """
    f0, f1 = (int(f) for f in time_to_frames([start, end]))
    if clamp:
        f0, f1 = max(f0, 0), max(f1, 0)
    window = np.asarray(spec)[:, f0:f1]
    return pad_or_truncate(window, n_frames), min(window.shape[1], n_frames)


def adaptive_max_pool(x: np.ndarray, t_out: int) -> np.ndarray:
    """``[T_in, D]`` -> ``[T_out, D]`` with ``torch.nn.functional.adaptive_max_pool1d``'s bins:
    bin i covers rows ``floor(i·T_in/T_out)`` .. ``ceil((i+1)·T_in/T_out)`` (exclusive); bins
    may overlap and, when T_out > T_in, repeat rows."""
    x = np.asarray(x)
    t_in = x.shape[0]
    if t_in < 1 or t_out < 1:
        raise ValueError(f"adaptive_max_pool needs T_in >= 1 and T_out >= 1, got {t_in}, {t_out}")
    i = np.arange(t_out, dtype=np.int64)
    lo = (i * t_in) // t_out
    hi = ((i + 1) * t_in + t_out - 1) // t_out
    width = int((hi - lo).max())
    # gather every bin as `width` rows, repeating its last row where the bin is shorter
    rows = np.minimum(lo[:, None] + np.arange(width), hi[:, None] - 1)
    return x[rows].max(axis=1)


def crosstask_audio_windows(spec: np.ndarray, T: int, window_s: float = 8.0,
                            n_frames: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """One ``window_s``-second audio window per 1-s segment (reference §6.6 step 2).

    Segment i gets ``[i-4, i+4]`` s, or ``[0, 8]`` if ``i < 4``, or ``[T-8, T]`` if ``i > T-4``
    (for an 8 s window); a start below 0 is clamped to 0. Frames via :func:`time_to_frames`,
    truncated/zero-padded to ``n_frames``.
    Returns ``windows [T, 40, n_frames]`` float32 and ``nframes [T]`` int64.
    """
    spec = np.asarray(spec, np.float32)
    half = window_s / 2
    i = np.arange(T, dtype=np.float64)
    start = np.where(i < half, 0.0, np.where(i > T - half, T - window_s, i - half))
    end = start + window_s
    f0 = np.maximum(time_to_frames(start), 0)
    f1 = np.minimum(np.maximum(time_to_frames(end), 0), spec.shape[1])
    nframes = np.clip(f1 - f0, 0, n_frames)
    cols = f0[:, None] + np.arange(n_frames)                      # [T, n_frames]
    valid = np.arange(n_frames)[None, :] < nframes[:, None]
    if spec.shape[1] == 0:
        return np.zeros((T, spec.shape[0], n_frames), np.float32), nframes.astype(np.int64)
    windows = spec[:, np.minimum(cols, spec.shape[1] - 1)]      # [40, T, n_frames]
    windows = np.where(valid[None], windows, 0.0).transpose(1, 0, 2)
    return np.ascontiguousarray(windows, dtype=np.float32), nframes.astype(np.int64)
