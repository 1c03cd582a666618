"""The report's figures check out against the records they are drawn from (tiny synthetic world)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mcnbench.records import ResultRecord, load_per_query, write_record
from mcnbench.report import load
from mcnbench.report.identity import ROW, model_colors, row_key
from mcnbench.report.plots import (
    attach_owners,
    learning_curve_summary,
    length_summary,
    loss_terms,
    plot_learning_curves,
    plot_rank_histograms,
    plot_recall_at_k,
    plot_timelines,
    plot_training_curves,
    rank_histogram,
    read_train_logs,
    recall_curve,
    recall_curves,
    seed_band,
    shared_settings,
    timeline_selection,
    timelines,
    training_panels,
    write_plots,
)

pytest_plugins = ("conftest_views",)  # view_results: oracle and noise on the tiny world, 2 seeds
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def df(view_results):
    return load(view_results)


def test_recall_curve_is_the_hit_rule_over_the_complete_set():
    ranks = np.array([0, 0.5, 1, 3, 9, np.nan])  # 0.5: tied with one other clip (mean rule)
    got = recall_curve(ranks, denominator=8, ks=np.array([1, 2, 4, 10, 8]))
    # K=1: rank 0 only; K=2: 0, 0.5, 1; K=4: + 3; K=10: + 9; K=8: 9 is not < 8
    assert got.tolist() == [100 * 1 / 8, 100 * 3 / 8, 100 * 4 / 8, 100 * 5 / 8, 100 * 4 / 8]


def test_recall_curves_meet_the_recorded_r_at_k(df):
    curves = recall_curves(df).set_index([ROW, "task", "k"])
    table = df[df["metric"].isin(["R@1", "R@5", "R@10"])].assign(row=row_key(df))
    recorded = table.groupby([ROW, "task", "metric"])["value"].mean()
    assert len(recorded) == 12  # 2 models x 2 retrieval tasks x 3 K
    for (row, task, metric), value in recorded.items():
        assert curves.loc[(row, task, int(metric[2:])), "mean"] == pytest.approx(value)
    # the last point: every clip in the data found, the absent ones missed
    for (row, task), line in recall_curves(df).groupby([ROW, "task"]):
        rec = df.attrs["records"][df[(row_key(df) == row) & (df["task"] == task)]["path"].iloc[0]]
        assert line["k"].iloc[-1] == rec.info["complete_size"]
        assert line["mean"].iloc[-1] == pytest.approx(100 * rec.info["queries"] / rec.info["complete_size"])


def test_rank_histogram_shares_and_misses_add_up(df, tmp_path):
    hist = rank_histogram(df)
    for (_, _), h in hist.groupby([ROW, "task"]):
        assert h["share"].sum() + h["misses"].iloc[0] == pytest.approx(100.0)
    # the first bin is rank 1 exactly: its share is R@1 (no ties in these embeddings)
    first = hist[hist["lo"] == 1].set_index([ROW, "task"])["share"]
    r1 = df[df["metric"] == "R@1"].assign(row=row_key(df)).groupby([ROW, "task"])["value"].mean()
    assert first.sort_index().to_numpy() == pytest.approx(r1.sort_index().to_numpy())
    assert plot_rank_histograms(df, tmp_path / "h.png").read_bytes()[:8] == PNG
    assert plot_recall_at_k(df, tmp_path / "r.png").read_bytes()[:8] == PNG


def test_timelines_reproduce_the_task_counts(df, tmp_path):
    myt = df[(df["task"] == "mining_youtube") & (df["model"] == "oracle") & (df["seed"] == 0)]["path"].iloc[0]
    videos = timelines(myt, "mining_youtube")
    correct = load_per_query(myt, "correct")
    assert len(videos) == len(correct) > 0
    assert [int((v.pred == v.gt).sum()) for v in videos] == correct.tolist()
    assert any((v.gt == -1).any() for v in videos)  # background is -1, as drawn grey

    ct = df[(df["task"] == "crosstask") & (df["model"] == "noise") & (df["seed"] == 0)]["path"].iloc[0]
    videos = timelines(ct, "crosstask")
    hits = load_per_query(ct, "hits")
    # a step is hit when the second the DP put it at lies inside its ground truth
    assert [sum(int(s >= 0 and v.gt[s] == k) for k, s in enumerate(v.pred_seconds)) for v in videos] \
        == hits.tolist()

    chosen = timeline_selection(df, n_videos=2)
    assert set(chosen) == {"crosstask", "mining_youtube"}
    for per_row in chosen.values():
        assert set(per_row) == {"noise", "oracle"}
        ids = [[v.video_id for v in vs] for vs in per_row.values()]
        assert ids[0] == ids[1] and len(ids[0]) == 2  # the same videos for every model
    assert plot_timelines(df, tmp_path / "t.png").read_bytes()[:8] == PNG


def test_old_records_without_timeline_arrays_skip_the_figure(tmp_path):
    rec = ResultRecord(model={"name": "m", "version": "1", "config": {}},
                       task={"name": "mining_youtube", "version": "1", "options": {}}, seed=0,
                       data={"kind": "synthetic"}, metrics={"IoU": 1.0}, main_score="IoU",
                       tie_rule="mean", versions={"python": "3"})
    write_record(rec, tmp_path, {"video_ids": np.array(["a"]), "T": np.array([3])})
    written, notes = write_plots(load(tmp_path), [tmp_path], tmp_path / "out")
    assert not (tmp_path / "out" / "timelines.png").exists()
    assert any(n.startswith("timelines.png: skipped, no per-video predictions") for n in notes)


# training curves ------------------------------------------------------------------------------
def _trained(root, model, train, seeds=(0, 1), val_every=None, zeros=(), layout="train-seed{seed}",
             key=None, label="", steps=30):
    for seed in seeds:
        ckpt = {"path": "/nowhere/model.pth", "cached": True, **({"key": key} if key else {})}
        rec = ResultRecord(model={"name": model, "version": "1", "config": {"train": train},
                                  "checkpoint": ckpt},
                           task={"name": "toyret", "version": "1", "options": {}}, seed=seed,
                           data={"kind": "synthetic"}, metrics={"R@10": 1.0}, main_score="R@10",
                           tie_rule="mean", versions={"python": "3"}, label=label)
        write_record(rec, root)
        lines = []
        for step in range(1, steps + 1):
            line = {"step": step, "epoch": 0, "loss": 10 - step / 10, "mms": 5 - step / 20,
                    "cluster": 0.0 if "cluster" in zeros else 1.0, "recon": 0.0 if "recon" in zeros else 0.1,
                    "lr": 1e-3}
            if val_every and step % val_every == 0:
                line["val_R@10"] = step / 3 + seed  # as the trainer's monitor logs it
            lines.append(json.dumps(line))
        log = root / model / layout.format(seed=seed) / "train_log.jsonl"
        log.parent.mkdir(parents=True)
        log.write_text("\n".join(lines) + "\n")


def test_logs_in_the_cache_key_layout_find_their_model(tmp_path):
    root = tmp_path / "res"
    # <model>/train/<key>/seed<k>: by the key records name; a key no record names (a migrated
    # folder) by folder and seed
    _trained(root, "nce", {"loss": "nce", "cluster_mode": "none", "recon": False},
             layout="train/schema1/seed{seed}")
    _trained(root, "mcn", {"loss": "mms", "cluster_mode": "joint", "recon": True},
             layout="train/abc123/seed{seed}", key="abc123")
    logs = attach_owners(read_train_logs([root])[0], load(root))
    owned = logs.groupby("log")[ROW].first()
    assert sorted(owned[owned.index.str.contains("/nce/")].unique()) == ["nce"]
    assert sorted(owned[owned.index.str.contains("/mcn/")].unique()) == ["mcn"]
    assert training_panels(logs)["mms"] == {"mcn": "MMS", "nce": "NCE"}


def test_a_record_file_brings_its_own_training_log_and_no_other(tmp_path):
    # `mcnbench report A/mcn/*/*/seed0.json ...`: the record names its checkpoint's cache key,
    # the runner keeps the log at <model>/train/<key>/seed<k>/; the other seed's log stays out
    root = tmp_path / "res"
    _trained(root, "mcn", {"loss": "mms", "cluster_mode": "joint", "recon": True},
             layout="train/abc123/seed{seed}", key="abc123")
    seed0 = sorted(root.glob("mcn/*/toyret/seed0.json"))
    assert len(seed0) == 1
    logs, _ = read_train_logs(seed0 + seed0)  # named twice: read once
    assert logs["log"].unique().tolist() == [str(root / "mcn/train/abc123/seed0/train_log.jsonl")]
    assert logs["seed"].unique().tolist() == [0] and len(logs) == 30
    owned = attach_owners(logs, load(seed0))
    assert owned[ROW].unique().tolist() == ["mcn"]
    # a second results folder with a copy of the same cached run's log: still one curve
    copy = tmp_path / "other" / "mcn" / "train" / "abc123" / "seed0" / "train_log.jsonl"
    copy.parent.mkdir(parents=True)
    copy.write_bytes((root / "mcn/train/abc123/seed0/train_log.jsonl").read_bytes())
    assert len(read_train_logs([root, tmp_path / "other"])[0].query("seed == 0")) == 30


def test_a_task_view_of_a_drawn_model_is_not_reported_without_a_log(tmp_path):
    # `mcn direction=t2v` shares mcn's checkpoint: its curve is mcn's, so no "no train_log" note
    root, train = tmp_path / "res", {"loss": "mms", "cluster_mode": "joint", "recon": True}
    _trained(root, "mcn", train, layout="train/abc123/seed{seed}", key="abc123", label="mcn")
    for seed in (0, 1):
        rec = ResultRecord(model={"name": "mcn", "version": "1", "config": {"train": train},
                                  "checkpoint": {"path": "/nowhere/model.pth", "cached": True,
                                                 "key": "abc123"}},
                           task={"name": "youcook2", "version": "1", "options": {"direction": "t2v"}},
                           seed=seed, data={"kind": "synthetic"}, metrics={"R@10": 1.0},
                           main_score="R@10", tie_rule="mean", versions={"python": "3"},
                           label="mcn direction=t2v")  # the runner labels a view so
        write_record(rec, root)
    _, notes = write_plots(load(root), [root], tmp_path / "out")
    assert not [n for n in notes if "no train_log.jsonl for" in n]
    (root / "mcn/train/abc123/seed0/train_log.jsonl").unlink()  # a genuinely missing log is still named
    (root / "mcn/train/abc123/seed1/train_log.jsonl").unlink()
    _trained(root, "nce", {"loss": "nce", "cluster_mode": "none", "recon": False},
             layout="train/def456/seed{seed}", key="def456")
    _, notes = write_plots(load(root), [root], tmp_path / "out2")
    assert any("no train_log.jsonl for mcn" in n for n in notes)


def test_loss_names_come_from_the_config():
    assert loss_terms({"loss": "mms", "cluster_mode": "joint", "recon": True}) == {
        "loss": "total", "mms": "MMS", "cluster": "joint k-means", "recon": "reconstruction"}
    nce = {"loss": "nce", "cluster_mode": "none", "recon": False}
    assert loss_terms(nce) == {"loss": "total", "mms": "NCE"}
    assert loss_terms({"loss": "mil-nce", "cluster_mode": "none", "recon": False})["mms"] == "MIL-NCE"
    assert loss_terms(None) is None


def test_training_panels_draw_only_the_terms_a_model_has(tmp_path):
    root = tmp_path / "res"
    _trained(root, "mcn", {"loss": "mms", "cluster_mode": "joint", "recon": True})
    _trained(root, "mil-nce", {"loss": "mil-nce", "cluster_mode": "none", "recon": False},
             val_every=10, zeros=("cluster", "recon"))
    _trained(root, "untrained-log", {}, seeds=(0,), zeros=("recon",))  # its records hold no config
    _trained(root, "no-log", {"loss": "nce", "cluster_mode": "none", "recon": False}, seeds=(0,))
    for p in (root / "no-log").glob("train-seed*/train_log.jsonl"):
        p.unlink()
    df = load(root)
    logs, _ = read_train_logs([root])
    logs = attach_owners(logs, df)
    assert logs.groupby(ROW)["log"].nunique().to_dict() == {"mcn": 2, "mil-nce": 2, "untrained-log": 1}
    panels = training_panels(logs)
    assert list(panels) == ["loss", "mms", "cluster", "recon", "val_R@10"]
    assert panels["mms"] == {"mcn": "MMS", "mil-nce": "MIL-NCE", "untrained-log": ""}
    assert set(panels["cluster"]) == {"mcn", "untrained-log"}   # MIL-NCE's zeros are not a loss it has
    assert set(panels["recon"]) == {"mcn"}                      # all-zero and no config: left out
    assert set(panels["val_R@10"]) == {"mil-nce"}
    assert plot_training_curves(logs, tmp_path / "tc.png").read_bytes()[:8] == PNG
    assert plot_learning_curves(logs, tmp_path / "lc.png").read_bytes()[:8] == PNG
    _, notes = write_plots(df, [root], tmp_path / "out")
    assert any("no train_log.jsonl for no-log" in n for n in notes)


def test_settings_every_row_shares_are_said_once():
    short, shared = shared_settings(["mcn epochs=12 lr=1", "nce epochs=12 lr=1"])
    assert short == {"mcn epochs=12 lr=1": "mcn", "nce epochs=12 lr=1": "nce"}
    assert shared == "epochs=12 lr=1"
    # a row with the defaults shares nothing: "every row: epochs=12" would be false for it
    assert shared_settings(["mcn", "nce epochs=12", "mil-nce epochs=12"])[1] == ""
    assert shared_settings(["mcn k=1", "mcn k=2"]) == ({"mcn k=1": "mcn k=1", "mcn k=2": "mcn k=2"}, "")
    assert shared_settings(["mcn k=1", "mcn k=1 x=2"]) == ({"mcn k=1": "mcn", "mcn k=1 x=2": "mcn x=2"},
                                                          "k=1")
    assert shared_settings(["mcn a=1 b=2", "mcn b=2 a=1"])[1] == ""  # both would read "mcn": kept


def test_learning_curves_band_the_seeds_and_test_the_plateau(tmp_path):
    root = tmp_path / "res"
    _trained(root, "mil-nce", {"loss": "mil-nce", "cluster_mode": "none", "recon": False},
             seeds=(0, 1, 2), val_every=10)                   # val_R@10 = step/3 + seed
    logs = attach_owners(read_train_logs([root])[0], load(root))
    band = seed_band(logs[logs[ROW] == "mil-nce"], "val_R@10")
    assert list(band.index) == [10, 20, 30] and (band["n"] == 3).all()
    assert band.loc[30].tolist()[:3] == pytest.approx([10 + 1, 10 + 0, 10 + 2])  # mean, min, max
    s = learning_curve_summary(logs).set_index("row").loc["mil-nce"]
    assert (s["seeds"], s["steps"]) == (3, 30)
    assert s["final"] == pytest.approx(11.0) and s["best_step"] == 30  # still rising: best is last
    assert s["tail_gain"] == pytest.approx(10 / 3)           # step 30 vs step 20 (≤ 0.8 · 30)
    assert not s["plateaued"]
    written, _ = write_plots(load(root), [root], tmp_path / "out")
    md = (tmp_path / "out" / "learning_curves.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| mil-nce"))
    assert [c.strip() for c in row.strip("|").split("|")] == ["mil-nce", "3", "30", "11.0", "11.0",
                                                              "30", "+3.33", "**no**"]
    assert plot_learning_curves(read_train_logs([root])[0].drop(columns=["val_R@10"]),
                                tmp_path / "none.png") is None  # no monitor: no figure


def test_the_length_table_compares_one_model_trained_for_two_lengths(tmp_path):
    root = tmp_path / "res"
    mms = {"loss": "mms", "cluster_mode": "joint", "recon": True}
    for epochs, steps in ((2, 30), (4, 60)):  # val_R@10 = step/3 + seed: still rising at any length
        _trained(root, "mcn", {**mms, "epochs": epochs}, val_every=10, steps=steps,
                 label=f"mcn epochs={epochs}", layout=f"train/k{steps}/seed{{seed}}", key=f"k{steps}")
    _trained(root, "nce", {"loss": "nce"}, val_every=10)  # one length: not in the table
    logs = attach_owners(read_train_logs([root])[0], load(root))
    s = length_summary(learning_curve_summary(logs))
    assert list(s["group"]) == ["mcn", "mcn"] and list(s["steps"]) == [30, 60]
    assert s["final"].tolist() == pytest.approx([10.5, 20.5])      # seeds 0 and 1: + 0.5
    assert np.isnan(s["vs_shorter"][0]) and s["vs_shorter"][1] == pytest.approx(10.0)
    write_plots(load(root), [root], tmp_path / "out")
    md = (tmp_path / "out" / "learning_curves.md").read_text()
    table = md[md.index("### Training length"):]
    row = [line for line in table.splitlines() if line.startswith("| mcn")][1]
    assert [c.strip() for c in row.strip("|").split("|")] == ["mcn", "60", "2", "20.5", "+6.67", "+10.0"]
    assert "| nce" not in table


def test_task_views_of_one_model_share_its_training_curves(tmp_path):
    root = tmp_path / "res"
    _trained(root, "mcn", {"loss": "mms", "cluster_mode": "joint", "recon": True},
             layout="train/k1/seed{seed}", key="k1", val_every=10)
    train = {"loss": "mms", "cluster_mode": "joint", "recon": True}
    for seed in (0, 1):  # the same trained model evaluated in another direction: its own row
        rec = ResultRecord(model={"name": "mcn", "version": "1", "config": {"train": train},
                                  "checkpoint": {"path": "/nowhere/model.pth", "cached": True, "key": "k1"}},
                           task={"name": "toyret2", "version": "1", "options": {"direction": "t2v"}},
                           seed=seed, data={"kind": "synthetic"}, metrics={"R@10": 1.0},
                           main_score="R@10", tie_rule="mean", versions={"python": "3"},
                           label="mcn direction=t2v")
        write_record(rec, root)
    df = load(root)
    assert {"mcn", "mcn direction=t2v"} <= set(df["label"])
    logs = attach_owners(read_train_logs([root])[0], df)
    assert set(logs[ROW]) == {"mcn"}                           # one model, one set of curves
    assert list(learning_curve_summary(logs)["row"]) == ["mcn"]


# colours --------------------------------------------------------------------------------------
def test_colours_never_repeat_and_do_not_depend_on_order():
    keys = [f"model-{i}" for i in range(45)]
    a, b = model_colors(keys), model_colors(list(reversed(keys)))
    assert a == b
    assert len(set(a.values())) == 45
    assert all(0 <= c <= 1 for rgba in a.values() for c in rgba)


def test_row_key_prefers_label_then_run_id_then_model():
    frame = pd.DataFrame({"model": ["mcn"], "run_id": ["ab12"], "label": ["mcn (cluster=0)"]})
    assert row_key(frame).tolist() == ["mcn (cluster=0)"]
    assert row_key(frame.drop(columns="label")).tolist() == ["ab12"]
    assert row_key(frame[["model"]]).tolist() == ["mcn"]
