"""Text→full-video retrieval (MV-Clip, MV-Video, Caption Avg.) and retrieval directions:
worked examples with answers computed by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mcnbench.metrics.directions import retrieval_sides
from mcnbench.metrics.video_retrieval import (
    best_clip_scores,
    caption_average,
    group_by_video,
    top_k_share,
    video_retrieval,
    vote_hits,
)

# Three videos: A owns clips 0, 1; B clip 2; C clips 3, 4. Caption i belongs to clip i.
M = np.array([[5, 1, 4, 0, 2],    # caption 0 (A)
              [1, 3, 0, 5, 0],    # caption 1 (A)
              [0, 0, 2, 1, 3],    # caption 2 (B)
              [0, 1, 0, 4, 2],    # caption 3 (C)
              [3, 0, 0, 1, 0]],   # caption 4 (C)
             dtype=float)
VIDEO = np.array([0, 0, 1, 2, 2])
VIDEOS = ["A" * 11, "B" * 11, "C" * 11]


def test_group_by_video_uses_the_first_11_characters():
    ids = ["CCCCCCCCCCC_1", "AAAAAAAAAAA_0", "AAAAAAAAAAA_12", "BBBBBBBBBBB_0"]
    videos, index = group_by_video(ids)
    assert videos == ["A" * 11, "B" * 11, "C" * 11]  # sorted, as the published code sorts them
    np.testing.assert_array_equal(index, [2, 0, 0, 1])


def test_best_clip_scores_and_caption_average_by_hand():
    per_caption = best_clip_scores(M, VIDEO, 3)
    np.testing.assert_array_equal(per_caption, [[5, 4, 2], [3, 0, 5], [0, 2, 3], [1, 0, 4],
                                                [3, 0, 1]])
    S = caption_average(per_caption, VIDEO, 3)
    np.testing.assert_array_equal(S, [[4, 2, 3.5], [0, 2, 3], [2, 0, 2.5]])


def test_top_k_share_splits_the_boundary_tie():
    np.testing.assert_allclose(top_k_share(np.array([[2.0, 2, 2, 0, 0]]), 1), [[1 / 3] * 3 + [0, 0]])
    np.testing.assert_allclose(top_k_share(np.array([[2.0, 2, 2, 0, 0]]), 2), [[2 / 3] * 3 + [0, 0]])
    np.testing.assert_allclose(top_k_share(np.array([[3.0, 2, 2, 0]]), 2), [[1, 0.5, 0.5, 0]])
    share = top_k_share(np.random.default_rng(0).integers(0, 3, (20, 7)).astype(float), 3)
    np.testing.assert_allclose(share.sum(axis=1), 3.0)  # every caption casts exactly K votes


def test_vote_totals_equal_up_to_rounding_are_ties():
    totals = np.array([[0.1 + 0.2, 0.3], [0.0, 1.0]])  # 0.30000000000000004 vs 0.3: a tie
    np.testing.assert_array_equal(vote_hits(totals, 1, "mean"), [False, True])
    np.testing.assert_array_equal(vote_hits(totals, 1, "optimistic"), [True, True])
    np.testing.assert_array_equal(vote_hits(np.array([[0.0, 0.0], [0.0, 0.0]]), 5, "optimistic"),
                                  [False, False])  # no vote, never predicted


# Hand count. Caption Avg. S rows: A [4, 2, 3.5] (rank 0), B [0, 2, 3] (rank 1), C [2, 0, 2.5]
# (rank 0). Top-1 votes (best video per caption = video of the best clip): A's captions vote
# A, C; B's caption votes C; C's captions vote C, A. So A and C tie 1-1 with their own captions,
# B gets no vote: mean and pessimistic miss both ties, optimistic hits both, legacy's stable
# argsort of the counts [1, 1] picks the later id (C): only C hits.
EXPECTED_R1 = {"mean": (2, 0, 0), "optimistic": (2, 2, 2), "pessimistic": (2, 0, 0),
               "legacy": (2, 1, 1)}  # (caption_avg, mv_video, mv_clip) hits at K = 1


@pytest.mark.parametrize("rule", ["mean", "optimistic", "pessimistic", "legacy"])
def test_three_protocols_worked_example(rule):
    res = video_retrieval(M, VIDEO, VIDEOS, tie_rule=rule, ks=(1, 2, 5))
    ca, mvv, mvc = EXPECTED_R1[rule]
    assert res.metrics["caption_avg/R@1"] == pytest.approx(100 * ca / 3)
    assert res.metrics["mv_video/R@1"] == pytest.approx(100 * mvv / 3)
    assert res.metrics["mv_clip/R@1"] == pytest.approx(100 * mvc / 3)
    np.testing.assert_array_equal(res.ranks, [0, 1, 0])
    assert res.metrics["caption_avg/MedR"] == 1.0
    assert res.metrics["caption_avg/MeanR"] == pytest.approx(1 + 1 / 3)
    # K = 2: per-video top-2 sets give A {A: 2, B: 1, C: 1}, B {B: 1, C: 1}, C {A: 2, C: 2};
    # per-clip top-2 give A {A: 2, B: 1, C: 1}, B {B: 1, C: 1}, C {C: 3, A: 1}: all hit.
    for p in ("caption_avg", "mv_video", "mv_clip"):
        assert res.metrics[f"{p}/R@2"] == pytest.approx(100.0), p
        assert res.metrics[f"{p}/R@5"] == pytest.approx(100.0), p
    assert res.hits["mv_video"].shape == (3, 3)


def test_missing_videos_count_as_misses():
    res = video_retrieval(M, VIDEO, VIDEOS, complete_videos=4)
    assert res.metrics["caption_avg/R@1"] == pytest.approx(50.0)
    assert res.metrics["mv_clip/R@5"] == pytest.approx(75.0)
    with pytest.raises(ValueError, match="smaller than"):
        video_retrieval(M, VIDEO, VIDEOS, complete_videos=2)


def test_untied_scores_against_brute_force():
    """Continuous scores: no caption ranks two items equally, so every caption's top K is exact
    and the vote totals are integers, which still tie; each rule is checked against loops."""
    rng = np.random.default_rng(3)
    video = np.unique(np.sort(rng.integers(0, 8, 40)), return_inverse=True)[1]
    V = video.max() + 1
    m = rng.normal(size=(40, 40))
    results = {r: video_retrieval(m, video, [str(i) for i in range(V)], tie_rule=r)
               for r in ("mean", "optimistic", "pessimistic", "legacy")}
    for r in results.values():  # Caption Avg. has no tie: every rule gives the same
        assert r.metrics["caption_avg/R@5"] == results["mean"].metrics["caption_avg/R@5"]
    rank = {"mean": lambda p, t: p + (t - 1) / 2, "optimistic": lambda p, t: p,
            "pessimistic": lambda p, t: p + t - 1}
    for j, k in enumerate((1, 5, 10)):
        for v in range(V):
            votes = np.zeros(V)  # MV-Clip: the videos of each caption's K best clips
            for c in np.flatnonzero(video == v):
                for i in np.argsort(-m[c])[:k]:
                    votes[video[i]] += 1
            p, t = int((votes > votes[v]).sum()), int((votes == votes[v]).sum())
            for rule, f in rank.items():
                r = f(p, t)
                hit = votes[v] > 0 and (r == 0 if k == 1 else r < k)
                assert results[rule].hits["mv_clip"][v, j] == hit, (rule, k, v)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"need m \[N, N\]"):
        video_retrieval(M[:4], VIDEO, VIDEOS)
    with pytest.raises(ValueError, match="NaN"):
        video_retrieval(np.full((5, 5), np.nan), VIDEO, VIDEOS)


# ----------------------------------------------------------------------------- directions

def test_retrieval_sides():
    t, v, a = np.eye(3), 2 * np.eye(3), 3 * np.eye(3)
    q, g, used = retrieval_sides(t, {"video": v, "audio": a}, "t2va")
    assert (g == 5 * np.eye(3)).all() and used == {"direction": "t2va", "query": "text",
                                                    "gallery": "video+audio"}
    q, g, used = retrieval_sides(t, {"video": v, "audio": a}, "a2v")
    assert (q == a).all() and (g == v).all()
    q, g, used = retrieval_sides(t, {"video": v, "audio": a}, "va2t", fusion="audio")
    assert (q == a).all() and (g == t).all() and used["query"] == "audio"
    with pytest.raises(ValueError, match="fixes its modalities"):
        retrieval_sides(t, {"video": v}, "v2t", fusion="video")
    with pytest.raises(ValueError, match="needs audio"):
        retrieval_sides(t, {"video": v}, "a2v")
    q, g, used = retrieval_sides(t, {"video": v, "audio": a}, "t2a")
    assert (q == t).all() and (g == a).all() and used["gallery"] == "audio"
    with pytest.raises(ValueError, match="needs audio"):
        retrieval_sides(t, {"video": v}, "t2a")
    with pytest.raises(ValueError, match="direction must be one of"):
        retrieval_sides(t, {"video": v}, "a2t")


def _direction_root(tmp_path):
    """4 YouCook2 clips: video_i = e_i, audio_i = e_(i+1 mod 4), caption 1 a duplicate of
    caption 0 (both e_0); the csv lists the 4 clips (two videos)."""
    from conftest import avlnet_items, write_pickle

    from mcnbench.zoo.precomputed import PrecomputedModel, write_embeddings

    items = avlnet_items(4, kind="youcook2")
    for i, it in enumerate(items):
        it["id"] = f"{'AB'[i // 2] * 11}_{i}"
    write_pickle(tmp_path / "youcook2" / "youcook_val_audio.pkl", items)
    pd.DataFrame({"end": [5.0] * 4, "start": [1.0] * 4, "task": ["t"] * 4, "text": ["x"] * 4,
                  "video_id": [it["id"][:11] for it in items]}
                 ).to_csv(tmp_path / "youcook2" / "validation_youcook.csv", index=False)
    eye = np.eye(4, dtype=np.float32)
    text = eye.copy()
    text[1] = eye[0]
    ids = [it["id"] for it in items]
    write_embeddings(tmp_path / "emb", "youcook2", clip_ids=ids, video=eye,
                     audio=np.roll(eye, -1, axis=0), text_ids=ids, text=text)
    return tmp_path, PrecomputedModel(tmp_path / "emb")


# Mean-rule ranks by hand (see _direction_root): t2v: caption 1 (= e_0) has video 0 above its
# clip and 3 clips tied at 0; v2t: video 0 ties captions 0 and 1, video 1 ties all 4 captions at
# 0; a2v: audio_i = e_(i+1) finds video i+1 first, its own video tied with 2 others at 0; t2a:
# caption i (e_0, e_0, e_2, e_3) scores 1 with one other clip's audio (a_3, a_3, a_1, a_2) and
# 0 with its own, tied with two others; t2va:
# gallery_i = e_i + e_(i+1); va2t: the transposed product.
DIRECTION_RANKS = {"t2va": [0.5, 2.5, 0.5, 0.5], "t2v": [0, 2, 0, 0], "t2a": [2, 2, 2, 2],
                   "a2v": [2, 2, 2, 2],
                   "v2t": [0.5, 1.5, 0, 0], "va2t": [0.5, 2, 0.5, 1]}


@pytest.mark.parametrize("direction", list(DIRECTION_RANKS))
def test_youcook2_directions_worked_example(tmp_path, direction):
    from mcnbench.registry import get_task

    root, model = _direction_root(tmp_path)
    res = get_task("youcook2").obj().evaluate(model, root, direction=direction)
    np.testing.assert_array_equal(res.per_query["ranks"], DIRECTION_RANKS[direction])
    assert res.info["direction"] == direction
    assert (res.info["query"] == "text") == direction.startswith("t")


def test_direction_is_an_option_of_both_retrieval_tasks():
    from mcnbench.registry import get_task

    for name in ("youcook2", "msrvtt"):
        t = get_task(name).obj()
        assert t.options()["direction"] == "t2va"
        with pytest.raises(ValueError, match="is not one of"):
            t.options(direction="a2t")


# ----------------------------------------------------------------------------- the task

def _video_root(tmp_path):
    """The worked example M as a YouCook2 data root: text = M, video = I, audio = 0, so that
    text · (video + audio) = M; the csv names a fourth video absent from the pickle."""
    from conftest import avlnet_items, write_pickle

    from mcnbench.zoo.precomputed import PrecomputedModel, write_embeddings

    items = avlnet_items(5, kind="youcook2")
    ids = ["AAAAAAAAAAA_0", "AAAAAAAAAAA_1", "BBBBBBBBBBB_0", "CCCCCCCCCCC_0", "CCCCCCCCCCC_1"]
    for it, i in zip(items, ids, strict=True):
        it["id"] = i
    write_pickle(tmp_path / "youcook2" / "youcook_val_audio.pkl", items)
    vids = [i[:11] for i in ids] + ["DDDDDDDDDDD"]
    pd.DataFrame({"end": [5.0] * 6, "start": [1.0] * 6, "task": ["t"] * 6, "text": ["x"] * 6,
                  "video_id": vids}).to_csv(tmp_path / "youcook2" / "validation_youcook.csv",
                                            index=False)
    write_embeddings(tmp_path / "emb", "youcook2", clip_ids=ids, video=np.eye(5),
                     audio=np.zeros((5, 5)), text_ids=ids, text=M)
    return tmp_path, PrecomputedModel(tmp_path / "emb")


@pytest.mark.parametrize("rule, denom", [("mean", 4), ("legacy", 3)])
def test_youcook2_video_task_on_the_worked_example(tmp_path, rule, denom):
    from mcnbench.registry import get_task

    root, model = _video_root(tmp_path)
    res = get_task("youcook2_video").obj().evaluate(model, root, tie_rule=rule)
    ca, mvv, mvc = EXPECTED_R1[rule]
    assert res.metrics["caption_avg/R@1"] == pytest.approx(100 * ca / denom)
    assert res.metrics["mv_video/R@1"] == pytest.approx(100 * mvv / denom)
    assert res.metrics["mv_clip/R@1"] == pytest.approx(100 * mvc / denom)
    assert res.metrics["caption_avg/R@5"] == pytest.approx(300 / denom)
    assert res.info["missing_videos"] == 1 and res.info["r_at_k_denominator"] == denom
    np.testing.assert_array_equal(res.per_query["videos"], VIDEOS)
    assert res.per_query["hits_mv_clip"].shape == (3, 3)
