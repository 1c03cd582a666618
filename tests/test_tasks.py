"""The tasks end to end on the tiny synthetic world, and the shared task helpers."""
from __future__ import annotations

import numpy as np
import pytest

from mcnbench.data.batch import Batch
from mcnbench.registry import get_task
from mcnbench.tasks.base import RetrievalTask, Task, embed_rows, embed_texts, fuse
from mcnbench.zoo.precomputed import PrecomputedModel

pytest_plugins = ("conftest_tasks",)  # the tiny_world, oracle_dir, random_dir fixtures

TASKS = ("youcook2", "msrvtt", "crosstask", "mining_youtube", "youcook2_video", "ucf101",
         "hmdb51")


def task(name: str) -> Task:
    return get_task(name).obj()


# ----------------------------------------------------------------------------- end to end

# Main-score bounds on the tiny world (seed 0): the oracle (embeddings of the latent concepts)
# must clear FLOOR, random embeddings of the same shapes stay under CEILING. Chance levels:
# retrieval R@10 = 10 / gallery (60 and 40 clips), CrossTask about 1 / (K - ...) per step, IoU
# of a random alignment over a transcript well under 30.
# The new tasks: youcook2_video ranks the tiny world's 20 videos, so its main score (R@10) is 50 by
# chance and the test reads R@5 (chance 25); ucf101 / hmdb51 have 8 / 6 classes (Top-1 chance
# 12.5 / 17).
FLOOR = {"youcook2": 60.0, "msrvtt": 60.0, "crosstask": 60.0, "mining_youtube": 40.0,
         "youcook2_video": 60.0, "ucf101": 60.0, "hmdb51": 60.0}
CEILING = {"youcook2": 40.0, "msrvtt": 45.0, "crosstask": 45.0, "mining_youtube": 30.0,
           "youcook2_video": 50.0, "ucf101": 40.0, "hmdb51": 45.0}
TINY_METRIC = {"youcook2_video": "caption_avg/R@5"}


@pytest.fixture(scope="module")
def tiny_results(tiny_world, oracle_dir, random_dir):
    return {label: {n: task(n).evaluate(PrecomputedModel(emb), tiny_world) for n in TASKS}
            for label, emb in (("oracle", oracle_dir), ("random", random_dir))}


@pytest.mark.parametrize("name", TASKS)
def test_oracle_scores_high_and_random_low(tiny_results, name):
    main = TINY_METRIC.get(name, task(name).main_score)
    oracle, rand = tiny_results["oracle"][name], tiny_results["random"][name]
    assert oracle.metrics[main] >= FLOOR[name], oracle.metrics
    assert rand.metrics[main] <= CEILING[name], rand.metrics
    assert oracle.metrics[main] - rand.metrics[main] >= 25.0
    for res in (oracle, rand):
        assert all(np.isfinite(v) for v in res.metrics.values()), res.metrics
        # the zero-shot tasks score class · video by default, as published
        assert res.info["fusion_used"] == task(name).defaults["fusion"]


@pytest.mark.parametrize("name", ["crosstask", "mining_youtube"])
def test_clustering_separates_oracle_from_random(tiny_results, name):
    """k-means on the oracle's per-second embeddings finds the steps; on random ones it does
    not (ARI about 0: chance)."""
    oracle, rand = tiny_results["oracle"][name].metrics, tiny_results["random"][name].metrics
    assert oracle["cluster/ARI"] - rand["cluster/ARI"] >= 15.0, (oracle, rand)
    assert oracle["cluster/NMI"] > rand["cluster/NMI"] + 15.0
    assert abs(rand["cluster/ARI"]) < 10.0
    assert 0.0 <= oracle["cluster/H"] < rand["cluster/H"]
    pq = tiny_results["oracle"][name].per_query
    if name == "crosstask":  # one row per scored video, NaN where not clustered
        assert len(pq["cluster_NMI"]) == len(pq["video_ids"])
        assert np.nanmean(pq["cluster_NMI"]) * 100 == pytest.approx(oracle["cluster/NMI"])


def test_crosstask_iou_iod_of_one_second_steps(tiny_results):
    """The DP predicts one second per step: IoD is the share of predicted seconds inside their
    step, IoU at most 1 / (the step's length in seconds), so far below IoD."""
    for label in ("oracle", "random"):
        m = tiny_results[label]["crosstask"].metrics
        assert 0.0 <= m["IoU"] < m["IoD"] <= 100.0, m
    assert tiny_results["oracle"]["crosstask"].metrics["IoD"] >= 60.0


