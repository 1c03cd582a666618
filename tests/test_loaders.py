"""Every loader on tiny files the tests write in the contract layout (docs/contracts.md)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import (
    TASKS,
    avlnet_items,
    srt_text,
    write_crosstask,
    write_mining_youtube,
    write_npy,
    write_npz,
    write_pickle,
    write_text,
)

from mcnbench.data import crosstask as ct
from mcnbench.data import howto100m as h
from mcnbench.data import mining_youtube as myt
from mcnbench.data.avlnet import load_msrvtt_pickle, load_youcook2_pickle
from mcnbench.data.errors import DataError
from mcnbench.data.features import load_npy_features, load_npz_features, load_spectrogram
from mcnbench.data.milnce_csv import read_msrvtt_csv, read_youcook_csv
from mcnbench.data.word2vec import load_word2vec, write_word2vec

# ----------------------------------------------------------------------------- word2vec


def test_word2vec_round_trip_and_cache(tmp_path):
    words = ["egg", "Egg", "don't", "über", "crack"]
    vectors = np.random.RandomState(0).randn(5, 7).astype(np.float32)
    path = write_word2vec(tmp_path / "w.bin", words, vectors)
    assert path.read_bytes().startswith(b"5 7\n")
    assert not list(tmp_path.glob(".tmp-*"))                     # nothing half-written left
    wv = load_word2vec(path)
    assert wv.dim == 7 and len(wv) == 5 and "Egg" in wv and "EGG" not in wv
    assert wv.key_to_index["über"] == 3
    np.testing.assert_array_equal(wv.vectors_for(["crack", "egg"]), vectors[[4, 0]])
    assert wv.vectors_for([]).shape == (0, 7)
    assert load_word2vec(path) is wv                             # cached per path
    write_word2vec(path, words[:2], vectors[:2])                 # a rewritten file is re-read
    assert len(load_word2vec(path)) == 2
    assert len(load_word2vec(tmp_path / "w.bin", limit=1)) == 1


def test_gensim_reads_what_we_write(tmp_path):
    from gensim.models import KeyedVectors

    vectors = np.eye(3, dtype=np.float32)
    path = write_word2vec(tmp_path / "w.bin", ["a", "b", "c"], vectors)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=True)
    np.testing.assert_array_equal(kv["b"], vectors[1])


@pytest.mark.parametrize("words", [["a", "a"], ["a b", "c"], ["", "c"]])
def test_write_word2vec_rejects_bad_words(tmp_path, words):
    with pytest.raises(DataError):
        write_word2vec(tmp_path / "w.bin", words, np.zeros((2, 3)))


# ----------------------------------------------------------------------------- features


def test_feature_and_spectrogram_files(tmp_path):
    feats = np.random.rand(7, 4).astype(np.float32)
    out = load_npz_features(write_npz(tmp_path / "v_2d.npz", features=feats), dim=4)
    np.testing.assert_array_equal(out, feats)
    out = load_npy_features(write_npy(tmp_path / "v_3d.npy", feats.astype(np.float64)))
    assert out.dtype == np.float32 and out.shape == (7, 4)
    spec = (-80 * np.random.rand(40, 30)).astype(np.float16)
    out = load_spectrogram(write_npz(tmp_path / "v_spec.npz", arr_0=spec))
    assert out.dtype == np.float32 and out.shape == (40, 30)


# ----------------------------------------------------------------------------- AVLnet pickles


@pytest.mark.parametrize("torch_audio", [True, False])
def test_youcook2_pickle(tmp_path, torch_audio):
    items = avlnet_items(4, dh=6, kind="youcook2", torch_audio=torch_audio)
    items[2]["caption"] = ""
    clips = load_youcook2_pickle(write_pickle(tmp_path / "yc.pkl", items))
    assert len(clips) == 4 and clips.ids[1] == items[1]["id"]
    assert clips.video.shape == (4, 12) and clips.video.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(clips.video[:, :6], axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(clips.video[:, 6:], axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(clips.video[0, :6], items[0]["2d"] / np.linalg.norm(items[0]["2d"]),
                               rtol=1e-6)
    assert [a.shape for a in clips.audio] == [(40, 5), (40, 8), (40, 11), (40, 14)]
    assert all(a.dtype == np.float32 for a in clips.audio)
    assert clips.info["n_empty_captions"] == 1 and clips.info["video_half_dim"] == 6
    np.testing.assert_array_equal(clips.audio_lengths, [5, 8, 11, 14])
    audio, nframes = clips.audio_batch(10)
    assert audio.shape == (4, 40, 10) and list(nframes) == [5, 8, 10, 10]
    np.testing.assert_array_equal(audio[0, :, :5], clips.audio[0]) and not audio[0, :, 5:].any()
    _, official = clips.audio_batch(10, clip_nframes=False)
    assert list(official) == [5, 8, 11, 14]


def test_msrvtt_pickle(tmp_path):
    items = avlnet_items(3, dh=5, kind="msrvtt")
    clips = load_msrvtt_pickle(write_pickle(tmp_path / "m.pkl", items, protocol=2))
    assert clips.ids == ["video0", "video1", "video2"]
    assert clips.captions[2] == "a man cooks 2" and clips.video.shape == (3, 10)
    assert torch.is_tensor(items[0]["audio"]) and isinstance(clips.audio[0], np.ndarray)


# ----------------------------------------------------------------------------- MIL-NCE csv


def test_milnce_csvs(tmp_path):
    yc = write_text(tmp_path / "y.csv", "end,start,task,text,video_id\n"
                    "60,47,226,pick the ends,0123abcdefg\n12.5,0,101,NA,xHr8X2Wpmno\n")
    df = read_youcook_csv(yc)
    assert len(df) == 2 and df["video_id"][0] == "0123abcdefg" and df["text"][1] == "NA"
    assert df["start"].dtype == np.float64 and df["end"][1] == 12.5
    ms = write_text(tmp_path / "m.csv", "key,vid_key,video_id,sentence\n"
                    "ret0,msr9770,video9770,a person is connecting something\n")
    assert read_msrvtt_csv(ms)["video_id"].tolist() == ["video9770"]


# ----------------------------------------------------------------------------- CrossTask


def test_crosstask_release_files(tmp_path):
    root = write_crosstask(tmp_path, n_videos=3, with_split=True)
    cards = ct.read_task_cards(root / "crosstask_release" / "tasks_primary.txt")
    assert list(cards) == list(TASKS)
    card = cards["23521"]
    assert card.n_steps == 3 and card.steps == TASKS["23521"] and card.title == "Task 23521"
    rel = ct.load_crosstask(tmp_path)
    assert rel.root == root and set(rel.tasks) == set(TASKS) and list(rel.related) == ["11111"]
    assert len(rel.videos) == 7 and rel.videos[0] == ("23521", "23521v0", rel.videos[0].url)
    assert len(rel.val_videos) == 2 and len(rel.annotations) == 6
    assert rel.test_split == [(t, f"{t}v{k}") for t in TASKS for k in (1, 2)]
    assert rel.test_split_sha256 and len(rel.test_split_sha256) == 64
    segs = rel.load_annotation("23521", "23521v0")
    assert segs[1] == ct.StepSegment(2, 2.8, 4.4)
    y = ct.annotation_matrix(segs, T=12, K=3)
    assert y.shape == (12, 3) and y.dtype == np.uint8
    assert list(np.flatnonzero(y[:, 1])) == [2, 3, 4]            # floor(2.8) .. ceil(4.4)-1
    f2d, f3d = rel.load_video("23521v0")
    assert f2d.shape == (12, 4) and f3d.shape == (18, 4)
    assert rel.load_audio("23521v0").shape == (40, 1200)


def test_annotation_matrix_clips_past_the_end():
    y = ct.annotation_matrix([ct.StepSegment(1, 33.54, 39.94), ct.StepSegment(2, 38.0, 99.0)],
                             T=40, K=2)
    assert list(np.flatnonzero(y[:, 0])) == list(range(33, 40))
    assert list(np.flatnonzero(y[:, 1])) == [38, 39]


def test_make_test_split_mmpt_recipe(tmp_path):
    write_crosstask(tmp_path, n_videos=6, val=1)
    rel = ct.load_crosstask(tmp_path)
    assert rel.test_split is None
    # drop one video's features and one annotation: both leave the pool before the draw
    rel.feature_path("59684v5", "3d").unlink()
    del rel.annotations[("59684", "59684v4")]
    split, info = ct.make_test_split(rel, n_train=3, seed=0)
    # the recipe, written out: pool in videos.csv order minus val, 3 drawn for training
    rng = np.random.RandomState(0)
    want = []
    for t, pool in (("23521", [f"23521v{k}" for k in range(1, 6)]),
                    ("59684", [f"59684v{k}" for k in range(1, 4)])):
        if len(pool) > 3:
            train = set(rng.choice(pool, 3, replace=False).tolist())
            want += [(t, v) for v in pool if v not in train]
    assert split == want and len(split) == 2
    assert info["n_dropped_no_features"] == 1 and info["n_dropped_no_annotation"] == 1
    assert info["n_dropped_val"] == 2 and info["tasks_without_test_videos"] == ["59684"]
    assert ct.make_test_split(rel, n_train=3, seed=0)[0] == split       # deterministic
    sha = ct.write_test_split(tmp_path / "crosstask" / "test_split.csv", split)
    assert ct.read_test_split(tmp_path / "crosstask" / "test_split.csv") == split
    assert ct.load_crosstask(tmp_path).test_split_sha256 == sha


# ----------------------------------------------------------------------------- Mining YouTube


def test_read_srt_variants(tmp_path):
    segs = [(1.0, 3.5, "crack_egg"), (3661.25, 3700.0, "pour_egg ")]
    for bom in (True, False):
        for crlf in (True, False):
            path = write_text(tmp_path / f"{bom}{crlf}.srt", srt_text(segs, bom=bom, crlf=crlf))
            out = myt.read_srt(path)
            assert out == [myt.Segment(1.0, 3.5, "crack_egg"),
                           myt.Segment(3661.25, 3700.0, "pour_egg")]


def test_mining_youtube_layout(tmp_path):
    write_mining_youtube(tmp_path)
    data = myt.load_mining_youtube(tmp_path)
    assert data.classes == ["crack_egg", "pour_egg", "add_pepper", "background"]
    assert data.test_ids == ["vidA", "vidB", "vidC"] and data.val_ids == ["vidA"]
    assert data.videos == ["vidA", "vidB"] and set(data.annotations) == {"vidA", "vidB", "extra"}
    assert data.info["n_test_without_annotation"] == 1
    assert data.info["n_annotations_not_in_test"] == 1
    f2d, f3d = data.load_video("vidA")
    assert f2d.shape == (8, 4) and f3d.shape == (12, 4)
    assert data.load_audio("vidA").shape == (40, 800)
    labels = myt.segments_to_frame_labels(data.annotations["vidA"], 8, 1.0, data.classes)
    assert labels.tolist() == [3, 0, 0, 0, 1, 1, 3, 3]  # frames 1..3 crack, 4..5 pour


def test_segments_to_frame_labels_unknown_labels():
    segs = [myt.Segment(0.0, 2.0, "crack_eggs"), myt.Segment(2.0, 3.0, "crack_egg")]
    classes = ["crack_egg", "background"]
    with pytest.raises(DataError, match="'crack_eggs' is not a known class"):
        myt.segments_to_frame_labels(segs, 4, 1.0, classes)
    assert myt.segments_to_frame_labels(segs, 4, 1.0, classes, unknown="background").tolist() \
        == [1, 1, 0, 1]
    assert myt.segments_to_frame_labels(segs, 4, 2.0, classes, unknown="ignore").tolist() \
        == [-1, -1, -1, -1]


# ----------------------------------------------------------------------------- HowTo100M


def test_howto100m_readers(tmp_path):
    root = tmp_path / "howto100m"
    write_text(root / "videopaths.csv", "path\nNone/food/video_a/abc-123_x\ncars/video_b/XYZ\n")
    rows = h.read_video_paths(root / "videopaths.csv")
    assert rows == [("food/video_a/abc-123_x", "abc-123_x"), ("cars/video_b/XYZ", "XYZ")]
    p2d, p3d = h.feature_paths(tmp_path, rows[0][0])
    assert p2d == root / "features" / "food/video_a/abc-123_x" / "abc-123_x_2d.npz"
    assert p3d.name == "abc-123_x_3d.npz"
    assert h.spectrogram_path(tmp_path, rows[1][0]) == root / "audio/cars/video_b/XYZ/XYZ_spec.npz"
    caps = {"abc-123_x": {"start": np.array([0.0, 5.0, 3.0]), "end": np.array([4.0, 9.0, 6.0]),
                          "text": np.array(["crack the egg", "pour", "add"], dtype=object)},
            "XYZ": {"start": np.zeros(0), "end": np.zeros(0), "text": np.zeros(0, object)}}
    out = h.load_captions(write_pickle(root / "caption.pickle", caps))
    assert out["abc-123_x"].text == ["crack the egg", "pour", "add"]
    assert out["abc-123_x"].start.dtype == np.float64 and len(out["XYZ"]) == 0
    assert out.info == {"n_videos": 2, "n_captions": 3, "n_empty_videos": 1,
                        "n_unsorted_videos": 1}
