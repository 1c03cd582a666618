"""The AVLnet release pickles of the retrieval test sets (reference §6.2, §6.3).

``youcook_val_audio.pkl``: a list of dicts ``{"2d": [Dh], "3d": [Dh], "audio": [40, n],
"caption": str, "id": str}`` (clip-pooled features; ``id[:11]`` is the YouTube id).
``msrvtt_jsfusion_test.pkl``: a list of dicts ``{"id", "2d_pooled", "3d_pooled", "audio",
"eval_caption"}`` — 968 of the 1,000 1k-A test clips (those with audio).
``audio`` is a torch FloatTensor in the release and may be a numpy array in other copies.
Both are read through :func:`mcnbench.data.safe_pickle.safe_load` and validated item by item.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcnbench.data.errors import DataError
from mcnbench.data.features import check_array
from mcnbench.data.prep import video_input
from mcnbench.data.safe_pickle import safe_load

AUDIO_BANDS = 40


@dataclass
class ClipSet:
    """A retrieval test set, one caption per clip (row i of each field is clip i).

    ids:      N clip ids (unique)
    video:    [N, 2Dh] float32, 2D and 3D halves each L2-normalised, 2D first
    audio:    N arrays [40, n_i] float32, the whole clip's log-mel spectrogram
    captions: N strings (may be empty: they become all-zero text; see ``info``)
    path:     the pickle read
    info:     counts: n_items, n_empty_captions, n_empty_audio, video_half_dim
    """

    ids: list[str]
    video: np.ndarray
    audio: list[np.ndarray]
    captions: list[str]
    path: Path | None = None
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def audio_lengths(self) -> np.ndarray:
        """``[N]`` int64 frames per clip before any padding."""
        return np.array([a.shape[1] for a in self.audio], dtype=np.int64)

    def audio_batch(self, n_frames: int, *, clip_nframes: bool = True
                    ) -> tuple[np.ndarray, np.ndarray]:
        """All clips' audio zero-padded/truncated to ``[N, 40, n_frames]`` and ``nframes [N]``.

        ``clip_nframes=False`` keeps the original length as ``nframes`` even when it exceeds
        ``n_frames``, as the official YouCook2 loader does (reference §6.2).
        """
        out = np.zeros((len(self.audio), AUDIO_BANDS, n_frames), np.float32)
        for i, a in enumerate(self.audio):
            k = min(n_frames, a.shape[1])
            out[i, :, :k] = a[:, :k]
        lengths = self.audio_lengths
        return out, (np.minimum(lengths, n_frames) if clip_nframes else lengths)


def load_youcook2_pickle(path: str | Path) -> ClipSet:
    """YouCook2 validation clips from the AVLnet ``youcook_val_audio.pkl``."""
    return _load(path, video_keys=("2d", "3d"), caption_key="caption")


def load_msrvtt_pickle(path: str | Path) -> ClipSet:
    """MSR-VTT 1k-A test clips from the AVLnet ``msrvtt_jsfusion_test.pkl``."""
    return _load(path, video_keys=("2d_pooled", "3d_pooled"), caption_key="eval_caption")


def _load(path: str | Path, video_keys: tuple[str, str], caption_key: str) -> ClipSet:
    path = Path(path)
    items = safe_load(path)
    if not isinstance(items, (list, tuple)):
        raise DataError(path, None, f"expected a list of clip dicts, got {type(items).__name__}")
    if not items:
        raise DataError(path, None, "no clips in the file")
    required = ("id", *video_keys, "audio", caption_key)
    ids: list[str] = []
    halves: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    audio: list[np.ndarray] = []
    captions: list[str] = []
    seen: dict[str, int] = {}
    dh = None
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise DataError(path, f"item {i}", f"expected a dict, got {type(item).__name__}")
        clip_id = item.get("id")
        label = f"item {i} (id {clip_id!r})"
        missing = [k for k in required if k not in item]
        if missing:
            raise DataError(path, label, f"missing key(s) {missing} (has {sorted(item)})")
        if not isinstance(clip_id, str) or not clip_id:
            raise DataError(path, label, "key 'id': expected a non-empty string")
        if clip_id in seen:
            raise DataError(path, label, f"duplicate id (first at item {seen[clip_id]})")
        seen[clip_id] = i
        for half, key in zip(halves, video_keys, strict=True):
            vec = check_array(item[key], path, f"{label} key {key!r}", ndim=1,
                              axis_name="dim")
            if dh is None:
                dh = vec.shape[0]
            if vec.shape[0] != dh:
                raise DataError(path, f"{label} key {key!r}", f"length {vec.shape[0]}, "
                                f"expected {dh} like item 0 (2d and 3d must match)")
            half.append(vec)
        audio.append(check_array(item["audio"], path, f"{label} key 'audio'", ndim=2,
                                 shape=(AUDIO_BANDS, None), axis_name="frame"))
        caption = item[caption_key]
        if not isinstance(caption, str):
            raise DataError(path, f"{label} key {caption_key!r}",
                            f"expected a string caption, got {type(caption).__name__}")
        ids.append(clip_id)
        captions.append(caption)
    video = video_input(np.stack(halves[0]), np.stack(halves[1]))
    info = {
        "n_items": len(ids),
        "n_empty_captions": sum(not c.strip() for c in captions),
        "n_empty_audio": sum(a.shape[1] == 0 for a in audio),
        "video_half_dim": int(dh),
    }
    return ClipSet(ids, video, audio, captions, path, info)
