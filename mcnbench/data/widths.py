"""The width of a data root's video features, read from file headers (no feature data is read).

    infer_video_dim("/data/mcn")  ->  4096   (2D ‖ 3D, 2048 each, for the real features)

A model is built before any task runs, so it must know the input width up front: a synthetic
root says it in ``manifest.json`` (``video_half_dim``); a real root does not, and assuming the
real 4,096 on a root of 64-d features ended in a torch shape error. Every per-video feature file
of one root has the same width Dh; :func:`check_feature_widths` names the file that breaks it.
"""
from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from mcnbench.data.errors import DataError

# feature files read per dataset folder to find the width most of them have
REFERENCE_SAMPLE = 8


def array_shape(path: str | Path, key: str | None = None) -> tuple[int, ...]:
    """Shape of the array in a ``.npy`` file, or of member ``key`` of an ``.npz``, from its
    header alone. Raises DataError when the file is missing or not an array file."""
    path = Path(path)
    try:
        if key is None:
            with open(path, "rb") as f:
                return _header_shape(f)
        with zipfile.ZipFile(path) as z, z.open(f"{key}.npy") as f:
            return _header_shape(f)
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except KeyError:
        raise DataError(path, f"key {key!r}", "missing") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        kind = ".npy" if key is None else ".npz"
        raise DataError(path, None, f"not a readable {kind} file ({exc})") from None


def _header_shape(f) -> tuple[int, ...]:
    version = np.lib.format.read_magic(f)
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    shape, _, _ = read(f)
    return tuple(int(n) for n in shape)


def _width(path: Path, key: str | None = None) -> int:
    shape = array_shape(path, key)
    if len(shape) != 2:
        raise DataError(path, None if key is None else f"key {key!r}",
                        f"expected a 2-D [T, Dh] array, got shape {shape}")
    return shape[1]


def dataset_half_dim(dataset_dir: str | Path) -> tuple[int, str] | None:
    """The feature width Dh of a CrossTask / Mining YouTube folder and where it comes from:
    the data root's manifest (synthetic), else the width most of the first
    ``REFERENCE_SAMPLE`` files of ``features/`` have. None when neither says (no files, or a
    tie)."""
    from mcnbench.data.manifest import read_root_manifest

    dataset_dir = Path(dataset_dir)
    manifest = read_root_manifest(dataset_dir.parent)
    if manifest and "video_half_dim" in manifest:
        return int(manifest["video_half_dim"]), f"{dataset_dir.parent / 'manifest.json'}"
    files = sorted((dataset_dir / "features").glob("*_2d.npy"))[:REFERENCE_SAMPLE // 2]
    files += [p.with_name(p.name[:-len("_2d.npy")] + "_3d.npy") for p in files]
    counts = Counter()
    for p in files:
        try:
            counts[_width(p)] += 1
        except DataError:
            continue  # a broken file is the loader's to report, with its own message
    if not counts:
        return None
    ranked = counts.most_common(2)
    if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
        return None
    width, n = ranked[0]
    return width, f"{n} of {sum(counts.values())} files in {dataset_dir / 'features'}"


def check_feature_widths(widths: dict[Path, int], reference: tuple[int, str] | None) -> None:
    """Raise DataError naming the first file of ``widths`` (path → Dh) whose width differs from
    ``reference`` ``(Dh, where it comes from)``; without a reference, the files must agree with
    each other (the last one that differs from the first is named)."""
    if reference is not None:
        want, source = reference
        for path, width in widths.items():
            if width != want:
                raise DataError(path, None, f"{width} features per row, but this data root's "
                                f"features have {want} ({source})")
        return
    items = list(widths.items())
    first_path, first = items[0]
    for path, width in items[1:]:
        if width != first:
            raise DataError(path, None, f"{width} features per row, but {first_path.name} "
                            f"has {first}")


def _sources(root: Path):
    """(file, Dh) of the first feature file of each dataset present, cheapest first."""
    from mcnbench.data.howto100m import clean_video_path, feature_paths

    csv = root / "howto100m" / "videopaths.csv"
    if csv.is_file():
        with open(csv, encoding="utf-8-sig", errors="replace") as f:
            f.readline()  # header
            row = next((line for line in f if line.strip()), "").split(",")[0]
        if row.strip():
            p2d, _ = feature_paths(root, clean_video_path(row))
            if p2d.is_file():
                yield p2d, _width(p2d, "features")
    for name in ("crosstask", "mining_youtube"):
        first = next(iter(sorted((root / name / "features").glob("*_2d.npy"))), None)
        if first is not None:
            yield first, _width(first)


def _pickle_source(root: Path):
    from mcnbench.data.avlnet import load_msrvtt_pickle, load_youcook2_pickle

    for rel, load in (("youcook2/youcook_val_audio.pkl", load_youcook2_pickle),
                      ("msrvtt/msrvtt_jsfusion_test.pkl", load_msrvtt_pickle)):
        if (root / rel).is_file():
            return root / rel, int(load(root / rel).info["video_half_dim"])
    return None


def infer_video_dim(root: str | Path) -> int:
    """The video input width ``2 * Dh`` of data root ``root`` (2D and 3D halves of Dh each).

    Dh comes from the manifest (synthetic roots), else from the first feature file of the
    HowTo100M corpus, CrossTask and Mining YouTube (headers only), else, when the root holds
    none of those, from the YouCook2 / MSR-VTT pickle. Every source present must agree (the one
    that differs is named); none at all raises DataError too.
    """
    from mcnbench.data.manifest import read_root_manifest

    root = Path(root)
    manifest = read_root_manifest(root)
    reference: tuple[int, str] | None = None
    if manifest and "video_half_dim" in manifest:
        reference = int(manifest["video_half_dim"]), str(root / "manifest.json")
    for path, width in _sources(root):
        if reference is None:
            reference = width, str(path)
        check_feature_widths({path: width}, reference)
    if reference is None:
        found = _pickle_source(root)
        if found is None:
            raise DataError(root, None, "no video features found to read their width from "
                            "(howto100m/, crosstask/, mining_youtube/ features or a retrieval "
                            "pickle; see docs/contracts.md)")
        reference = found[1], str(found[0])
    return 2 * reference[0]


def load_feature_pair(path_2d: str | Path, path_3d: str | Path,
                      reference: tuple[int, str] | None) -> tuple[np.ndarray, np.ndarray]:
    """2D ``[T2d, Dh]`` and 3D ``[T3d, Dh]`` features of one video (CrossTask / Mining YouTube);
    a file whose Dh differs from ``reference`` (:func:`dataset_half_dim`) raises DataError
    naming that file, not its healthy partner."""
    from mcnbench.data.features import load_npy_features

    f2d, f3d = load_npy_features(path_2d), load_npy_features(path_3d)
    check_feature_widths({Path(path_2d): f2d.shape[1], Path(path_3d): f3d.shape[1]}, reference)
    return f2d, f3d
