"""Galleries, faiss indexes and the index/search commands, on the tiny synthetic world."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mcnbench.cli import main as cli
from mcnbench.data.errors import DataError
from mcnbench.search import load_gallery, read_index, search, true_concepts
from mcnbench.search.index import build, flat_index, ivf_index, recall_vs_exact
from mcnbench.zoo.precomputed import write_embeddings

pytest_plugins = ("conftest_tasks",)  # tiny_world, oracle_dir


def test_youcook2_gallery_has_spans_and_video_ids(tiny_world):
    g = load_gallery(tiny_world, "youcook2")
    csv = pd.read_csv(tiny_world / "youcook2" / "validation_youcook.csv")
    assert len(g) == len(csv) - 1  # one clip of the csv is absent from the pickle, as in the release
    present = [k for k in range(len(csv)) if f"{csv['video_id'][k]}_0" in g.ids and
               csv["video_id"][:k].tolist().count(csv["video_id"][k]) == 0]
    k = present[0]  # the first csv row of a video is its clip _0
    i = g.ids.index(f"{csv['video_id'][k]}_0")
    assert (g.start[i], g.end[i], g.video_ids[i]) == (csv["start"][k], csv["end"][k], csv["video_id"][k])
    assert np.isfinite(g.start).all() and (g.end > g.start).all()
    batch = g.clip_batch(0, 5)
    assert batch.video.shape[0] == 5 and batch.audio.shape[0] == 5 and batch.ids == g.ids[:5]


def test_corpus_gallery_is_every_caption(tiny_world):
    from mcnbench.data.howto100m import load_captions

    caps = load_captions(tiny_world / "howto100m" / "caption.pickle")
    g = load_gallery(tiny_world, "corpus", audio_frames=200, min_time=3.0)
    assert len(g) == sum(len(c) for c in caps.values() if len(c))
    assert (g.end - g.start >= 3.0 - 1e-9).sum() > 0.9 * len(g)  # extended to min_time where possible
    b = g.clip_batch(len(g) - 7, len(g))  # rows spanning two videos
    assert b.audio.shape == (7, 40, 200) and (b.nframes <= 200).all()
    truth, names = true_concepts(tiny_world, g)
    narration = pd.read_csv(tiny_world / "oracle" / "howto100m_narration.csv")
    assert truth.tolist() == narration["shown"].tolist()  # the caption order of the generator
    assert names[0] == pd.read_csv(tiny_world / "oracle" / "concepts.csv")["name"][0]


def test_true_concepts_of_retrieval_clips_match_the_captions(tiny_world):
    g = load_gallery(tiny_world, "youcook2")
    truth, names = true_concepts(tiny_world, g)
    assert (truth >= 0).all()
    # a caption names its concept's verb and object ("Crack the egg in a bowl.")
    named = [all(w in cap.lower() for w in names[c].split())
             for cap, c in zip(g.captions, truth, strict=True)]
    assert np.mean(named) > 0.9


def test_flat_search_is_brute_force_inner_product():
    rng = np.random.default_rng(0)
    x, q = rng.normal(size=(500, 16)), rng.normal(size=(7, 16))
    scores, rows = flat_index(x).search(q.astype(np.float32), 5)
    want = np.argsort(-(q @ x.T), axis=1)[:, :5]
    assert (rows == want).all()
    assert scores == pytest.approx(np.take_along_axis(q @ x.T, want, axis=1), rel=1e-5)


def test_ivf_recall_is_measured_against_exact_search():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 32)).astype(np.float32)
    q = rng.normal(size=(50, 32)).astype(np.float32)
    ivf = ivf_index(x, nlist=64, nprobe=2)
    exact = np.argsort(-(q @ x.T), axis=1)[:, :10]
    _, got = ivf.search(q, 10)
    brute = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, got, strict=True)])
    assert recall_vs_exact(ivf, flat_index(x), q) == pytest.approx(brute)
    assert 0 < brute < 1  # 2 of 64 lists on random vectors: approximate, and measured as such
    _, desc = build(x, kind="auto", ivf_above=1000, nlist=64, nprobe=64, queries=q)
    assert desc["kind"] == "ivf" and desc["recall_at_10"] == 1.0  # every list probed: exact
    _, desc = build(x, kind="auto", ivf_above=10_000)
    assert desc["kind"] == "flat"


@pytest.fixture(scope="module")
def twin_embeddings(tiny_world, tmp_path_factory):
    """Precomputed embeddings in which every YouCook2 caption's vector *is* its clip's vector
    (random unit vectors, no audio): a caption's own clip must come first."""
    g = load_gallery(tiny_world, "youcook2")
    rng = np.random.default_rng(0)
    v = rng.normal(size=(len(g), 24))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    out = tmp_path_factory.mktemp("twin") / "emb"
    write_embeddings(out, "youcook2", clip_ids=np.array(g.ids), video=v, text_ids=np.array(g.ids), text=v)
    return out, g


