"""Bad data that used to crash, mislead or pass silently (issue 11, data side).

Each case is a copy of the tiny world with one thing wrong. What must hold: an unusable input is
one DataError line naming the file (exit 2, nothing written); a usable but surprising one is one
DataWarning line naming the file, with its counts in the record's ``info``; and ``synth --check``
says ERROR exactly where ``eval`` fails and WARN (with the same lines) where it warns.
docs/errors.md lists every case.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import avlnet_items, write_crosstask, write_mining_youtube, write_pickle

from mcnbench.cli import main
from mcnbench.data import rules
from mcnbench.data.errors import DataError
from mcnbench.data.manifest import read_manifest
from mcnbench.data.synth.check import check_root
from mcnbench.data.warnings import DataWarning, report_data_warnings, warn_data
from mcnbench.data.widths import check_feature_widths, infer_video_dim
from mcnbench.engine.plan import make_task

pytest_plugins = ("conftest_tasks",)  # the tiny_world fixture

HASH = "conftest_tasks:hash_model"


# ----------------------------------------------------------------------------- helpers

def copy_root(world: Path, dst: Path, *datasets: str, manifest: bool = False) -> Path:
    """A data root holding only ``datasets`` of ``world`` (and its word vectors)."""
    dst.mkdir(parents=True)
    for name in datasets:
        shutil.copytree(world / name, dst / name)
    shutil.copy(world / "word2vec.bin", dst / "word2vec.bin")
    if manifest:
        shutil.copy(world / "manifest.json", dst / "manifest.json")
    return dst


def edit_pickle(path: Path, edit) -> None:
    items = pickle.loads(path.read_bytes())  # our own world's file
    for item in items:
        edit(item)
    path.write_bytes(pickle.dumps(items))


def first_crosstask_video(root: Path) -> tuple[str, str]:
    task, vid = (root / "crosstask" / "test_split.csv").read_text().splitlines()[1].split(",")
    return task, vid


def first_myt_video(root: Path) -> str:
    return (root / "mining_youtube" / "videos_test.txt").read_text().split()[0]


def halve(path: Path) -> None:
    a = np.load(path)
    np.save(path, a[:, : a.shape[1] // 2])


def evaluate(root: Path, task: str):
    """(outcome "ok"/"error", error text, the DataWarning lines, TaskResult) of the task on
    ``root`` with a content-free model."""
    from conftest_tasks import HashModel

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        try:
            result = make_task(task).evaluate(HashModel(), root)
        except DataError as err:
            return "error", str(err), [], None
    lines = [str(w.message) for w in caught if isinstance(w.message, DataWarning)]
    return "ok", None, lines, result


def check_row(root: Path, dataset: str, **kw):
    return next(c for c in check_root(root, **kw).checks if c.name == dataset)


def one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ----------------------------------------------------------------------------- the bad roots

def _no_msrvtt_csv(root):
    (root / "msrvtt" / "msrvtt_test.csv").unlink()


def _no_youcook_csv(root):
    (root / "youcook2" / "validation_youcook.csv").unlink()


def _crosstask_feature_gone(root):
    (root / "crosstask" / "features" / f"{first_crosstask_video(root)[1]}_2d.npy").unlink()


def _crosstask_annotation_gone(root):
    task, vid = first_crosstask_video(root)
    (root / "crosstask" / "crosstask_release" / "annotations" / f"{task}_{vid}.csv").unlink()


def _crosstask_all_audio_gone(root):
    for p in (root / "crosstask" / "audio").glob("*.npz"):
        p.unlink()


def _crosstask_2d_halved(root):
    halve(root / "crosstask" / "features" / f"{first_crosstask_video(root)[1]}_2d.npy")


def _crosstask_3d_halved(root):
    halve(root / "crosstask" / "features" / f"{first_crosstask_video(root)[1]}_3d.npy")


def _myt_audio_gone(root):
    (root / "mining_youtube" / "audio" / f"{first_myt_video(root)}.npz").unlink()


def _myt_2d_halved(root):
    halve(root / "mining_youtube" / "features" / f"{first_myt_video(root)}_2d.npy")


def _myt_empty_srt(root):
    (root / "mining_youtube" / "annotations" / f"{first_myt_video(root)}.srt").write_bytes(b"")


def _myt_segment_past_end(root):
    srt = root / "mining_youtube" / "annotations" / f"{first_myt_video(root)}.srt"
    label = (root / "mining_youtube" / "weakYouTube_dict.txt").read_text().split()[0]
    text = srt.read_text(encoding="utf-8-sig").rstrip()
    srt.write_text(text + f"\n\n99\n00:08:20,000 --> 00:08:30,000\n{label}\n", encoding="utf-8")


def _youcook_captions_empty(root):
    edit_pickle(root / "youcook2" / "youcook_val_audio.pkl", lambda d: d.update(caption=""))


def _msrvtt_captions_oov(root):
    edit_pickle(root / "msrvtt" / "msrvtt_jsfusion_test.pkl",
                lambda d: d.update(eval_caption="zzqx qqxz"))


def _youcook_captions_most_empty(root):
    path = root / "youcook2" / "youcook_val_audio.pkl"
    items = pickle.loads(path.read_bytes())
    for item in items[: int(0.6 * len(items))]:
        item["caption"] = "..."
    path.write_bytes(pickle.dumps(items))


def _youcook_video_not_in_csv(root):
    import pandas as pd

    first = pickle.loads((root / "youcook2" / "youcook_val_audio.pkl").read_bytes())[0]["id"]
    csv = root / "youcook2" / "validation_youcook.csv"
    df = pd.read_csv(csv)
    df.loc[df["video_id"] == first[:11], "video_id"] = "zzzzzzzzzzz"
    df.to_csv(csv, index=False)


def _msrvtt_clip_not_in_csv(root):
    import pandas as pd

    first = pickle.loads((root / "msrvtt" / "msrvtt_jsfusion_test.pkl").read_bytes())[0]["id"]
    csv = root / "msrvtt" / "msrvtt_test.csv"
    df = pd.read_csv(csv)
    df.loc[df["video_id"] == first, "video_id"] = "video99999"
    df.to_csv(csv, index=False)


def _dropped(n):
    return lambda info: info["videos_dropped_missing_files"] == n and len(info["dropped"]) == n


# case -> (dataset, make it bad, "warn" | "error", substrings of the line, info check for warn)
CASES = {
    "msrvtt_csv_missing": ("msrvtt", _no_msrvtt_csv, "warn",
                           ["msrvtt/msrvtt_test.csv: file not found", "R@K divides by the"],
                           lambda i: i["complete_size"] == i["queries"] == i["r_at_k_denominator"]
                           and "absent" in i["complete_source"]),
    "youcook2_csv_missing": ("youcook2", _no_youcook_csv, "warn",
                             ["youcook2/validation_youcook.csv: file not found"],
                             lambda i: i["complete_size"] == i["queries"]),
    "crosstask_feature_missing": ("crosstask", _crosstask_feature_gone, "warn",
                                  ["_2d.npy: 1 of 4 CrossTask test videos: file not found"],
                                  _dropped(1)),
    "crosstask_annotation_missing": ("crosstask", _crosstask_annotation_gone, "warn",
                                     [".csv: 1 of 4 CrossTask test videos: file not found"],
                                     _dropped(1)),
    "crosstask_all_audio_missing": ("crosstask", _crosstask_all_audio_gone, "error",
                                    [".npz: all 4 CrossTask test videos", "nothing is left"],
                                    None),
    "crosstask_2d_half_width": ("crosstask", _crosstask_2d_halved, "error",
                                ["_2d.npy: 32 features per row", "have 64"], None),
    "crosstask_3d_half_width": ("crosstask", _crosstask_3d_halved, "error",
                                ["_3d.npy: 32 features per row", "have 64"], None),
    "mining_youtube_audio_missing": ("mining_youtube", _myt_audio_gone, "warn",
                                     [".npz: 1 of 8 Mining YouTube test videos: file not found"],
                                     _dropped(1)),
    "mining_youtube_2d_half_width": ("mining_youtube", _myt_2d_halved, "error",
                                     ["_2d.npy: 32 features per row"], None),
    "mining_youtube_empty_srt": ("mining_youtube", _myt_empty_srt, "warn",
                                 [".srt: 1 of 8 annotated test videos: the .srt holds no segment"],
                                 lambda i: i["videos_empty_annotation"] == 1),
    "mining_youtube_segment_past_end": ("mining_youtube", _myt_segment_past_end, "warn",
                                        [".srt: 1 segment in 1 of 8 videos: ends more than 1 s "
                                         "after the video's features", "ending at 510.0 s"],
                                        lambda i: i["segments_past_end"] == 1
                                        and i["videos_with_segments_past_end"] == 1),
    "youcook2_captions_all_empty": ("youcook2", _youcook_captions_empty, "warn",
                                    ["youcook_val_audio.pkl: 59 of 59 captions: become all-zero "
                                     "text (59 empty"], lambda i: i["text"]["n_empty"] == 59),
    "youcook2_captions_60pc_empty": ("youcook2", _youcook_captions_most_empty, "warn",
                                     ["youcook_val_audio.pkl: 35 of 59 captions", "59 %"],
                                     lambda i: i["text"]["n_zero"] == 35),
    "msrvtt_captions_all_oov": ("msrvtt", _msrvtt_captions_oov, "warn",
                                ["msrvtt_jsfusion_test.pkl: 39 of 39 captions",
                                 "39 with no word in word2vec.bin"],
                                lambda i: i["text"]["n_all_oov"] == 39),
    "youcook2_video_not_in_csv": ("youcook2", _youcook_video_not_in_csv, "error",
                                  ["youcook_val_audio.pkl: id ", "is not in the complete test set"],
                                  None),
    "msrvtt_clip_not_in_csv": ("msrvtt", _msrvtt_clip_not_in_csv, "error",
                               ["msrvtt_jsfusion_test.pkl: id ", "not in the complete test set"],
                               None),
}


@pytest.fixture
def bad_root(request, tiny_world, tmp_path):
    dataset, make, *_ = CASES[request.param]
    root = copy_root(tiny_world, tmp_path / "root", dataset)
    make(root)
    return root


@pytest.mark.parametrize("bad_root", sorted(CASES), indirect=True)
def test_eval_and_check_agree(bad_root, request):
    """eval fails with the line check reports as ERROR, or warns the lines check reports."""
    case = request.node.callspec.params["bad_root"]
    dataset, _, expected, needles, counts = CASES[case]
    outcome, error, warned, result = evaluate(bad_root, dataset)
    row = check_row(bad_root, dataset)
    assert row.status == expected and outcome == ("error" if expected == "error" else "ok")
    line = error if expected == "error" else (warned[0] if warned else "")
    if expected == "error":
        assert row.detail == error  # the same one line
    else:
        assert row.warnings == warned and len(warned) == 1
        assert counts(result.info), result.info
    assert line.startswith(str(bad_root)) and "\n" not in line  # names the file
    for needle in needles:
        assert needle in line, line


def test_the_tiny_world_gives_no_warning(tiny_world):
    report = check_root(tiny_world)
    assert report.ok and all(c.status in ("ok", "absent") and not c.warnings
                             for c in report.checks)
    for task in ("youcook2", "msrvtt", "crosstask", "mining_youtube"):
        outcome, error, warned, _ = evaluate(tiny_world, task)
        assert (outcome, error, warned) == ("ok", None, [])


@pytest.mark.parametrize("bad_root", ["msrvtt_csv_missing", "mining_youtube_empty_srt"],
                         indirect=True)
def test_strict_makes_the_warning_an_error_in_both(bad_root, request):
    dataset = CASES[request.node.callspec.params["bad_root"]][0]
    _, _, warned, _ = evaluate(bad_root, dataset)
    row = check_row(bad_root, dataset, strict=True)
    assert row.status == "error" and row.detail == warned[0]
    from conftest_tasks import HashModel

    with pytest.raises(DataWarning) as err, report_data_warnings("eval", strict=True):
        make_task(dataset).evaluate(HashModel(), bad_root)
    assert str(err.value) == warned[0] and isinstance(err.value, DataError)


# ----------------------------------------------------------------------------- through the CLI

@pytest.mark.parametrize("bad_root", ["msrvtt_csv_missing"], indirect=True)
def test_cli_warning_is_one_line_and_the_record_keeps_the_counts(bad_root, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["eval", "--model", HASH, "--tasks", "msrvtt", "--data-root", str(bad_root),
            "--out", str(out)]
    assert main(argv) == 0
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"mcnbench eval: warning: {bad_root / 'msrvtt' / 'msrvtt_test.csv'}: "
                           "file not found")
    [path] = out.glob("conftest_tasks_hash_model/*/msrvtt/seed0.json")
    record = json.loads(path.read_text())
    assert "absent" in record["info"]["complete_source"]
    assert record["info"]["complete_size"] == record["info"]["queries"]


@pytest.mark.parametrize("bad_root", ["crosstask_2d_half_width"], indirect=True)
def test_cli_error_names_the_halved_file_and_writes_nothing(bad_root, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["eval", "--model", HASH, "--tasks", "crosstask", "--data-root", str(bad_root),
                 "--out", str(out)])
    line = one_line(capsys.readouterr().err)
    _, vid = first_crosstask_video(bad_root)
    assert code == 2
    assert line.startswith(f"mcnbench eval: error: {bad_root}/crosstask/features/{vid}_2d.npy: ")
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))


@pytest.mark.parametrize("bad_root", ["mining_youtube_empty_srt"], indirect=True)
def test_synth_check_shows_warn_and_still_passes(bad_root, capsys):
    assert main(["synth", "--check", str(bad_root)]) == 0
    out = capsys.readouterr().out
    assert "mining_youtube  WARN" in out and "warning: " in out and "1 warning(s)" in out


def test_corrupt_manifest_names_the_file(tiny_world, tmp_path, capsys):
    root = copy_root(tiny_world, tmp_path / "root", "msrvtt", manifest=True)
    (root / "manifest.json").write_text('{"preset": "tiny",\n "seed": }\n')
    code = main(["eval", "--model", HASH, "--tasks", "msrvtt", "--data-root", str(root),
                 "--out", str(tmp_path / "out")])
    line = one_line(capsys.readouterr().err)
    assert code == 2
    assert line.startswith(f"mcnbench eval: error: {root / 'manifest.json'}: line 2 column 10: "
                           "not valid JSON")
    row = next(c for c in check_root(root).checks if c.name == "manifest")
    assert row.status == "error" and line.endswith(row.detail)


def test_garbage_checkpoint_does_not_advise_weights_only_false(tiny_world, tmp_path, capsys):
    bad = tmp_path / "e30.pth"
    bad.write_bytes(os.urandom(3000))
    code = main(["eval", "--model", "random", "--checkpoint", str(bad), "--tasks", "msrvtt",
                 "--data-root", str(tiny_world), "--out", str(tmp_path / "out")])
    line = one_line(capsys.readouterr().err)
    assert code == 2 and line.startswith(f"mcnbench eval: error: {bad}: not a readable checkpoint")
    assert "weights_only" not in line and "trust" not in line


# ----------------------------------------------------------------------------- the pieces

def test_data_warning_reads_like_data_error(tmp_path):
    w = DataWarning(tmp_path / "a.csv", "line 3", "empty caption")
    assert str(w) == f"{tmp_path / 'a.csv'}: line 3: empty caption"
    assert isinstance(w, UserWarning) and isinstance(w, DataError)
    assert (w.path, w.item, w.problem) == (tmp_path / "a.csv", "line 3", "empty caption")
    with pytest.warns(DataWarning, match=r"a\.csv: line 3: empty caption"):
        warn_data(tmp_path / "a.csv", "line 3", "empty caption")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # what --strict sets
        with pytest.raises(DataWarning, match="empty caption"):
            warn_data(tmp_path / "a.csv", "line 3", "empty caption")


def test_report_data_warnings_prints_each_distinct_warning_once():
    stream = io.StringIO()
    with report_data_warnings("eval", stream=stream) as printed:
        for _ in range(2):  # a second seed finds the same thing again
            warn_data("/r/x.csv", None, "file not found")
        warn_data("/r/y.pkl", "item 2", "empty caption")
    assert stream.getvalue().splitlines() == [
        "mcnbench eval: warning: /r/x.csv: file not found",
        "mcnbench eval: warning: /r/y.pkl: item 2: empty caption"]
    assert [str(w) for w in printed] == ["/r/x.csv: file not found", "/r/y.pkl: item 2: empty caption"]
    with pytest.warns(UserWarning, match="not ours"), report_data_warnings("eval", stream=stream):
        warnings.warn("not ours", UserWarning, stacklevel=1)  # other warnings: left to Python
    assert len(stream.getvalue().splitlines()) == 2


def test_zero_text_threshold():
    def stats(n, empty, oov):
        return {"n_sentences": n, "n_empty": empty, "n_all_oov": oov, "n_zero": empty + oov,
                "vocabulary": "/r/word2vec.bin"}
    assert rules.zero_text("/r/p.pkl", stats(10, 2, 2), "captions") is None   # 40 %
    half = rules.zero_text("/r/p.pkl", stats(10, 3, 2), "captions")           # 50 %: warn
    assert str(half).startswith("/r/p.pkl: 5 of 10 captions: become all-zero text (3 empty, "
                                "2 with no word in word2vec.bin); 50 % of them")
    assert "all of them" in str(rules.zero_text("/r/p.pkl", stats(4, 4, 0), "captions"))
    assert rules.zero_text("/r/p.pkl", stats(0, 0, 0), "captions") is None


def test_dropped_videos_lists_the_first_ids_and_counts_the_rest(tmp_path):
    dropped = [(f"v{i}", tmp_path / f"v{i}_2d.npy") for i in range(7)]
    w = rules.dropped_videos(dropped, 10, "test videos")
    assert str(w) == (f"{tmp_path / 'v0_2d.npy'}: 7 of 10 test videos: file not found, so these "
                      "videos are left out of the score: v0, v1, v2, v3, v4, ... (2 more)")
    assert rules.dropped_videos([], 10, "test videos") is None
    with pytest.raises(DataError, match="all 7 test videos"):
        rules.dropped_videos(dropped, 7, "test videos")


def test_segments_past_end_allow_the_last_partial_second():
    from mcnbench.data.mining_youtube import Segment

    segs = [Segment(50.0, 60.9, "a"), Segment(55.0, 61.5, "b"), Segment(70.0, 80.0, "c")]
    assert [s.label for s in rules.segments_past_end(segs, 60)] == ["b", "c"]


def test_read_manifest_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "manifest.json"
    for text, item, problem in [
        ("{not json", "line 1 column 2", "not valid JSON"),
        ("[1, 2]", None, "expected a JSON object, got list"),
        ('{"video_half_dim": "abc"}', "key 'video_half_dim'", "expected a positive integer"),
        ('{"video_half_dim": 0}', "key 'video_half_dim'", "expected a positive integer"),
        ('{"model_hints": 3}', "key 'model_hints'", "expected an object"),
    ]:
        path.write_text(text)
        with pytest.raises(DataError) as err:
            read_manifest(path)
        expected = f"{path}: {item}: {problem}" if item else f"{path}: {problem}"
        assert str(err.value).startswith(expected), str(err.value)
    path.write_bytes(b'{"seed": "\xff"}')
    with pytest.raises(DataError, match="manifest.json: not UTF-8"):
        read_manifest(path)
    path.write_text('{"video_half_dim": 64, "extra": [1]}')
    assert read_manifest(path)["video_half_dim"] == 64


# ----------------------------------------------------------------------------- widths

def test_infer_video_dim_reads_the_feature_files(tiny_world, tmp_path):
    assert infer_video_dim(tiny_world) == 2 * 64  # from the manifest, and the files agree
    bare = copy_root(tiny_world, tmp_path / "bare", "howto100m", "crosstask", "mining_youtube",
                     "youcook2")
    assert infer_video_dim(bare) == 128  # no manifest: from the first feature file's header
    write_crosstask(tmp_path / "ct", dh=4)
    assert infer_video_dim(tmp_path / "ct") == 8
    write_pickle(tmp_path / "yc" / "youcook2" / "youcook_val_audio.pkl", avlnet_items(3, dh=6))
    assert infer_video_dim(tmp_path / "yc") == 12  # only a pickle: its width


def test_infer_video_dim_names_the_file_that_disagrees(tmp_path):
    write_crosstask(tmp_path / "r", dh=4)
    write_mining_youtube(tmp_path / "r", dh=6)
    with pytest.raises(DataError) as err:
        infer_video_dim(tmp_path / "r")
    assert str(err.value).startswith(f"{tmp_path / 'r' / 'mining_youtube' / 'features'}/")
    assert "6 features per row, but this data root's features have 4" in str(err.value)
    (tmp_path / "m").mkdir()
    write_crosstask(tmp_path / "m", dh=4)
    (tmp_path / "m" / "manifest.json").write_text('{"video_half_dim": 64}')
    with pytest.raises(DataError, match=r"_2d\.npy: 4 features per row, .* have 64 .*manifest"):
        infer_video_dim(tmp_path / "m")
    with pytest.raises(DataError, match="no video features found"):
        infer_video_dim(tmp_path / "nothing")


def test_check_feature_widths_without_a_reference(tmp_path):
    a, b = tmp_path / "v_2d.npy", tmp_path / "v_3d.npy"
    check_feature_widths({a: 4, b: 4}, None)
    with pytest.raises(DataError, match=r"v_3d\.npy: 2 features per row, but v_2d\.npy has 4"):
        check_feature_widths({a: 4, b: 2}, None)
    with pytest.raises(DataError, match=r"v_2d\.npy: 2 features per row, but this data root's "
                                        r"features have 4 \(manifest\)"):
        check_feature_widths({a: 2, b: 4}, (4, "manifest"))


def test_model_widths_come_from_the_files_without_a_manifest(tiny_world, tmp_path):
    """A real root of 64-d features: the network takes 128-d video, not the paper's 4096."""
    from mcnbench.zoo.context import ModelContext
    from mcnbench.zoo.mcn import build_configs, data_widths

    root = copy_root(tiny_world, tmp_path / "real", "msrvtt", "crosstask")
    assert data_widths(ModelContext(root)) == {"video_dim": 128, "we_dim": 100}
    net, _ = build_configs(ModelContext(root), {})
    assert net.video_dim == 128


