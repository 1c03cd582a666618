"""Validate a data root, synthetic or real: run the loaders on every dataset folder present and,
for a synthetic root, verify every checksum in its manifest.

    report = check_root("/data/mcn")
    print(report.format());  report.ok  ->  bool

Each dataset is ``ok``, ``warn`` (usable, with the warnings ``eval`` prints for it),
``absent`` (not an error: a real root may hold only some datasets) or ``error`` with the
loader's one-line message. What is an error and what a warning is decided by the same rules the
tasks apply (:mod:`mcnbench.data.rules`, docs/errors.md), so ``eval`` fails exactly where this
check says ERROR. On a real root the per-video files of the corpus and of the localization sets
are sampled (``sample`` videos each); a synthetic root is read in full.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mcnbench.data import rules
from mcnbench.data.errors import DataError
from mcnbench.data.manifest import MANIFEST, read_manifest
from mcnbench.data.warnings import DataWarning, issue
from mcnbench.utils.io import sha256_file


@dataclass
class DatasetCheck:
    name: str
    status: str                  # "ok" | "warn" | "absent" | "error"
    detail: str = ""
    counts: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # the lines eval prints as warnings


@dataclass
class CheckReport:
    root: Path
    manifest: dict | None
    checks: list[DatasetCheck]

    @property
    def ok(self) -> bool:
        return all(c.status != "error" for c in self.checks)

    @property
    def synthetic(self) -> bool:
        return self.manifest is not None

    def status(self, name: str) -> str:
        return next(c.status for c in self.checks if c.name == name)

    def as_dict(self) -> dict:
        return {"root": str(self.root), "ok": self.ok, "synthetic": self.synthetic,
                "checks": [asdict(c) for c in self.checks]}

    def format(self) -> str:
        m = self.manifest
        kind = (f"synthetic: preset {m.get('preset')}, seed {m.get('seed')}, generator "
                f"v{m.get('generator_version')}" if m else "real (no manifest.json)")
        lines = [f"data root {self.root} ({kind})"]
        width = max(len(c.name) for c in self.checks)
        for c in self.checks:
            lines.append(f"  {c.name:<{width}}  {c.status.upper():<6}  {c.detail}")
            lines += [f"  {'':<{width}}  {'':<6}  warning: {w}" for w in c.warnings]
        n_warn = sum(len(c.warnings) for c in self.checks)
        lines.append("result: " + ("ERRORS (see above)" if not self.ok else
                                   f"ok, {n_warn} warning(s) (see above)" if n_warn else "ok"))
        return "\n".join(lines)


def _sampled(items: list, sample: int | None) -> list:
    return items if not sample or sample >= len(items) else items[:sample]


def _text_check(root: Path, texts: list[str], source: Path, what: str) -> dict:
    """The tasks' text rule on ``texts``: counts, and the zero-text warning eval would give."""
    stats = rules.text_stats(root / "word2vec.bin", texts, max_words=20, vectors=_vectors(root))
    issue(rules.zero_text(source, stats, what))
    return {"zero_text": stats["n_zero"], "texts": stats["n_sentences"]}


_VECTORS: dict[Path, object] = {}  # word2vec.bin read once per check_root call


def _vectors(root: Path):
    path = root / "word2vec.bin"
    if path not in _VECTORS:
        from mcnbench.data.word2vec import load_word2vec

        _VECTORS[path] = load_word2vec(path) if path.is_file() else None
    return _VECTORS[path]


def _word2vec(root: Path, sample):
    from mcnbench.data.word2vec import load_word2vec

    wv = _vectors(root) or load_word2vec(root / "word2vec.bin")  # absent: the loader's error
    return f"{len(wv)} words, dim {wv.dim}", {"words": len(wv), "dim": wv.dim}


def _howto100m(root: Path, sample):
    from mcnbench.data.features import load_npz_features, load_spectrogram
    from mcnbench.data.howto100m import feature_paths, load_captions, read_video_paths, spectrogram_path

    folder = root / "howto100m"
    paths = read_video_paths(folder / "videopaths.csv")
    captions = load_captions(folder / "caption.pickle")
    no_caption = sum(vid not in captions for _, vid in paths)
    checked, dh = _sampled(paths, sample), None
    for rel, _ in checked:
        f2d, f3d = feature_paths(root, rel)
        a = load_npz_features(f2d, dim=dh)
        dh = a.shape[1]
        load_npz_features(f3d, dim=dh)
        load_spectrogram(spectrogram_path(root, rel))
    counts = {"videos": len(paths), "captions": captions.info["n_captions"],
              "videos_without_captions": no_caption, "videos_checked": len(checked),
              "video_half_dim": dh}
    return (f"{len(paths)} videos, {counts['captions']} captions, {len(checked)} videos' "
            f"features and spectrograms read (Dh={dh})"), counts


