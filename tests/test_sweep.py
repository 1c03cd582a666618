"""``mcnbench sweep``: one hyper-parameter chosen per model on the validation monitor.

The scoring and the choice are checked on hand-made logs with known answers; the command on the
``tiny`` synthetic world (one epoch, the monitor at every step), sharing the module's cache.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest

from mcnbench.cli import main
from mcnbench.engine.sweep import SweepWarning, choose, tail_score

pytest_plugins = ("conftest_tasks",)  # the session's tiny synthetic world: `tiny_world`


# -- scoring a run --------------------------------------------------------------------------------
def test_tail_score_averages_the_monitor_over_the_last_fifth_of_the_steps():
    # the monitor every 10 steps up to 100 (training lines between carry none)
    log = [{"step": s, "loss": 1.0} for s in range(101)]
    for line in log[::10]:
        line["val_R@10"] = float(line["step"])  # 0, 10, ..., 100
    # steps >= 80: 80, 90, 100
    assert tail_score(log, "val_R@10", 0.2) == (90.0, 3)
    assert tail_score(log, "val_R@10", 1.0) == (50.0, 11)
    assert tail_score(log, "val_R@10", 0.01) == (100.0, 1)  # at least the last point
    score, n = tail_score(log, "val_video_R@10")
    assert math.isnan(score) and n == 0


def _rows(model, scores):
    """Sweep rows: ``scores = {value: [score per seed]}``."""
    return [{"model": model, "value": v, "seed": s, "score": x}
            for v, xs in scores.items() for s, x in enumerate(xs)]


def test_choose_takes_the_best_seed_mean():
    rows = _rows("mcn", {1e-3: [40, 44], 3e-3: [50, 46], 1e-2: [47, 47]})
    got = choose(rows, [1e-3, 3e-3, 1e-2])["mcn"]
    assert got["value"] == 3e-3 and got["mean"] == 48 and got["n"] == 2 and not got["edge"]
    assert got["std"] == pytest.approx(math.sqrt(8))  # ddof 1, as the report's seed std
    assert got["scores"] == {0: 42, 1: 48, 2: 47}


def test_choose_breaks_ties_by_grid_order_and_flags_an_edge():
    values = [1e-2, 1e-3, 3e-3]  # grid order is not value order: the edge is by value
    with pytest.warns(SweepWarning, match="edge of the grid"):
        got = choose(_rows("nce", {1e-2: [50], 1e-3: [50], 3e-3: [49]}), values)["nce"]
    assert got["value"] == 1e-2 and got["edge"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the middle value: no warning
        assert not choose(_rows("nce", {1e-2: [1], 1e-3: [1], 3e-3: [9]}), values)["nce"]["edge"]
        # two values have no middle: never an edge
        assert not choose(_rows("nce", {1e-3: [1], 3e-3: [9]}), [1e-3, 3e-3])["nce"]["edge"]


def test_choose_after_promotion_is_among_the_promoted_values():
    # round 1 (seed 0): 1e-3 looks best by one lucky seed; 3e-3 and 1e-3 were promoted (seed 1)
    rows = _rows("co", {3e-4: [30], 1e-3: [44, 36], 3e-3: [41, 42]})
    with pytest.warns(SweepWarning):  # 3e-3 is the grid's largest value
        got = choose(rows, [3e-4, 1e-3, 3e-3])["co"]
    assert got["value"] == 3e-3 and got["n"] == 2 and got["mean"] == 41.5
    # a one-seed value never wins against the promoted ones, however high
    rows += _rows("co", {1e-2: [60]})
    assert choose(rows, [3e-4, 1e-3, 3e-3, 1e-2])["co"]["value"] == 3e-3  # not an edge now


# -- the command ----------------------------------------------------------------------------------
def sweep_argv(world: Path, out: Path, grid: str = "lr=1e-3,3e-3", model: str = "mcn") -> list[str]:
    return ["sweep", "--model", model, "--grid", grid, "--data-root", str(world), "--out", str(out),
            "--set", "epochs=1", "--set", "val_fraction=0.2", "--set", "val_every=1"]


@pytest.fixture(scope="module")
def swept(tiny_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "lr"
    assert main(sweep_argv(tiny_world, out)) == 0
    return out


def test_sweep_writes_its_identity_runs_choice_and_figure(swept):
    result = json.loads((swept / "sweep.json").read_text())
    assert result["identity"]["key"] == "lr" and result["identity"]["values"] == [1e-3, 3e-3]
    assert result["identity"]["base"] == {"epochs": 1, "val_fraction": 0.2, "val_every": 1}
    assert len(result["identity"]["data"]) == 64  # the corpus fingerprint trained on
    assert result["identity"]["monitor"] == "val_video_R@10"  # the default: text · video
    runs = result["runs"]
    assert [(r["model"], r["value"], r["seed"]) for r in runs] == [("mcn", 1e-3, 0), ("mcn", 3e-3, 0)]
    assert runs[0]["key"] != runs[1]["key"]  # two checkpoints
    for r in runs:  # each score is the tail mean of the log kept beside the table
        lines = [json.loads(x) for x in (swept / r["log"]).read_text().splitlines()]
        assert (r["score"], r["points"]) == tail_score(lines, "val_video_R@10", 0.2)
        assert lines[-1]["step"] == r["steps"]
    best = max(runs, key=lambda r: (r["score"], -runs.index(r)))
    assert result["chosen"]["mcn"]["value"] == best["value"]
    table = (swept / "sweep.md").read_text()
    assert "| mcn " in table and "lr=0.001" in table and "No test task is read" in table
    assert (swept / "sweep.png").stat().st_size > 10_000
    assert len((swept / "sweep.csv").read_text().splitlines()) == 3


def test_a_rerun_trains_nothing_and_writes_the_same_sweep(tiny_world, swept, capsys):
    before = (swept / "sweep.json").read_text()
    assert main(sweep_argv(tiny_world, swept)) == 0
    assert capsys.readouterr().out.count("using cached checkpoint") == 2
    assert (swept / "sweep.json").read_text() == before


def test_run_with_the_chosen_value_reuses_the_sweeps_checkpoint(tiny_world, swept, tmp_path, capsys):
    chosen = json.loads((swept / "sweep.json").read_text())["chosen"]["mcn"]["value"]
    assert main(["run", "--model", "mcn", "--tasks", "youcook2", "--data-root", str(tiny_world),
                 "--out", str(tmp_path), "--set", f"lr={chosen}", "--set", "epochs=1",
                 "--set", "val_fraction=0.2", "--set", "val_every=1"]) == 0
    assert "using cached checkpoint" in capsys.readouterr().out


def test_the_own_score_monitor_is_one_option_away_and_another_identity(tiny_world, swept, capsys):
    # the same cells (cached) scored by each model's own clip score: a sweep of its own
    assert main(sweep_argv(tiny_world, swept) + ["--monitor", "val_R@10"]) == 2  # not into this one
    out = swept.parent / "own-score"
    assert main(sweep_argv(tiny_world, out) + ["--monitor", "val_R@10"]) == 0
    assert capsys.readouterr().out.count("using cached checkpoint") == 2
    result = json.loads((out / "sweep.json").read_text())
    assert result["identity"]["monitor"] == "val_R@10"
    for r in result["runs"]:
        lines = [json.loads(x) for x in (out / r["log"]).read_text().splitlines()]
        assert (r["score"], r["points"]) == tail_score(lines, "val_R@10", 0.2)


def test_another_sweep_never_merges_into_the_folder(tiny_world, swept, capsys):
    before = (swept / "sweep.json").read_text()
    assert main(sweep_argv(tiny_world, swept, "lr=1e-3")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sweep.json" in err and "another identity" in err
    assert (swept / "sweep.json").read_text() == before


def test_successive_halving_trains_the_best_values_again(tiny_world, swept, tmp_path):
    out = tmp_path / "halving"
    argv = sweep_argv(tiny_world, out, "lr=1e-3,3e-3,1e-2") + ["--promote", "1", "--promote-seeds", "1"]
    assert main(argv) == 0
    result = json.loads((out / "sweep.json").read_text())
    first = [r for r in result["runs"] if r["round"] == 1]
    second = [r for r in result["runs"] if r["round"] == 2]
    assert [r["seed"] for r in first] == [0, 0, 0] and [r["seed"] for r in second] == [1]
    best = max(first, key=lambda r: (r["score"], -first.index(r)))
    assert second[0]["value"] == best["value"]  # the round-1 winner got the second seed
    chosen = result["chosen"]["mcn"]
    assert chosen["value"] == best["value"] and chosen["n"] == 2
    assert chosen["mean"] == pytest.approx((best["score"] + second[0]["score"]) / 2)
    assert "(n=2)" in (out / "sweep.md").read_text()


def test_a_sweep_resumes_from_its_folder_on_a_machine_without_the_cache(
        tiny_world, swept, tmp_path, monkeypatch, capsys):
    # the folder is all another machine has (committed, copied): its kept logs carry their cache
    # keys, so nothing is trained again and the same sweep comes out
    import shutil

    moved = tmp_path / "moved"
    shutil.copytree(swept, moved)
    first = moved / json.loads((moved / "sweep.json").read_text())["runs"][0]["log"]
    kept = json.loads(first.with_name("cache_key.json").read_text())
    assert kept["seed"] == 0 and kept["model"]["name"] == "mcn"
    monkeypatch.setenv("MCNBENCH_CACHE", str(tmp_path / "empty-cache"))
    assert main(sweep_argv(tiny_world, moved)) == 0
    out = capsys.readouterr().out
    assert out.count("not trained again") == 2 and "training mcn" not in out
    assert (json.loads((moved / "sweep.json").read_text())["runs"]
            == json.loads((swept / "sweep.json").read_text())["runs"])
    # a cell it does not hold (another value) trains; a kept log of another cell is not taken
    # for it: the cache key decides, not the folder's name
    grown = tmp_path / "grown"
    shutil.copytree(first.parent, grown / "mcn" / "lr_0.01" / "train-seed0")
    assert main(sweep_argv(tiny_world, grown, "lr=1e-2")) == 0
    assert "training mcn" in capsys.readouterr().out


def test_jobs_train_a_rounds_cells_side_by_side_into_the_cache(tiny_world, swept, tmp_path, capsys):
    out = tmp_path / "jobs"
    # values no other test of the module trains, so both cells are new to the cache
    assert main(sweep_argv(tiny_world, out, "lr=3e-4,2e-3") + ["--jobs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "training 2 cell(s), 2 side by side" in printed
    assert "[mcn lr=0.0003 seed 0] done" in printed and "[mcn lr=0.002 seed 0] done" in printed
    # the scoring pass found both in the cache; --jobs is not part of the identity
    assert printed.count("using cached checkpoint") == 2
    assert len(list(out.glob("mcn/*/train-seed0/cache_key.json"))) == 2  # kept as each finished
    result = json.loads((out / "sweep.json").read_text())
    assert "jobs" not in result["identity"] and len(result["runs"]) == 2
    assert main(sweep_argv(tiny_world, out, "lr=3e-4,2e-3")) == 0  # one job: the same sweep
    assert json.loads((out / "sweep.json").read_text())["runs"] == result["runs"]
    assert main(sweep_argv(tiny_world, tmp_path / "bad", "lr=1e-2") + ["--jobs", "0"]) == 2


def test_cells_trained_side_by_side_are_kept_before_the_sweep_goes_on(tiny_world, tmp_path, monkeypatch):
    # the sweep is stopped right after the side-by-side training (a session's end, Ctrl-C): the
    # finished cells' logs are in --out already, so the same command elsewhere resumes from them
    from mcnbench.data.root import DataRoot
    from mcnbench.engine import sweep as engine

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "_run_cell", stopped)
    spec = engine.SweepSpec(models=["mcn"], key="lr", values=[5e-4, 4e-3], seeds=[0],
                            data=DataRoot(tiny_world), jobs=2,
                            base={"epochs": 1, "val_fraction": 0.2, "val_every": 1})
    with pytest.raises(KeyboardInterrupt):
        engine.sweep(spec, out=tmp_path / "out", log=lambda m: None)
    kept = sorted(p.parent.parent.name for p in (tmp_path / "out").glob("mcn/*/train-seed0/cache_key.json"))
    assert kept == ["lr_0.0005", "lr_0.004"]


@pytest.mark.parametrize("argv_tail, message", [
    (["--model", "mcn", "--grid", "lr=1e-3", "--promote", "1"], "go together"),
    (["--model", "mcn", "--grid", "lr=1e-3", "--promote", "1", "--promote-seeds", "0"],
     "did not train"),
    (["--model", "random", "--grid", "lr=1e-3"], "not trainable"),
    (["--model", "mcn", "--grid", "lr=1e-3,0.001"], "given twice"),
    (["--model", "mcn", "--grid", "lr"], "expected KEY=V,V"),
    (["--model", "mcn", "--grid", "lr=1e-3", "--set", "lr=1e-2"], "do not also --set"),
    (["--model", "mcn", "--grid", "warmup=3"], "unknown option"),
])
def test_bad_sweeps_are_one_line_and_exit_2(tiny_world, tmp_path, capsys, argv_tail, message):
    out = tmp_path / "out"
    argv = ["sweep", *argv_tail, "--data-root", str(tiny_world), "--out", str(out),
            "--set", "val_fraction=0.2"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_the_monitor_must_be_on(tiny_world, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", "--model", "mcn", "--grid", "lr=1e-3", "--data-root", str(tiny_world),
                 "--out", str(out)]) == 2
    assert "val_fraction=0.1" in capsys.readouterr().err and not out.exists()


def test_every_cell_is_checked_before_any_training(tiny_world, tmp_path, capsys):
    # the second model is not trainable: nothing of the first may train first
    out = tmp_path / "out"
    assert main(sweep_argv(tiny_world, out, model="mcn,random")) == 2
    captured = capsys.readouterr()
    assert "training mcn" not in captured.out and "not trainable" in captured.err
