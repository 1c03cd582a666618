"""Filesystem faults and option mistakes through the CLI: one line naming the path or option,
exit status 2, no traceback, checked *before* any evaluation, and nothing half-written.

Read-only and full filesystems are real: small tmpfs mounts (``mount -t tmpfs``), which root
cannot write past; where the machine does not allow mounting, those tests skip with the reason.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mcnbench.cli import main

pytest_plugins = ("conftest_tasks",)  # tiny_world

HASH = "conftest_tasks:hash_model"


def eval_argv(world: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", "--model", HASH, "--tasks", "msrvtt", "--data-root", str(world),
            "--out", str(out), *extra]


def one_error_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs (options given by the test); unmounted afterwards."""
    mounted = []

    def mount(name: str, options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], capture_output=True)


def test_out_is_a_file(tiny_world, tmp_path, capsys):
    out = tmp_path / "results.txt"
    out.write_text("not a folder")
    assert main(eval_argv(tiny_world, out)) == 2
    one_error_line(capsys, str(out), "is a file, not a folder")
    assert out.read_text() == "not a folder"


def test_out_inside_a_file(tiny_world, tmp_path, capsys):
    parent = tmp_path / "file"
    parent.write_text("x")
    assert main(eval_argv(tiny_world, parent / "results")) == 2
    one_error_line(capsys, str(parent), "inside a file")


def test_cache_is_a_file(tiny_world, tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    cache.write_text("x")
    monkeypatch.setenv("MCNBENCH_CACHE", str(cache))
    assert main(eval_argv(tiny_world, tmp_path / "out")) == 2
    one_error_line(capsys, str(cache), "cache folder")
    assert not (tmp_path / "out").exists()


def test_out_on_a_read_only_filesystem(tiny_world, tmp_path, tmpfs, capsys):
    ro = tmpfs("ro", "ro,size=64k")
    assert main(eval_argv(tiny_world, ro / "results")) == 2
    one_error_line(capsys, str(ro), "Read-only file system")


def test_cache_on_a_read_only_filesystem(tiny_world, tmp_path, tmpfs, monkeypatch, capsys):
    ro = tmpfs("ro-cache", "ro,size=64k")
    monkeypatch.setenv("MCNBENCH_CACHE", str(ro / "cache"))
    assert main(eval_argv(tiny_world, tmp_path / "out")) == 2
    one_error_line(capsys, str(ro), "Read-only file system")


def test_full_disk_leaves_no_orphan_array(tiny_world, tmp_path, tmpfs, capsys):
    full = tmpfs("full", "size=256k")
    # leave room for the preflight's probe and a few blocks, not for the records
    filler = full / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    os.truncate(filler, filler.stat().st_size - 8192)
    assert main(eval_argv(tiny_world, full / "results")) == 2
    one_error_line(capsys, "No space left on device")
    left = [p for p in (full / "results").rglob("*") if p.is_file()] if (full / "results").exists() else []
    assert not [p for p in left if p.suffix == ".npy"], left  # no per-query array without its record
    assert not [p for p in left if p.name.endswith(".tmp")], left


@pytest.mark.parametrize("extra, needle", [
    (("--seeds", "abc"), "--seeds 'abc'"),
    (("--seeds", "5,"), "--seed-list 5,"),
    (("--seed-list", "x"), "--seed-list 'x'"),
    (("--tasks", ""), "--tasks ''"),
    (("--tasks", ","), "--tasks ','"),
    (("--task-option", "crosstask"), "--task-option 'crosstask'"),
])
def test_option_mistakes_name_the_option(tiny_world, tmp_path, capsys, extra, needle):
    out = tmp_path / "out"
    assert main(eval_argv(tiny_world, out, *extra)) == 2
    one_error_line(capsys, needle)
    assert not out.exists()


def test_set_with_a_bad_value_names_the_option(tiny_world, tmp_path, capsys):
    argv = ["run", "--model", "mcn", "--tasks", "msrvtt", "--data-root", str(tiny_world),
            "--out", str(tmp_path / "out"), "--set", "epochs=abc"]
    assert main(argv) == 2
    one_error_line(capsys, "epochs")
    assert not (tmp_path / "out").exists()


def test_run_and_eval_share_one_default_out_that_is_not_committed():
    from mcnbench.cli import build_parser

    parser = build_parser()
    for command in ("run", "eval", "ablate"):
        args = parser.parse_args([command, "--model", "mcn"] if command != "ablate" else [command])
        assert args.out == "results/latest"
    ignored = (Path(__file__).resolve().parents[1] / ".gitignore").read_text()
    assert "/results/latest/" in ignored


def test_strict_turns_a_data_warning_into_an_error(tiny_world, tmp_path, capsys):
    import shutil

    root = tmp_path / "world"
    shutil.copytree(tiny_world, root)
    (root / "msrvtt" / "msrvtt_test.csv").unlink()  # accepted with a warning: R@K over the pickle
    out = tmp_path / "out"
    assert main(eval_argv(root, out)) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]
    assert len(warned) == 1 and "msrvtt_test.csv" in warned[0]
    assert main(eval_argv(root, tmp_path / "strict", "--strict")) == 2
    one_error_line(capsys, "msrvtt_test.csv")
    assert not list((tmp_path / "strict").rglob("seed*.json"))  # nothing written
