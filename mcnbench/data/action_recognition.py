"""MCN's zero-shot action-recognition pickles: ``UCF101_data.pkl`` and ``HMDB_data.pkl``
(mcn_spec §6.8; written by MCN's ``gen_loader.py``, read by ``ucf_dataloader.py`` /
``hmdb_dataloader.py``).

Each is a list of dicts, one per video::

    "2d", "3d"                 float [T, Dh] full-resolution features (2D ResNet-152, 3D ResNeXt)
    "2d_pooled", "3d_pooled"   float [Dh], the mean over time of "2d" / "3d" (not the max)
    "class"                    the class name: UCF-101 CamelCase ("ApplyEyeMakeup"), HMDB-51
                               snake_case ("brush_hair")
    "video"                    the video's name (the feature file name without "2d.npy", so it
                               ends in "_": "v_ApplyEyeMakeup_g01_c01_")
    "training"                 UCF 0/1 (trainlist01), HMDB 0/1/2 (split 1: test/train/unused)
    UCF only: "audio"          float [40, n] log-mel spectrogram, or zeros [40, 1] without audio
    UCF only: "has_audio"      0/1

Class texts are made as the official loaders make them (:func:`ucf_class_text`,
:func:`hmdb_class_text`). Read with :func:`load_action_pickle`, which goes through the safe
unpickler and validates every item (a :class:`DataError` names the file, the item and the
problem).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcnbench.data.errors import DataError
from mcnbench.data.features import check_array
from mcnbench.data.prep import video_input
from mcnbench.data.safe_pickle import safe_load

AUDIO_BANDS = 40
DATASETS = ("ucf101", "hmdb51")
TRAINING_VALUES = {"ucf101": (0, 1), "hmdb51": (0, 1, 2)}
POOLINGS = ("mean", "max")
# the one spelling fix of MCN's HMDB loader (hmdb_dataloader.name_to_stringlist)
HMDB_FIXES = {"claping": "clapping"}


def ucf_class_text(name: str) -> str:
    """A UCF-101 class name split at its capitals, lower-cased: ``"ApplyEyeMakeup"`` →
    ``"apply eye makeup"`` (MCN ``ucf_dataloader.name_to_stringlist``).

    The official split starts at the first capital, so a name starting in lower case would
    lose its first word; here that prefix is kept (no UCF-101 class starts in lower case, so
    the published classes are unaffected).
    """
    words = re.findall(r"[A-Z][^A-Z]*", name)
    head = name[: len(name) - len("".join(words))] if words else name
    return " ".join(w.lower() for w in ([head] if head else []) + words)


def hmdb_class_text(name: str) -> str:
    """An HMDB-51 class name split at ``_``: ``"brush_hair"`` → ``"brush hair"``, and the
    official loader's one fix ``"claping"`` → ``"clapping"``."""
    if name in HMDB_FIXES:
        return HMDB_FIXES[name]
    return " ".join(name.split("_"))


CLASS_TEXT = {"ucf101": ucf_class_text, "hmdb51": hmdb_class_text}


@dataclass
class ActionSet:
    """A zero-shot action-recognition set (row i of each field is video i).

    videos:    N video names (unique)
    classes:   C class names, sorted (the official loaders sort them; label = index here)
    labels:    [N] int64 class index
    video:     [N, 2Dh] float32 model input (2D ‖ 3D pooled, each half L2-normalised)
    audio:     N arrays [40, n] float32 (UCF), or None (HMDB: no audio)
    has_audio: [N] bool (all False without audio)
    training:  [N] int64 split flag as stored (unused by the full-dataset protocol)
    """

    dataset: str
    videos: list[str]
    classes: list[str]
    labels: np.ndarray
    video: np.ndarray
    audio: list[np.ndarray] | None
    has_audio: np.ndarray
    training: np.ndarray
    path: Path | None = None
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.videos)

    @property
    def class_texts(self) -> list[str]:
        return [CLASS_TEXT[self.dataset](c) for c in self.classes]


def _int_flag(value, path, label, key, allowed) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)) \
            or float(value) not in allowed:
        raise DataError(path, f"{label} key {key!r}", f"expected one of {list(allowed)}, "
                        f"got {value!r}")
    return int(value)


