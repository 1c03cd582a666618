"""The validation monitor: a held-out split of the corpus videos by id hash, caption→clip R@K on
held-out clips during training, in the step log; stable, disjoint, brute-force exact, invisible to
training, consistent across a resume and under 2 DDP processes."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from mcnbench.data.clip_sampler import ClipDataset
from mcnbench.data.howto100m import SPLIT_SALT, is_heldout, read_video_paths, split_key
from mcnbench.data.word2vec import load_word2vec
from mcnbench.models.checkpoint import load_mcn
from mcnbench.models.mcn import MCNConfig, MCNNet
from mcnbench.training import TrainConfig, read_log, train
from mcnbench.training.monitor import (
    VAL_KEYS,
    VIDEO_KEYS,
    ValMonitor,
    choose_clips,
    metrics_from_embeddings,
)
from mcnbench.zoo.context import ModelContext

FRACTION = 0.2  # the tiny world's 24 videos: 5 held out, 19 train -> 2 steps of 8 per epoch


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    from mcnbench.data.synth import generate

    return generate(tmp_path_factory.mktemp("world") / "tiny", preset="tiny", seed=0)


def _configs(root, **train_changes):
    from mcnbench.zoo.mcn import build_configs

    return build_configs(ModelContext(root), {"device": "cpu", "val_fraction": FRACTION,
                                              "val_clips": 40, **train_changes})


def _datasets(root, fraction=FRACTION):
    wv = load_word2vec(root / "word2vec.bin")
    opts = dict(n_pair=4, min_time=3.0, audio_frames=200, max_words=20, val_fraction=fraction)
    return {s: ClipDataset(root, wv, split=s, **opts) for s in ("all", "train", "val")}


# -- the split ------------------------------------------------------------------------------------
def test_split_key_is_the_salted_blake2b_of_the_id():
    digest = hashlib.blake2b(f"{SPLIT_SALT}\0abc".encode(), digest_size=8).digest()
    assert split_key("abc") == int.from_bytes(digest, "big") / 2**64
    assert is_heldout("abc", 1.0 - 1e-12) and not is_heldout("abc", 0.0)
    keys = np.array([split_key(f"v{i}") for i in range(4000)])
    assert 0.0 <= keys.min() and keys.max() < 1.0
    assert abs((keys < 0.1).mean() - 0.1) < 0.015  # binomial: sd 0.005 at n = 4000


def test_split_is_the_same_in_another_process():
    # str hashes are salted per process (PYTHONHASHSEED); the split must not depend on them
    ids = [f"video_{i}" for i in range(50)]
    code = ("from mcnbench.data.howto100m import is_heldout; "
            f"print([is_heldout(v, 0.3) for v in {ids!r}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout
    assert out.strip() == str([is_heldout(v, 0.3) for v in ids])


def test_split_is_disjoint_complete_and_nested(tiny_root):
    parts = _datasets(tiny_root)
    train_ids, val_ids = set(parts["train"].video_ids), set(parts["val"].video_ids)
    assert not train_ids & val_ids
    assert train_ids | val_ids == set(parts["all"].video_ids)
    assert len(val_ids) == parts["train"].n_heldout == parts["val"].n_heldout == 5
    assert val_ids == {v for v in parts["all"].video_ids if is_heldout(v, FRACTION)}
    # a larger fraction only adds videos to the held-out part
    assert val_ids < set(_datasets(tiny_root, 0.3)["val"].video_ids)
    # held-out videos keep their ids and captions: nothing in the world changes
    listed = {vid for _, vid in read_video_paths(tiny_root / "howto100m" / "videopaths.csv")}
    assert val_ids <= listed


def test_training_never_draws_a_heldout_video(tiny_root, tmp_path):
    ncfg, tcfg = _configs(tiny_root, epochs=1)
    path = train(ncfg, tcfg, tiny_root, tmp_path / "run", progress=False)
    config = json.loads((path.parent / "config.json").read_text())
    assert (config["videos"], config["heldout_videos"]) == (19, 5)
    assert len(read_log(path.parent / "train_log.jsonl")) == 2  # 19 // 8 steps, no monitor


def test_split_refuses_bad_values(tiny_root):
    wv = load_word2vec(tiny_root / "word2vec.bin")
    with pytest.raises(ValueError, match="split must be"):
        ClipDataset(tiny_root, wv, split="test")
    with pytest.raises(ValueError, match="val_fraction"):
        ClipDataset(tiny_root, wv, split="val", val_fraction=1.0)
    from mcnbench.data.errors import DataError
    with pytest.raises(DataError, match="'val' part"):
        ClipDataset(tiny_root, wv, split="val", val_fraction=1e-9)
    with pytest.raises(ValueError, match="val_every needs held-out videos"):
        TrainConfig(val_every=5)


# -- the clips ------------------------------------------------------------------------------------
def test_choose_clips_is_a_seeded_draw_without_replacement():
    pairs = choose_clips([3, 0, 2, 4], 6, seed=1)
    assert len(pairs) == len(set(pairs)) == 6 and pairs == sorted(pairs)
    assert all(c < [3, 0, 2, 4][v] for v, c in pairs) and all(v != 1 for v, _ in pairs)
    assert choose_clips([3, 0, 2, 4], 6, seed=1) == pairs
    assert choose_clips([3, 0, 2, 4], 6, seed=2) != pairs
    every = [(0, 0), (0, 1), (0, 2), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2), (3, 3)]
    assert choose_clips([3, 0, 2, 4], 100, seed=1) == every  # fewer pairs than asked: all of them


def test_monitor_clips_are_built_as_training_builds_them(tiny_root):
    held = _datasets(tiny_root)["val"]
    # clips() from the captions a training draw started from gives that draw's clips
    orders, _, _ = held.clip_spans(3, 2)
    drawn, item = held.clips(2, [o[0] for o in orders]), held[(3, 2)]
    for key in ("video", "audio", "nframes", "text"):
        np.testing.assert_array_equal(drawn[key], item[key])
    # the monitor keeps clips() of its pairs, video by video in pair order
    mon = ValMonitor(held, 30, seed=0)
    assert len(mon) == 30 and mon.inputs["audio"].shape == (30, 40, 200)
    assert mon.video_ids == [held.video_id(v) for v in sorted({v for v, _ in mon.pairs})]
    row = 0
    for v in sorted({v for v, _ in mon.pairs}):
        want = held.clips(v, [c for vv, c in mon.pairs if vv == v])
        n = len(want["nframes"])
        for key in ("video", "audio", "nframes", "text"):
            np.testing.assert_array_equal(mon.inputs[key][row:row + n].numpy(), want[key])
        row += n
    assert row == 30


# -- the metric ------------------------------------------------------------------------------------
def test_metrics_worked_example():
    # caption 0 -> clip 0 first; caption 1 -> clip 1 second (behind clip 2); caption 2 -> clip 2
    # last of 3. Ranks 0, 1, 2 -> R@1 33.3, R@5 = R@10 = 100, MedR 2.
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    video = torch.tensor([[1.0, 0.0], [0.0, 0.5], [0.0, 1.0]])
    audio = torch.zeros(3, 2)
    got = metrics_from_embeddings({"video": video, "audio": audio, "text": text})
    assert got == pytest.approx({"val_R@1": 100 / 3, "val_R@5": 100.0, "val_R@10": 100.0,
                                 "val_MedR": 2.0})
    # audio enters the score only when used: here it moves clip 1 ahead for caption 1
    audio = torch.tensor([[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert metrics_from_embeddings({"video": video, "audio": audio, "text": text})["val_R@1"] == \
        pytest.approx(200 / 3)
    assert metrics_from_embeddings({"video": video, "audio": audio, "text": text},
                                   use_audio=False)["val_R@1"] == pytest.approx(100 / 3)


@pytest.mark.parametrize("no_audio", [False, True])
def test_monitor_recall_equals_brute_force(tiny_root, no_audio):
    held = _datasets(tiny_root)["val"]
    mods = ("video", "text") if no_audio else ("video", "audio", "text")
    mon = ValMonitor(held, 40, seed=0, modalities=mods, batch=16)
    torch.manual_seed(0)
    net = MCNNet(MCNConfig(embd_dim=32, video_dim=held.video_dim, we_dim=mon.inputs["text"].shape[-1],
                           davenet_widths=(4, 8, 8, 16), audio_gate_dim=16, recon_size=8)).train()
    got = mon.measure(net)
    assert net.training  # mode restored
    net.eval()
    with torch.no_grad():
        x = mon.inputs
        v, a, t = (net.embed_video(x["video"]), net.embed_audio(x["audio"], x["nframes"]),
                   net.embed_text(x["text"]))
    emb = mon.embeddings(net)
    torch.testing.assert_close(emb["video"], v)
    torch.testing.assert_close(emb["audio"], a)
    torch.testing.assert_close(emb["text"], t)
    for prefix, clip in (("val_", v if no_audio else v + a), ("val_video_", v)):
        s = (t.double() @ clip.double().T).numpy()
        ranks = np.array([np.sum(s[i] > s[i, i]) for i in range(len(s))], dtype=float)
        want = {"R@1": 100 * np.mean(ranks < 1), "R@5": 100 * np.mean(ranks < 5),
                "R@10": 100 * np.mean(ranks < 10), "MedR": np.median(ranks) + 1}
        assert {k: got[prefix + k] for k in want} == pytest.approx(want), prefix
    assert not no_audio or all(got[k] == got[k.replace("video_", "")] for k in VIDEO_KEYS)


# -- in training -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def monitored_run(tiny_root, tmp_path_factory):
    """3 epochs x 2 steps, the monitor every 4 steps (and at steps 0 and 6)."""
    ncfg, tcfg = _configs(tiny_root, epochs=3, val_every=4, checkpoint_every=1)
    out = tmp_path_factory.mktemp("monitored") / "run"
    path = train(ncfg, tcfg, tiny_root, out, progress=False)
    return out, path, ncfg, tcfg


def test_log_holds_the_monitor_at_the_right_steps(tiny_root, monitored_run):
    out, path, ncfg, tcfg = monitored_run
    log = read_log(out / "train_log.jsonl")
    assert [r["step"] for r in log] == list(range(7))
    assert [r["step"] for r in log if "val_R@10" in r] == [0, 4, 6]
    assert set(log[0]) == {"step", "epoch", *VAL_KEYS, *VIDEO_KEYS}  # before training: untrained
    assert {"loss", "mms", "lr", *VAL_KEYS} <= set(log[4])
    # the last measurement is the final model's (eval mode, running BatchNorm statistics)
    held = ClipDataset(tiny_root, load_word2vec(tiny_root / "word2vec.bin"), split="val",
                       n_pair=tcfg.n_pair, min_time=tcfg.min_time, audio_frames=tcfg.audio_frames,
                       max_words=tcfg.max_words, val_fraction=FRACTION)
    want = ValMonitor(held, tcfg.val_clips, tcfg.val_seed).measure(load_mcn(path))
    assert {k: log[-1][k] for k in (*VAL_KEYS, *VIDEO_KEYS)} == pytest.approx(want)
    config = json.loads((out / "config.json").read_text())
    assert config["validation"]["clips"] == 40 and config["validation"]["videos"] == 5
    assert config["validation"]["seconds_this_process"] > 0


def test_monitor_does_not_change_training(tiny_root, monitored_run, tmp_path):
    out, path, ncfg, tcfg = monitored_run
    plain = train(ncfg, tcfg.replace(val_every=0), tiny_root, tmp_path / "plain", progress=False)
    a, b = torch.load(path, weights_only=True), torch.load(plain, weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    strip = [{k: v for k, v in r.items() if k not in (*VAL_KEYS, *VIDEO_KEYS)} for r in
             read_log(out / "train_log.jsonl")[1:]]
    assert strip == read_log(tmp_path / "plain" / "train_log.jsonl")


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("crash_step", [5, 4])  # between measurements (checkpoint at 4); on one
def test_resume_keeps_the_log_consistent(tiny_root, monitored_run, tmp_path, crash_step):
    out, path, ncfg, tcfg = monitored_run
    crashed = tmp_path / "crashed"

    def hook(step, terms):
        if step == crash_step:
            # lines after the last checkpoint are in the log already; the resume drops them
            raise Crash(step)
    cfg = tcfg.replace(checkpoint_every=2)
    with pytest.raises(Crash):
        train(ncfg, cfg, tiny_root, crashed, progress=False, on_step=hook)
    again = train(ncfg, cfg, tiny_root, crashed, progress=False)
    assert read_log(crashed / "train_log.jsonl") == read_log(out / "train_log.jsonl")
    a, b = torch.load(path, weights_only=True), torch.load(again, weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


# -- under DDP ----------------------------------------------------------------------------------------
def _ddp_worker(rank: int, port: int, root: str, out: str, ncfg: dict, tcfg: dict) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        train(MCNConfig.from_dict(ncfg), TrainConfig.from_dict(tcfg), root, out, progress=False)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_monitor_under_two_processes(tiny_root, tmp_path):
    import torch.multiprocessing as mp

    ncfg, tcfg = _configs(tiny_root, epochs=2, val_every=1)
    out = tmp_path / "ddp"
    mp.spawn(_ddp_worker, args=(_free_port(), str(tiny_root), str(out), ncfg.to_dict(),
                                tcfg.to_dict()), nprocs=2, join=True)
    log = read_log(out / "train_log.jsonl")  # rank 0 measured; rank 1 waited, no deadlock
    assert [r["step"] for r in log if "val_R@10" in r] == [0, 1, 2, 3, 4]
    held = ClipDataset(tiny_root, load_word2vec(tiny_root / "word2vec.bin"), split="val",
                       n_pair=tcfg.n_pair, min_time=tcfg.min_time, audio_frames=tcfg.audio_frames,
                       max_words=tcfg.max_words, val_fraction=FRACTION)
    want = ValMonitor(held, tcfg.val_clips, tcfg.val_seed).measure(load_mcn(out / "model.pth"))
    assert {k: log[-1][k] for k in (*VAL_KEYS, *VIDEO_KEYS)} == pytest.approx(want)