def test_retrieval_ranks_match_direct_computation(tiny_world, oracle_dir):
    """The task's ranks are ranks_from_embeddings(text, video + audio) in pickle order, with the
    tie rule handed through, and R@K over the csv size (legacy YouCook2: over the queries)."""
    from mcnbench.metrics.retrieval import ranks_from_embeddings, retrieval_metrics

    model = PrecomputedModel(oracle_dir)
    for name in ("youcook2", "msrvtt"):
        for rule in ("mean", "pessimistic", "legacy"):
            res = task(name).evaluate(model, tiny_world, tie_rule=rule)
            ids = list(res.per_query["ids"])
            clips = model.table(name, "clips")
            rows = clips.rows(ids)
            text = model.table(name, "text").arrays["text"][model.table(name, "text").rows(ids)]
            gallery = clips.arrays["video"][rows] + clips.arrays["audio"][rows]
            expected = ranks_from_embeddings(text, gallery, tie_rule=rule)
            np.testing.assert_array_equal(res.per_query["ranks"], expected.ranks)
            complete = res.info["complete_size"]
            assert complete > res.info["queries"]  # the world drops clips, as the real sets do
            size = len(ids) if (rule == "legacy" and name == "youcook2") else complete
            assert res.metrics == pytest.approx(retrieval_metrics(expected, complete_size=size))


def test_msrvtt_divides_by_the_complete_set(tiny_results, tiny_world):
    import pandas as pd

    res = tiny_results["oracle"]["msrvtt"]
    n_csv = len(pd.read_csv(tiny_world / "msrvtt" / "msrvtt_test.csv"))
    ranks = res.per_query["ranks"]
    assert res.info["complete_size"] == n_csv and len(ranks) == res.info["queries"] < n_csv
    assert len(res.info["missing_ids"]) == n_csv - len(ranks)
    assert res.metrics["R@10"] == pytest.approx(100 * np.sum(ranks < 10) / n_csv)
    assert res.metrics["MedR"] == np.median(ranks) + 1  # over the present queries only


def test_per_query_outputs_agree_with_metrics(tiny_results):
    ct = tiny_results["oracle"]["crosstask"]
    assert ct.info["videos_scored"] == len(ct.per_query["video_ids"]) > 0
    assert (ct.per_query["hits"] <= ct.per_query["present"]).all()
    myt = tiny_results["oracle"]["mining_youtube"]
    pq = myt.per_query
    assert myt.metrics["MoF"] == pytest.approx(100 * pq["correct"].sum() / pq["T"].sum())
    assert len(pq["mof"]) == myt.info["videos_scored"] == myt.info["videos_annotated"]


def test_missing_precomputed_rows_name_the_ids(tiny_world, oracle_dir, tmp_path):
    from mcnbench.data.errors import DataError
    from mcnbench.zoo.precomputed import write_embeddings

    with np.load(oracle_dir / "youcook2" / "clips.npz") as f:
        ids, video, audio = f["ids"], f["video"], f["audio"]
    with np.load(oracle_dir / "youcook2" / "text.npz") as f:
        text_ids, text = f["ids"], f["text"]
    write_embeddings(tmp_path, "youcook2", clip_ids=ids[1:], video=video[1:], audio=audio[1:],
                     text_ids=text_ids, text=text)
    with pytest.raises(DataError, match=rf"1 of \d+ requested ids: not in the file: '{ids[0]}'"):
        task("youcook2").evaluate(PrecomputedModel(tmp_path), tiny_world)


# ----------------------------------------------------------------------------- helpers

class EchoModel:
    """Embeds row i of a batch as [id number, chunk size] (to see chunking)."""

    name = "echo"

    def __init__(self, modalities=("video", "audio")):
        self.modalities, self.calls = modalities, []

    def embed(self, batch: Batch):
        self.calls.append(len(batch))
        x = np.array([[float(i.split("#")[-1]), len(batch)] for i in batch.ids], np.float32)
        if batch.is_text:
            return {"text": x}
        return {m: x * (1 if m == "video" else 10) for m in self.modalities}


def _rows(n, task="t"):
    ids = [f"r#{i}" for i in range(n)]
    return lambda s, e: Batch(ids=ids[s:e], task=task, video=np.zeros((e - s, 2), np.float32))


