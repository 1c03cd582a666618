"""``mcnbench ablate``: MCN against variants of itself, with a Δ table.

On the ``tiny`` synthetic world with ``--set epochs=1``; the module shares one temporary
``$MCNBENCH_CACHE``, so full MCN is trained once and reused by every ablation that needs it.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from mcnbench.cli import main
from mcnbench.records import load_results, read_record

pytest_plugins = ("conftest_tasks",)  # the session's tiny synthetic world: `tiny_world`

TASKS = ("msrvtt", "youcook2")


def ablate_argv(world: Path, out: Path, *flags: str) -> list[str]:
    """``mcnbench ablate FLAGS --data-root WORLD --set epochs=1 --out OUT --tasks msrvtt,youcook2``"""
    return ["ablate", *flags, "--data-root", str(world), "--set", "epochs=1", "--out", str(out),
            "--tasks", ",".join(TASKS)]


def table_lines(out: Path) -> list[str]:
    """The Markdown table the command wrote beside its records (the console has a compact one)."""
    return [line for line in (out / "report" / "table.md").read_text().splitlines()
            if line.startswith("|")]


@pytest.mark.slow  # trains two models: ~10-30 s on 2 busy cores
def test_no_cluster_ablation(tiny_world, tmp_path, capsys):
    out = tmp_path / "ablate"
    argv = ablate_argv(tiny_world, out, "--no-cluster")
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert "ablation of mcn: mcn, mcn+no-cluster" in stdout

    # one record per (variant, task); each carries its variant label and its own config
    for task in TASKS:
        full = read_record(next(out.glob(f"mcn/*/{task}/seed0.json")))
        ablated = read_record(next(out.glob(f"mcn+no-cluster/*/{task}/seed0.json")))
        assert full.model["variant"] == "full" and ablated.model["variant"] == "no-cluster"
        assert full.model["config"]["train"]["cluster_mode"] == "joint"
        assert ablated.model["config"]["train"]["cluster_mode"] == "none"
        assert full.model["config_hash"] != ablated.model["config_hash"]
    assert set(load_results(out)["model"]) == {"mcn", "mcn+no-cluster"}

    # the table: a Δ column after each main score, read against full MCN
    header, _, *rows = table_lines(out)
    assert "YouCook2 R@10" in header and "Δ" in header
    assert rows[0].startswith("| mcn ") and "ref" in rows[0]
    assert rows[1].startswith("| mcn+no-cluster ")
    assert any(row.startswith("| MCN (paper)") for row in rows)
    assert "Δ: row minus mcn" in (out / "report" / "table.md").read_text()
    console = stdout[stdout.index("YouCook2 R@10"):]
    assert "\nmcn " in console and "\nmcn+no-cluster " in console and "ref" in console

    # a rerun trains and evaluates nothing
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert stdout.count("up to date, skipped") == 2 * len(TASKS)
    assert "training" not in stdout


def test_combined_flags_make_one_variant(tiny_world, tmp_path, capsys):
    out = tmp_path / "ablate"
    assert main(ablate_argv(tiny_world, out, "--no-cluster", "--no-recon", "--combine")) == 0
    stdout = capsys.readouterr().out
    assert "ablation of mcn: mcn, mcn+no-cluster+no-recon" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["mcn", "mcn+no-cluster+no-recon", "report"]
    for task in TASKS:
        rec = read_record(next(out.glob(f"mcn+no-cluster+no-recon/*/{task}/seed0.json")))
        assert rec.model["variant"] == "no-cluster+no-recon"
        config = rec.model["config"]
        assert config["train"]["cluster_mode"] == "none"
        assert config["train"]["recon"] is False and config["network"]["recon"] is False
    assert "\nmcn+no-cluster+no-recon " in stdout


@pytest.mark.parametrize("flags, message", [
    ((), "name at least one variant: --no-cluster, --no-recon"),
    (("--no-cluster", "--cluster-mode", "fused", "--combine"),
     "--combine: flags set ['cluster_mode'] more than once"),
])
def test_bad_variant_flags_are_a_one_line_error(tiny_world, tmp_path, capsys, flags,
                                                message):
    out = tmp_path / "ablate"
    assert main(ablate_argv(tiny_world, out, *flags)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mcnbench ablate: error:") and message in err
    assert len(err.splitlines()) == 1
    assert not out.exists()  # failed before anything was trained or written