def _retrieval(pickle_name, csv_name, load_pickle, read_csv, key):
    def check(root: Path, sample):
        clips = load_pickle(root / pickle_name)
        cs = rules.complete_set(clips, root / csv_name,
                                lambda p: read_csv(p)["video_id"].tolist(), key)
        issue(cs.warning)
        n, complete = len(clips), cs.size
        counts = {"in_pickle": n, "complete_size": complete, "missing": complete - n,
                  "video_half_dim": clips.info["video_half_dim"],
                  **_text_check(root, clips.captions, clips.path, "captions")}
        if cs.warning is not None:
            return f"{n} clips in the pickle, no csv of the complete test set", counts
        return f"{n} of {complete} clips in the pickle ({complete - n} missing)", counts
    return check


def _crosstask(root: Path, sample):
    from mcnbench.data.crosstask import load_crosstask, make_test_split

    release = load_crosstask(root)
    # without test_split.csv eval draws it (MMPT recipe, the task's defaults n_train 30, seed 0)
    test = release.test_split if release.test_split is not None else make_test_split(release)[0]
    missing = {(t, v): rules.crosstask_missing(release, t, v) for t, v in test}
    dropped = [(f"{t}_{v}", m) for (t, v), m in missing.items() if m is not None]
    issue(rules.dropped_videos(dropped, len(test), "CrossTask test videos"))
    present = [tv for tv in test if missing[tv] is None]
    for task, vid in _sampled(present, sample):
        release.load_annotation(task, vid)
        release.load_video(vid)
        release.load_audio(vid)
    steps = [s for card in release.tasks.values() for s in card.steps]
    counts = {"primary_tasks": len(release.tasks), "videos": len(release.videos),
              "val_videos": len(release.val_videos), "test_videos": len(test),
              "test_videos_missing_files": len(dropped),
              "test_videos_checked": len(_sampled(present, sample)),
              **_text_check(root, steps, release.root / "crosstask_release" / "tasks_primary.txt",
                            "step names")}
    split = (f"no test_split.csv ({len(test)} test videos drawn)" if release.test_split is None
             else f"{len(test)} test videos")
    return (f"{len(release.tasks)} primary tasks, {len(release.videos)} videos, {split} "
            f"({counts['test_videos_checked']} read)"), counts


def _mining_youtube(root: Path, sample):
    from mcnbench.data.mining_youtube import load_mining_youtube
    from mcnbench.data.text import step_name_to_text

    myt = load_mining_youtube(root)
    known = set(myt.classes)
    unknown = sorted({s.label for v in myt.videos for s in myt.annotations[v]} - known)
    issue(rules.empty_annotations(myt, myt.videos))
    missing = {v: rules.first_missing(rules.video_inputs(myt, v)) for v in myt.videos}
    dropped = [(v, m) for v, m in missing.items() if m is not None]
    issue(rules.dropped_videos(dropped, len(myt.videos), "Mining YouTube test videos"))
    read, past = _sampled([v for v in myt.videos if missing[v] is None], sample), {}
    for vid in read:
        T = len(myt.load_video(vid)[0])
        myt.load_audio(vid)
        if late := rules.segments_past_end(myt.annotations[vid], T):
            past[vid] = (len(late), T, max(seg.end_s for seg in late))
    issue(rules.past_end(myt, past, len(read)))
    # the class texts of the task's defaults (MiningYouTube.class_texts, background_text)
    texts = ["background" if c == "background" else step_name_to_text(c) for c in myt.classes]
    label_map = myt.label_map()
    unmapped = [lab for lab in unknown if label_map(lab)[0] is None]
    counts = {"videos": len(myt.videos), "classes": len(myt.classes),
              "labels_not_in_dict": unknown, "labels_unmapped": unmapped,
              "videos_missing_files": len(dropped),
              "videos_checked": len(read),
              **_text_check(root, texts, myt.root / "weakYouTube_dict.txt", "class names")}
    extra = (f", {len(unknown)} labels not in the dictionary ({len(unmapped)} that normalisation "
             "leaves to background)" if unknown else "")
    return (f"{len(myt.videos)} videos, {len(myt.classes)} classes{extra} "
            f"({counts['videos_checked']} read)"), counts


def _action(dataset: str, rel: str):
    def check(root: Path, sample):
        from mcnbench.data.action_recognition import load_action_pickle

        data = load_action_pickle(root / rel, dataset)
        counts = {"videos": len(data), "classes": len(data.classes),
                  "videos_with_audio": int(data.has_audio.sum()),
                  "video_half_dim": data.info["video_half_dim"],
                  "pooled_not_mean": data.info["pooled_not_mean"]}
        audio = f", {counts['videos_with_audio']} with audio" if dataset == "ucf101" else ""
        return f"{len(data)} videos of {len(data.classes)} classes{audio}", counts
    return check


def _oracle(root: Path, sample):
    tasks = sorted(p.name for p in (root / "oracle").iterdir() if p.is_dir())
    counts = {}
    for task in tasks:
        rows = {}
        for name, keys in (("clips.npz", ("video", "audio")), ("text.npz", ("text",))):
            path = root / "oracle" / task / name
            with np.load(path, allow_pickle=False) as z:
                n = len(z["ids"])
                for key in keys:
                    if z[key].shape[0] != n or not np.isfinite(z[key]).all():
                        raise DataError(path, f"key {key!r}", f"shape {z[key].shape} for {n} ids "
                                        "or non-finite values")
                rows[name] = n
        counts[task] = rows
    return f"precomputed embeddings for {len(tasks)} tasks ({', '.join(tasks)})", counts


