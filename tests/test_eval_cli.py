"""``mcnbench eval``: arguments, records on disk, skip on rerun, one-line errors."""
from __future__ import annotations

import pytest
from conftest import write_crosstask

from mcnbench.cli import main
from mcnbench.commands._common import parse_task_options
from mcnbench.records import load_results, read_record

pytest_plugins = ("conftest_tasks",)  # the tiny_world, oracle_dir, random_dir fixtures

HASH = "conftest_tasks:hash_model"


@pytest.fixture
def ct_root(tmp_path):
    write_crosstask(tmp_path / "data", with_split=True)
    return tmp_path / "data"


def test_parse_task_options():
    assert parse_task_options(["crosstask.dp_input=raw", "crosstask.n_train=20",
                               "msrvtt.fusion=video", "mining_youtube.poisson_mean=null"]) == {
        "crosstask": {"dp_input": "raw", "n_train": 20}, "msrvtt": {"fusion": "video"},
        "mining_youtube": {"poisson_mean": None}}
    for bad in ("crosstask", "dp_input=raw", ".x=1", "crosstask.=1"):
        with pytest.raises(ValueError, match="TASK.KEY=VALUE"):
            parse_task_options([bad])


def test_eval_writes_records_and_skips_on_rerun(ct_root, tmp_path, capsys):
    out = tmp_path / "results"
    argv = ["eval", "--model", HASH, "--tasks", "crosstask", "--data-root", str(ct_root),
            "--out", str(out), "--seed-list", "3", "--task-option", "crosstask.dp_input=raw"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    [record_file] = out.glob("conftest_tasks_hash_model/*/crosstask/seed3.json")
    assert record_file.exists() and str(record_file) in printed
    record = read_record(record_file)
    assert record.seed == 3 and record.task["options"]["dp_input"] == "raw"
    assert record.model["config"]["seed"] == 3  # the seed reaches the model context
    assert main(argv) == 0
    assert "up to date, skipped" in capsys.readouterr().out
    assert main(argv + ["--overwrite"]) == 0
    assert "skipped" not in capsys.readouterr().out
    df = load_results(out)
    assert set(df["task"]) == {"crosstask"} and "recall" in set(df["metric"])


def test_data_root_from_environment(ct_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MCNBENCH_DATA", str(ct_root))
    assert main(["eval", "--model", HASH, "--tasks", "crosstask", "--out",
                 str(tmp_path / "r")]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("data root from MCNBENCH_DATA")


@pytest.mark.parametrize("argv, message", [
    (["--model", "nosuchmodel"], "unknown model 'nosuchmodel'"),
    (["--model", "precomputed"], "--embeddings"),
    (["--model", HASH, "--task-option", "crosstask"], "TASK.KEY=VALUE"),
    (["--model", HASH, "--task-option", "crosstask.dp_input=argmax"], "is not one of"),
    (["--model", HASH, "--tasks", "crosstask", "--checkpoint", "/nonexistent.pth"],
     "checkpoint file not found"),
])
def test_errors_are_one_line(ct_root, tmp_path, capsys, argv, message):
    code = main(["eval", "--data-root", str(ct_root), "--out", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert err.startswith("mcnbench eval: error:")


def test_eval_oracle_on_tiny_world(tiny_world, oracle_dir, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["eval", "--model", "precomputed", "--embeddings", str(oracle_dir),
                 "--data-root", str(tiny_world), "--out", str(out)]) == 0
    records = sorted(out.glob("precomputed/*/*/seed0.json"))
    assert sorted(r.parent.name for r in records) == ["crosstask", "hmdb51", "mining_youtube", "msrvtt",
                                                      "ucf101", "youcook2", "youcook2_video"]
    for r in records:
        rec = read_record(r)
        assert rec.data["kind"] == "synthetic" and rec.data["preset"] == "tiny"
        assert rec.metrics[rec.main_score] == rec.metrics[rec.main_score]  # not NaN
