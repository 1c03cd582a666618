"""Validate a data root, synthetic or real: run the loaders on every dataset folder present and,
for a synthetic root, verify every checksum in its manifest.

    report = check_root("/data/mcn")
    print(report.format());  report.ok  ->  bool

Each dataset is ``ok``, ``absent`` (not an error: a real root may hold only some datasets) or
``error`` with the loader's one-line message. On a real root the per-video files of the corpus
and of the localization sets are sampled (``sample`` videos each); a synthetic root is read in
full.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mcnbench.utils.io import sha256_file

MANIFEST = "manifest.json"


@dataclass
class DatasetCheck:
    name: str
    status: str                  # "ok" | "absent" | "error"
    detail: str = ""
    counts: dict = field(default_factory=dict)


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
        lines.append("result: " + ("ok" if self.ok else "ERRORS (see above)"))
        return "\n".join(lines)


def _sampled(items: list, sample: int | None) -> list:
    return items if not sample or sample >= len(items) else items[:sample]


def _word2vec(root: Path, sample):
    from mcnbench.data.word2vec import load_word2vec

    wv = load_word2vec(root / "word2vec.bin")
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


def _retrieval(pickle_name, csv_name, load_pickle, read_csv, id_column):
    def check(root: Path, sample):
        from mcnbench.data.errors import DataError

        name = pickle_name.split("/")[0]
        clips = load_pickle(root / pickle_name)
        table = read_csv(root / csv_name)
        known = set(table[id_column])
        key = (lambda i: i[:11]) if name == "youcook2" else (lambda i: i)
        stray = [i for i in clips.ids if key(i) not in known]
        if stray:
            raise DataError(root / pickle_name, f"id {stray[0]!r}", f"not listed in {csv_name}")
        n, complete = len(clips), len(table)
        counts = {"in_pickle": n, "complete_size": complete, "missing": complete - n,
                  "video_half_dim": clips.info["video_half_dim"]}
        return f"{n} of {complete} clips in the pickle ({complete - n} missing)", counts
    return check


def _crosstask(root: Path, sample):
    from mcnbench.data.crosstask import load_crosstask

    release = load_crosstask(root)
    test = release.test_split or []
    for task, vid in _sampled(test, sample):
        release.load_annotation(task, vid)
        release.load_video(vid)
        release.load_audio(vid)
    counts = {"primary_tasks": len(release.tasks), "videos": len(release.videos),
              "val_videos": len(release.val_videos), "test_videos": len(test),
              "test_videos_checked": len(_sampled(test, sample))}
    split = "no test_split.csv" if release.test_split is None else f"{len(test)} test videos"
    return (f"{len(release.tasks)} primary tasks, {len(release.videos)} videos, {split} "
            f"({counts['test_videos_checked']} read)"), counts


def _mining_youtube(root: Path, sample):
    from mcnbench.data.mining_youtube import load_mining_youtube

    myt = load_mining_youtube(root)
    known = set(myt.classes)
    unknown = sorted({s.label for v in myt.videos for s in myt.annotations[v]} - known)
    for vid in _sampled(myt.videos, sample):
        myt.load_video(vid)
        myt.load_audio(vid)
    counts = {"videos": len(myt.videos), "classes": len(myt.classes),
              "labels_not_in_dict": unknown, "videos_checked": len(_sampled(myt.videos, sample))}
    extra = f", {len(unknown)} labels not in the dictionary" if unknown else ""
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
    from mcnbench.data.errors import DataError

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

    return {"youcook2": _retrieval("youcook2/youcook_val_audio.pkl",
                                   "youcook2/validation_youcook.csv", load_youcook2_pickle,
                                   read_youcook_csv, "video_id"),
            "msrvtt": _retrieval("msrvtt/msrvtt_jsfusion_test.pkl", "msrvtt/msrvtt_test.csv",
                                 load_msrvtt_pickle, read_msrvtt_csv, "video_id")}


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


def check_root(root: str | Path, *, sample: int | None = 50) -> CheckReport:
    """Check every dataset under ``root``; ``sample`` caps the per-video files read on a real
    root (None or 0: all). A synthetic root (with manifest.json) is read in full."""
    root = Path(root)
    if not root.is_dir():
        return CheckReport(root, None, [DatasetCheck("root", "error", "not a directory")])
    manifest, checks = None, []
    if (root / MANIFEST).is_file():
        try:
            manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            checks.append(DatasetCheck("manifest", "error", f"unreadable manifest.json ({exc})"))
    if manifest is not None:
        sample = None
    checkers = {name: fn for name, (_, fn) in DATASETS.items() if fn}
    checkers.update(_retrieval_checkers())
    for name, (marker, _) in DATASETS.items():
        if not (root / marker).exists():
            checks.append(DatasetCheck(name, "absent", f"no {marker}"))
            continue
        try:
            detail, counts = checkers[name](root, sample)
            checks.append(DatasetCheck(name, "ok", detail, counts))
        except Exception as exc:  # a checker's job is to report, whatever broke
            checks.append(DatasetCheck(name, "error", f"{type(exc).__name__}: {exc}"))
    if not any(c.status == "ok" for c in checks if c.name in DATASETS):
        checks.append(DatasetCheck("datasets", "error", "no dataset found under this root"))
    if manifest is not None:
        checks.append(_checksums(root, manifest))
    return CheckReport(root, manifest, checks)