# name -> (what must exist for the dataset to count as present, checker)
DATASETS: dict[str, tuple[str, Callable]] = {
    "word2vec": ("word2vec.bin", _word2vec),
    "howto100m": ("howto100m", _howto100m),
    "youcook2": ("youcook2", None),
    "msrvtt": ("msrvtt", None),
    "crosstask": ("crosstask", _crosstask),
    "mining_youtube": ("mining_youtube", _mining_youtube),
    "ucf101": ("ucf101", _action("ucf101", "ucf101/UCF101_data.pkl")),
    "hmdb51": ("hmdb51", _action("hmdb51", "hmdb51/HMDB_data.pkl")),
    "oracle": ("oracle", _oracle),
}


def _retrieval_checkers():
    from mcnbench.data.avlnet import load_msrvtt_pickle, load_youcook2_pickle
    from mcnbench.data.milnce_csv import read_msrvtt_csv, read_youcook_csv

    # the csv names videos for YouCook2 (a clip id starts with its video's), clips for MSR-VTT
    return {"youcook2": _retrieval("youcook2/youcook_val_audio.pkl",
                                   "youcook2/validation_youcook.csv", load_youcook2_pickle,
                                   read_youcook_csv, rules.youtube_id),
            "msrvtt": _retrieval("msrvtt/msrvtt_jsfusion_test.pkl", "msrvtt/msrvtt_test.csv",
                                 load_msrvtt_pickle, read_msrvtt_csv, None)}


def _checksums(root: Path, manifest: dict) -> DatasetCheck:
    files = manifest.get("files", {})
    missing, bad = [], []
    for rel, digest in files.items():
        path = root / rel
        if not path.is_file():
            missing.append(rel)
        elif sha256_file(path) != digest:
            bad.append(rel)
    listed = set(files) | {MANIFEST}
    extra = sum(1 for p in root.rglob("*") if p.is_file() and
                p.relative_to(root).as_posix() not in listed)
    counts = {"files": len(files), "missing": missing, "mismatched": bad, "unlisted": extra}
    if missing or bad:
        first = (bad or missing)[0]
        what = "checksum mismatch" if bad else "missing"
        return DatasetCheck("checksums", "error", f"{len(bad)} mismatched, {len(missing)} "
                            f"missing of {len(files)} files (first: {first}: {what})", counts)
    note = f"; {extra} files not in the manifest" if extra else ""
    return DatasetCheck("checksums", "ok", f"{len(files)} files match the manifest{note}", counts)


def _run(name: str, checker: Callable, root: Path, sample, strict: bool) -> DatasetCheck:
    """One dataset's check; the DataWarnings its rules issue become the row's warnings (with
    ``strict`` the first one is an error, as ``eval --strict`` makes it)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("error" if strict else "always", DataWarning)
        try:
            detail, counts = checker(root, sample)
        except DataError as exc:  # DataWarning under strict too: the loader's one line
            return DatasetCheck(name, "error", str(exc))
        except Exception as exc:  # a checker's job is to report, whatever broke
            return DatasetCheck(name, "error", f"{type(exc).__name__}: {exc}")
    found = list(dict.fromkeys(str(w.message) for w in caught
                               if isinstance(w.message, DataWarning)))
    return DatasetCheck(name, "warn" if found else "ok", detail, counts, found)


def check_root(root: str | Path, *, sample: int | None = 50, strict: bool = False
               ) -> CheckReport:
    """Check every dataset under ``root``; ``sample`` caps the per-video files read on a real
    root (None or 0: all). A synthetic root (with manifest.json) is read in full. ``strict``:
    what eval would warn about is an error (``eval --strict``)."""
    root = Path(root)
    if not root.is_dir():
        return CheckReport(root, None, [DatasetCheck("root", "error", "not a directory")])
    manifest, checks = None, []
    if (root / MANIFEST).is_file():
        try:
            manifest = read_manifest(root / MANIFEST)
        except DataError as exc:
            checks.append(DatasetCheck("manifest", "error", str(exc)))
    if manifest is not None:
        sample = None
    checkers = {name: fn for name, (_, fn) in DATASETS.items() if fn}
    checkers.update(_retrieval_checkers())
    _VECTORS.clear()
    try:
        for name, (marker, _) in DATASETS.items():
            if not (root / marker).exists():
                checks.append(DatasetCheck(name, "absent", f"no {marker}"))
                continue
            checks.append(_run(name, checkers[name], root, sample, strict))
    finally:
        _VECTORS.clear()
    if not any(c.status == "ok" for c in checks if c.name in DATASETS):
        checks.append(DatasetCheck("datasets", "error", "no dataset found under this root"))
    if manifest is not None:
        checks.append(_checksums(root, manifest))
    return CheckReport(root, manifest, checks)
