"""``mcnbench run``: train when needed, evaluate every task, skip what is done, resume what was
killed, share one results folder, and gate on ``mcnbench compare``.

Every test runs on the ``tiny`` synthetic world with ``--set epochs=1`` and keeps trained
checkpoints under a temporary ``$MCNBENCH_CACHE`` (never ``~/.cache/mcnbench``). The first run
(module fixture ``first_run``) trains MCN once; the tests that only need a trained MCN reuse its
cache, so they evaluate without training again.
"""
from __future__ import annotations

import io
import json
import shutil
import threading
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import torch

from mcnbench.cli import main
from mcnbench.records import load_results, read_record

pytest_plugins = ("conftest_tasks",)  # the session's tiny synthetic world: `tiny_world`

# `--tasks all`, in run order
TASKS = ["crosstask", "hmdb51", "mining_youtube", "msrvtt", "ucf101", "youcook2", "youcook2_video"]


def run_argv(world: Path, out: Path, *extra: str, model: str = "mcn") -> list[str]:
    """``mcnbench run --model MODEL --data-root WORLD --out OUT --set epochs=1 EXTRA...``"""
    return ["run", "--model", model, "--data-root", str(world), "--out", str(out),
            "--set", "epochs=1", *extra]


def records(out: Path, model: str = "mcn", seed: int = 0, tasks=TASKS) -> dict[str, Path]:
    """The record of each task under ``<out>/<model>/<run id>/<task>/`` (one run expected)."""
    found = {}
    for t in tasks:
        paths = sorted(out.glob(f"{model}/*/{t}/seed{seed}.json"))
        assert len(paths) <= 1, f"{len(paths)} runs of {model}/{t}: {paths}"
        found[t] = paths[0] if paths else out / model / "?" / t / f"seed{seed}.json"
    return found


def mtimes(paths) -> dict:
    return {str(p): p.stat().st_mtime_ns for p in paths}


def checkpoints(cache: Path, model: str = "mcn", seed: int = 0) -> list[Path]:
    return sorted((cache / "checkpoints" / model).glob(f"seed{seed}-*/model.pth"))


@pytest.fixture(scope="module")
def first_run(tiny_world, shared_cache, tmp_path_factory):
    """``mcnbench run --model mcn --set epochs=1`` on a fresh cache: (out, stdout, stderr)."""
    out = tmp_path_factory.mktemp("run") / "results"
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        assert main(run_argv(tiny_world, out)) == 0
    return out, stdout.getvalue(), stderr.getvalue()


# -- one run, its rerun, more seeds, --overwrite ---------------------------------------------------
def test_run_trains_evaluates_every_task_and_prints_the_table(first_run, shared_cache):
    out, stdout, _ = first_run
    # trained once, into the cache
    assert stdout.count("  training mcn (seed 0)") == 1
    [ckpt] = checkpoints(shared_cache)
    # which entry it is, and what trained it: one key's weights differ per CPU instruction set
    trained_with = json.loads((ckpt.parent / "cache_key.json").read_text())["trained_with"]
    assert trained_with["cpu"] in ("AVX512", "AVX2", "DEFAULT", "SVE256", "ZVECTOR")
    # one record per task, with the model's full config and the training time
    for task, path in records(out).items():
        rec = read_record(path)
        assert rec.task["name"] == task and rec.seed == 0
        assert rec.versions["cpu"] == trained_with["cpu"]
        assert rec.model["config"]["train"]["epochs"] == 1  # --set reached the training config
        assert rec.model["config"]["network"]["video_dim"] > 0
        assert rec.model["checkpoint"]["path"] == str(ckpt) and rec.model["checkpoint"]["cached"]
        assert rec.model["checkpoint"]["key"] == ckpt.parent.name.split("-", 1)[1]
        assert rec.timings["train_s"] > 0 and rec.timings["eval_s"] >= 0
        assert rec.data["kind"] == "synthetic" and rec.data["preset"] == "tiny"
        assert rec.metrics[rec.main_score] == rec.metrics[rec.main_score]  # not NaN
    # the compact table: our row beside the published numbers, no wider than 100 columns
    table = stdout[stdout.index("YouCook2 R@10"):]
    assert "\nmcn " in table and "MCN (paper)" in table and "**" not in table
    assert max(len(line) for line in table.splitlines()) <= 100
    assert (out / "report" / "table.md").exists() and "full table" in stdout
    # the training log is kept beside the records for `mcnbench report --plots`
    log = out / "mcn" / "train" / rec.model["checkpoint"]["key"] / "seed0" / "train_log.jsonl"
    assert log.read_bytes() == (ckpt.parent / "train_log.jsonl").read_bytes()


