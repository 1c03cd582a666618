"""Mining YouTube (eval_protocols §2.1) under ``<root>/mining_youtube/``.

    weakYouTube_dict.txt        class names, one per line (real: 513, ``background`` last)
    videos_test.txt             test ids (real: 249); videos_val.txt (optional, 25)
    annotations/<vid>.srt       segments: index / ``hh:mm:ss,mmm --> hh:mm:ss,mmm`` / label
    features/<vid>_2d.npy, <vid>_3d.npy   [T2d, Dh] at 1 fps, [T3d, Dh] at 1.5 fps
    audio/<vid>.npz             key ``arr_0``, [40, frames] at 100 frames/s

The real .srt files start with a UTF-8 BOM (248 of 250), use CRLF or LF line ends, and some
labels carry a trailing space. Frames outside every segment are background.

Label normalisation. 260 of the 690 distinct real ``.srt`` labels (1,234 of 5,132 segments) are
not dictionary classes (``crack_eggs``, ``pour_egg_whites``, ``using_spatula``). The dataset's
classes are ``verb_object`` pairs of crudely stemmed words (``add_asparagu``, ``pres_egg``,
``add_topp``) and its sample ground truth maps ``crack_eggs -> crack_egg`` and
``pour_egg_whites -> pour_egg``. :class:`LabelMap` maps every label, first rule that gives a
dictionary class wins:

1. ``exact``: the label is a class;
2. ``inflection``: accents folded, lower case, then each ``_`` word replaced by one of its
   :func:`word_forms` (plural ``s`` / ``es`` / ``ies``, ``-ing``, ``-ed`` stripped);
   the first combination (in :func:`itertools.product` order) that is a class;
3. ``head``: for labels of three or more words, the verb and the first object word alone,
   inflected as in 2 (``pour_egg_whites -> pour_egg``), as the dictionary was built;
4. ``table``: the explicit table ``mining_youtube_labels.tsv`` shipped with the package
   (pronouns ``them -> it``, misspellings ``omellete``; read from all 260 real labels);

and a label no rule maps becomes ``background`` (counted; :func:`label_report`).
"""
from __future__ import annotations

import itertools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
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


# ----------------------------------------------------------------------------- label normalisation

LABEL_TABLE = "mining_youtube_labels.tsv"  # package data of mcnbench.data
LABEL_RULES = ("exact", "inflection", "head", "table")
UNMAPPED = "background"  # the "rule" of a label that no rule maps


def word_forms(word: str) -> list[str]:
    """Candidate base forms of one label word, the word itself first, then (in this order):
    for a final ``s``: without it (``eggs -> egg``; also the dictionary's own crude stems
    ``asparagus -> asparagu``, ``press -> pres``), without ``es`` (``tomatoes -> tomato``),
    ``ies -> y``; for a final ``ings`` / ``ing`` / ``ed``: the stem, the stem + ``e`` and the
    stem with a doubled final consonant undone (``toppings -> topp``, ``using -> use``,
    ``stirring -> stir``, ``scrambled -> scramble``). Forms shorter than 2 letters are left out.
    """
    out = [word]

    def add(form: str) -> None:
        if len(form) >= 2 and form not in out:
            out.append(form)

    if word.endswith("s"):
        add(word[:-1])
        if word.endswith("es"):
            add(word[:-2])
        if word.endswith("ies"):
            add(word[:-3] + "y")
    for suffix in ("ings", "ing", "ed"):
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            add(stem)
            add(stem + "e")
            if len(stem) >= 3 and stem[-1] == stem[-2]:
                add(stem[:-1])
            break
    return out


