"""The cluster browser and the embedding map: worked examples, and oracle vs noise on the tiny world."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mcnbench.report.clusters import (
    browse,
    cluster_words,
    fused_embeddings,
    learned_centroids,
    nmi,
    purity,
    to_html,
)

pytest_plugins = ("conftest_tasks",)  # tiny_world, oracle_dir, random_dir


def test_purity_and_nmi_worked_examples():
    truth = np.array([0, 0, 0, 1, 1, 1])
    assert purity([5, 5, 5, 7, 7, 7], truth) == 1.0 and nmi([5, 5, 5, 7, 7, 7], truth) == pytest.approx(1.0)
    # one cluster holding everything: purity = the majority share, no information
    assert purity([0] * 6, truth) == 0.5 and nmi([0] * 6, truth) == pytest.approx(0.0)
    # clusters 0: {0,0,1}, 1: {0,1,1} -> purity (2 + 2) / 6
    assert purity([0, 0, 1, 0, 1, 1], truth) == pytest.approx(4 / 6)


def test_nmi_equals_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 7, 300), rng.integers(0, 4, 300)
    b[:150] = a[:150] % 4
    assert nmi(a, b) == pytest.approx(sk.normalized_mutual_info_score(b, a))


def test_cluster_words_drop_function_words_and_talk_every_cluster_has():
    caps = ["crack the egg now", "crack an egg now", "pour the water now", "pour water now",
            "stir the flour now", "stir flour now", "fry the onion now", "fry onion now"]
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    words = cluster_words(caps, labels, top=2)
    assert words[0] == [("crack", 2), ("egg", 2)]
    assert all(w != "now" and w != "the" for ws in words.values() for w, _ in ws)


def test_learned_centroids_are_read_from_the_run_checkpoint(tmp_path):
    cents = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    torch.save({"trainer": {"kmeans": {"fused": {"centroids": cents}}}}, tmp_path / "checkpoint.pth")
    (tmp_path / "model.pth").write_bytes(b"weights")
    got = learned_centroids(tmp_path / "model.pth")
    assert got.tolist() == cents.double().tolist()
    fused = np.array([[3.0, 0.1], [0.2, 0.1], [0.1, 5.0]])
    report = browse(fused, ["a", "b", "c"], centroids=got)
    assert report.labels.tolist() == [0, 0, 1]  # cosine, as the training assigns (not Euclidean)
    assert report.centroids_from.startswith("learned")
    torch.save({"trainer": {"kmeans": {}}}, tmp_path / "checkpoint.pth")  # clustering off
    assert learned_centroids(tmp_path / "model.pth") is None
    assert learned_centroids(tmp_path / "elsewhere.pth") is None


def _gallery_embeddings(world, emb_dir):
    from mcnbench.engine.plan import build_registered as build_model
    from mcnbench.search import embed_captions, embed_gallery, load_gallery, true_concepts

    model, _ = build_model("precomputed", data_root=world, embeddings=emb_dir)
    g = load_gallery(world, "youcook2")
    emb, text = embed_gallery(model, g), embed_captions(model, g)
    truth, names = true_concepts(world, g)
    return g, emb, text, truth, names


def test_browser_recovers_the_true_concepts_from_oracle_embeddings(tiny_world, oracle_dir, random_dir):
    g, emb, text, truth, names = _gallery_embeddings(tiny_world, oracle_dir)
    k = len(set(truth.tolist()))
    oracle = browse(fused_embeddings(emb, text), g.captions, k=k, truth=truth, names=names)
    assert oracle.n_known == len(g) and oracle.purity > 0.9 and oracle.nmi > 0.9
    assert sum(c.size for c in oracle.clusters) == len(g)
    top = oracle.clusters[0]
    # the largest cluster is one concept, and its caption words name it
    assert top.purity == 1.0 and set(top.concept.split()) <= {w for w, _ in top.words}
    g, emb, text, truth, names = _gallery_embeddings(tiny_world, random_dir)
    noise = browse(fused_embeddings(emb, text), g.captions, k=k, truth=truth, names=names)
    assert noise.purity < oracle.purity - 0.3 and noise.nmi < oracle.nmi - 0.3
    page = to_html(oracle, "oracle")
    assert f"purity {oracle.purity:.3f}" in page and page.count("<tr>") == len(oracle.clusters) + 1


def test_embedding_map_keeps_oracle_concepts_together(tiny_world, oracle_dir, random_dir, tmp_path):
    pytest.importorskip("sklearn")
    from mcnbench.report.embedmap import embedding_map, neighbour_agreement, plot_embedding_map
    from mcnbench.tasks.base import fuse

    scores = {}
    for name, d in (("oracle", oracle_dir), ("noise", random_dir)):
        g, emb, text, truth, names = _gallery_embeddings(tiny_world, d)
        clips, _ = fuse(emb, "video+audio")
        xy_c, xy_t = embedding_map(clips, text, seed=0)
        assert xy_c.shape == (len(g), 2) and xy_t.shape == (len(g), 2)
        scores[name] = neighbour_agreement(np.concatenate([xy_c, xy_t]), np.concatenate([truth, truth]))
    assert scores["oracle"] > 0.7 and scores["noise"] < 0.4
    out = plot_embedding_map(xy_c, xy_t, {"true concept": (truth, truth, names)}, tmp_path / "m.png", "t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_neighbour_agreement_worked_example():
    from mcnbench.report.embedmap import neighbour_agreement

    xy = np.array([[0, 0], [0, 1], [10, 0], [10, 1], [20, 0]], dtype=float)
    labels = np.array([0, 0, 1, 1, -1])  # the unlabelled point is left out
    assert neighbour_agreement(xy, labels, k=1) == 1.0
    assert neighbour_agreement(xy, np.array([0, 1, 0, 1, -1]), k=1) == 0.0
