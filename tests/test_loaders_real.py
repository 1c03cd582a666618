"""The loaders on the small real files of the public releases (../shared/data/real beside the
repository; skipped when absent). Counts are those of the releases (eval_protocols §2.1, §3.1)."""
from __future__ import annotations

import itertools
import tarfile

import pytest

from mcnbench.data import mining_youtube as myt
from mcnbench.data.milnce_csv import read_msrvtt_csv, read_youcook_csv
from mcnbench.data.text import step_name_to_text


@pytest.fixture(scope="module")
def srt_dir(real_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("myt")
    with tarfile.open(real_data_dir / "mining_youtube" / "annotations.tar.gz") as tar:
        # the "data" filter refuses links and absolute paths where Python has it (3.10.12+)
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(out, **kwargs)
    return out / "annotations"


def test_all_250_mining_youtube_srt_parse(srt_dir):
    files = sorted(srt_dir.glob("*.srt"))
    assert len(files) == 250
    parsed = {f.stem: myt.read_srt(f) for f in files}
    assert all(parsed.values())
    for segs in parsed.values():
        assert all(0 <= s.start_s <= s.end_s for s in segs)
        assert all(s.label and s.label == s.label.strip() for s in segs)   # trailing spaces gone
    first = parsed["-1okAudsnAc"][0]
    assert first == myt.Segment(75.277, 83.517, "crack_eggs")
    assert sum(map(len, parsed.values())) == 5132


def test_mining_youtube_lists_and_dict(real_data_dir, srt_dir):
    d = real_data_dir / "mining_youtube"
    test_ids = myt.read_video_ids(d / "videos_test.txt")
    val_ids = myt.read_video_ids(d / "videos_val.txt")
    assert len(test_ids) == 249 and len(val_ids) == 25 and set(val_ids) <= set(test_ids)
    classes = myt.read_class_dict(d / "weakYouTube_dict.txt")
    assert len(classes) == 513 and classes[-1] == "background"
    assert all(c == c.strip() for c in classes)
    # mapping_without_meta.txt holds the same 513 names in another order (also background last)
    lines = (d / "mapping_without_meta.txt").read_text().splitlines()
    mapping = [ln.split(maxsplit=1)[1].strip() for ln in lines]
    assert set(mapping) == set(classes) and mapping != classes and mapping[-1] == "background"
    assert step_name_to_text(classes[0]) == "add apple"
    stems = {p.stem for p in srt_dir.glob("*.srt")}
    assert set(test_ids) <= stems and stems - set(test_ids) == {"-1okAudsnAc"}


def test_mining_youtube_layout_on_real_files(real_data_dir, srt_dir, tmp_path):
    # the real files arranged as the data root layout wants them (links, not copies)
    root = tmp_path / "mining_youtube"
    root.mkdir()
    for name in ("weakYouTube_dict.txt", "videos_test.txt", "videos_val.txt"):
        (root / name).symlink_to(real_data_dir / "mining_youtube" / name)
    (root / "annotations").symlink_to(srt_dir, target_is_directory=True)
    data = myt.load_mining_youtube(tmp_path)
    assert len(data.videos) == 249 and data.info["n_annotations_not_in_test"] == 1
    assert len(data.classes) == 513


def test_gt_and_grammar_of_the_alignment_example(real_data_dir):
    d = real_data_dir / "mining_youtube"
    gt = myt.read_gt(d / "-1okAudsnAc.gt")
    assert len(gt) == 3374
    runs = [(label, len(list(group))) for label, group in itertools.groupby(gt)]
    assert runs == [("background", 2255), ("crack_egg", 248), ("background", 62),
                    ("pour_egg", 175), ("background", 188), ("beat_mixture", 221),
                    ("background", 71), ("add_pepper", 74), ("background", 18),
                    ("beat_mixture", 62)]
    grammar = myt.read_grammar(d / "-1okAudsnAc.grammar")
    assert grammar == [label for label, _ in runs]            # transcript = run labels in order
    classes = myt.read_class_dict(d / "weakYouTube_dict.txt")
    assert set(grammar) <= set(classes)


def test_youcook_csv(real_data_dir):
    df = read_youcook_csv(real_data_dir / "milnce_csv" / "validation_youcook.csv")
    assert len(df) == 3350 and df["video_id"].nunique() == 436 and df["task"].nunique() == 89
    assert list(df.columns) == ["end", "start", "task", "text", "video_id"]
    dur = df["end"] - df["start"]
    assert dur.min() == 1 and dur.max() == 199 and dur.median() == 14
    assert df.iloc[0][["start", "end", "video_id"]].tolist() == [47.0, 60.0, "xHr8X2Wpmno"]


def test_msrvtt_csv(real_data_dir):
    df = read_msrvtt_csv(real_data_dir / "milnce_csv" / "msrvtt_test.csv")
    assert len(df) == 1000 and df["video_id"].nunique() == 1000
    assert df.iloc[0].tolist() == ["ret0", "msr9770", "video9770",
                                   "a person is connecting something to system"]
    assert df["key"].iloc[-1] == "ret999"
