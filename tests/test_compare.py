"""``mcnbench compare``: matching, regression gating, exit codes and bootstrap intervals."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mcnbench.cli import main as cli
from mcnbench.data.errors import DataError
from mcnbench.metrics.retrieval import retrieval_metrics
from mcnbench.records import ResultRecord, write_record
from mcnbench.report.compare import MetricComparison, compare_results, render_markdown
from mcnbench.report.intervals import metric_interval


def write(root, model, task, seed, metrics, *, main="R@10", per_query=None, info=None, version="1",
          fingerprint="f", config=None):
    rec = ResultRecord(model={"name": model, "version": "1", "config": config or {}},
                       task={"name": task, "version": version, "options": {}}, seed=seed,
                       data={"kind": "synthetic", "preset": "tiny", "fingerprint": fingerprint},
                       metrics=metrics, main_score=main, tie_rule="mean", versions={"python": "3"},
                       info=info or {})
    return write_record(rec, root, per_query)


def ranks_record(root, seed=0, shift=0.0, complete=None, model="mcn"):
    """A retrieval record whose metrics are computed from its saved per-query ranks."""
    rng = np.random.default_rng(seed)
    ranks = np.floor(rng.exponential(8.0 + shift, 300))
    ranks[ranks > 250] = np.nan
    metrics = retrieval_metrics(ranks, complete_size=complete)
    info = {"complete_size": complete, "r_at_k_denominator": complete} if complete else {}
    return write(root, model, "toyret", seed, metrics, per_query={"ranks": ranks}, info=info)


@pytest.fixture
def base(tmp_path):
    root = tmp_path / "base"
    for seed in (0, 1):
        write(root, "mcn", "toyret", seed, {"R@10": 40.0, "MedR": 10.0, "R@1": 10.0})
    return root


def copy_with(src, dst, change=None, drop=()):
    """Copy every record of ``src`` to ``dst``, editing metrics with ``change(metrics, seed)``."""
    for f in sorted(src.rglob("seed*.json")):
        d = json.loads(f.read_text())
        if (d["model"]["name"], d["task"]["name"], d["seed"]) in drop:
            continue
        if change:
            change(d["metrics"], d["seed"])
        target = dst / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(d))
    return dst


def test_identical_results_exit_0(base, tmp_path, capsys):
    new = copy_with(base, tmp_path / "new")
    assert cli(["compare", str(base), str(new)]) == 0
    out = capsys.readouterr().out
    assert "**OK**" in out and "| mcn" in out


def test_main_drop_beyond_max_drop_exits_1(base, tmp_path, capsys):
    new = copy_with(base, tmp_path / "new", lambda m, s: m.update({"R@10": m["R@10"] - 2.0 * (s == 1)}))
    assert cli(["compare", str(base), str(new), "--max-drop", "1.0"]) == 1
    assert "REGRESSION: drop 2.00 > 1" in capsys.readouterr().out
    assert cli(["compare", str(base), str(new), "--max-drop", "2.5"]) == 0


def test_non_main_drop_does_not_fail(base, tmp_path, capsys):
    new = copy_with(base, tmp_path / "new", lambda m, s: m.update({"R@1": 1.0}))
    assert cli(["compare", str(base), str(new), "--metrics", "all"]) == 0
    out = capsys.readouterr().out
    assert "R@1 ↑" in out and "-9.00" in out


def test_lower_is_better_main_score(tmp_path):
    b, worse, better = tmp_path / "b", tmp_path / "w", tmp_path / "g"
    write(b, "mcn", "toyret", 0, {"MedR": 10.0}, main="MedR")
    write(worse, "mcn", "toyret", 0, {"MedR": 12.0}, main="MedR")
    write(better, "mcn", "toyret", 0, {"MedR": 5.0}, main="MedR")
    assert compare_results(b, worse, max_drop=1.0).exit_code == 1   # a rise in MedR is a drop
    cmp = compare_results(b, better, max_drop=1.0)
    assert cmp.exit_code == 0 and cmp.rows[0].drop == -5.0


def test_missing_main_score_is_a_regression(base, tmp_path):
    new = copy_with(base, tmp_path / "new", lambda m, s: m.update({"R@10": None}))
    cmp = compare_results(base, new)
    assert cmp.exit_code == 1 and cmp.rows[0].flag == "REGRESSION: missing in new"


def test_unreadable_or_unmatched_inputs_exit_2_naming_files(base, tmp_path, capsys):
    assert cli(["compare", str(base), str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such file or folder" in capsys.readouterr().err
    other = tmp_path / "other"
    write(other, "random", "toyret", 0, {"R@10": 1.0})
    assert cli(["compare", str(base), str(other)]) == 2
    err = capsys.readouterr().err
    assert "no (model, task, seed) in common" in err and "random / toyret / seed 0" in err
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{oops")
    assert cli(["compare", str(base), str(corrupt)]) == 2
    assert "corrupt.json" in capsys.readouterr().err
    with pytest.raises(DataError):
        compare_results(base, tmp_path / "nowhere")


def test_unreadable_or_missing_new_records_exit_2_unless_allowed(base, tmp_path, capsys):
    new = copy_with(base, tmp_path / "new", drop={("mcn", "toyret", 1)})
    bad = next(new.glob("mcn/*/toyret")) / "seed1.json"
    bad.write_text("{truncated")
    out_file = tmp_path / "report.md"
    assert cli(["compare", str(base), str(new), "--out", str(out_file)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert any(str(bad) in line and "--allow-unreadable" in line for line in err)
    assert any("mcn / toyret / seed 1" in line and "--allow-missing" in line for line in err)
    assert "Traceback" not in "\n".join(err)
    report = out_file.read_text()
    assert "NOT COMPARABLE" in report and "## Problems" in report
    assert "## Skipped unreadable files" in report and str(bad) in report
    assert "## Only in base (missing from new)" in report and "mcn / toyret / seed 1" in report
    assert cli(["compare", str(base), str(new), "--allow-unreadable"]) == 2  # still missing
    assert cli(["compare", str(base), str(new), "--allow-unreadable", "--allow-missing"]) == 0


def test_different_data_exits_2_unless_allowed(base, tmp_path, capsys):
    other = tmp_path / "other-data"
    for seed in (0, 1):
        write(other, "mcn", "toyret", seed, {"R@10": 40.0, "MedR": 10.0, "R@1": 10.0},
              fingerprint="another world")
    assert cli(["compare", str(base), str(other)]) == 2
    err = capsys.readouterr().err
    assert "data fingerprint" in err and "--allow-data-change" in err
    assert cli(["compare", str(base), str(other), "--allow-data-change"]) == 0


def test_two_runs_of_one_unit_on_one_side_are_ambiguous(base, tmp_path, capsys):
    new = copy_with(base, tmp_path / "new")
    write(new, "mcn", "toyret", 0, {"R@10": 45.0}, config={"n_clusters": 4})
    assert cli(["compare", str(base), str(new)]) == 2
    assert "2 different runs" in capsys.readouterr().err


def test_matched_pairs_are_listed_with_their_run_ids(base, tmp_path):
    text = render_markdown(compare_results(base, copy_with(base, tmp_path / "new")))
    assert "## Matched (2 units)" in text and "(same identity)" in text


def test_only_in_new_is_listed(base, tmp_path):
    new = copy_with(base, tmp_path / "new")
    write(new, "mcn", "toyret", 7, {"R@10": 40.0})
    text = render_markdown(compare_results(base, new))
    assert "## Only in new (not in base)" in text and "seed 7" in text


def test_interval_overlap_logic():
    row = MetricComparison("m", "t", 0, "R@10", True, 40.0, 39.0)
    assert row.overlap is None                                      # no intervals: n/a
    row.base_ci, row.new_ci = (38.0, 42.0), (42.0, 44.0)
    assert row.overlap is True                                      # touching counts as overlap
    row.new_ci = (42.1, 44.0)
    assert row.overlap is False
    row.base_ci, row.new_ci = (10.0, 20.0), (12.0, 13.0)
    assert row.overlap is True                                      # one inside the other


def test_intervals_from_per_query_ranks(tmp_path):
    b = tmp_path / "b"
    n = tmp_path / "n"
    ranks_record(b, complete=320)                                   # R@K over a padded denominator
    ranks_record(n, shift=40.0, complete=320)                       # much worse ranks
    cmp = compare_results(b, n, metrics="all", n_boot=200)
    rows = {r.metric: r for r in cmp.rows}
    for name in ("R@1", "R@10", "MedR", "MeanR"):
        lo, hi = rows[name].base_ci
        assert lo <= rows[name].base <= hi, name
    assert rows["R@10"].overlap is False and rows["R@10"].flag.startswith("REGRESSION")
    assert rows["MedR"].lower_better and rows["MedR"].flag == "worse, CIs disjoint"
    text = render_markdown(cmp)
    assert "| no " in text


def test_interval_is_na_when_arrays_do_not_reproduce_the_value(tmp_path):
    path = ranks_record(tmp_path)
    record = ResultRecord.from_dict(json.loads(path.read_text()))
    assert metric_interval(path, record, "R@10", record.metrics["R@10"], n_boot=50) is not None
    assert metric_interval(path, record, "R@10", record.metrics["R@10"] + 3.0, n_boot=50) is None
    assert metric_interval(path, record, "recall", 30.0, n_boot=50) is None  # no such array
    assert metric_interval(path, record, "R@10", math.nan) is None


def test_hits_array_gives_interval_for_other_metrics(tmp_path):
    hits = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 1], dtype=float)
    path = write(tmp_path, "mcn", "crosstask", 0, {"recall": 70.0}, main="recall",
                 per_query={"recall_hits": hits})
    record = ResultRecord.from_dict(json.loads(path.read_text()))
    lo, hi = metric_interval(path, record, "recall", 70.0, n_boot=200)
    assert lo <= 70.0 <= hi and hi - lo > 0


def test_provenance_differences_are_noted(base, tmp_path):
    new = tmp_path / "new"
    for seed in (0, 1):
        write(new, "mcn", "toyret", seed, {"R@10": 40.0, "MedR": 10.0, "R@1": 10.0}, version="2")
    text = render_markdown(compare_results(base, new))
    assert "task version differs (1 → 2)" in text


def test_pooled_crosstask_recall_and_mof_intervals(tmp_path):
    """The pooled rules reproduce the tasks' own functions, so intervals are given for them."""
    from mcnbench.metrics.alignment import crosstask_recall, video_hits
    from mcnbench.metrics.segmentation import mof as mof_of

    rng = np.random.default_rng(3)
    tasks = ["t1", "t1", "t2", "t2", "t2", "t3"]
    videos = [((rng.random((30, 4)) < 0.2).astype(int), (rng.random((30, 4)) < 0.1).astype(int))
              for _ in tasks]
    by_task: dict = {}
    for task, pair in zip(tasks, videos, strict=True):
        by_task.setdefault(task, []).append(pair)
    recall = 100 * crosstask_recall(by_task)["recall"]
    counts = np.array([video_hits(p, y) for p, y in videos])
    preds = [rng.integers(0, 3, 25) for _ in tasks]
    gts = [rng.integers(0, 3, 25) for _ in tasks]
    mof = 100 * mof_of(preds, gts)
    correct = np.array([(p == g).sum() for p, g in zip(preds, gts, strict=True)])
    path = write(tmp_path, "mcn", "crosstask", 0, {"recall": recall, "MoF": mof}, main="recall",
                 per_query={"matches": counts[:, 0], "present": counts[:, 2],
                            "task_ids": np.array(tasks), "correct": correct,
                            "T": np.full(len(tasks), 25)})
    record = ResultRecord.from_dict(json.loads(path.read_text()))
    for metric, value in (("recall", recall), ("MoF", mof)):
        lo, hi = metric_interval(path, record, metric, value, n_boot=300)
        assert lo <= value <= hi and hi > lo, metric