def load_action_pickle(path: str | Path, dataset: str, *, pooling: str = "mean") -> ActionSet:
    """Read and validate ``UCF101_data.pkl`` (``dataset="ucf101"``) or ``HMDB_data.pkl``
    (``"hmdb51"``).

    pooling: ``mean`` uses the stored ``*_pooled`` features (what MCN evaluates on); ``max``
    pools the full-resolution ``2d`` / ``3d`` rows by their maximum instead, the pooling of the
    clip features MCN is trained on.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    path = Path(path)
    items = safe_load(path)
    if not isinstance(items, (list, tuple)):
        raise DataError(path, None, f"expected a list of video dicts, got {type(items).__name__}")
    if not items:
        raise DataError(path, None, "no videos in the file")
    ucf = dataset == "ucf101"
    required = ("2d", "3d", "2d_pooled", "3d_pooled", "class", "video", "training") + (
        ("audio", "has_audio") if ucf else ())
    names, classes, halves, audio, has_audio, training = [], [], ([], []), [], [], []
    seen: dict[str, int] = {}
    not_mean: list[str] = []
    dh = None
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise DataError(path, f"item {i}", f"expected a dict, got {type(item).__name__}")
        name = item.get("video")
        label = f"item {i} (video {name!r})"
        missing = [k for k in required if k not in item]
        if missing:
            raise DataError(path, label, f"missing key(s) {missing} (has {sorted(item)})")
        if not isinstance(name, str) or not name:
            raise DataError(path, label, "key 'video': expected a non-empty string")
        if name in seen:
            raise DataError(path, label, f"duplicate video (first at item {seen[name]})")
        seen[name] = i
        cls = item["class"]
        if not isinstance(cls, str) or not cls.strip():
            raise DataError(path, f"{label} key 'class'", f"expected a class name, got {cls!r}")
        for half, key in zip(halves, ("2d", "3d"), strict=True):
            full = check_array(item[key], path, f"{label} key {key!r}", ndim=2)
            pooled = check_array(item[f"{key}_pooled"], path, f"{label} key {key + '_pooled'!r}",
                                 ndim=1, axis_name="dim")
            dh = pooled.shape[0] if dh is None else dh
            for k, arr in ((f"{key}_pooled", pooled), (key, full)):
                if arr.shape[-1] != dh:
                    raise DataError(path, f"{label} key {k!r}", f"width {arr.shape[-1]}, expected "
                                    f"{dh} like item 0 (2d and 3d must match)")
            if not np.allclose(pooled, full.mean(axis=0), rtol=1e-3, atol=1e-5):
                not_mean.append(f"{label} key {key + '_pooled'!r}")
            half.append(pooled if pooling == "mean" else full.max(axis=0))
        training.append(_int_flag(item["training"], path, label, "training",
                                  TRAINING_VALUES[dataset]))
        if ucf:
            has = _int_flag(item["has_audio"], path, label, "has_audio", (0, 1))
            audio.append(check_array(item["audio"], path, f"{label} key 'audio'", ndim=2,
                                     shape=(AUDIO_BANDS, None), axis_name="frame"))
            has_audio.append(bool(has))
        names.append(name)
        classes.append(cls)
    class_list = sorted(set(classes))
    index = {c: k for k, c in enumerate(class_list)}
    labels = np.array([index[c] for c in classes], dtype=np.int64)
    texts = [CLASS_TEXT[dataset](c) for c in class_list]
    dup = [t for t in set(texts) if texts.count(t) > 1]
    if dup:
        first = [c for c, t in zip(class_list, texts, strict=True) if t == dup[0]]
        raise DataError(path, f"classes {first}", f"give the same class text {dup[0]!r}")
    if not_mean:
        # accepted (the pooled features are what MCN evaluates on), but not what gen_loader writes
        warnings.warn(f"{path}: {len(not_mean)} pooled features are not the mean over time of "
                      f"the full-resolution ones (first: {not_mean[0]})", stacklevel=2)
    info = {"n_videos": len(names), "pooled_not_mean": len(not_mean),
            "n_classes": len(class_list), "video_half_dim": int(dh),
            "pooling": pooling, "videos_per_class": np.bincount(labels).tolist(),
            "training_counts": {str(v): training.count(v) for v in TRAINING_VALUES[dataset]},
            "n_with_audio": int(sum(has_audio))}
    return ActionSet(dataset, names, class_list, labels,
                     video_input(np.stack(halves[0]), np.stack(halves[1])),
                     audio if ucf else None,
                     np.array(has_audio if ucf else [False] * len(names), dtype=bool),
                     np.array(training, dtype=np.int64), path, info)
