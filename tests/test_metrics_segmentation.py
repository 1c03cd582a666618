"""Mining YouTube alignment (DP vs brute-force enumeration) and MoF / IoU / IoD / recall."""
import itertools

import numpy as np
import pytest

from mcnbench.metrics.segmentation import (
    MYT_REFERENCE,
    align_transcript,
    iou_iod,
    mof,
    poisson_length_scores,
    step_recall,
    transcript_alignment,
)


def objective(lp, tr, bounds, table=None):
    total = 0.0
    for l, c in enumerate(tr):
        a, b = bounds[l], bounds[l + 1]
        total += lp[a:b, c].sum() + (table[b - a] if table is not None else 0.0)
    return total


def brute_force(lp, tr, min_len=1, table=None, fs=1, max_len=None):
    """Best objective over every split of T frames into len(tr) ordered segments."""
    T, L = lp.shape[0], len(tr)
    best = -np.inf
    for cuts in itertools.combinations(range(1, T), L - 1):
        bounds = (0,) + cuts + (T,)
        lens = np.diff(bounds)
        if lens.min() < min_len or any(c % fs for c in cuts):
            continue
        if max_len is not None and lens.max() > max_len:
            continue
        best = max(best, objective(lp, tr, bounds, table))
    return best


def test_dp_equals_brute_force():
    rng = np.random.default_rng(0)
    for i in range(400):
        T, C = int(rng.integers(2, 10)), int(rng.integers(2, 4))
        L = int(rng.integers(1, min(T, 4) + 1))
        tr = rng.integers(0, C, size=L)
        lp = np.log(rng.dirichlet(np.ones(C), size=T))
        if i % 3 == 0:  # coarse values: many tied segmentations
            lp = np.round(lp)
        opts = [dict(), dict(min_len=2), dict(poisson_mean=3.0), dict(frame_sampling=2),
                dict(max_len=4), dict(min_len=2, poisson_mean=2.5, frame_sampling=2)][i % 6]
        table = poisson_length_scores(opts["poisson_mean"], T) if "poisson_mean" in opts else None
        want = brute_force(lp, tr, opts.get("min_len", 1), table, opts.get("frame_sampling", 1),
                           opts.get("max_len"))
        if not np.isfinite(want):
            with pytest.raises(ValueError, match="no alignment"):
                transcript_alignment(lp, tr, **opts)
            continue
        res = transcript_alignment(lp, tr, **opts)
        assert res.score == pytest.approx(want, abs=1e-9)
        assert objective(lp, tr, res.bounds, table) == pytest.approx(want, abs=1e-9)
        assert res.bounds[0] == 0 and res.bounds[-1] == T and (np.diff(res.bounds) >= 1).all()
        np.testing.assert_array_equal(res.labels, np.repeat(tr, np.diff(res.bounds)))


def test_worked_example_clear_segments():
    # frames 0-3 class 2 (background), 4-6 class 0, 7-9 class 2, 10-11 class 1
    truth = np.array([2] * 4 + [0] * 3 + [2] * 3 + [1] * 2)
    lp = np.log(np.full((12, 3), 0.1))
    lp[np.arange(12), truth] = np.log(0.8)
    np.testing.assert_array_equal(align_transcript(lp, [2, 0, 2, 1]), truth)
    # the constraints win over the frame scores: 4 segments of >= 3 frames in 12 frames
    np.testing.assert_array_equal(align_transcript(lp, [2, 0, 2, 1], min_len=3),
                                  np.repeat([2, 0, 2, 1], 3))
    # raw scores with log_softmax give the same alignment as their log-probabilities
    np.testing.assert_array_equal(align_transcript(5 * lp + 3, [2, 0, 2, 1], log_softmax=True), truth)


def test_repeated_transcript_entries_and_reference_settings():
    T = 400
    truth = np.repeat([5, 1, 5, 1], [100, 80, 120, 100])
    rng = np.random.default_rng(3)
    lp = np.log(rng.dirichlet(np.ones(6), size=T)) * 0.1
    lp[np.arange(T), truth] += 2.0
    lp -= np.log(np.exp(lp).sum(axis=1, keepdims=True))
    got = align_transcript(lp, [5, 1, 5, 1], **MYT_REFERENCE)
    assert mof(got, truth) > 0.95
    b = transcript_alignment(lp, [5, 1, 5, 1], **MYT_REFERENCE).bounds
    assert (b[1:-1] % 20 == 0).all() and (np.diff(b) >= 20).all()


