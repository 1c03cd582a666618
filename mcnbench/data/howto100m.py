"""Readers for the HowTo100M-format pretraining corpus under ``<root>/howto100m/`` (reference
§2.1). The clip sampler that draws training items from it is in
:mod:`mcnbench.data.clip_sampler`.

    videopaths.csv                          header ``path``; rows ``category/video_x/<video_id>``
                                            (a leading ``None/`` is stripped)
    caption.pickle                          {video_id: {"start": float64[n], "end": float64[n],
                                                         "text": object[n] of str}}
    features/<path>/<video_id>_2d.npz       key ``features``, [T2d, Dh] at 1 fps
    features/<path>/<video_id>_3d.npz       key ``features``, [T3d, Dh] at 1.5 fps
    audio/<path>/<video_id>_spec.npz        key ``arr_0``, float16 [40, F] at 100 frames/s

``<path>`` is the csv row itself, so a video's files sit in a folder named after it.

:func:`is_heldout` splits the corpus into training and validation videos by a hash of the video id
(no file of the corpus changes; the training monitor of :mod:`mcnbench.training.monitor` uses it).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcnbench.data.errors import DataError
from mcnbench.data.milnce_csv import read_text_csv
from mcnbench.data.safe_pickle import safe_load


def howto_dir(root: str | Path) -> Path:
    """``root/howto100m`` when ``root`` is a data root, else ``root`` itself."""
    root = Path(root)
    return root / "howto100m" if (root / "howto100m").is_dir() else root


def read_video_paths(path: str | Path) -> list[tuple[str, str]]:
    """``(path, video_id)`` per row of the video list, in file order.

    A leading ``None/`` is stripped (official loader); ``video_id`` is the last path component.
    Raises DataError for a missing ``path`` column, an empty row or a repeated video id.
    """
    path, df = read_text_csv(path, ("path",))
    out: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(df["path"].tolist(), start=2):
        rel = clean_video_path(raw)
        vid = rel.rsplit("/", 1)[-1]
        if not vid:
            raise DataError(path, f"line {n}", f"empty video path {raw!r}")
        if vid in seen:
            raise DataError(path, f"line {n}", f"video id {vid!r} repeats line {seen[vid]}")
        seen[vid] = n
        out.append((rel, vid))
    return out


def clean_video_path(raw: str) -> str:
    """A videopaths.csv row as a relative path: slashes trimmed, a leading ``None/`` removed."""
    rel = str(raw).strip().strip("/")
    return rel[len("None/"):] if rel.startswith("None/") else rel


SPLIT_SALT = "mcnbench-val-1"  # change only with a new split: it moves every video


def split_key(video_id: str) -> float:
    """A number in [0, 1) that depends only on ``video_id`` (BLAKE2b of the id and a fixed
    salt): the same on every machine, Python version and process, whatever else the corpus
    holds."""
    digest = hashlib.blake2b(f"{SPLIT_SALT}\0{video_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def is_heldout(video_id: str, fraction: float) -> bool:
    """Whether ``video_id`` is in the held-out (validation) part of a ``fraction`` split.

    Each video is held out independently with probability ``fraction`` (so the held-out count
    is binomial around ``fraction · n``). A video's side never changes when videos are added or
    removed, and a larger fraction only adds videos to the held-out part.
    """
    return split_key(video_id) < fraction


def feature_paths(root: str | Path, rel_path: str) -> tuple[Path, Path]:
    """The 2D and 3D feature files of the video at csv row ``rel_path``."""
    vid = rel_path.rstrip("/").rsplit("/", 1)[-1]
    folder = howto_dir(root) / "features" / rel_path
    return folder / f"{vid}_2d.npz", folder / f"{vid}_3d.npz"


def spectrogram_path(root: str | Path, rel_path: str) -> Path:
    """The log-mel spectrogram file of the video at csv row ``rel_path``."""
    vid = rel_path.rstrip("/").rsplit("/", 1)[-1]
    return howto_dir(root) / "audio" / rel_path / f"{vid}_spec.npz"


@dataclass
class Captions:
    """One video's ASR captions: ``start``/``end`` float64 ``[n]`` seconds, ``text`` n strings."""

    start: np.ndarray
    end: np.ndarray
    text: list[str]

    def __len__(self) -> int:
        return len(self.text)


class CaptionDict(dict):
    """``{video_id: Captions}`` plus ``info``: n_videos, n_captions, n_empty_videos (no
    caption: the sampler cannot draw from them), n_unsorted_videos (starts not ascending; the
    official neighbour rule assumes time order, so this is reported, not fixed)."""

    info: dict


def _times(value, path: Path, item: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(path, item, "times are not numbers") from None
    if arr.ndim != 1:
        raise DataError(path, item, f"expected a 1-D array of times, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if len(bad):
        raise DataError(path, item, f"non-finite time at caption {bad[0]}")
    return arr


def load_captions(path: str | Path) -> CaptionDict:
    """Read ``caption.pickle`` through the safe unpickler and validate every video:
    keys ``start``/``end``/``text``, equal lengths, finite times, ``start <= end``, text
    strings."""
    path = Path(path)
    raw = safe_load(path, what="captions")
    if not isinstance(raw, dict):
        raise DataError(path, None, f"expected a dict video_id -> captions, got {type(raw).__name__}")
    out = CaptionDict()
    n_captions = n_empty = n_unsorted = 0
    for vid, cap in raw.items():
        item = f"video {vid!r}"
        if not isinstance(vid, str):
            raise DataError(path, item, "video id is not a string")
        if not isinstance(cap, dict):
            raise DataError(path, item, f"expected a dict with start/end/text, got "
                            f"{type(cap).__name__}")
        missing = [k for k in ("start", "end", "text") if k not in cap]
        if missing:
            raise DataError(path, item, f"missing key(s) {missing}")
        start = _times(cap["start"], path, f"{item} key 'start'")
        end = _times(cap["end"], path, f"{item} key 'end'")
        text = list(cap["text"])
        if not (len(start) == len(end) == len(text)):
            raise DataError(path, item, f"lengths differ: start {len(start)}, end {len(end)}, "
                            f"text {len(text)}")
        bad = np.flatnonzero(start > end)
        if len(bad):
            raise DataError(path, f"{item} caption {bad[0]}",
                            f"start {start[bad[0]]} is after end {end[bad[0]]}")
        not_str = [i for i, t in enumerate(text) if not isinstance(t, str)]
        if not_str:
            raise DataError(path, f"{item} caption {not_str[0]}",
                            f"text is {type(text[not_str[0]]).__name__}, not a string")
        n_captions += len(text)
        n_empty += not text
        n_unsorted += bool(np.any(np.diff(start) < 0))
        out[vid] = Captions(start, end, text)
    out.info = {"n_videos": len(out), "n_captions": n_captions, "n_empty_videos": n_empty,
                "n_unsorted_videos": n_unsorted}
    return out