def test_search_for_a_caption_returns_its_clip_first(tiny_world, twin_embeddings, tmp_path, capsys):
    emb, g = twin_embeddings
    idx = tmp_path / "idx"
    assert cli(["index", "--model", "precomputed", "--embeddings", str(emb), "--data-root", str(tiny_world),
                "--source", "youcook2", "--out", str(idx)]) == 0
    info = json.loads((idx / "index.json").read_text())
    assert info["index"]["kind"] == "flat" and info["index"]["n"] == len(g)
    assert info["model"]["name"] == "precomputed" and info["model"]["config_hash"]
    # a precomputed model embeds a query through the clip whose caption it equals: unique ones
    unique = [i for i, c in enumerate(g.captions) if g.captions.count(c) == 1]
    assert len(unique) >= 3
    for i in (unique[0], unique[len(unique) // 2], unique[-1]):
        capsys.readouterr()
        assert cli(["search", g.captions[i], "--index", str(idx), "-k", "3", "--format", "csv"]) == 0
        hits = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
        assert hits["id"].iloc[0] == g.ids[i] and hits["score"].iloc[0] == pytest.approx(1.0, abs=1e-5)
        assert hits["video_id"].iloc[0] == g.video_ids[i]
        assert hits["start"].iloc[0] == pytest.approx(g.start[i])
    i = unique[1]
    assert cli(["search", g.captions[i], "--index", str(idx), "-k", "2"]) == 0
    table = capsys.readouterr().out
    assert f"query: {g.captions[i]!r}" in table and g.ids[i] in table and "span" in table


def test_oracle_search_returns_clips_of_the_query_concept(tiny_world, oracle_dir, tmp_path):
    idx = tmp_path / "oracle"
    assert cli(["index", "--model", "precomputed", "--embeddings", str(oracle_dir), "--data-root",
                str(tiny_world), "--source", "youcook2", "--out", str(idx)]) == 0
    g = load_gallery(tiny_world, "youcook2")
    truth, _ = true_concepts(tiny_world, g)
    queries = list(range(0, len(g), 6))
    hits = search(idx, [g.captions[i] for i in queries], k=3)
    concept = dict(zip(g.ids, truth, strict=True))
    same = [concept[h.id] == truth[queries[h.query]] for h in hits.itertuples()]
    assert np.mean(same) > 0.8  # nearly every top-3 clip shows the captioned concept


def test_a_network_model_index_scores_are_its_dot_products_and_checks_its_weights(tiny_world, tmp_path,
                                                                                capsys):
    import torch

    from mcnbench.engine.plan import build_registered as build_model
    from mcnbench.search import embed_gallery, embed_queries
    from mcnbench.tasks.base import fuse

    model, _ = build_model("random", data_root=tiny_world, seed=3)
    ckpt = tmp_path / "w.pth"
    torch.save(model.net.state_dict(), ckpt)
    idx = tmp_path / "idx"
    assert cli(["index", "--model", "mcn", "--checkpoint", str(ckpt), "--data-root", str(tiny_world),
                "--source", "msrvtt", "--out", str(idx)]) == 0
    assert len(read_index(idx).info["model"]["checkpoint"]["sha256"]) == 64
    text = "a man is cutting a cucumber"
    hits = search(idx, [text], k=5)
    g = load_gallery(tiny_world, "msrvtt")
    clips, _ = fuse(embed_gallery(model, g), "video+audio")
    q = embed_queries(model, [text], max_words=g.max_words)[0]
    want = np.argsort(-(clips @ q))[:5]
    assert hits["id"].tolist() == [g.ids[i] for i in want]
    assert hits["score"].to_numpy() == pytest.approx((clips @ q)[want], rel=1e-4)

    with open(ckpt, "ab") as f:  # the weights changed after indexing: refuse to mix embeddings
        f.write(b"changed")
    with pytest.raises(DataError, match="changed since the index was built"):
        search(idx, ["a dog"], k=1)
    assert cli(["search", "a dog", "--index", str(tmp_path / "nothing")]) == 2
    assert "not an index folder" in capsys.readouterr().err
