"""The plug-in example of docs/adding_a_model.md runs as written."""
from __future__ import annotations

import json
import re
from pathlib import Path

from mcnbench.engine.units import evaluate

pytest_plugins = ("conftest_tasks",)  # the tiny_world fixture

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding_a_model.md"


def test_documented_plugin_model_evaluates(tiny_world, tmp_path, monkeypatch):
    code = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)[0]
    (tmp_path / "mymodels.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    paths = evaluate("mymodels:mean_word", "youcook2,msrvtt", data_root=tiny_world,
                     out=tmp_path / "results", log=lambda s: None)
    assert len(paths) == 2
    record = json.loads(paths[0].read_text())
    assert record["model"]["name"] == "mymodels:mean_word"
    assert record["model"]["config"] == {"dim": 64}
    assert 0.0 <= record["metrics"]["R@10"] <= 100.0