def test_alignment_errors():
    lp = np.zeros((5, 3))
    with pytest.raises(ValueError, match="no alignment"):
        transcript_alignment(lp, [0, 1, 2], min_len=2)
    with pytest.raises(ValueError, match="transcript"):
        transcript_alignment(lp, [0, 3])
    with pytest.raises(ValueError, match="NaN"):
        transcript_alignment(np.full((5, 3), np.nan), [0])


def test_poisson_table():
    t = poisson_length_scores(150.0, 400)
    assert t[0] == -np.inf and t.max() == 0.0 and t.argmax() in (149, 150)


BG = 9
GT = np.array([BG, BG, 1, 1, 2, 2])
PRED = np.array([BG, 1, 1, 1, 2, BG])


def test_mof_worked_example():
    assert mof(PRED, GT) == pytest.approx(4 / 6)
    assert mof(PRED, GT, bg=BG) == pytest.approx(3 / 4)
    # frame-weighted over videos: (4 + 2) / (6 + 2)
    assert mof([PRED, np.array([3, 3])], [GT, np.array([3, 3])]) == pytest.approx(6 / 8)
    with pytest.raises(ValueError, match="video 1"):
        mof([PRED, np.zeros(3)], [GT, np.zeros(4)])


def test_iou_iod_worked_example():
    no_bg = iou_iod(PRED, GT, bg=BG)
    assert no_bg["iou"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert no_bg["iod"] == pytest.approx((2 / 3 + 1) / 2)
    with_bg = iou_iod(PRED, GT)
    assert with_bg["iou"] == pytest.approx((2 / 3 + 1 / 2 + 1 / 3) / 3)
    assert with_bg["iod"] == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)
    assert with_bg["per_class"][BG] == pytest.approx((1 / 3, 1 / 2))
    # a GT class never predicted: IoU 0 and IoD 0
    assert iou_iod(np.array([0, 0]), np.array([0, 1]))["per_class"][1] == (0.0, 0.0)
    # a predicted class absent from the GT counts only with classes="union"
    p, g = np.array([0, 5]), np.array([0, 0])
    assert iou_iod(p, g)["iou"] == 0.5
    assert iou_iod(p, g, classes="union")["iou"] == 0.25
    assert set(iou_iod(p, g, classes=[0, 5, 7])["per_class"]) == {0, 5}


def test_iou_dataset_vs_video_average():
    p = [np.array([1, 1, 0, 0]), np.array([1, 1])]
    g = [np.array([1, 1, 1, 0]), np.array([1, 0])]
    ds = iou_iod(p, g)  # pooled: class 0 -> 1/3, class 1 -> 3/5
    assert ds["iou"] == pytest.approx((1 / 3 + 3 / 5) / 2)
    vid = iou_iod(p, g, average="video")  # video 1: (1/2 + 2/3) / 2; video 2: (0 + 1/2) / 2
    assert vid["iou"] == pytest.approx(((1 / 2 + 2 / 3) / 2 + 1 / 4) / 2)


def test_step_recall():
    scores = np.zeros((6, 2))
    scores[1, 0] = scores[4, 1] = 5.0
    y = np.zeros((6, 2), dtype=np.uint8)
    y[1, 0] = y[2, 1] = 1
    y_only_first = np.zeros((6, 2), dtype=np.uint8)
    y_only_first[1, 0] = 1
    r = step_recall([(scores, y), (scores, y_only_first), (scores, np.zeros((6, 2))),
                     (np.zeros((1, 2)), np.array([[1, 0]]))])
    # video 1: 1 of 2, video 2: 1 of 1, video 3 has no GT, video 4 is skipped (T < K): 0 of 1
    assert r["recall"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert r["n_videos_no_gt"] == 1 and r["n_videos_skipped"] == 1 and r["n_videos"] == 4
