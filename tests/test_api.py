"""The Python API: ``mcnbench.evaluate`` on a model object, and the README's example as written."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import mcnbench
from mcnbench.records import read_record

pytest_plugins = ("conftest_tasks",)  # tiny_world, HashModel

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs_as_written(capsys):
    section = README.read_text().split("## Python API", 1)[1]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    assert len(code.strip().splitlines()) <= 22
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    df = namespace["df"]
    assert list(df["task"]) == ["youcook2", "msrvtt"]
    assert set(df["label"]) == {"bag-of-words"} and df["run_id"].str.len().eq(12).all()
    assert df["R@10"].between(0, 100).all()
    assert "R@10" in capsys.readouterr().out


def test_model_object_with_records(tiny_world, tmp_path):
    from conftest_tasks import HashModel

    out = tmp_path / "out"
    df = mcnbench.evaluate(HashModel(dim=8), "crosstask,msrvtt", data_root=tiny_world, seeds=2, out=out)
    assert len(df) == 4 and set(df["seed"]) == {0, 1}
    assert {"recall", "R@10"} <= set(df.columns)
    record = read_record(df["path"].iloc[0])
    assert record.model["source"].endswith("conftest_tasks.HashModel")
    assert record.model["config"] == {"dim": 8, "seed": 0}
    # another config of the same class is another run, never the same record
    df2 = mcnbench.evaluate(HashModel(dim=4), "msrvtt", data_root=tiny_world, out=out)
    assert df2["run_id"].iloc[0] not in set(df["run_id"])
    again = mcnbench.evaluate(HashModel(dim=8), "msrvtt", data_root=tiny_world, out=out)
    assert again["path"].iloc[0] == df.loc[df["task"] == "msrvtt", "path"].iloc[0]  # up to date


def test_registered_name_in_memory(tiny_world):
    df = mcnbench.evaluate("random", "msrvtt", data_root=tiny_world)
    assert df["path"].isna().all() and np.isfinite(df["R@10"]).all()
