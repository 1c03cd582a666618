"""One test per class of bad input: each error is a DataError whose one line names the file, the
item and the problem (docs/contracts.md, "Errors")."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from conftest import avlnet_items, srt_text, write_crosstask, write_npz, write_pickle, write_text

from mcnbench.data import crosstask as ct
from mcnbench.data import mining_youtube as myt
from mcnbench.data.avlnet import load_msrvtt_pickle, load_youcook2_pickle
from mcnbench.data.errors import DataError
from mcnbench.data.features import load_npy_features, load_npz_features, load_spectrogram
from mcnbench.data.howto100m import load_captions, read_video_paths
from mcnbench.data.milnce_csv import read_msrvtt_csv, read_youcook_csv
from mcnbench.data.safe_pickle import safe_load
from mcnbench.data.text import Tokenizer
from mcnbench.data.word2vec import load_word2vec


def check(err: pytest.ExceptionInfo, path, item: str | None, problem: str) -> None:
    """The message is ``<path>: <item>: <problem>`` with all three present."""
    msg = str(err.value)
    assert isinstance(err.value, DataError) and "\n" not in msg
    assert msg.startswith(str(path)), msg
    if item is not None:
        assert item in msg, msg
    assert problem in msg, msg


@pytest.mark.parametrize("loader", [
    load_youcook2_pickle, load_msrvtt_pickle, load_captions, load_word2vec, load_npz_features,
    load_npy_features, load_spectrogram, read_youcook_csv, read_msrvtt_csv, read_video_paths,
    myt.read_srt, myt.read_class_dict, ct.read_task_cards, ct.read_annotation,
])
def test_missing_file(tmp_path, loader):
    path = tmp_path / "absent.file"
    with pytest.raises(DataError) as err:
        loader(path)
    check(err, path, None, "not found")


def test_missing_key(tmp_path):
    path = write_npz(tmp_path / "v_2d.npz", feats=np.zeros((3, 4), np.float32))
    with pytest.raises(DataError) as err:
        load_npz_features(path)
    check(err, path, "key 'features'", "missing")
    items = avlnet_items(3)
    del items[1]["audio"]
    path = write_pickle(tmp_path / "yc.pkl", items)
    with pytest.raises(DataError) as err:
        load_youcook2_pickle(path)
    check(err, path, f"item 1 (id {items[1]['id']!r})", "missing key(s) ['audio']")
    path = write_pickle(tmp_path / "caption.pickle", {"v1": {"start": [0.0], "text": ["hi"]}})
    with pytest.raises(DataError) as err:
        load_captions(path)
    check(err, path, "video 'v1'", "missing key(s) ['end']")


def test_wrong_shape(tmp_path):
    path = write_npz(tmp_path / "v_2d.npz", features=np.zeros(5, np.float32))
    with pytest.raises(DataError) as err:
        load_npz_features(path)
    check(err, path, "key 'features'", "expected 2-D array, got shape (5,)")
    path = write_npz(tmp_path / "v_spec.npz", arr_0=np.zeros((39, 10), np.float16))
    with pytest.raises(DataError) as err:
        load_spectrogram(path)
    check(err, path, "key 'arr_0'", "expected size 40 on axis 0")
    items = avlnet_items(3, dh=6)
    items[2]["3d"] = np.ones(5, np.float32)
    path = write_pickle(tmp_path / "yc.pkl", items)
    with pytest.raises(DataError) as err:
        load_youcook2_pickle(path)
    check(err, path, f"item 2 (id {items[2]['id']!r}) key '3d'", "length 5, expected 6")
    items = avlnet_items(2, kind="msrvtt")
    items[0]["audio"] = np.zeros((40,), np.float32)
    path = write_pickle(tmp_path / "m.pkl", items)
    with pytest.raises(DataError) as err:
        load_msrvtt_pickle(path)
    check(err, path, "item 0 (id 'video0') key 'audio'", "expected 2-D array")


def test_wrong_dtype(tmp_path):
    path = write_npz(tmp_path / "v_2d.npz", features=np.array([["a", "b"]]))
    with pytest.raises(DataError) as err:
        load_npz_features(path)
    check(err, path, "key 'features'", "is not a real numeric type")
    items = avlnet_items(2)
    items[1]["2d"] = ["0.1", "0.2"]
    path = write_pickle(tmp_path / "yc.pkl", items)
    with pytest.raises(DataError) as err:
        load_youcook2_pickle(path)
    check(err, path, f"item 1 (id {items[1]['id']!r}) key '2d'", "expected a numeric array")
    items = avlnet_items(2)
    items[0]["caption"] = 17
    path = write_pickle(tmp_path / "yc2.pkl", items)
    with pytest.raises(DataError) as err:
        load_youcook2_pickle(path)
    check(err, path, "key 'caption'", "expected a string caption, got int")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features(tmp_path, bad):
    feats = np.ones((6, 3), np.float32)
    feats[4, 1] = bad
    path = write_npz(tmp_path / "v_3d.npz", features=feats)
    with pytest.raises(DataError) as err:
        load_npz_features(path)
    check(err, path, "key 'features'", "non-finite value (NaN/inf) at row 4")
    items = avlnet_items(3)
    items[2]["audio"][7, 3] = bad
    path = write_pickle(tmp_path / "yc.pkl", items)
    with pytest.raises(DataError) as err:
        load_youcook2_pickle(path)
    check(err, path, f"item 2 (id {items[2]['id']!r}) key 'audio'", "NaN/inf) at frame 3")


def test_truncated_pickle(tmp_path):
    data = pickle.dumps(avlnet_items(3))
    path = tmp_path / "yc.pkl"
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(DataError) as err:
        load_youcook2_pickle(path)
    check(err, path, None, "truncated or corrupt pickle")


class _Hostile:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    items = avlnet_items(2)
    items[1]["caption"] = _Hostile(marker)
    path = write_pickle(tmp_path / "yc.pkl", items)
    with pytest.raises(DataError) as err:
        load_youcook2_pickle(path)
    check(err, path, None, "refused global 'posix.system' (not on the allow-list")
    assert not marker.exists()
    with pytest.raises(DataError):
        safe_load(write_pickle(tmp_path / "caption.pickle", {"v": _Hostile(marker)}))
    assert not marker.exists()


def test_empty_and_all_oov_captions_become_counted_zero_text(tmp_path, tiny_w2v):
    items = avlnet_items(4)
    items[1]["caption"] = ""
    items[3]["caption"] = "zzz qqq!"
    clips = load_youcook2_pickle(write_pickle(tmp_path / "yc.pkl", items))
    assert clips.info["n_empty_captions"] == 1          # loading accepts them and counts
    text, stats = Tokenizer(load_word2vec(tiny_w2v)).encode(clips.captions)
    assert not text[1].any() and not text[3].any() and text[0].any()
    assert (stats.n_empty, stats.n_all_oov, stats.n_zero) == (1, 1, 2)


def test_malformed_srt_entry(tmp_path):
    good = srt_text([(1.0, 2.0, "crack_egg"), (3.0, 4.0, "pour_egg")])
    path = write_text(tmp_path / "v.srt", good.replace("00:00:03,000 -->", "00:00:03 -->"))
    with pytest.raises(DataError) as err:
        myt.read_srt(path)
    check(err, path, "entry 2 (line 5)", "malformed time line")
    path = write_text(tmp_path / "w.srt", srt_text([(1.0, 2.0, "")]))
    with pytest.raises(DataError) as err:
        myt.read_srt(path)
    check(err, path, "entry 1", "expected index, time line and label")
    path = write_text(tmp_path / "x.srt", srt_text([(5.0, 2.0, "crack_egg")]))
    with pytest.raises(DataError) as err:
        myt.read_srt(path)
    check(err, path, "entry 1", "is before start")


@pytest.mark.parametrize("row,column,problem", [
    ("60,abc,226,chop,vid", "start", "bad time 'abc'"),
    ("60,-3,226,chop,vid", "start", "bad time '-3'"),
    ("nan,3,226,chop,vid", "end", "bad time 'nan'"),
    ("10,30,226,chop,vid", "start", "start 30.0 is after end 10.0"),
])
def test_csv_row_with_a_bad_time(tmp_path, row, column, problem):
    path = write_text(tmp_path / "validation_youcook.csv",
                      f"end,start,task,text,video_id\n60,47,226,ok,vid\n{row}\n")
    with pytest.raises(DataError) as err:
        read_youcook_csv(path)
    check(err, path, f"line 3 column {column!r}", problem)


def test_csv_missing_column_and_duplicate_key(tmp_path):
    path = write_text(tmp_path / "m.csv", "key,video_id,sentence\nret0,v,a\n")
    with pytest.raises(DataError) as err:
        read_msrvtt_csv(path)
    check(err, path, "header", "missing column(s) ['vid_key']")
    path = write_text(tmp_path / "m2.csv", "key,vid_key,video_id,sentence\nr0,a,v0,x\nr0,b,v1,y\n")
    with pytest.raises(DataError) as err:
        read_msrvtt_csv(path)
    check(err, path, "line 3 column 'key'", "duplicate key 'r0'")


def test_duplicate_clip_ids(tmp_path):
    items = avlnet_items(3)
    items[2]["id"] = items[0]["id"]
    path = write_pickle(tmp_path / "yc.pkl", items)
    with pytest.raises(DataError) as err:
        load_youcook2_pickle(path)
    check(err, path, "item 2", "duplicate id (first at item 0)")


def test_crosstask_bad_files(tmp_path):
    root = write_crosstask(tmp_path, n_videos=1)
    ann = root / "crosstask_release" / "annotations" / "59684_59684v0.csv"
    write_text(ann, "1,0.5,2.0\n3,4.0,5.0\n")
    with pytest.raises(DataError) as err:
        ct.load_crosstask(tmp_path).load_annotation("59684", "59684v0")
    check(err, ann, "line 2", "step 3 outside 1..2")
    cards = root / "crosstask_release" / "tasks_primary.txt"
    write_text(cards, "1\nT\nu\n3\na,b\n\n")
    with pytest.raises(DataError) as err:
        ct.read_task_cards(cards)
    check(err, cards, "line 5 (task '1')", "2 step names for K=3")


def test_captions_with_bad_times(tmp_path):
    caps = {"v1": {"start": np.array([0.0, 5.0]), "end": np.array([4.0, 3.0]),
                   "text": np.array(["a", "b"], dtype=object)}}
    path = write_pickle(tmp_path / "caption.pickle", caps)
    with pytest.raises(DataError) as err:
        load_captions(path)
    check(err, path, "video 'v1' caption 1", "start 5.0 is after end 3.0")


def test_not_word2vec(tmp_path):
    path = write_text(tmp_path / "word2vec.bin", "this is not word2vec\n")
    with pytest.raises(DataError) as err:
        load_word2vec(path)
    check(err, path, "header", "not a binary word2vec file")