def test_embed_rows_chunks_and_concatenates():
    model = EchoModel()
    out = embed_rows(model, 10, _rows(10), chunk_size=4, show_progress=False)
    assert model.calls == [4, 4, 2]
    assert out["video"].shape == (10, 2) and out["audio"].dtype == np.float32
    np.testing.assert_array_equal(out["video"][:, 0], np.arange(10))
    text = embed_texts(model, "t", [f"s#{i}" for i in range(3)], ["a", "b", "c"], max_words=5,
                       chunk_size=2)
    np.testing.assert_array_equal(text[:, 0], [0, 1, 2])


@pytest.mark.parametrize("bad, match", [
    (lambda b: {"video": np.zeros((len(b) + 1, 2))}, r"shape \(3, 2\), expected \[2, D\]"),
    (lambda b: {"video": np.full((len(b), 2), np.nan)}, "row 0 is not finite"),
])
def test_embed_rows_rejects_bad_output(bad, match):
    class Bad:
        name = "bad"

        def embed(self, batch):
            return bad(batch)

    with pytest.raises(ValueError, match=match):
        embed_rows(Bad(), 2, _rows(2), show_progress=False)


def test_embed_rows_rejects_changing_modalities():
    class Flaky:
        name, n = "flaky", 0

        def embed(self, batch):
            self.n += 1
            return {"video" if self.n == 1 else "audio": np.zeros((len(batch), 2))}

    with pytest.raises(ValueError, match="returned modalities"):
        embed_rows(Flaky(), 4, _rows(4), chunk_size=2, show_progress=False)


def test_fuse():
    v, a = np.ones((3, 2), np.float32), np.full((3, 2), 2, np.float32)
    out, used = fuse({"video": v, "audio": a}, "video+audio")
    assert used == "video+audio" and (out == 3).all()
    assert fuse({"video": v, "audio": a}, "audio")[1] == "audio"
    out, used = fuse({"video": v}, "video+audio")  # a video-text model: scored with what it has
    assert used == "video" and (out == 1).all()
    with pytest.raises(ValueError, match="needs audio"):
        fuse({"video": v}, "audio")
    with pytest.raises(ValueError, match="fusion must be one of"):
        fuse({"video": v}, "concat")
    with pytest.raises(ValueError, match="differ in shape"):
        fuse({"video": v, "audio": np.ones((3, 4))}, "video+audio")


def test_options_are_checked():
    t = task("crosstask")
    assert t.options()["dp_input"] == "log_softmax"
    assert t.options(dp_input="raw")["dp_input"] == "raw"
    with pytest.raises(ValueError, match="no option"):
        t.options(dp_inptu="raw")
    with pytest.raises(ValueError, match="is not one of"):
        t.options(dp_input="softmax")


@pytest.mark.parametrize("name", TASKS)
def test_registered_tasks_declare_metadata(name):
    t = task(name)
    entry = get_task(name)
    assert t.name == name and t.version == entry.version
    assert t.description == entry.description
    assert t.main_score and t.main_score in t.paper
    assert all(isinstance(v, float) for v in t.paper.values())
    assert set(t.choices) <= set(t.defaults)
    if isinstance(t, RetrievalTask):
        assert t.main_score == "R@10" and t.defaults["audio_frames"] in (5120, 3072)
        assert t.defaults["direction"] == "t2va"


# ----------------------------------------------------------------------------- crosstask details

def _short_crosstask(tmp_path):
    """The conftest CrossTask layout with two test videos cut short: T == K and T < K."""
    from conftest import write_crosstask

    ct = write_crosstask(tmp_path, n_videos=4, with_split=True)
    for vid, T in (("23521v1", 3), ("23521v2", 2)):  # task 23521 has K = 3 steps
        path = ct / "features" / f"{vid}_2d.npy"
        np.save(path, np.load(path)[:T])
    return tmp_path


@pytest.mark.parametrize("short, eq_scored", [("diagonal", True), ("skip", False)])
def test_crosstask_counts_short_videos(tmp_path, short, eq_scored):
    from conftest_tasks import HashModel

    root = _short_crosstask(tmp_path)
    res = task("crosstask").evaluate(HashModel(), root, short=short)
    info = res.info
    assert info["videos_scored"] == 6 and info["videos_in_split"] == 6
    assert info["videos_T_lt_K"] == 1 and info["videos_T_eq_K"] == 1
    assert info["videos_skipped_short"] == (1 if eq_scored else 2)
    T = dict(zip(res.per_query["video_ids"], res.per_query["T"], strict=True))
    assert T["23521v1"] == 3 and T["23521v2"] == 2
    hits = dict(zip(res.per_query["video_ids"], res.per_query["hits"], strict=True))
    assert hits["23521v2"] == 0  # T < K predicts nothing: all its steps are misses
    if not eq_scored:
        assert hits["23521v1"] == 0
    assert set(res.metrics) >= {"recall", "recall_per_video", "recall/23521", "recall/59684"}
    assert "test_split.csv" in info["test_split_source"] and len(info["test_split_sha256"]) == 64


