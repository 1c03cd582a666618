"""The HowTo100M clip sampler (reference mcn_spec §2.3) on a hand-made corpus with known values."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from mcnbench.data.clip_sampler import (
    ClipDataset,
    RunBatches,
    audio_windows,
    collate_clips,
    epoch_order,
    extend_caption,
)
from mcnbench.data.prep import audio_window, pool_clips
from mcnbench.data.word2vec import load_word2vec, write_word2vec

# five captions of one video; caption i says "w{i}a w{i}b"
STARTS = np.array([0.0, 2.0, 5.0, 6.0, 12.0])
ENDS = np.array([2.0, 5.0, 6.0, 12.0, 13.0])
DH = 6


def _write_corpus(root, n_videos=4, seed=0):
    rng = np.random.default_rng(seed)
    h = root / "howto100m"
    vocab = [f"w{i}{s}" for i in range(5) for s in "ab"] + ["filler"]
    write_word2vec(root / "word2vec.bin", vocab, np.eye(len(vocab), dtype=np.float32))
    captions, rows = {}, []
    for k in range(n_videos):
        vid, rel = f"vid{k:03d}", f"cat/video_x/vid{k:03d}"
        rows.append(rel)
        captions[vid] = {"start": STARTS.copy(), "end": ENDS.copy(),
                         "text": np.array([f"w{i}a w{i}b OOV" for i in range(5)], dtype=object)}
        (h / "features" / rel).mkdir(parents=True)
        (h / "audio" / rel).mkdir(parents=True)
        np.savez(h / "features" / rel / f"{vid}_2d.npz", features=rng.random((14, DH), np.float32))
        np.savez(h / "features" / rel / f"{vid}_3d.npz", features=rng.random((21, DH), np.float32))
        spec = -rng.random((40, 1400)).astype(np.float16) * 80
        np.savez(h / "audio" / rel / f"{vid}_spec.npz", arr_0=spec)
    (h / "videopaths.csv").write_text("path\n" + "\n".join(rows) + "\n")
    with open(h / "caption.pickle", "wb") as f:
        pickle.dump(captions, f)
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return _write_corpus(tmp_path_factory.mktemp("corpus"))


def _dataset(corpus, **kw):
    wv = load_word2vec(corpus / "word2vec.bin")
    opts = dict(n_pair=6, min_time=10.0, audio_frames=300, max_words=20, seed=3)
    return ClipDataset(corpus, wv, **{**opts, **kw}), wv


def test_extension_worked_example():
    # caption 2 (5-6 s): d1 = 12-5 = 7, d2 = 6-2 = 4 -> previous; then d1 = 12-2 = 10,
    # d2 = 6-0 = 6 -> previous; now at the first caption -> forward to caption 3: 0-12 s.
    order, lo, hi = extend_caption(STARTS, ENDS, 2, 10.0)
    assert order == [2, 1, 0, 3] and (lo, hi) == (0, 3)


def test_extension_edges_and_ties():
    assert extend_caption(STARTS, ENDS, 4, 10.0) == ([4, 3, 2, 1], 1, 4)  # last: backward only
    assert extend_caption(STARTS, ENDS, 0, 10.0) == ([0, 1, 2, 3], 0, 3)  # first: forward only
    assert extend_caption(STARTS, ENDS, 3, 5.0) == ([3], 3, 3)          # already long enough
    assert extend_caption(np.array([1.0]), np.array([2.0]), 0, 10.0) == ([0], 0, 0)
    assert extend_caption(STARTS, ENDS, 1, 100.0)[1:] == (0, 4)          # runs out of captions
    # tie d1 == d2 takes the previous caption
    s, e = np.array([0.0, 4.0, 5.0]), np.array([1.0, 5.0, 9.0])
    assert extend_caption(s, e, 1, 2.0) == ([1, 0], 0, 1)


def test_words_appended_in_extension_order(corpus):
    ds, wv = _dataset(corpus)
    orders, starts, ends = ds.clip_spans(0, 0)
    item = ds[(0, 0)]
    words = list(wv.key_to_index)
    for j, order in enumerate(orders):
        rows = item["text"][j]
        got = [words[int(np.argmax(r))] for r in rows if r.any()]
        assert got == [f"w{c}{s}" for c in order for s in "ab"]   # OOV dropped, order kept
        assert (starts[j], ends[j]) == (STARTS[min(order)], ENDS[max(order)])
        assert ends[j] - starts[j] >= 10.0


def test_item_shapes_and_video_pooling(corpus):
    ds, _ = _dataset(corpus)
    item = ds[(1, 2)]
    assert item["video"].shape == (6, 2 * DH) and item["audio"].shape == (6, 40, 300)
    assert item["text"].shape == (6, 20, 11) and item["nframes"].shape == (6,)
    _, starts, ends = ds.clip_spans(1, 2)
    v = ds._video(2)
    j = 0
    rows2d = v.f2d[int(starts[j] * 1.0):int(ends[j] * 1.0) + 1].max(0)
    rows3d = v.f3d[int(starts[j] * 1.5):int(ends[j] * 1.5) + 1].max(0)
    expect = np.concatenate([rows2d / np.linalg.norm(rows2d), rows3d / np.linalg.norm(rows3d)])
    np.testing.assert_allclose(item["video"][j], expect, rtol=1e-6)
    np.testing.assert_array_equal(item["video"], pool_clips(v.f2d, v.f3d, starts, ends))


@pytest.mark.parametrize("clamp", [True, False])
def test_audio_windows_match_reference_slice(clamp):
    rng = np.random.default_rng(0)
    spec = rng.standard_normal((40, 500)).astype(np.float32)
    start = np.concatenate([[0.0, 0.005, 0.0125, 0.02, 4.9], rng.uniform(0, 6, 20)])
    end = start + np.concatenate([[10.0, 1.0, 2.0, 0.5, 3.0], rng.uniform(0, 12, 20)])
    got, nframes = audio_windows(spec, start, end, 200, clamp=clamp)
    for i in range(len(start)):
        want, n = audio_window(spec, start[i], end[i], 200, clamp=clamp)
        np.testing.assert_array_equal(got[i], want)
        assert nframes[i] == n


def test_audio_clamp_at_video_start():
    spec = np.arange(40 * 1400, dtype=np.float32).reshape(40, 1400)
    # t = 0 s is frame floor(-200/160) = -2: clamped -> frames 0..998; official -> spec[:, -2:998]
    clamped, n_c = audio_windows(spec, np.array([0.0]), np.array([10.0]), 1000, clamp=True)
    quirk, n_q = audio_windows(spec, np.array([0.0]), np.array([10.0]), 1000, clamp=False)
    assert n_c[0] == 998 and np.array_equal(clamped[0, :, :998], spec[:, :998])
    assert not clamped[0, :, 998:].any()
    assert n_q[0] == 0 and not quirk.any()


def test_determinism_per_seed_and_epoch(corpus):
    a, _ = _dataset(corpus)
    b, _ = _dataset(corpus, cache=False)
    for key in [(0, 0), (3, 1)]:
        x, y = a[key], b[key]
        for k in ("video", "audio", "nframes", "text"):
            np.testing.assert_array_equal(x[k], y[k])
    spans = [a.clip_spans(e, 0)[1] for e in range(4)]
    assert any(not np.array_equal(spans[0], s) for s in spans[1:])  # epochs differ
    c, _ = _dataset(corpus, seed=4)
    assert any(not np.array_equal(a.clip_spans(e, 1)[1], c.clip_spans(e, 1)[1]) for e in range(4))
    np.testing.assert_array_equal(epoch_order(10, 3, 2), epoch_order(10, 3, 2))
    assert sorted(epoch_order(10, 3, 2)) == list(range(10))


def test_run_batches_resume_and_shards():
    full = list(RunBatches(10, 4, seed=1, epochs=3))
    assert len(full) == 3 * 2 and all(len(b) == 4 for b in full)
    assert [k[0] for k in full[0]] == [0] * 4 and [k[0] for k in full[-1]] == [2] * 4
    assert list(RunBatches(10, 4, seed=1, epochs=3, start=(1, 1))) == full[3:]
    halves = [list(RunBatches(10, 4, seed=1, epochs=3, shard=lambda b, r=r: b[r * 2:(r + 1) * 2]))
              for r in range(2)]
    assert [h0 + h1 for h0, h1 in zip(*halves, strict=True)] == full
    with pytest.raises(ValueError, match="fewer than one batch"):
        RunBatches(3, 4, seed=1, epochs=1)


def test_loader_workers_give_the_same_batches(corpus):
    ds, _ = _dataset(corpus)
    kw = dict(batch_sampler=RunBatches(len(ds), 2, seed=3, epochs=2), collate_fn=collate_clips)
    serial = list(torch.utils.data.DataLoader(ds, num_workers=0, **kw))
    forked = list(torch.utils.data.DataLoader(ds, num_workers=2, **kw))
    assert len(serial) == 4 and serial[0]["video"].shape == (12, 2 * DH)
    for x, y in zip(serial, forked, strict=True):
        for k in x:
            torch.testing.assert_close(x[k], y[k], rtol=0, atol=0)
