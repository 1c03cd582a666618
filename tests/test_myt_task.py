"""The mining_youtube task with label normalisation and the decoder options, on the tiny
synthetic world (whose .srt files carry plural / -ing / modifier variants of the class names)
and on a hand-written layout."""
from __future__ import annotations

import numpy as np
import pytest

from mcnbench.data.mining_youtube import load_mining_youtube
from mcnbench.registry import get_task
from mcnbench.zoo.precomputed import PrecomputedModel

pytest_plugins = ("conftest_tasks",)  # tiny_world, oracle_dir


def test_twin_variants_map_back_to_the_true_classes(tiny_world):
    myt = load_mining_youtube(tiny_world)
    lm = myt.label_map()
    # the truth of segment j of a video: the class whose oracle text latent is that segment's
    text = np.load(tiny_world / "oracle" / "mining_youtube" / "text.npz")
    row = {i: k for k, i in enumerate(text["ids"])}
    z_class = text["text"][[row[f"class:{c}"] for c in myt.classes]]
    variants = 0
    for vid in myt.videos:
        for j, seg in enumerate(myt.annotations[vid]):
            truth = myt.classes[int(np.argmax(z_class @ text["text"][row[f"{vid}#{j}"]]))]
            cls, rule = lm(seg.label)
            assert cls == truth, (vid, j, seg.label, cls, truth)
            variants += rule != "exact"
    assert variants >= 3  # the default run exercises the normalisation


def test_default_run_reports_the_mapping(tiny_world, oracle_dir):
    task = get_task("mining_youtube").obj()
    model = PrecomputedModel(oracle_dir)
    norm = task.evaluate(model, tiny_world)
    plain = task.evaluate(model, tiny_world, unknown_labels="background")
    seg = norm.info["label_mapping"]["segments"]
    assert seg["background"] == 0 and seg["inflection"] + seg["head"] >= 3
    assert norm.info["label_mapping"]["unmapped_labels"] == []
    assert plain.info["label_mapping"]["segments"]["background"] == \
        seg["inflection"] + seg["head"] + seg["table"]
    assert norm.info["unknown_labels"] == plain.info["unknown_labels"] != []
    # variants lost to background shrink the action frames the oracle is scored on
    assert norm.metrics["MoF_no_bg"] != plain.metrics["MoF_no_bg"]


def test_official_decoder_and_its_frame_grid(tiny_world, oracle_dir):
    task = get_task("mining_youtube").obj()
    model = PrecomputedModel(oracle_dir)
    myt = load_mining_youtube(tiny_world)
    # at one frame per second the tool's 20-frame steps are 20 s: a video with more transcript
    # entries than steps + 1 cannot be aligned by it and falls back to the exact decoder
    expected = 0
    for vid in myt.videos:
        T = len(myt.load_video(vid)[0])
        gt = myt.frame_labels(vid, T)
        entries = 1 + int((np.diff(gt) != 0).sum())
        expected += T < 20 or entries > -(-T // 20) + 1
    with pytest.warns(UserWarning, match=f"cannot align {expected} of"):
        sec = task.evaluate(model, tiny_world, decoder="official")
    assert sec.info["videos_official_fallback"] == expected > 0
    assert sec.info["decoder_settings"]["frame_sampling"] == 20
    frames = task.evaluate(model, tiny_world, decoder="official", fps=30000 / 1001)
    assert frames.info["videos_official_fallback"] == 0
    lengths = frames.per_query["T"]
    assert (lengths > 29 * sec.per_query["T"]).all()  # metrics count video frames now
    assert frames.metrics["IoU"] > 40.0 and frames.metrics["recall"] == sec.metrics["recall"]


def test_fps_grid_with_the_exact_decoder(tmp_path):
    from conftest import srt_text, write_mining_youtube, write_text
    from conftest_tasks import HashModel

    my = write_mining_youtube(tmp_path)
    write_text(my / "annotations" / "vidA.srt", srt_text([(1.0, 3.0, "crack_eggs")]))
    task = get_task("mining_youtube").obj()
    res = task.evaluate(HashModel(), tmp_path, fps=2.0)
    assert res.per_query["T"].tolist() == [16, 16]  # 8 s of features at 2 frames per second
    assert res.info["label_mapping"]["segments"]["inflection"] == 1
    edged = task.evaluate(HashModel(), tmp_path, fps=2.0, gt_edges="official")
    assert edged.info["gt_edges"] == "official"
    with pytest.raises(ValueError, match="gt_edges='round'"):
        task.evaluate(HashModel(), tmp_path, gt_edges="round")
    with pytest.raises(ValueError, match="fps"):
        task.evaluate(HashModel(), tmp_path, fps=0)