def test_rerun_is_up_to_date_and_trains_nothing(first_run, tiny_world, shared_cache, capsys):
    out, _, _ = first_run
    [ckpt] = checkpoints(shared_cache)
    before = mtimes([ckpt, *records(out).values()])
    assert main(run_argv(tiny_world, out)) == 0
    stdout = capsys.readouterr().out
    assert stdout.count("up to date, skipped") == len(TASKS)
    assert "training" not in stdout
    assert mtimes([ckpt, *records(out).values()]) == before
    assert "MCN (paper)" in stdout  # the table is printed all the same


@pytest.fixture(scope="module")
def two_seeds(first_run, tiny_world, shared_cache, tmp_path_factory):
    """``--seeds 2 --tasks youcook2`` into a copy of the first run's results: (out, stdout)."""
    out = Path(shutil.copytree(first_run[0], tmp_path_factory.mktemp("seeds") / "results"))
    stdout = io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(io.StringIO()):
        assert main(run_argv(tiny_world, out, "--seeds", "2", "--tasks", "youcook2")) == 0
    return out, stdout.getvalue()


def test_more_seeds_train_only_the_new_seed(two_seeds):
    out, stdout = two_seeds
    assert "training mcn (seed 0)" not in stdout and "training mcn (seed 1)" in stdout
    for seed in (0, 1):
        rec = read_record(records(out, seed=seed, tasks=["youcook2"])["youcook2"])
        assert rec.seed == seed and rec.model["config"]["train"]["seed"] == seed
    df = load_results(records(out, tasks=["youcook2"])["youcook2"].parent)
    assert sorted(df["seed"].unique()) == [0, 1]


def test_more_seeds_are_one_row_with_mean_and_std(two_seeds):
    _, stdout = two_seeds
    assert "train.seed=" not in stdout
    assert "±" in stdout  # README: "three seeds, mean ± std in the table"


def test_overwrite_reevaluates_with_the_cached_checkpoint(first_run, tiny_world, tmp_path,
                                                         capsys):
    out = Path(shutil.copytree(first_run[0], tmp_path / "results"))
    tasks = ("msrvtt", "youcook2")
    before = mtimes(records(out, tasks=tasks).values())
    metrics = {t: read_record(p).metrics for t, p in records(out, tasks=tasks).items()}
    assert main(run_argv(tiny_world, out, "--tasks", ",".join(tasks), "--overwrite")) == 0
    stdout = capsys.readouterr().out
    assert "using cached checkpoint" in stdout and "training" not in stdout
    assert "up to date" not in stdout
    after = mtimes(records(out, tasks=tasks).values())
    assert all(after[p] != before[p] for p in before)  # every record rewritten
    assert {t: read_record(p).metrics for t, p in records(out, tasks=tasks).items()} == metrics


# -- killed runs resume ----------------------------------------------------------------------------
def kill_training_after(step: int, monkeypatch) -> None:
    """Make the next training run raise KeyboardInterrupt (Ctrl-C) after optimiser step ``step``
    — after that step's checkpoint was written (``on_step`` runs after checkpointing)."""
    import mcnbench.training

    real_train = mcnbench.training.train

    def hook(global_step, terms):
        if global_step == step:
            raise KeyboardInterrupt

    def train(*args, **kwargs):
        return real_train(*args, on_step=hook, **kwargs)

    monkeypatch.setattr(mcnbench.training, "train", train)  # MCNModel.fit imports it when called


