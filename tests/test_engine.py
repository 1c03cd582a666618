"""The engine: records, identity, caching, fingerprints, data-root choice (one run path)."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import write_crosstask, write_mining_youtube

from mcnbench.data import root as data_root
from mcnbench.data.errors import DataError
from mcnbench.data.root import DataRoot, file_digest, resolve
from mcnbench.engine import ModelSpec, RunSpec, resolve_tasks, run
from mcnbench.engine.plan import make_task
from mcnbench.records import load_per_query, read_record
from mcnbench.registry import RegistryError

pytest_plugins = ("conftest_tasks",)  # the tiny_world, oracle_dir, random_dir fixtures

HASH = "conftest_tasks:hash_model"


@pytest.fixture
def real_root(tmp_path):
    """A small data root in the real layout (no manifest: kind "real")."""
    root = tmp_path / "data"
    write_crosstask(root, n_videos=4, with_split=True)
    write_mining_youtube(root)
    return root


def _run(root, out, *, tasks="crosstask,mining_youtube", model=HASH, seeds=(0,), log=None,
         overrides=None, checkpoint=None, **kw):
    lines = [] if log is None else log
    spec = RunSpec(models=[ModelSpec(model, overrides=overrides or {}, checkpoint=checkpoint)],
                   tasks=resolve_tasks(tasks), seeds=list(seeds), data=DataRoot(root), out=out, **kw)
    outcomes = run(spec, log=lines.append)
    return [o.path for o in outcomes], lines


def test_writes_one_record_per_task_in_the_identity_layout(real_root, tmp_path):
    paths, lines = _run(real_root, tmp_path / "out")
    assert [p.parent.name for p in paths] == ["crosstask", "mining_youtube"]
    ct = read_record(paths[0])
    # <out>/<model>/<run id>/<task>/seed<k>.json
    assert paths[0].relative_to(tmp_path / "out").parts == (
        "conftest_tasks_hash_model", ct.run_id, "crosstask", "seed0.json")
    assert ct.model["name"] == HASH and ct.model["config"] == {"dim": 8, "seed": 0}
    task = make_task("crosstask")
    assert ct.task == {"name": "crosstask", "version": task.version, "options": task.options()}
    assert ct.data["kind"] == "real" and len(ct.data["fingerprint"]) == 64
    assert ct.main_score == "recall" and ct.tie_rule == "mean" and ct.seed == 0
    assert ct.label == HASH and len(ct.run_id) == 12
    assert ct.timings["eval_s"] >= 0 and ct.versions["numpy"] == np.__version__
    assert ct.provenance["device"] == "cpu"
    assert ct.info["videos_scored"] == 6
    hits = load_per_query(paths[0], "hits")
    assert hits.shape == (6,) and load_per_query(paths[0], "video_ids").dtype.kind == "U"
    assert load_per_query(paths[1], "mof").shape == (2,)
    assert any(line.startswith("[1/2] crosstask") for line in lines)


def test_rerun_skips_and_overwrite_replaces_the_same_identity(real_root, tmp_path):
    out = tmp_path / "out"
    paths, _ = _run(real_root, out, tasks="crosstask")
    created, before = read_record(paths[0]).created, paths[0].read_bytes()
    again, lines = _run(real_root, out, tasks="crosstask")
    assert any("up to date, skipped" in line for line in lines) and again == paths
    assert paths[0].read_bytes() == before
    again, lines = _run(real_root, out, tasks="crosstask", overwrite=True)
    assert again == paths and not any("skipped" in line for line in lines)
    assert read_record(paths[0]).created >= created


@pytest.mark.parametrize("change", ["option", "tie_rule", "config", "data"])
def test_another_identity_is_a_second_record_never_a_replacement(real_root, tmp_path, change):
    out = tmp_path / "out"
    first, _ = _run(real_root, out, tasks="crosstask")
    kw = {}
    if change == "option":
        kw["task_options"] = {"crosstask": {"dp_input": "raw"}}
    elif change == "tie_rule":
        kw["tie_rule"] = "optimistic"
    elif change == "config":
        kw["overrides"] = {"dim": 4}
    else:  # an edited data file: same size and name, other content
        ann = next((real_root / "crosstask" / "crosstask_release" / "annotations").glob("*.csv"))
        ann.write_text(ann.read_text() + "1,0.0,0.5\n")
    second, lines = _run(real_root, out, tasks="crosstask", **kw)
    assert not any("skipped" in line for line in lines)
    assert second[0] != first[0] and first[0].exists()  # both kept
    old, new = read_record(first[0]), read_record(second[0])
    assert old.run_id != new.run_id
    expected_label = {"option": f"{HASH} dp_input=raw", "tie_rule": f"{HASH} tie=optimistic",
                      "config": f"{HASH} dim=4", "data": HASH}[change]
    assert new.label == expected_label


def test_seeds_are_files_of_one_run(real_root, tmp_path):
    paths, _ = _run(real_root, tmp_path / "out", tasks="crosstask", seeds=(0, 1))
    a, b = (read_record(p) for p in paths)
    assert a.run_id == b.run_id and paths[0].parent == paths[1].parent
    assert [p.name for p in paths] == ["seed0.json", "seed1.json"]


def test_in_memory_run_writes_nothing(real_root, tmp_path):
    paths, _ = _run(real_root, None, tasks="crosstask")
    assert paths == [None] and not list(tmp_path.glob("out*"))


def test_bad_requests_fail_before_running(real_root, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="no option"):
        _run(real_root, out, task_options={"crosstask": {"nope": 1}})
    with pytest.raises(ValueError, match="not evaluated"):
        _run(real_root, out, tasks="crosstask", task_options={"msrvtt": {"fusion": "video"}})
    with pytest.raises(RegistryError, match="Did you mean 'crosstask'"):
        _run(real_root, out, tasks="crosstsak")
    with pytest.raises(ValueError, match="tie rule"):
        _run(real_root, out, tie_rule="average")
    with pytest.raises(DataError, match="checkpoint file not found"):
        _run(real_root, out, checkpoint=tmp_path / "none.pth")
    for empty in ("", ",", " , "):
        with pytest.raises(ValueError, match="names no task"):
            resolve_tasks(empty)
    assert not out.exists()


def test_resolve_tasks():
    assert resolve_tasks("msrvtt, youcook2,msrvtt") == ["msrvtt", "youcook2"]
    assert resolve_tasks(["crosstask"]) == ["crosstask"]
    assert {"crosstask", "mining_youtube", "msrvtt", "youcook2"} <= set(resolve_tasks("all"))


def test_data_root_resolution(tmp_path, monkeypatch):
    import mcnbench.data.synth as synth

    lines = []
    monkeypatch.delenv("MCNBENCH_DATA", raising=False)
    monkeypatch.setattr(synth, "ensure_world", lambda preset, seed: tmp_path)
    assert resolve(None, log=lines.append).path == tmp_path.resolve()
    assert "synthetic world, preset default" in lines[0]
    monkeypatch.setenv("MCNBENCH_DATA", str(tmp_path))
    lines.clear()
    assert resolve(None, log=lines.append).path == tmp_path.resolve()
    assert "MCNBENCH_DATA" in lines[0]
    with pytest.raises(DataError, match="data root not found"):
        resolve(tmp_path / "absent")


def test_file_digest(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * 5000)
    assert file_digest(path).startswith("sha256:")
    monkeypatch.setattr(data_root, "FULL_HASH_BELOW", 1000)
    monkeypatch.setattr(data_root, "EDGE_BYTES", 100)
    edges = file_digest(path)
    assert edges.startswith("edges:5000:")
    path.write_bytes(b"a" * 2000 + b"b" + b"a" * 2999)  # the middle is not read
    assert file_digest(path) == edges
    path.write_bytes(b"a" * 4999 + b"b")
    assert file_digest(path) != edges


def test_fingerprint_is_of_the_data_and_remembered_by_stat(tiny_world, tmp_path):
    import shutil

    copy = tmp_path / "world"
    shutil.copytree(tiny_world, copy)
    files = sorted((copy / "youcook2").iterdir())
    a = DataRoot(copy).record_entry(files)
    # the same data elsewhere: the same fingerprint (the path is not part of it)
    assert DataRoot(tiny_world).record_entry(sorted((tiny_world / "youcook2").iterdir()))[
        "fingerprint"] == a["fingerprint"]
    assert a["kind"] == "synthetic" and a["preset"] == "tiny" and a["n_files"] == len(files)
    files[0].touch()  # touched, same content: digested again, same fingerprint
    assert DataRoot(copy).record_entry(files)["fingerprint"] == a["fingerprint"]
    data = bytearray(files[0].read_bytes())
    data[-1] ^= 1  # one byte edited
    files[0].write_bytes(bytes(data))
    assert DataRoot(copy).record_entry(files)["fingerprint"] != a["fingerprint"]


def test_edited_synthetic_root_is_re_evaluated(tiny_world, tmp_path, oracle_dir):
    import shutil

    copy = tmp_path / "world"
    shutil.copytree(tiny_world, copy)
    out = tmp_path / "out"

    def go():
        s = RunSpec(models=[ModelSpec("precomputed", embeddings=oracle_dir)], tasks=["msrvtt"],
                    seeds=[0], data=DataRoot(copy), out=out)
        lines = []
        return run(s, log=lines.append), lines

    first, _ = go()
    _, lines = go()
    assert any("up to date" in line for line in lines)
    csv = copy / "msrvtt" / "msrvtt_test.csv"
    csv.write_text(csv.read_text() + "\n")  # a data file edited (here: a trailing blank line)
    again, lines = go()
    assert not any("up to date" in line for line in lines)
    assert again[0].path != first[0].path and first[0].path.exists()


def test_random_drops_training_options_it_cannot_use(tiny_world, tmp_path):
    # `run --model random --set epochs=12`, as a loop over every model with one --set does:
    # the untrained network is the same, so it is the same run (one record, label "random")
    from mcnbench.zoo.mcn import UnusedOptionWarning

    plain, _ = _run(tiny_world, tmp_path / "out", tasks="youcook2", model="random")
    with pytest.warns(UnusedOptionWarning, match="epochs, lr have no effect"):
        again, lines = _run(tiny_world, tmp_path / "out", tasks="youcook2", model="random",
                            overrides={"epochs": 12, "lr": 0.01})
    assert any("up to date, skipped" in line for line in lines) and again == plain
    rec = read_record(plain[0])
    assert rec.label == "random" and rec.model["overrides"] == {}
    # a network option (the architecture) and no_audio (the score) do change the floor
    with pytest.warns(UnusedOptionWarning):
        wide, _ = _run(tiny_world, tmp_path / "out", tasks="youcook2", model="random",
                       overrides={"embd_dim": 64, "epochs": 12})
    rec = read_record(wide[0])
    assert wide != plain and rec.label == "random embd_dim=64"
    assert rec.model["overrides"] == {"embd_dim": 64}
