"""Shared fixtures: the real-files folder beside the repository, and tiny writers of every
on-disk format the loaders read (tests write their own inputs into ``tmp_path``)."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# The small real files live in ../shared/data/real beside the repository (never copied in).
REAL_DATA = REPO.parent / "shared" / "data" / "real"
# Progress bars are the user's, not the suite's: stderr checks ("one clear line") must not depend
# on whether the shell exported TQDM_DISABLE. Set before anything imports tqdm, which reads it then.
os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(scope="module", autouse=True)
def shared_cache(tmp_path_factory):
    """Every test module gets its own $MCNBENCH_CACHE (worlds, checkpoints), set before any
    module fixture runs a command, so tests never read or write ~/.cache/mcnbench."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MCNBENCH_CACHE", str(cache))
        mp.delenv("MCNBENCH_DATA", raising=False)
        yield cache


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real data files not found at {REAL_DATA} (they sit beside the repository "
                    "in ../shared/data/real; absent in this checkout)")
    return REAL_DATA


# ----------------------------------------------------------------------------- writers

def write_pickle(path: Path, obj, protocol: int = pickle.HIGHEST_PROTOCOL) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


def avlnet_items(n: int = 4, dh: int = 6, kind: str = "youcook2", seed: int = 0,
                 torch_audio: bool = True) -> list[dict]:
    """AVLnet-format clip dicts (YouCook2 or MSR-VTT keys) with random features."""
    import torch

    rng = np.random.RandomState(seed)
    items = []
    for i in range(n):
        f2d, f3d = rng.rand(dh).astype(np.float32), rng.rand(dh).astype(np.float32)
        spec = -80 * rng.rand(40, 5 + 3 * i).astype(np.float32)
        audio = torch.from_numpy(spec) if torch_audio else spec
        if kind == "youcook2":
            items.append({"2d": f2d, "3d": f3d, "audio": audio, "caption": f"crack the egg {i}",
                          "id": f"vid{i:08d}_{i}"})
        else:
            items.append({"id": f"video{i}", "2d_pooled": f2d, "3d_pooled": f3d, "audio": audio,
                          "eval_caption": f"a man cooks {i}"})
    return items


def write_npz(path: Path, **arrays) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def write_npy(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array)
    return path


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def srt_text(segments, bom: bool = True, crlf: bool = True) -> str:
    """An .srt file of ``(start_s, end_s, label)`` segments, as the Mining YouTube release has."""
    def stamp(t: float) -> str:
        ms = int(round(t * 1000))
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    blocks = [f"{k}\n{stamp(s)} --> {stamp(e)}\n{label}\n" for k, (s, e, label)
              in enumerate(segments, start=1)]
    text = "\n".join(blocks) + "\n"
    if crlf:
        text = text.replace("\n", "\r\n")
    return ("\ufeff" if bom else "") + text


TASKS = {  # task id -> steps
    "23521": ["pour water", "add jello", "stir mixture"],
    "59684": ["add flour", "crack egg"],
}


def write_crosstask(root: Path, n_videos: int = 4, dh: int = 4, seed: int = 0,
                    val: int = 1, with_split: bool = False) -> Path:
    """A tiny CrossTask layout under ``root/crosstask`` (contracts.md); returns that folder.

    Each primary task gets ``n_videos`` videos (``<task>v<k>``), the first ``val`` of them also
    listed in videos_val.csv; every video has an annotation, 2D/3D features and audio.
    """
    rng = np.random.RandomState(seed)
    ct = root / "crosstask"
    rel = ct / "crosstask_release"
    cards = "".join(f"{t}\nTask {t}\nhttps://www.wikihow.com/{t}\n{len(s)}\n{','.join(s)}\n\n"
                    for t, s in TASKS.items())
    write_text(rel / "tasks_primary.txt", cards)
    write_text(rel / "tasks_related.txt", "11111\nRelated\nhttp://x\n1\nonly step\n\n")
    rows, val_rows = [], []
    for t, steps in TASKS.items():
        for k in range(n_videos):
            vid = f"{t}v{k}"
            rows.append(f"{t},{vid},https://www.youtube.com/watch?v={vid}")
            if k < val:
                val_rows.append(rows[-1])
            T = 12 + k
            ann = "".join(f"{j + 1},{2.5 * j + 0.3:.2f},{2.5 * j + 1.9:.2f}\n"
                          for j in range(len(steps)))
            write_text(rel / "annotations" / f"{t}_{vid}.csv", ann)
            write_npy(ct / "features" / f"{vid}_2d.npy", rng.rand(T, dh).astype(np.float32))
            write_npy(ct / "features" / f"{vid}_3d.npy",
                      rng.rand(int(T * 1.5), dh).astype(np.float32))
            write_npz(ct / "audio" / f"{vid}.npz",
                      arr_0=(-80 * rng.rand(40, T * 100)).astype(np.float16))
    rows.append("11111,relvid,https://www.youtube.com/watch?v=relvid")
    write_text(rel / "videos.csv", "\n".join(rows) + "\n")
    write_text(rel / "videos_val.csv", "\n".join(val_rows) + "\n")
    if with_split:
        split = [(t, f"{t}v{k}") for t in TASKS for k in range(val, n_videos)]
        write_text(ct / "test_split.csv",
                   "task,video_id\n" + "".join(f"{t},{v}\n" for t, v in split))
    return ct


def write_mining_youtube(root: Path, dh: int = 4, seed: int = 0) -> Path:
    """A tiny Mining YouTube layout under ``root/mining_youtube``; returns that folder."""
    rng = np.random.RandomState(seed)
    my = root / "mining_youtube"
    classes = ["crack_egg", "pour_egg", "add_pepper ", "background"]  # a trailing space, as real
    write_text(my / "weakYouTube_dict.txt", "\n".join(classes) + "\n")
    write_text(my / "videos_test.txt", "vidA\nvidB\nvidC\n")
    write_text(my / "videos_val.txt", "vidA\n")
    segs = [(1.0, 3.5, "crack_egg"), (4.0, 6.0, "pour_egg ")]
    for vid in ("vidA", "vidB", "extra"):
        write_text(my / "annotations" / f"{vid}.srt", srt_text(segs, bom=vid != "vidB"))
        write_npy(my / "features" / f"{vid}_2d.npy", rng.rand(8, dh).astype(np.float32))
        write_npy(my / "features" / f"{vid}_3d.npy", rng.rand(12, dh).astype(np.float32))
        write_npz(my / "audio" / f"{vid}.npz", arr_0=(-80 * rng.rand(40, 800)).astype(np.float16))
    return my


@pytest.fixture
def tiny_w2v(tmp_path) -> Path:
    """A 5-d binary word2vec file of a handful of cooking words (case matters: "Egg" != "egg")."""
    from mcnbench.data.word2vec import write_word2vec

    words = ["crack", "the", "egg", "Egg", "pour", "water", "add", "flour", "don't"]
    vectors = np.random.RandomState(0).randn(len(words), 5).astype(np.float32)
    return write_word2vec(tmp_path / "word2vec.bin", words, vectors)
