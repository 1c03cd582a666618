"""The evaluation runner: records, per-query arrays, caching, fingerprints, data-root choice."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_crosstask, write_mining_youtube

from mcnbench import runner
from mcnbench.data.errors import DataError
from mcnbench.registry import RegistryError
from mcnbench.results import load_per_query, read_record

pytest_plugins = ("conftest_tasks",)  # the tiny_world, oracle_dir, random_dir fixtures

HASH = "conftest_tasks:hash_model"


@pytest.fixture
def real_root(tmp_path):
    """A small data root in the real layout (no manifest: kind "real")."""
    root = tmp_path / "data"
    write_crosstask(root, n_videos=4, with_split=True)
    write_mining_youtube(root)
    return root


def _eval(root, out, log=None, **kw):
    lines = [] if log is None else log
    paths = runner.evaluate(HASH, kw.pop("tasks", "crosstask,mining_youtube"), data_root=root,
                            out=out, log=lines.append, **kw)
    return paths, lines


def test_writes_one_record_per_task(real_root, tmp_path):
    paths, lines = _eval(real_root, tmp_path / "out")
    assert [p.parent.name for p in paths] == ["crosstask", "mining_youtube"]
    ct = read_record(paths[0])
    assert ct.model["name"] == HASH and ct.model["config"] == {"dim": 8, "seed": 0}
    assert ct.task == {"name": "crosstask", "version": runner.make_task("crosstask").version,
                       "options": runner.make_task("crosstask").options()}
    assert ct.data["kind"] == "real" and len(ct.data["fingerprint"]) == 64
    assert ct.main_score == "recall" and ct.tie_rule == "mean" and ct.seed == 0
    assert ct.timings["eval_s"] >= 0 and ct.versions["numpy"] == np.__version__
    assert ct.info["videos_scored"] == 6
    hits = load_per_query(paths[0], "hits")
    assert hits.shape == (6,) and load_per_query(paths[0], "video_ids").dtype.kind == "U"
    assert load_per_query(paths[1], "mof").shape == (2,)
    assert any(line.startswith("[1/2] crosstask") for line in lines)
    assert any("recall" in line and "->" in line for line in lines)


def test_rerun_skips_and_overwrite_reevaluates(real_root, tmp_path):
    out = tmp_path / "out"
    paths, _ = _eval(real_root, out, tasks="crosstask")
    created = read_record(paths[0]).created
    before = paths[0].read_bytes()
    _, lines = _eval(real_root, out, tasks="crosstask")
    assert any("up to date, skipped" in line for line in lines)
    assert paths[0].read_bytes() == before
    _, lines = _eval(real_root, out, tasks="crosstask", overwrite=True)
    assert not any("skipped" in line for line in lines)
    assert read_record(paths[0]).created >= created


@pytest.mark.parametrize("change", ["option", "seed", "tie_rule", "data"])
def test_changed_configuration_reevaluates(real_root, tmp_path, change):
    out = tmp_path / "out"
    _eval(real_root, out, tasks="crosstask")
    kw = {}
    if change == "option":
        kw["task_options"] = {"crosstask": {"dp_input": "raw"}}
    elif change == "tie_rule":
        kw["tie_rule"] = "optimistic"
    elif change == "seed":
        kw["seed"] = 1
    else:
        ann = next((real_root / "crosstask" / "crosstask_release" / "annotations").glob("*.csv"))
        ann.write_text(ann.read_text() + "1,0.0,0.5\n")
    paths, lines = _eval(real_root, out, tasks="crosstask", **kw)
    assert not any("skipped" in line for line in lines)
    if change != "seed":  # a new seed is a new unit (seed1.json), not a changed one
        assert any("configuration changed" in line for line in lines)
    record = read_record(paths[0])
    assert record.tie_rule == kw.get("tie_rule", "mean")
    if change == "option":
        assert record.task["options"]["dp_input"] == "raw"


def test_bad_requests_fail_before_running(real_root, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="no option"):
        _eval(real_root, out, task_options={"crosstask": {"nope": 1}})
    with pytest.raises(ValueError, match="not evaluated"):
        _eval(real_root, out, tasks="crosstask", task_options={"msrvtt": {"fusion": "video"}})
    with pytest.raises(RegistryError, match="Did you mean 'crosstask'"):
        _eval(real_root, out, tasks="crosstsak")
    with pytest.raises(ValueError, match="tie_rule"):
        _eval(real_root, out, tie_rule="average")
    with pytest.raises(DataError, match="checkpoint file not found"):
        _eval(real_root, out, checkpoint=tmp_path / "none.pth")
    assert not out.exists()


def test_resolve_tasks():
    assert runner.resolve_tasks("all") == ["crosstask", "hmdb51", "mining_youtube", "msrvtt", "ucf101",
                                           "youcook2", "youcook2_video"]
    assert runner.resolve_tasks("msrvtt, youcook2,msrvtt") == ["msrvtt", "youcook2"]
    assert runner.resolve_tasks(["crosstask"]) == ["crosstask"]


def test_data_root_resolution(tmp_path, monkeypatch):
    import mcnbench.data.synth as synth

    lines = []
    monkeypatch.delenv("MCNBENCH_DATA", raising=False)
    monkeypatch.setattr(synth, "ensure_world", lambda preset, seed: tmp_path)
    assert runner.resolve_data_root(None, log=lines.append) == tmp_path
    assert "default synthetic world" in lines[0]
    monkeypatch.setenv("MCNBENCH_DATA", str(tmp_path))
    lines.clear()
    assert runner.resolve_data_root(None, log=lines.append) == tmp_path
    assert "MCNBENCH_DATA" in lines[0]
    with pytest.raises(DataError, match="data root not found"):
        runner.resolve_data_root(tmp_path / "absent")


def test_file_digest(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * 5000)
    full = runner.file_digest(path)
    assert full.startswith("sha256:")
    monkeypatch.setattr(runner, "FULL_HASH_BELOW", 1000)
    monkeypatch.setattr(runner, "EDGE_BYTES", 100)
    edges = runner.file_digest(path)
    assert edges.startswith("edges:5000:")
    path.write_bytes(b"a" * 2000 + b"b" + b"a" * 2999)  # the middle is not read
    assert runner.file_digest(path) == edges
    path.write_bytes(b"a" * 4999 + b"b")
    assert runner.file_digest(path) != edges


def test_synthetic_fingerprint(tiny_world):
    info = runner.data_info(tiny_world)
    manifest = json.loads((tiny_world / "manifest.json").read_text())
    assert info["kind"] == "synthetic" and info["preset"] == "tiny"
    assert info["generator_seed"] == manifest["seed"] == 0
    assert len(info["fingerprint"]) == 64
