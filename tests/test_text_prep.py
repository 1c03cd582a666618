"""Tokenisation (reference §2.2) and input preparation (§2.3, §6.2, §6.6)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mcnbench.data import prep
from mcnbench.data.text import Tokenizer, step_name_to_text, tokenize
from mcnbench.data.word2vec import load_word2vec

# ----------------------------------------------------------------------------- text


def test_tokenize_keeps_case_apostrophes_and_underscores():
    assert tokenize("Don't crack_egg, then POUR!") == ["Don't", "crack_egg", "then", "POUR"]
    assert tokenize(12.5) == ["12", "5"]
    assert tokenize("") == [] and tokenize("  ?! ") == []


def test_step_name_to_text():
    assert step_name_to_text("crack_egg") == "crack egg"
    assert step_name_to_text("add_powder_turmeric ") == "add powder turmeric"
    assert step_name_to_text("pour  water") == "pour water"


def test_encode_drops_oov_truncates_pads_and_counts(tiny_w2v):
    wv = load_word2vec(tiny_w2v)
    tok = Tokenizer(wv, max_words=3)
    out, stats = tok.encode(["crack the EGG egg", "", "zzz qqq", "add flour add flour water",
                             "Egg"])
    assert out.shape == (5, 3, 5) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], wv.vectors_for(["crack", "the", "egg"]))
    assert not out[1].any() and not out[2].any()                 # empty / all OOV -> zeros
    np.testing.assert_array_equal(out[3], wv.vectors_for(["add", "flour", "add"]))
    np.testing.assert_array_equal(out[4, 0], wv.vectors_for(["Egg"])[0])
    assert not out[4, 1:].any()
    assert (stats.n_sentences, stats.n_empty, stats.n_all_oov, stats.n_truncated) == (5, 1, 1, 1)
    assert stats.n_tokens == 4 + 0 + 2 + 5 + 1 and stats.n_oov_tokens == 3
    assert stats.oov_rate == pytest.approx(3 / 12) and stats.n_zero == 2
    assert stats.as_dict()["n_zero"] == 2


def test_encode_rejects_a_bare_string(tiny_w2v):
    with pytest.raises(TypeError):
        Tokenizer(load_word2vec(tiny_w2v)).encode("crack the egg")


# ----------------------------------------------------------------------------- video


def test_l2_normalize_zero_stays_zero():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    out = prep.l2_normalize(x)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    assert out.dtype == np.float32 and np.isfinite(out).all()


def test_video_input_per_half_and_batched():
    f2d, f3d = np.array([3.0, 4.0]), np.array([0.0, 2.0])
    np.testing.assert_allclose(prep.video_input(f2d, f3d), [0.6, 0.8, 0.0, 1.0])
    batch = prep.video_input(np.stack([f2d, f2d * 2]), np.stack([f3d, np.zeros(2)]))
    np.testing.assert_allclose(batch, [[0.6, 0.8, 0.0, 1.0], [0.6, 0.8, 0.0, 0.0]])
    np.testing.assert_allclose(prep.l2_halves(np.array([3.0, 4.0, 0.0, 5.0])), [0.6, 0.8, 0, 1])


@pytest.mark.parametrize("start,end", [(2.5, 5.2), (0.0, 0.4), (0.0, 19.9), (7.3, 7.3)])
def test_pool_clip_matches_the_official_slices(start, end):
    rng = np.random.RandomState(1)
    f2d, f3d = rng.rand(20, 4).astype(np.float32), rng.rand(30, 4).astype(np.float32)
    want2 = f2d[int(start * 1):int(end * 1) + 1].max(0)
    want3 = f3d[int(start * 1.5):int(end * 1.5) + 1].max(0)
    want = np.concatenate([want2 / np.linalg.norm(want2), want3 / np.linalg.norm(want3)])
    np.testing.assert_allclose(prep.pool_clip(f2d, f3d, start, end), want, rtol=1e-6)


def test_pool_clips_batched_and_empty_slice():
    rng = np.random.RandomState(2)
    f2d, f3d = rng.rand(10, 3).astype(np.float32), rng.rand(20, 3).astype(np.float32)
    starts, ends = np.array([0.0, 3.0, 10.5]), np.array([2.0, 9.5, 20.0])
    out = prep.pool_clips(f2d, f3d, starts, ends)
    assert out.shape == (3, 6)
    for i in range(2):
        np.testing.assert_allclose(out[i], prep.pool_clip(f2d, f3d, starts[i], ends[i]))
    assert not out[2, :3].any()               # 2D rows 10..20 do not exist -> zeros
    want3 = f3d[15:].max(0)                   # 3D rows 15..30 -> the 5 that exist
    np.testing.assert_allclose(out[2, 3:], want3 / np.linalg.norm(want3), rtol=1e-6)


# ----------------------------------------------------------------------------- audio


def test_time_to_frames_is_librosa_formula():
    t = np.array([0.0, 0.0124, 0.0125, 0.02, 1.0, 10.0, 3.337])
    want = np.floor((np.floor(t * 16000) - 200) / 160).astype(np.int64)
    np.testing.assert_array_equal(prep.time_to_frames(t), want)
    assert prep.time_to_frames(0.0) == -2 and prep.time_to_frames(10.0) == 998


def test_audio_window_clamped_and_official_quirk():
    spec = np.tile(np.arange(3000, dtype=np.float32), (40, 1))
    win, n = prep.audio_window(spec, 0.0, 10.0, 1000)
    assert win.shape == (40, 1000) and n == 998
    np.testing.assert_array_equal(win[0, :998], np.arange(998))
    assert not win[:, 998:].any()
    # clamp=False: frame -2 counts from the end, so the official slice is empty
    win, n = prep.audio_window(spec, 0.0, 10.0, 1000, clamp=False)
    assert n == 0 and not win.any()
    win, n = prep.audio_window(spec, 5.0, 25.0, 1000)      # longer than n_frames: truncated
    assert n == 1000 and win[0, 0] == prep.time_to_frames(5.0)


def test_pad_or_truncate():
    spec = np.ones((40, 5), np.float16)
    padded = prep.pad_or_truncate(spec, 8)
    assert padded.shape == (40, 8) and padded.dtype == np.float32 and not padded[:, 5:].any()
    assert prep.pad_or_truncate(spec, 3).shape == (40, 3)


@pytest.mark.parametrize("t_in", [1, 2, 3, 7, 10, 33, 100])
@pytest.mark.parametrize("t_out", [1, 2, 5, 10, 31, 64])
def test_adaptive_max_pool_matches_torch(t_in, t_out):
    x = np.random.RandomState(t_in * 100 + t_out).randn(t_in, 6).astype(np.float32)
    want = torch.nn.functional.adaptive_max_pool1d(torch.from_numpy(x.T[None]), t_out)[0].T
    np.testing.assert_array_equal(prep.adaptive_max_pool(x, t_out), want.numpy())


@pytest.mark.parametrize("T", [3, 8, 9, 30])
def test_crosstask_audio_windows_match_the_official_loop(T):
    spec = np.random.RandomState(T).randn(40, T * 100 + 37).astype(np.float32)
    windows, nframes = prep.crosstask_audio_windows(spec, T)
    assert windows.shape == (T, 40, 1024) and nframes.shape == (T,)
    for i in range(T):  # the official per-second loop (reference §6.6 step 2)
        if i < 4:
            s, e = 0, 8
        elif i > T - 4:
            s, e = T - 8, T
        else:
            s, e = i - 4, i + 4
        f0 = max(int(prep.time_to_frames(s)), 0)
        f1 = int(prep.time_to_frames(e))
        want = prep.pad_or_truncate(spec[:, f0:max(f1, 0)], 1024)
        np.testing.assert_array_equal(windows[i], want)
        assert nframes[i] == min(spec[:, f0:max(f1, 0)].shape[1], 1024)
        assert nframes[i] > 0
