"""Checkpoint save/load: round trip, wrappers, ``module.`` prefix, errors that list keys."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from mcnbench.data.errors import DataError
from mcnbench.models.checkpoint import (
    CheckpointError,
    config_from_state_dict,
    load_mcn,
    load_state_dict_file,
    save_checkpoint,
)
from mcnbench.models.mcn import MCNConfig, MCNNet

# The reference files sit beside the repository in ../shared/reference (never copied in).
TSV = Path(__file__).resolve().parents[2] / "shared" / "reference" / "mcn_state_dict_keys.tsv"
TINY = MCNConfig(embd_dim=16, video_dim=12, we_dim=6, audio_bands=5, davenet_widths=(4, 8, 8, 8),
                 audio_gate_dim=8, recon=True, recon_size=10)


def tiny_net(seed: int = 0, cfg: MCNConfig = TINY) -> MCNNet:
    torch.manual_seed(seed)
    return MCNNet(cfg)


def inputs(cfg: MCNConfig = TINY):
    g = torch.Generator().manual_seed(1)
    return (torch.rand(3, cfg.video_dim, generator=g), torch.randn(3, cfg.audio_bands, 32, generator=g),
            torch.tensor([32, 10, 3]), torch.randn(3, 4, cfg.we_dim, generator=g))


def test_round_trip_reads_config_from_shapes(tmp_path):
    net = tiny_net().eval()
    path = save_checkpoint(tmp_path / "ckpt" / "e1.pth",
                           {"state_dict": net.state_dict(), "config": TINY.to_dict(), "epoch": 1})
    assert [p.name for p in path.parent.iterdir()] == ["e1.pth"]  # no temporary file left
    loaded = load_mcn(path)
    assert loaded.config == TINY and not loaded.training
    with torch.no_grad():
        for a, b in zip(net(*inputs()), loaded(*inputs()), strict=True):
            torch.testing.assert_close(a, b)


def test_overwrite_is_atomic_replace(tmp_path):
    path = tmp_path / "x.pth"
    save_checkpoint(path, {"a": torch.zeros(1)})
    save_checkpoint(path, {"a": torch.ones(1)})
    assert load_state_dict_file(path)["a"].item() == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pth"]


@pytest.mark.parametrize("wrapper", [None, "state_dict", "model", "net"])
def test_wrapped_and_module_prefixed_files_load(tmp_path, wrapper):
    net = tiny_net(3)
    sd = {f"module.{k}": v for k, v in net.state_dict().items()}  # DataParallel / DDP layout
    obj = sd if wrapper is None else {wrapper: sd, "optimizer": {"state": {}, "param_groups": []}}
    torch.save(obj, tmp_path / "f.pth")
    loaded = load_mcn(tmp_path / "f.pth")
    for k, v in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)


def test_config_without_recon_and_other_widths(tmp_path):
    cfg = MCNConfig(embd_dim=10, video_dim=6, we_dim=4, audio_bands=3, davenet_widths=(2, 4, 6),
                    audio_gate_dim=6, recon=False)
    assert config_from_state_dict(tiny_net(cfg=cfg).state_dict()) == cfg


@pytest.mark.skipif(not TSV.is_file(), reason=f"reference key list {TSV} not available")
def test_config_from_released_shapes_is_the_paper_config():
    sd = {}
    for line in TSV.read_text().splitlines()[2:]:
        key, shape = line.split("\t")
        dims = () if shape == "scalar" else tuple(int(s) for s in shape.split("x"))
        sd[key] = torch.empty(dims, device="meta")
    assert config_from_state_dict(sd) == MCNConfig()


def test_mismatched_file_lists_missing_unexpected_and_misshaped_keys(tmp_path):
    sd = tiny_net().state_dict()
    del sd["GU_text_captions.cg.fc.bias"]
    sd["extra.weight"] = torch.zeros(2)
    sd["recon_t.2.bias"] = torch.zeros(99)
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError) as info:
        load_mcn(tmp_path / "bad.pth")
    err = info.value
    assert isinstance(err, DataError)
    assert err.missing == ["GU_text_captions.cg.fc.bias"]
    assert err.unexpected == ["extra.weight"]
    assert err.mismatched == [("recon_t.2.bias", (99,), (16,))]
    for text in ("bad.pth", "GU_text_captions.cg.fc.bias", "extra.weight", "recon_t.2.bias"):
        assert text in str(err)


def test_foreign_state_dict_is_compared_to_the_released_layout(tmp_path):
    torch.save({"encoder.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError) as info:
        load_mcn(tmp_path / "other.pth")
    assert info.value.unexpected == ["encoder.weight"]
    assert "GU_video.fc.weight" in info.value.missing and len(info.value.missing) == 159


def test_explicit_config_that_disagrees_is_reported(tmp_path):
    torch.save(tiny_net().state_dict(), tmp_path / "t.pth")
    other = MCNConfig(**{**TINY.to_dict(), "embd_dim": 20})
    with pytest.raises(CheckpointError, match="mis-shaped") as info:
        load_mcn(tmp_path / "t.pth", other)
    assert ("GU_video.fc.weight", (16, 12), (20, 12)) in info.value.mismatched


class _NotWeights:
    pass


@pytest.mark.parametrize("payload", [b"not a torch file at all", pickle.dumps(_NotWeights(), protocol=2)])
def test_unreadable_or_unsafe_files_raise_checkpoint_error(tmp_path, payload):
    (tmp_path / "x.pth").write_bytes(payload)
    with pytest.raises(CheckpointError, match="x.pth"):
        load_state_dict_file(tmp_path / "x.pth")


def test_arbitrary_objects_are_not_unpickled(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(1)}, "obj": _NotWeights()}, tmp_path / "o.pth")
    with pytest.raises(CheckpointError, match="holds a test_checkpoint._NotWeights object"):
        load_state_dict_file(tmp_path / "o.pth")


def test_missing_file_and_no_state_dict(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_state_dict_file(tmp_path / "nope.pth")
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "meta.pth")
    with pytest.raises(CheckpointError, match="no state_dict found"):
        load_state_dict_file(tmp_path / "meta.pth")
