"""Evaluating a released MCN checkpoint end to end, as docs/reproducing.md does with ``e16.pth``:

    mcnbench run --model mcn --checkpoint e16.pth --tasks youcook2 --data-root DIR --tie-rule legacy

The released files are plain state_dicts saved from a DataParallel model (every key starts with
``module.``). Here the file is made from an untrained MCNNet at a small size whose input widths
are the tiny world's (video: 2 × the manifest's ``video_half_dim``; text: the word2vec width), so
it loads on that data root; the network's shapes are read from the file, never from flags.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from mcnbench.cli import main
from mcnbench.models.checkpoint import load_mcn
from mcnbench.models.mcn import MCNConfig, MCNNet
from mcnbench.records import read_record
from mcnbench.utils.io import sha256_file
from mcnbench.zoo.context import ModelContext

pytest_plugins = ("conftest_tasks",)  # the session's tiny synthetic world: `tiny_world`


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MCNBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MCNBENCH_DATA", raising=False)
    return tmp_path / "cache"


def released_format(world: Path, path: Path, *, seed: int = 0) -> MCNConfig:
    """Write ``path`` as the released checkpoints are: ``torch.save(DataParallel(net).state_dict())``."""
    manifest = json.loads((world / "manifest.json").read_text())
    config = MCNConfig(embd_dim=64, video_dim=2 * manifest["video_half_dim"],
                       we_dim=ModelContext(world).word_vectors.dim,
                       davenet_widths=(8, 16, 16, 32), audio_gate_dim=32, recon=True,
                       recon_size=32)
    torch.manual_seed(seed)
    state = nn.DataParallel(MCNNet(config)).state_dict()
    assert all(k.startswith("module.") for k in state)
    torch.save(state, path)
    return config


def test_released_checkpoint_is_evaluated_without_training(tiny_world, tmp_path, cache, capsys):
    ckpt = tmp_path / "e16.pth"
    config = released_format(tiny_world, ckpt)
    out = tmp_path / "results"
    argv = ["run", "--model", "mcn", "--checkpoint", str(ckpt), "--tasks", "youcook2",
            "--data-root", str(tiny_world), "--tie-rule", "legacy", "--out", str(out)]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert "training" not in stdout and not (cache / "checkpoints").exists()
    assert "MCN (paper)" in stdout

    [record_file] = out.glob("*/*/*/seed*.json")
    rec = read_record(record_file)
    assert record_file == out / "mcn" / rec.run_id / "youcook2" / "seed0.json"
    assert rec.tie_rule == "legacy" and rec.label == "mcn ckpt=e16.pth tie=legacy"
    assert rec.model["checkpoint"] == {"path": str(ckpt.resolve()), "sha256": sha256_file(ckpt)}
    assert rec.model["config"]["network"] == config.to_dict()  # shapes read from the file
    assert rec.timings["train_s"] is None
    assert 0 <= rec.metrics["R@10"] <= 100

    # `mcnbench eval` on the same file evaluates the same network
    assert main(["eval", "--model", "mcn", "--checkpoint", str(ckpt), "--tasks", "youcook2",
                 "--data-root", str(tiny_world), "--tie-rule", "legacy",
                 "--out", str(tmp_path / "eval")]) == 0
    [evaluated] = (tmp_path / "eval").glob("mcn/*/youcook2/seed0.json")
    assert read_record(evaluated).metrics == rec.metrics and evaluated.parent.parent.name == rec.run_id
    assert not (cache / "checkpoints").exists()


def test_released_checkpoint_loads_to_the_saved_weights(tiny_world, tmp_path):
    ckpt = tmp_path / "e16.pth"
    released_format(tiny_world, ckpt)
    saved = torch.load(ckpt, weights_only=True)
    net = load_mcn(ckpt)  # what `mcn --checkpoint` loads: the prefix stripped, loaded strictly
    loaded = net.state_dict()
    assert loaded.keys() == {k.removeprefix("module.") for k in saved}
    assert all(torch.equal(loaded[k.removeprefix("module.")], v) for k, v in saved.items())


def test_rerun_skips_until_the_checkpoint_file_changes(tiny_world, tmp_path, capsys):
    ckpt = tmp_path / "e16.pth"
    released_format(tiny_world, ckpt)
    argv = ["run", "--model", "mcn", "--checkpoint", str(ckpt), "--tasks", "youcook2",
            "--data-root", str(tiny_world), "--out", str(tmp_path / "results")]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 0
    assert "youcook2: up to date, skipped" in capsys.readouterr().out
    released_format(tiny_world, ckpt, seed=1)  # other weights under the same name
    assert main(argv) == 0
    assert "up to date" not in capsys.readouterr().out  # the sha256 is in the run identity
    runs = sorted((tmp_path / "results").glob("mcn/*/youcook2/seed0.json"))
    assert len(runs) == 2  # both kept: two checkpoints, two records, never one replacing the other
    labels = {read_record(r).label for r in runs}
    assert labels == {"mcn ckpt=e16.pth"}
    from mcnbench.report import comparison_table, load

    md = comparison_table(load(tmp_path / "results"))
    assert md.count("| mcn ckpt=e16.pth [") == 2  # two rows told apart, not merged


def test_checkpoint_with_other_input_widths_is_one_clear_error(tiny_world, tmp_path, capsys):
    """A paper-width checkpoint (4096-d video) on the tiny world fails naming both widths."""
    import torch

    from mcnbench.cli import main
    from mcnbench.models.mcn import MCNConfig, MCNNet

    net = MCNNet(MCNConfig(embd_dim=16, video_dim=4096, we_dim=8, davenet_widths=(4, 4, 4, 8),
                           audio_gate_dim=8, recon_size=8))
    path = tmp_path / "paper_widths.pth"
    torch.save(net.state_dict(), path)
    code = main(["run", "--model", "mcn", "--checkpoint", str(path), "--tasks", "youcook2",
                 "--data-root", str(tiny_world), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "paper_widths.pth" in err and "video_dim 4096 in the checkpoint" in err