# ----------------------------------------------------------------------------- files on disk

def test_atomic_writes_honour_the_umask(tmp_path, tiny_world, capsys):
    from mcnbench.data.crosstask import write_test_split
    from mcnbench.models.checkpoint import save_checkpoint
    from mcnbench.utils.io import atomic_save_npy, atomic_write_json

    def mode(p: Path) -> int:
        return stat.S_IMODE(p.stat().st_mode)

    old = os.umask(0o022)
    try:
        assert mode(atomic_write_json(tmp_path / "a.json", {"x": 1})) == 0o644
        assert mode(atomic_save_npy(tmp_path / "a.npy", np.zeros(3))) == 0o644
        assert mode(save_checkpoint(tmp_path / "c.pth", {"w": torch.zeros(1)})) == 0o644
        write_test_split(tmp_path / "test_split.csv", [("t", "v")])
        assert mode(tmp_path / "test_split.csv") == 0o644
        out = tmp_path / "out"
        assert main(["eval", "--model", HASH, "--tasks", "msrvtt", "--data-root",
                     str(tiny_world), "--out", str(out)]) == 0
        written = [p for p in out.rglob("*") if p.is_file()]
        assert {p.suffix for p in written} == {".json", ".npy", ".md"}  # records, arrays, table
        assert {mode(p) for p in written} == {0o644}
        os.chmod(tmp_path / "a.json", 0o640)  # replacing a file keeps its permissions
        assert mode(atomic_write_json(tmp_path / "a.json", {"x": 2})) == 0o640
        os.umask(0o077)
        assert mode(atomic_write_json(tmp_path / "b.json", {})) == 0o600
    finally:
        os.umask(old)
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind
