"""Mining YouTube (eval_protocols §2.1) under ``<root>/mining_youtube/``.

    weakYouTube_dict.txt        class names, one per line (real: 513, ``background`` last)
    videos_test.txt             test ids (real: 249); videos_val.txt (optional, 25)
    annotations/<vid>.srt       segments: index / ``hh:mm:ss,mmm --> hh:mm:ss,mmm`` / label
    features/<vid>_2d.npy, <vid>_3d.npy   [T2d, Dh] at 1 fps, [T3d, Dh] at 1.5 fps
    audio/<vid>.npz             key ``arr_0``, [40, frames] at 100 frames/s

The real .srt files start with a UTF-8 BOM (248 of 250), use CRLF or LF line ends, and some
labels carry a trailing space. Frames outside every segment are background.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mcnbench.data.errors import DataError
from mcnbench.data.features import load_spectrogram
from mcnbench.data.widths import dataset_half_dim, load_feature_pair

_TIME = r"(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})"
_TIME_LINE = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}\s*$")


class Segment(NamedTuple):
    start_s: float
    end_s: float
    label: str


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _seconds(h: str, m: str, s: str, frac: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + float(f"0.{frac}")


def read_srt(path: str | Path) -> list[Segment]:
    """Segments of one .srt file in file order (blank-line separated entries of index, time
    line, label). Labels are stripped; a multi-line label is joined by spaces."""
    path = Path(path)
    lines = _text(path).splitlines()
    out: list[Segment] = []
    i, entry = 0, 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        entry += 1
        first = i
        block = []
        while i < len(lines) and lines[i].strip():
            block.append(lines[i].strip())
            i += 1
        item = f"entry {entry} (line {first + 1})"
        if len(block) < 3:
            raise DataError(path, item, f"expected index, time line and label, got {block}")
        if not block[0].isdigit():
            raise DataError(path, item, f"index {block[0]!r} is not a number")
        m = _TIME_LINE.match(block[1])
        if not m:
            raise DataError(path, item, f"malformed time line {block[1]!r} "
                            "(expected 'hh:mm:ss,mmm --> hh:mm:ss,mmm')")
        start, end = _seconds(*m.groups()[:4]), _seconds(*m.groups()[4:])
        if end < start:
            raise DataError(path, item, f"end {block[1].split('-->')[1].strip()} is before start")
        out.append(Segment(start, end, " ".join(block[2:])))
    return out


def _names(path: Path) -> list[str]:
    return [ln.strip() for ln in _text(path).splitlines() if ln.strip()]


def read_class_dict(path: str | Path, background: str | None = "background") -> list[str]:
    """Class names in line order (class id = 0-based line), stripped; checks they are unique
    and, unless ``background`` is None, that the background class is the last one."""
    path = Path(path)
    names = _names(path)
    if not names:
        raise DataError(path, None, "no class names")
    seen: set[str] = set()
    for n, name in enumerate(names, start=1):
        if name in seen:
            raise DataError(path, f"line {n}", f"duplicate class {name!r}")
        seen.add(name)
    if background is not None and names[-1] != background:
        raise DataError(path, f"line {len(names)}",
                        f"last class is {names[-1]!r}, expected {background!r}")
    return names


def read_video_ids(path: str | Path) -> list[str]:
    """One id per line (``videos_test.txt`` / ``videos_val.txt``), duplicates removed in order."""
    return list(dict.fromkeys(_names(Path(path))))


def read_grammar(path: str | Path) -> list[str]:
    """The one-line ordered transcript, background segments included."""
    labels = _text(Path(path)).split()
    if not labels:
        raise DataError(path, None, "empty transcript")
    return labels


def read_gt(path: str | Path) -> list[str]:
    """Per-frame ground truth: one label name per line (one line per video frame)."""
    labels = [ln.strip() for ln in _text(Path(path)).splitlines()]
    while labels and not labels[-1]:
        labels.pop()
    if not labels or not all(labels):
        raise DataError(path, None if not labels else f"line {labels.index('') + 1}",
                        "empty label" if labels else "no frames")
    return labels


def segments_to_frame_labels(segments: list[Segment], n_frames: int, fps: float,
                             classes: list[str], background: str = "background",
                             unknown: str = "error", path: str | Path | None = None
                             ) -> np.ndarray:
    """Per-frame class ids ``[n_frames]`` int64 from segments.

    Frame f spans ``[f/fps, (f+1)/fps)`` and gets a segment's label when its start time lies in
    ``[start, end)``: frames ``ceil(start·fps)`` .. ``ceil(end·fps)-1``. Other frames are
    ``background``; a later segment overwrites an earlier overlapping one. A label not in
    ``classes``: ``unknown="error"`` raises DataError, ``"background"`` maps it to background,
    ``"ignore"`` marks its frames -1. (The real .srt labels are not all in the class dict,
    e.g. ``crack_eggs`` vs ``crack_egg``.)
    """
    if unknown not in ("error", "background", "ignore"):
        raise ValueError(f"unknown={unknown!r}; use 'error', 'background' or 'ignore'")
    index = {c: k for k, c in enumerate(classes)}
    if background not in index:
        raise DataError(path, None, f"background class {background!r} not in the class list")
    labels = np.full(n_frames, index[background], dtype=np.int64)
    for k, seg in enumerate(segments, start=1):
        cls = index.get(seg.label)
        if cls is None:
            if unknown == "error":
                raise DataError(path, f"entry {k}", f"label {seg.label!r} is not a known class")
            cls = index[background] if unknown == "background" else -1
        lo = max(math.ceil(seg.start_s * fps), 0)
        hi = min(math.ceil(seg.end_s * fps), n_frames)
        labels[lo:hi] = cls
    return labels


@dataclass
class MiningYouTube:
    """Mining YouTube on disk: classes, test ids and parsed annotations; features on demand.

    videos: test ids that have an annotation (the evaluated set), in ``videos_test.txt`` order;
    info counts test ids without annotation and annotations outside the test list.
    """

    root: Path
    classes: list[str]
    test_ids: list[str]
    val_ids: list[str]
    annotations: dict[str, list[Segment]]
    videos: list[str]
    info: dict = field(default_factory=dict)

    def feature_path(self, video_id: str, kind: str) -> Path:
        """``kind`` is ``"2d"`` or ``"3d"``."""
        return self.root / "features" / f"{video_id}_{kind}.npy"

    def audio_path(self, video_id: str) -> Path:
        return self.root / "audio" / f"{video_id}.npz"

    @cached_property
    def half_dim(self) -> tuple[int, str] | None:
        """(Dh every feature file must have, where that comes from), or None if unknown."""
        return dataset_half_dim(self.root)

    def load_video(self, video_id: str) -> tuple[np.ndarray, np.ndarray]:
        """2D ``[T2d, Dh]`` (1 fps) and 3D ``[T3d, Dh]`` (1.5 fps) float32 features."""
        return load_feature_pair(self.feature_path(video_id, "2d"),
                                 self.feature_path(video_id, "3d"), self.half_dim)

    def load_audio(self, video_id: str) -> np.ndarray:
        return load_spectrogram(self.audio_path(video_id))


def load_mining_youtube(root: str | Path) -> MiningYouTube:
    """Read the class dict, the test list and every .srt under ``root`` (a data root or its
    ``mining_youtube/`` folder)."""
    root = Path(root)
    if (root / "mining_youtube").is_dir():
        root = root / "mining_youtube"
    if not root.is_dir():
        raise DataError(root, None, "Mining YouTube folder not found")
    classes = read_class_dict(root / "weakYouTube_dict.txt")
    test_ids = read_video_ids(root / "videos_test.txt")
    val_path = root / "videos_val.txt"
    val_ids = read_video_ids(val_path) if val_path.is_file() else []
    ann_dir = root / "annotations"
    if not ann_dir.is_dir():
        raise DataError(ann_dir, None, "annotations folder not found")
    annotations = {p.stem: read_srt(p) for p in sorted(ann_dir.glob("*.srt"))}
    videos = [v for v in test_ids if v in annotations]
    info = {"n_test_ids": len(test_ids), "n_videos": len(videos),
            "n_test_without_annotation": len(test_ids) - len(videos),
            "n_annotations_not_in_test": len(set(annotations) - set(test_ids)),
            "n_classes": len(classes)}
    return MiningYouTube(root, classes, test_ids, val_ids, annotations, videos, info)
