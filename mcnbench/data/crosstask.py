"""The CrossTask release (eval_protocols §1.1-1.3) under ``<root>/crosstask/``.

    crosstask_release/tasks_primary.txt    task cards: id, title, url, K, "step,step,...", blank
    crosstask_release/tasks_related.txt    same (optional; related tasks have no annotations)
    crosstask_release/videos.csv           task_id,video_id,url (no header)
    crosstask_release/videos_val.csv       same
    crosstask_release/annotations/<task>_<vid>.csv   step,start,end (1-based step, seconds)
    test_split.csv                         frozen test list, header ``task,video_id``
    features/<vid>_2d.npy, <vid>_3d.npy    [T2d, Dh] at 1 fps, [T3d, Dh] at 1.5 fps
    audio/<vid>.npz                        key ``arr_0``, [40, frames] at 100 frames/s
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mcnbench.data.errors import DataError
from mcnbench.data.features import load_spectrogram
from mcnbench.data.widths import dataset_half_dim, load_feature_pair
from mcnbench.utils.io import atomic_write_text, sha256_file


@dataclass
class TaskCard:
    """One task: ``steps`` are the K step names in canonical order (step k is ``steps[k-1]``)."""

    id: str
    title: str
    url: str
    n_steps: int
    steps: list[str]


class CrossTaskVideo(NamedTuple):
    task: str
    video_id: str
    url: str


class StepSegment(NamedTuple):
    step: int      # 1-based
    start: float   # seconds
    end: float


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(path, None, f"not UTF-8 text ({exc.reason})") from None


def read_task_cards(path: str | Path) -> dict[str, TaskCard]:
    """Task cards in file order: blocks of 5 lines (id, title, url, K, comma-separated steps),
    each followed by one separator line. Checks K == number of steps and unique ids."""
    path = Path(path)
    lines = _lines(path)
    cards: dict[str, TaskCard] = {}
    i = 0
    while i < len(lines):
        if not lines[i].strip():  # separator (the official reader skips exactly one line)
            i += 1
            continue
        block = [ln.strip() for ln in lines[i:i + 5]]
        item = f"line {i + 1} (task {block[0]!r})"
        if len(block) < 5:
            raise DataError(path, item, f"incomplete task card: {len(block)} of 5 lines")
        task_id, title, url, k_text, steps_text = block
        try:
            k = int(k_text)
        except ValueError:
            raise DataError(path, f"line {i + 4} (task {task_id!r})",
                            f"number of steps {k_text!r} is not an integer") from None
        steps = [s.strip() for s in steps_text.split(",")]
        if k < 1 or len(steps) != k or not all(steps):
            raise DataError(path, f"line {i + 5} (task {task_id!r})",
                            f"{len(steps)} step names for K={k}: {steps_text!r}")
        if task_id in cards:
            raise DataError(path, item, "duplicate task id")
        cards[task_id] = TaskCard(task_id, title, url, k, steps)
        i += 5
    if not cards:
        raise DataError(path, None, "no task cards")
    return cards


def read_video_list(path: str | Path) -> list[CrossTaskVideo]:
    """``task_id,video_id,url`` lines (no header) in file order."""
    path = Path(path)
    out = []
    for n, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.strip().split(",", 2)]
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise DataError(path, f"line {n}", f"expected task_id,video_id,url, got {line!r}")
        out.append(CrossTaskVideo(*parts))
    return out


def read_annotation(path: str | Path, n_steps: int | None = None) -> list[StepSegment]:
    """``step,start,end`` lines -> segments; checks 1 ≤ step ≤ n_steps and 0 ≤ start ≤ end."""
    path = Path(path)
    out = []
    for n, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        parts = line.split(",")
        try:
            if len(parts) != 3:
                raise ValueError
            step, start, end = int(parts[0]), float(parts[1]), float(parts[2])
        except ValueError:
            raise DataError(path, f"line {n}", f"expected step,start,end, got {line!r}") from None
        if step < 1 or (n_steps is not None and step > n_steps):
            raise DataError(path, f"line {n}", f"step {step} outside 1..{n_steps or 'K'}")
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or start > end:
            raise DataError(path, f"line {n}", f"bad times start={start} end={end} "
                            "(need finite 0 <= start <= end)")
        out.append(StepSegment(step, start, end))
    return out


def annotation_matrix(segments: list[StepSegment], T: int, K: int) -> np.ndarray:
    """Ground truth ``[T, K]`` uint8 (eval_protocols §1.3): for each segment set rows
    ``floor(start)`` .. ``ceil(end)-1`` of column ``step-1``; rows past T are dropped."""
    y = np.zeros((T, K), np.uint8)
    for s in segments:
        y[math.floor(s.start):math.ceil(s.end), s.step - 1] = 1
    return y


def read_test_split(path: str | Path) -> list[tuple[str, str]]:
    """The frozen test list: header ``task,video_id``, then one pair per line."""
    path = Path(path)
    lines = _lines(path)
    if not lines or [c.strip() for c in lines[0].split(",")] != ["task", "video_id"]:
        raise DataError(path, "line 1", "expected the header 'task,video_id'")
    out = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 2 or not all(parts):
            raise DataError(path, f"line {n}", f"expected task,video_id, got {line!r}")
        out.append((parts[0], parts[1]))
    if len(set(out)) != len(out):
        raise DataError(path, None, "duplicate (task, video_id) pairs")
    return out


def write_test_split(path: str | Path, split: list[tuple[str, str]]) -> str:
    """Write the test list atomically; returns its sha256 (records carry it)."""
    text = "task,video_id\n" + "".join(f"{t},{v}\n" for t, v in split)
    return sha256_file(atomic_write_text(path, text))


@dataclass
class CrossTaskRelease:
    """What is on disk for CrossTask; per-video data is read on demand.

    tasks: primary task cards (the 18 evaluated tasks for real data), file order;
    related: related task cards ({} when the file is absent); videos / val_videos: the lists;
    annotations: (task, video_id) -> csv path, for the files that exist;
    test_split: the frozen list, or None when ``test_split.csv`` is absent.
    """

    root: Path
    tasks: dict[str, TaskCard]
    related: dict[str, TaskCard]
    videos: list[CrossTaskVideo]
    val_videos: list[CrossTaskVideo]
    annotations: dict[tuple[str, str], Path]
    test_split: list[tuple[str, str]] | None = None
    test_split_sha256: str | None = None
    info: dict = field(default_factory=dict)

    @property
    def test_split_path(self) -> Path:
        return self.root / "test_split.csv"

    def feature_path(self, video_id: str, kind: str) -> Path:
        """``kind`` is ``"2d"`` or ``"3d"``."""
        return self.root / "features" / f"{video_id}_{kind}.npy"

    def audio_path(self, video_id: str) -> Path:
        return self.root / "audio" / f"{video_id}.npz"

    def has_features(self, video_id: str) -> bool:
        return all(self.feature_path(video_id, k).is_file() for k in ("2d", "3d"))

    def load_annotation(self, task: str, video_id: str) -> list[StepSegment]:
        path = self.annotations.get((task, video_id))
        if path is None:
            raise DataError(self.root / "crosstask_release" / "annotations",
                            f"{task}_{video_id}.csv", "annotation file not found")
        return read_annotation(path, self.tasks[task].n_steps if task in self.tasks else None)

    @cached_property
    def half_dim(self) -> tuple[int, str] | None:
        """(Dh every feature file must have, where that comes from), or None if unknown."""
        return dataset_half_dim(self.root)

    def load_video(self, video_id: str) -> tuple[np.ndarray, np.ndarray]:
        """2D ``[T2d, Dh]`` and 3D ``[T3d, Dh]`` float32 features (a file of another width is
        named in the error)."""
        return load_feature_pair(self.feature_path(video_id, "2d"),
                                 self.feature_path(video_id, "3d"), self.half_dim)

    def load_audio(self, video_id: str) -> np.ndarray:
        """Log-mel spectrogram ``[40, frames]`` float32."""
        return load_spectrogram(self.audio_path(video_id))


def load_crosstask(root: str | Path) -> CrossTaskRelease:
    """Read the CrossTask lists and index the annotations under ``root`` (a data root, or its
    ``crosstask/`` folder). Features and audio are read later, per video."""
    root = Path(root)
    if (root / "crosstask").is_dir():
        root = root / "crosstask"
    rel = root / "crosstask_release"
    if not rel.is_dir():
        raise DataError(rel, None, "CrossTask release folder not found")
    tasks = read_task_cards(rel / "tasks_primary.txt")
    related_path = rel / "tasks_related.txt"
    related = read_task_cards(related_path) if related_path.is_file() else {}
    videos = read_video_list(rel / "videos.csv")
    val_videos = read_video_list(rel / "videos_val.csv")
    ann_dir = rel / "annotations"
    annotations = {}
    if ann_dir.is_dir():
        for p in ann_dir.glob("*.csv"):
            task, sep, vid = p.stem.partition("_")  # task ids have no "_"; YouTube ids may
            if sep:
                annotations[(task, vid)] = p
    split = sha = None
    split_path = root / "test_split.csv"
    if split_path.is_file():
        split = read_test_split(split_path)
        sha = sha256_file(split_path)
        unknown = [(t, v) for t, v in split if t not in tasks]
        if unknown:
            raise DataError(split_path, f"task {unknown[0][0]!r}", "not a primary task")
    info = {"n_primary_tasks": len(tasks), "n_videos": len(videos),
            "n_val_videos": len(val_videos), "n_annotations": len(annotations)}
    return CrossTaskRelease(root, tasks, related, videos, val_videos, annotations, split, sha,
                            info)


def make_test_split(release: CrossTaskRelease, n_train: int = 30, seed: int = 0
                    ) -> tuple[list[tuple[str, str]], dict]:
    """The MMPT "official-seed-0" test list (eval_protocols §1.2).

    Videos of ``videos.csv`` lacking an annotation or 2D/3D features are dropped first (as
    MMPT's ``_get_vids`` does, so the draw depends on what is present), then those listed in
    ``videos_val.csv``. For each primary task with more than ``n_train`` videos, in the order
    tasks first appear in ``videos.csv``, ``n_train`` training videos are drawn with
    ``RandomState(seed).choice(..., replace=False)`` (the same stream as ``np.random.seed``);
    the rest are the test set. Returns ``(pairs, info)``; info counts what was dropped.
    """
    rng = np.random.RandomState(seed)
    val = {(v.task, v.video_id) for v in release.val_videos}
    per_task: dict[str, list[str]] = {}
    n_no_annotation = n_no_features = 0
    for v in release.videos:
        if (v.task, v.video_id) not in release.annotations:
            n_no_annotation += v.task in release.tasks
            continue
        if not release.has_features(v.video_id):
            n_no_features += 1
            continue
        per_task.setdefault(v.task, []).append(v.video_id)
    n_val = 0
    for task, vids in per_task.items():
        kept = [vid for vid in vids if (task, vid) not in val]
        n_val += len(vids) - len(kept)
        per_task[task] = kept
    split: list[tuple[str, str]] = []
    skipped_tasks = []
    for task, vids in per_task.items():
        if task not in release.tasks:
            continue
        if len(vids) <= n_train:
            skipped_tasks.append(task)
            continue
        train = set(rng.choice(vids, n_train, replace=False).tolist())
        split.extend((task, vid) for vid in vids if vid not in train)
    info = {"recipe": "mmpt-seed", "seed": seed, "n_train": n_train, "n_test": len(split),
            "n_dropped_no_annotation": n_no_annotation, "n_dropped_no_features": n_no_features,
            "n_dropped_val": n_val, "tasks_without_test_videos": skipped_tasks}
    return split, info