def fold_label(label: str) -> str:
    """Lower case, accents dropped (``sauté_it -> saute_it``), surrounding space stripped."""
    decomposed = unicodedata.normalize("NFKD", label.strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def read_label_table(path: str | Path | None = None) -> dict[str, str]:
    """The explicit ``label -> class`` table: tab-separated ``label``, ``class``, ``note`` after
    a header line; ``#`` lines are comments. ``path=None`` reads the one shipped with the
    package (``mcnbench/data/mining_youtube_labels.tsv``)."""
    if path is None:
        res = resources.files("mcnbench.data").joinpath(LABEL_TABLE)
        text, where = res.read_text(encoding="utf-8"), Path(str(res))
    else:
        where = Path(path)
        text = _text(where)
    table: dict[str, str] = {}
    header_seen = False
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.rstrip("\n").split("\t")
        if not header_seen:
            if cols[:2] != ["label", "class"]:
                raise DataError(where, f"line {n}",
                                f"expected the header 'label<TAB>class<TAB>note', got {line!r}")
            header_seen = True
            continue
        if len(cols) < 2 or not cols[0].strip() or not cols[1].strip():
            raise DataError(where, f"line {n}", f"expected 'label<TAB>class[<TAB>note]', got {line!r}")
        label, cls = cols[0].strip(), cols[1].strip()
        if label in table:
            raise DataError(where, f"line {n}", f"label {label!r} listed twice")
        table[label] = cls
    return table


class LabelMap:
    """Maps ``.srt`` labels to dictionary classes by the rules of the module doc.

    ``classes``: the class dictionary (names as loaded). ``table``: the explicit table
    (default: the packaged one); an entry whose class is not in ``classes`` is not used (the
    table is written for the real dictionary). ``label_map(label) -> (class or None, rule)``
    with ``rule`` in :data:`LABEL_RULES`, or :data:`UNMAPPED` with class None. Deterministic:
    the same label and dictionary always give the same class.
    """

    def __init__(self, classes: list[str], table: dict[str, str] | None = None):
        self.classes = frozenset(classes)
        raw = read_label_table() if table is None else table
        self.table = {fold_label(k): v for k, v in raw.items() if v in self.classes}
        self._cache: dict[str, tuple[str | None, str]] = {}

    def __call__(self, label: str) -> tuple[str | None, str]:
        hit = self._cache.get(label)
        if hit is None:
            hit = self._cache[label] = self._map(label)
        return hit

    def _first_class(self, words: list[str]) -> str | None:
        for combo in itertools.product(*(word_forms(w) for w in words)):
            name = "_".join(combo)
            if name in self.classes:
                return name
        return None

    def _map(self, label: str) -> tuple[str | None, str]:
        if label in self.classes:
            return label, "exact"
        folded = fold_label(label)
        words = [w for w in folded.split("_") if w]
        if words:
            cls = self._first_class(words)
            if cls is not None:
                return cls, "inflection"
            if len(words) >= 3:
                cls = self._first_class(words[:2])
                if cls is not None:
                    return cls, "head"
        if folded in self.table:
            return self.table[folded], "table"
        return None, UNMAPPED


def label_report(annotations: dict[str, list[Segment]], label_map: LabelMap,
                 videos: list[str] | None = None) -> dict:
    """How the labels of ``videos`` (default: every annotated video) were mapped.

    Returns ``{"segments": {rule: n}, "labels": {rule: n}, "unmapped": [labels],
    "mapped": {label: class}}`` over the rules of :data:`LABEL_RULES` plus ``"background"``
    (labels no rule maps); ``mapped`` lists every label that is not an exact class.
    """
    vids = list(annotations) if videos is None else videos
    rules = (*LABEL_RULES, UNMAPPED)
    seg_counts = dict.fromkeys(rules, 0)
    label_rule: dict[str, str] = {}
    mapped: dict[str, str] = {}
    for vid in vids:
        for seg in annotations[vid]:
            cls, rule = label_map(seg.label)
            seg_counts[rule] += 1
            label_rule[seg.label] = rule
            if rule != "exact" and cls is not None:
                mapped[seg.label] = cls
    label_counts = dict.fromkeys(rules, 0)
    for rule in label_rule.values():
        label_counts[rule] += 1
    return {"segments": seg_counts, "labels": label_counts,
            "unmapped": sorted(lab for lab, r in label_rule.items() if r == UNMAPPED),
            "mapped": dict(sorted(mapped.items()))}


def segments_to_frame_labels(segments: list[Segment], n_frames: int, fps: float,
                             classes: list[str], background: str = "background",
                             unknown: str = "error", path: str | Path | None = None,
                             label_map: LabelMap | None = None, edges: str = "ceil") -> np.ndarray:
    """Per-frame class ids ``[n_frames]`` int64 from segments.

    Frame f spans ``[f/fps, (f+1)/fps)`` and gets a segment's label when its start time lies in
    ``[start, end)``: frames ``ceil(start·fps)`` .. ``ceil(end·fps)-1``. ``edges="official"``
    instead takes frames ``round(start·fps)-1`` .. ``round(end·fps)-1`` (halves rounded up),
    the convention of the dataset's per-frame GT (a 1-based frame number rounded from the
    time); it differs by at most one frame per edge. Other frames are
    ``background``; a later segment overwrites an earlier overlapping one. A label not in
    ``classes``: ``unknown="error"`` raises DataError, ``"background"`` maps it to background,
    ``"ignore"`` marks its frames -1, ``"normalise"`` maps it with ``label_map`` (default
    ``LabelMap(classes)``, see the module doc) and to background when no rule applies. (The
    real .srt labels are not all in the class dict, e.g. ``crack_eggs`` vs ``crack_egg``.)
    """
    if unknown not in ("error", "background", "ignore", "normalise"):
        raise ValueError(f"unknown={unknown!r}; use 'error', 'background', 'ignore' or 'normalise'")
    if edges not in ("ceil", "official"):
        raise ValueError(f"edges={edges!r}; use 'ceil' or 'official'")
    index = {c: k for k, c in enumerate(classes)}
    if background not in index:
        raise DataError(path, None, f"background class {background!r} not in the class list")
    if unknown == "normalise" and label_map is None:
        label_map = LabelMap(classes)
    labels = np.full(n_frames, index[background], dtype=np.int64)
    for k, seg in enumerate(segments, start=1):
        cls = index.get(seg.label)
        if cls is None and unknown == "normalise":
            name = label_map(seg.label)[0]
            cls = index[background if name is None else name]
        if cls is None:
            if unknown == "error":
                raise DataError(path, f"entry {k}", f"label {seg.label!r} is not a known class")
            cls = index[background] if unknown == "background" else -1
        if edges == "ceil":
            lo, hi = math.ceil(seg.start_s * fps), math.ceil(seg.end_s * fps)
        else:
            lo, hi = math.floor(seg.start_s * fps + 0.5) - 1, math.floor(seg.end_s * fps + 0.5)
        labels[max(lo, 0):min(hi, n_frames)] = cls
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

    def frame_labels(self, video_id: str, n_frames: int, fps: float = 1.0,
                     unknown: str = "normalise", label_map: LabelMap | None = None,
                     edges: str = "ceil") -> np.ndarray:
        """``[n_frames]`` int64 class ids of one annotated video (:func:`segments_to_frame_labels`,
        labels normalised by default)."""
        if unknown == "normalise" and label_map is None:
            label_map = self.label_map()
        return segments_to_frame_labels(self.annotations[video_id], n_frames, fps, self.classes,
                                        unknown=unknown, label_map=label_map, edges=edges,
                                        path=self.root / "annotations" / f"{video_id}.srt")

    def label_map(self, table: dict[str, str] | None = None) -> LabelMap:
        """A :class:`LabelMap` over this dictionary (the packaged table unless ``table``)."""
        return LabelMap(self.classes, table)

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
