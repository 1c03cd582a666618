"""Result records: atomic writes, loading into pandas, stable config hashes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mcnbench.records import ResultRecord, config_hash, load_per_query, load_results, write_record
from mcnbench.utils import io as mio


def make_record(model="mcn", task="youcook2", seed=0, r10=40.0) -> ResultRecord:
    return ResultRecord(
        model={"name": model, "version": "1", "config": {"embd_dim": 256, "lr": 1e-3}},
        task={"name": task, "version": "1", "options": {}}, seed=seed,
        data={"root": "/tmp/x", "kind": "synthetic", "fingerprint": "abc", "preset": "tiny"},
        metrics={"R@1": 10.0, "R@10": r10, "MedR": 12.0}, main_score="R@10", tie_rule="mean")


def test_record_round_trip_and_per_query(tmp_path):
    record = make_record()
    path = write_record(record, tmp_path, per_query={"ranks": np.arange(5.0)})
    assert path == tmp_path / "mcn" / record.run_id / "youcook2" / "seed0.json"
    data = json.loads(path.read_text())
    assert data["schema_version"] == 2 and data["model"]["config_hash"]
    assert data["run_id"] == record.run_id and data["label"] == "mcn"
    assert data["versions"]["python"] and "git_commit" in data["versions"]
    np.testing.assert_array_equal(load_per_query(path, "ranks"), np.arange(5.0))


def test_load_results_long_table_skips_corrupt_and_foreign(tmp_path):
    write_record(make_record(seed=0, r10=40.0), tmp_path)
    write_record(make_record(seed=1, r10=42.0), tmp_path)
    write_record(make_record(model="random", seed=0, r10=0.3), tmp_path)
    folder = write_record(make_record(seed=0), tmp_path).parent
    (folder / "seed7.json").write_text('{"schema_version": 2, "model": ')
    (folder / "seed8.json").write_text('{"hello": "world"}')
    (folder / "seed9.json").write_text("[]")
    bad = {**make_record(seed=6).to_dict(), "metrics": {"R@10": "high"}}
    (folder / "seed6.json").write_text(json.dumps(bad))
    old = {**make_record(seed=5).to_dict(), "schema_version": 1}
    (folder / "seed5.json").write_text(json.dumps(old))
    with pytest.warns(UserWarning, match="skipped 5 unreadable result file"):
        df = load_results(tmp_path)
    assert len(df) == 9  # 3 records x 3 metrics
    r10 = df[(df.model == "mcn") & (df.metric == "R@10")].sort_values("seed")
    assert r10.value.tolist() == [40.0, 42.0]
    assert df[df.metric == "R@10"].main_score.all()
    skipped = dict(df.attrs["skipped"])
    assert any(p.endswith("seed7.json") for p in skipped)
    assert any("missing fields" in why or "schema_version" in why for why in skipped.values())
    assert any("metric 'R@10' is not a number: 'high'" in why for why in skipped.values())
    assert any("mcnbench migrate" in why for why in skipped.values())


def test_atomic_write_crash_leaves_old_file(tmp_path):
    target = tmp_path / "r.json"
    mio.atomic_write_json(target, {"v": 1})

    def crash(f):
        f.write(b'{"v": 2, "half')
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        mio.atomic_write(target, crash)
    assert json.loads(target.read_text()) == {"v": 1}
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def test_atomic_write_crash_with_no_old_file_leaves_nothing(tmp_path):
    target = tmp_path / "new.json"

    def crash(f):
        f.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mio.atomic_write(target, crash)
    assert not target.exists() and not list(tmp_path.iterdir())


def test_killed_writer_process_never_leaves_half_a_file(tmp_path):
    """A process killed (SIGKILL) in the middle of a write: the target is old or absent."""
    target = tmp_path / "big.json"
    mio.atomic_write_json(target, {"old": True})
    code = (
        "import os, signal\n"
        "from mcnbench.utils.io import atomic_write\n"
        "def w(f):\n"
        "    f.write(b'x' * 1000)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        f"atomic_write({str(target)!r}, w)\n")
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode != 0
    assert json.loads(target.read_text()) == {"old": True}


def test_config_hash_stable_across_key_order_and_processes():
    a = {"lr": 1e-4, "embd_dim": 6144, "nested": {"b": [1, 2], "a": "x"}, "path": Path("/x")}
    b = {"nested": {"a": "x", "b": [1, 2]}, "path": Path("/x"), "embd_dim": 6144, "lr": 1e-4}
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash({**a, "lr": 2e-4})
    code = ("from pathlib import Path; from mcnbench.records import config_hash; "
            "print(config_hash({'path': Path('/x'), 'embd_dim': 6144, 'lr': 1e-4, "
            "'nested': {'a': 'x', 'b': [1, 2]}}))")
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.strip()
    assert out == config_hash(a)