@pytest.mark.slow  # trains three times (whole, killed, resumed): ~10-25 s on 2 busy cores
def test_run_killed_while_training_resumes_to_the_same_result(tiny_world, tmp_path, monkeypatch,
                                                              capsys):
    ckpt_every = ("--set", "checkpoint_every=1",  # a resumable checkpoint after every step
                  "--tasks", "youcook2")
    # an uninterrupted run, in a cache of its own
    monkeypatch.setenv("MCNBENCH_CACHE", str(tmp_path / "cache-whole"))
    assert main(run_argv(tiny_world, tmp_path / "whole", *ckpt_every)) == 0
    capsys.readouterr()

    # the same run killed after step 2 of 3 ...
    cache = tmp_path / "cache-killed"
    monkeypatch.setenv("MCNBENCH_CACHE", str(cache))
    out = tmp_path / "killed"
    with monkeypatch.context() as mp:
        kill_training_after(2, mp)
        assert main(run_argv(tiny_world, out, *ckpt_every)) == 130
    assert "interrupted; finished units are kept, rerun to resume" in capsys.readouterr().err
    [folder] = [p for p in (cache / "checkpoints" / "mcn").glob("seed0-*") if p.is_dir()]
    assert (folder / "checkpoint.pth").exists() and not (folder / "model.pth").exists()
    assert not out.exists()  # nothing was evaluated

    # ... and rerun: it continues from the checkpoint instead of starting again
    assert main(run_argv(tiny_world, out, *ckpt_every)) == 0
    captured = capsys.readouterr()
    assert "(resuming an interrupted run)" in captured.out
    assert "resuming" in captured.err and "at epoch 0 step 2" in captured.err

    # same weights and same metrics as the run that was never killed
    whole = torch.load(tmp_path / "cache-whole" / folder.relative_to(cache) / "model.pth",
                       weights_only=True)
    resumed = torch.load(folder / "model.pth", weights_only=True)
    assert whole.keys() == resumed.keys()
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    a, b = read_record(records(tmp_path / "whole")["youcook2"]), read_record(records(out)["youcook2"])
    assert a.metrics == b.metrics and a.model["config_hash"] == b.model["config_hash"]


def test_run_killed_between_tasks_keeps_the_finished_records(first_run, tiny_world, tmp_path,
                                                             monkeypatch, capsys):
    import sys

    engine_run = sys.modules["mcnbench.engine.run"]  # the module (the package exports run())
    out = tmp_path / "results"
    real = engine_run._evaluate

    def evaluate(unit, *args, **kwargs):
        if unit.task.name == "youcook2":  # Ctrl-C while the last of three tasks is evaluated
            raise KeyboardInterrupt
        return real(unit, *args, **kwargs)

    tasks = ("--tasks", "crosstask,msrvtt,youcook2")
    with monkeypatch.context() as mp:
        mp.setattr(engine_run, "_evaluate", evaluate)
        assert main(run_argv(tiny_world, out, *tasks)) == 130
    paths = records(out, tasks=("crosstask", "msrvtt", "youcook2"))
    done = [paths["crosstask"], paths["msrvtt"]]
    assert all(p.exists() for p in done) and not paths["youcook2"].exists()
    before = mtimes(done)
    capsys.readouterr()

    assert main(run_argv(tiny_world, out, *tasks)) == 0
    stdout = capsys.readouterr().out
    assert "training" not in stdout  # the model is cached (first_run trained it)
    assert "crosstask: up to date, skipped" in stdout and "msrvtt: up to date, skipped" in stdout
    assert "youcook2: R@10" in stdout  # evaluated now
    assert mtimes(done) == before
    paths = records(out, tasks=("crosstask", "msrvtt", "youcook2"))  # youcook2's is there now
    # and the records equal those of the run that was never interrupted
    for task, path in paths.items():
        assert read_record(path).metrics == read_record(records(first_run[0])[task]).metrics