def test_crosstask_builds_missing_split_in_memory(tmp_path):
    from conftest import write_crosstask
    from conftest_tasks import HashModel

    write_crosstask(tmp_path, n_videos=33)  # > 30 videos per task: 2 test videos each
    res = task("crosstask").evaluate(HashModel(), tmp_path, chunk_size=7)
    assert "built in memory" in res.info["test_split_source"]
    assert res.info["videos_in_split"] == 4
    assert not (tmp_path / "crosstask" / "test_split.csv").exists()  # never written unasked
    task("crosstask").evaluate(HashModel(), tmp_path, write_split=True)
    assert (tmp_path / "crosstask" / "test_split.csv").exists()


def test_crosstask_dp_input_changes_prediction_not_protocol(tmp_path):
    from conftest_tasks import HashModel

    root = _short_crosstask(tmp_path)
    official = task("crosstask").evaluate(HashModel(), root)
    raw = task("crosstask").evaluate(HashModel(), root, dp_input="raw")
    assert official.info["dp_input"] == "log_softmax" and raw.info["dp_input"] == "raw"
    for res in (official, raw):
        pq = res.per_query
        pooled = {}
        for t, m, p in zip(pq["task_ids"], pq["matches"], pq["present"], strict=True):
            pooled.setdefault(t, [0, 0])
            pooled[t][0] += m
            pooled[t][1] += p
        expected = 100 * np.mean([m / p for m, p in pooled.values()])
        assert res.metrics["recall"] == pytest.approx(expected)


# ----------------------------------------------------------------------------- retrieval details

def _retrieval_root(tmp_path, kind: str, n: int = 4, complete: int = 10):
    """A pickle of ``n`` clips and a csv of ``complete`` rows (the first n are the clips), plus
    precomputed embeddings: clip i and caption i are e_i, except caption 0, which is all zero
    (ties with every clip)."""
    import pandas as pd
    from conftest import avlnet_items, write_pickle

    from mcnbench.zoo.precomputed import write_embeddings

    items = avlnet_items(n, kind=kind)
    ids = [it["id"] for it in items]
    if kind == "youcook2":
        write_pickle(tmp_path / "youcook2" / "youcook_val_audio.pkl", items)
        pd.DataFrame({"end": [5.0] * complete, "start": [1.0] * complete, "task": ["t"] * complete,
                      "text": ["x"] * complete,  # a clip id starts with its video's
                      "video_id": [i[:11] for i in ids] + [f"v{i}" for i in range(n, complete)]}
                     ).to_csv(tmp_path / "youcook2" / "validation_youcook.csv", index=False)
    else:
        write_pickle(tmp_path / "msrvtt" / "msrvtt_jsfusion_test.pkl", items)
        vids = ids + [f"video{i}" for i in range(n, complete)]
        pd.DataFrame({"key": [f"ret{i}" for i in range(complete)], "vid_key": vids,
                      "video_id": vids, "sentence": ["x"] * complete}
                     ).to_csv(tmp_path / "msrvtt" / "msrvtt_test.csv", index=False)
    eye = np.eye(n, dtype=np.float32)
    text = eye.copy()
    text[0] = 0
    write_embeddings(tmp_path / "emb", kind, clip_ids=ids, video=eye, audio=0 * eye,
                     text_ids=ids, text=text)
    return tmp_path, PrecomputedModel(tmp_path / "emb")


@pytest.mark.parametrize("kind", ["youcook2", "msrvtt"])
@pytest.mark.parametrize("rule, rank0", [("mean", 1.5), ("optimistic", 0.0), ("pessimistic", 3.0),
                                         ("legacy", 0.0)])