# -- two runs, one results folder ------------------------------------------------------------------
def test_two_runs_into_one_results_folder_lose_nothing(tiny_world, tmp_path, monkeypatch, capsys):
    """Three concurrent runs into one --out and one fresh cache: `random`, and `mcn` twice.
    One `mcn` trains while the other waits for the cache lock and reuses its checkpoint."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MCNBENCH_CACHE", str(cache))
    out = tmp_path / "results"
    tasks = ("--tasks", "msrvtt,youcook2")
    argvs = [run_argv(tiny_world, out, *tasks, model="mcn"),
             run_argv(tiny_world, out, *tasks, model="random"),
             run_argv(tiny_world, out, *tasks, model="mcn")]
    codes: list[int] = []
    errors: list[BaseException] = []

    def run(argv):
        try:
            codes.append(main(argv))
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(a,)) for a in argvs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and codes == [0, 0, 0]
    stdout = capsys.readouterr().out
    assert stdout.count("  training mcn (seed 0)") == 1  # the lock: one training, not two
    assert "waiting for pid" in stdout or stdout.count("up to date, skipped") >= 2
    assert len(checkpoints(cache)) == 1
    df = load_results(out)
    assert df.attrs.get("skipped", []) == []
    assert set(zip(df["model"], df["task"], strict=True)) == {
        (m, t) for m in ("mcn", "random") for t in ("msrvtt", "youcook2")}
    for model in ("mcn", "random"):
        for task in ("msrvtt", "youcook2"):
            assert read_record(records(out, model, tasks=[task])[task]).model["name"] == model
    assert not list(out.rglob("*.tmp"))  # no temporary file left behind


# -- bad input fails before anything trains -------------------------------------------------------
@pytest.mark.parametrize("extra, message", [
    (("--task-option", "crosstsk.dp_input=raw"),
     "options given for task(s) ['crosstsk'] that are not evaluated"),
    (("--task-option", "crosstask.dp_input=argmax"), "is not one of"),
    (("--set", "epoch=2"), "unknown option(s) ['epoch']"),
    (("--seeds", "0"), "--seeds 0: expected a number of seeds >= 1"),
    (("--seeds", "5,"), "for explicit seeds use --seed-list 5,"),
    (("--seeds", "abc"), "--seeds 'abc': expected a number of seeds"),
    (("--seed-list", "a,b"), "--seed-list 'a,b': expected integers"),
    (("--tasks", ","), "--tasks ',' names no task"),
    (("--tasks", ""), "--tasks '' names no task"),
    (("--set", "epochs"), "--set 'epochs': expected KEY=VALUE"),
])
def test_bad_options_are_a_one_line_error(tiny_world, tmp_path, monkeypatch, capsys, extra,
                                          message):
    monkeypatch.setenv("MCNBENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "results"
    assert main(run_argv(tiny_world, out, *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mcnbench run: error:") and message in err
    assert len(err.splitlines()) == 1
    assert not out.exists() and not (tmp_path / "cache").exists()  # nothing trained or written


def test_checkpoint_cache_key_of_a_real_root_follows_its_corpus(tmp_path):
    """Real roots (no manifest) trained on different corpora must not share a cached model."""
    from mcnbench.data.root import CORPUS_FILES, DataRoot
    from mcnbench.engine.checkpoints import checkpoint_dir

    def real_root(name, captions):
        root = tmp_path / name
        for rel in CORPUS_FILES:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(b"path\nvideo_1\n" if rel.endswith(".csv") else b"w2v")
        (root / "howto100m" / "caption.pickle").write_bytes(captions)
        return DataRoot(root)

    entry = {"name": "mcn", "version": "1", "config": {"train": {"epochs": 1, "seed": 0}}}
    a, b = real_root("a", b"captions A"), real_root("b", b"captions B")
    a_copy = real_root("copy-of-a", b"captions A")
    keys = {name: checkpoint_dir(entry, root.corpus_entry()["fingerprint"], 0).name
            for name, root in (("a", a), ("b", b), ("a_copy", a_copy))}
    assert keys["a"] != keys["b"]  # other captions: another model
    assert keys["a"] == keys["a_copy"]  # the same files elsewhere: the same model
    assert a.corpus_entry()["kind"] == "real"


# -- compare on what run wrote ---------------------------------------------------------------------
def test_compare_gates_on_run_output(first_run, tmp_path, capsys):
    out = first_run[0]
    assert main(["compare", str(out), str(out)]) == 0
    assert "**OK**" in capsys.readouterr().out

    lowered = Path(shutil.copytree(out, tmp_path / "lowered"))
    path = records(lowered)["youcook2"]  # a record edited by hand: same run id, lowered score
    rec = json.loads(path.read_text())
    rec["metrics"][rec["main_score"]] -= 10.0
    path.write_text(json.dumps(rec))
    assert main(["compare", str(out), str(lowered), "--max-drop", "1"]) == 1
    stdout = capsys.readouterr().out
    assert "**FAIL**" in stdout and "REGRESSION" in stdout
    assert main(["compare", str(out), str(lowered), "--max-drop", "11"]) == 0