def test_retrieval_tie_rules_and_denominators(tmp_path, kind, rule, rank0):
    root, model = _retrieval_root(tmp_path, kind)
    res = task(kind).evaluate(model, root, tie_rule=rule)
    np.testing.assert_array_equal(res.per_query["ranks"], [rank0, 0, 0, 0])
    assert res.info["queries"] == 4 and res.info["complete_size"] == 10
    assert res.info["missing_clips"] == 6 and res.info["queries_with_ties"] == 1
    # mean/optimistic/pessimistic: R@K over the complete set (absent clips are misses, EAO).
    # legacy = MCN's compute_metrics: the tied query adds 4 entries 0..3; R@K divides by 1000-style
    # complete size for MSR-VTT but by the number of queries for YouCook2.
    denom = 4 if (rule == "legacy" and kind == "youcook2") else 10
    assert res.info["r_at_k_denominator"] == denom
    hits1 = {"mean": 3, "optimistic": 4, "pessimistic": 3, "legacy": 4}[rule]
    hits5 = {"mean": 4, "optimistic": 4, "pessimistic": 4, "legacy": 7}[rule]
    assert res.metrics["R@1"] == pytest.approx(100 * hits1 / denom)
    assert res.metrics["R@5"] == pytest.approx(100 * hits5 / denom)
    if kind == "msrvtt":
        assert res.info["missing_ids"] == [f"video{i}" for i in range(4, 10)]
    else:
        assert res.info["missing_ids"] is None  # the YouCook2 csv does not name clip ids


def test_retrieval_fusion_option(tmp_path):
    root, model = _retrieval_root(tmp_path, "msrvtt")
    res = task("msrvtt").evaluate(model, root, fusion="audio")  # audio is all zero: all tied
    assert res.info["fusion_used"] == "audio"
    np.testing.assert_array_equal(res.per_query["ranks"], [1.5] * 4)


def test_retrieval_without_csv_uses_clips(tmp_path):
    from mcnbench.data.warnings import DataWarning

    root, model = _retrieval_root(tmp_path, "youcook2")
    (root / "youcook2" / "validation_youcook.csv").unlink()
    with pytest.warns(DataWarning, match="validation_youcook.csv: file not found"):
        res = task("youcook2").evaluate(model, root)
    assert res.info["complete_size"] == 4 and "absent" in res.info["complete_source"]


def test_msrvtt_pickle_clip_outside_csv_is_an_error(tmp_path):
    import pandas as pd

    from mcnbench.data.errors import DataError

    root, model = _retrieval_root(tmp_path, "msrvtt")
    csv = root / "msrvtt" / "msrvtt_test.csv"
    df = pd.read_csv(csv)
    df.loc[0, "video_id"] = "video999"
    df.to_csv(csv, index=False)
    with pytest.raises(DataError, match="not in the complete test set"):
        task("msrvtt").evaluate(model, root)


@pytest.mark.slow
def test_default_world_oracle_far_above_random(tmp_path):
    """On the demo world every task separates the oracle from random embeddings by a wide
    margin (the default world is generated into the cache once, ~30 s)."""
    from conftest_tasks import random_like

    from mcnbench.data.synth import ensure_world

    root = ensure_world("default", seed=0)
    oracle = PrecomputedModel(root / "oracle")
    rand = PrecomputedModel(random_like(root / "oracle", tmp_path / "random"))
    for name in TASKS:
        main = task(name).main_score
        o = task(name).evaluate(oracle, root).metrics[main]
        r = task(name).evaluate(rand, root).metrics[main]
        assert o >= 3 * r and o - r >= 30.0, (name, o, r)


@pytest.mark.slow
def test_registered_random_model_scores_low(tiny_world, tmp_path):
    """The untrained MCN network (``random``) through the whole runner: below every ceiling."""
    import mcnbench

    df = mcnbench.evaluate("random", "all", data_root=tiny_world)
    for _, row in df.iterrows():
        assert row[row["main_score"]] <= CEILING[row["task"]], (row["task"], row[row["main_score"]])


def test_mining_youtube_unknown_labels(tmp_path):
    from conftest import srt_text, write_mining_youtube, write_text
    from conftest_tasks import HashModel

    from mcnbench.data.errors import DataError

    my = write_mining_youtube(tmp_path)
    write_text(my / "annotations" / "vidA.srt", srt_text([(1.0, 3.0, "crack_eggs")]))
    res = task("mining_youtube").evaluate(HashModel(), tmp_path)
    assert res.info["unknown_labels"] == ["crack_eggs"] and res.info["videos_scored"] == 2
    assert res.info["videos_without_action_steps"] == 0  # normalised to crack_egg by default
    res = task("mining_youtube").evaluate(HashModel(), tmp_path, unknown_labels="background")
    assert res.info["videos_without_action_steps"] == 1  # vidA is all background then
    assert res.info["class_text"]["n_sentences"] == 4
    with pytest.raises(DataError, match="'crack_eggs'.*not in weakYouTube_dict"):
        task("mining_youtube").evaluate(HashModel(), tmp_path, unknown_labels="error")
