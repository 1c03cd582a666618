"""Tables, plots and the ``mcnbench report`` command, on tiny hand-written records."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mcnbench.cli import main as cli
from mcnbench.records import ResultRecord, write_record
from mcnbench.report import build_table, comparison_table, load, select_metrics
from mcnbench.report.frame import lower_is_better
from mcnbench.report.plots import crosstask_per_task, write_plots
from mcnbench.report.tables import long_frame, to_latex, to_markdown, wide_frame
from mcnbench.tasks.meta import TaskMeta

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write(root, model, task, seed, metrics, *, main="R@10", config=None, paper=None, variant=None,
          preset="tiny", gseed=7, per_query=None, info=None, fingerprint="f", options=None):
    """One record in ``root`` (versions given, so no git call per record)."""
    m = {"name": model, "version": "1", "config": config or {"k": 256}}
    if variant:
        m["variant"] = variant
    t = {"name": task, "version": "1", "options": options or {}}
    if paper:
        t["paper"] = paper
    rec = ResultRecord(model=m, task=t, seed=seed, data={"kind": "synthetic", "preset": preset,
                                                         "generator_seed": gseed, "fingerprint": fingerprint},
                       metrics=metrics, main_score=main, tie_rule="mean", versions={"python": "3"},
                       info=info or {})
    return write_record(rec, root, per_query)


def retrieval(r1, r10, medr):
    return {"R@1": r1, "R@5": (r1 + r10) / 2, "R@10": r10, "MedR": medr, "MeanR": medr * 2}


@pytest.fixture
def results(tmp_path):
    """Two models on an unregistered retrieval task: 3 seeds of ``good``, 1 of ``bad``."""
    root = tmp_path / "results"
    for seed, (r10, medr) in enumerate([(10.0, 8.0), (20.0, 6.0), (30.0, 4.0)]):
        write(root, "good", "toyret", seed, retrieval(1.0, r10, medr), paper={"R@10": 45.2, "MedR": 16})
    write(root, "bad", "toyret", 0, retrieval(0.5, 5.0, 30.0), paper={"R@10": 45.2, "MedR": 16})
    return root


@pytest.fixture
def tiny_records(tmp_path):
    """Records of the registered ``youcook2`` task (its TaskMeta decides what is shown)."""
    root = tmp_path / "registered"
    write(root, "mcn", "youcook2", 0, retrieval(5.0, 40.0, 12.0))
    return root


def test_mixed_data_is_refused_unless_asked(tmp_path):
    write(tmp_path / "tiny", "mcn", "toyret", 0, {"R@10": 40.0}, preset="tiny")
    write(tmp_path / "default", "mcn", "toyret", 0, {"R@10": 50.0}, preset="default",
          fingerprint="another")
    with pytest.raises(ValueError, match="different data"):
        load([tmp_path / "tiny", tmp_path / "default"])
    df = load([tmp_path / "tiny", tmp_path / "default"], allow_mixed_data=True)
    md = comparison_table(df)
    assert header(md)[0] == "data"
    assert cells(md, "mcn")[0].startswith("tiny/seed7") or cells(md, "mcn")[0].startswith("default")
    assert md.count("| mcn ") == 2  # two rows, never averaged into one


def test_two_configs_into_one_folder_are_two_labelled_rows(tmp_path):
    for k, r10 in ((4, 30.0), (16, 40.0)):
        rec = ResultRecord(model={"name": "mcn", "version": "1", "config": {"n_clusters": k}},
                           task={"name": "toyret", "version": "1", "options": {}}, seed=0,
                           data={"kind": "synthetic", "preset": "tiny", "fingerprint": "f"},
                           metrics={"R@10": r10}, main_score="R@10", tie_rule="mean",
                           label=f"mcn n_clusters={k}", versions={"python": "3"})
        write_record(rec, tmp_path)
    md = comparison_table(load(tmp_path))
    assert cells(md, "mcn n_clusters=4")[0] == "30.0" and cells(md, "mcn n_clusters=16")[0] == "**40.0**"


def cells(markdown: str, label: str) -> list[str]:
    """The cells of the Markdown row whose first cell is ``label``."""
    for line in markdown.splitlines():
        parts = [c.strip() for c in line.strip().strip("|").split("|")]
        if parts and parts[0] == label:
            return parts[1:]
    raise AssertionError(f"no row {label!r} in\n{markdown}")


def header(markdown: str) -> list[str]:
    return [c.strip() for c in markdown.splitlines()[0].strip().strip("|").split("|")][1:]


# tables ---------------------------------------------------------------------------------------
def test_mean_std_over_seeds_and_single_seed_value(results):
    md = comparison_table(load(results))
    col = header(md).index("toyret R@10 ↑")
    assert cells(md, "good")[col] == "**20.0 ± 10.0‡**"         # std with ddof=1 of 10, 20, 30
    assert cells(md, "bad")[col] == "5.0 (n=1)"                  # one seed: the value, n flagged
    assert "n = 3 seeds" in md and "ddof=1" in md


def test_cells_with_a_seed_std_above_max_std_are_flagged(results):
    md = comparison_table(load(results))                         # default: 3 points
    h = header(md)
    assert cells(md, "good")[h.index("toyret R@10 ↑")].endswith("‡**")   # std 10 > 3
    assert "‡" not in cells(md, "good")[h.index("toyret MedR ↓")]       # ranks: other units
    assert "‡: std over seeds above 3 points" in md
    table = build_table(load(results), max_std=10.0)             # std 10 is not above 10
    assert not table.any_noisy and "‡" not in to_markdown(table)
    assert r"$^\ddagger$" in to_latex(build_table(load(results)))


def test_best_marking_follows_metric_direction(results):
    md = comparison_table(load(results))
    h = header(md)
    medr = h.index("toyret MedR ↓")
    assert cells(md, "good")[medr].startswith("**6.0")          # lower MedR is better
    assert not cells(md, "bad")[medr].startswith("**")
    assert lower_is_better("MedR") and lower_is_better("video/MeanR") and not lower_is_better("R@1")


def test_ties_at_shown_precision_share_the_mark(tmp_path):
    write(tmp_path, "a", "toyret", 0, {"R@10": 12.01}, main="R@10")
    write(tmp_path, "b", "toyret", 0, {"R@10": 11.99}, main="R@10")
    md = comparison_table(load(tmp_path))
    assert cells(md, "a")[0] == cells(md, "b")[0] == "**12.0**"
    assert "Single seed per cell" in md


def test_default_metrics_are_headline_ones_plus_main(results, tiny_records):
    # a registered task: its metadata's headline metrics (MeanR is not one) and its main score
    shown = select_metrics(load(tiny_records))
    assert set(shown["metric"]) == {"R@1", "R@5", "R@10", "MedR"}
    # a task not registered here: every summary metric it has
    shown = select_metrics(load(results))
    assert set(shown["metric"]) == {"R@1", "R@5", "R@10", "MedR", "MeanR"}
    assert set(select_metrics(load(results), "main")["metric"]) == {"R@10"}
    assert set(select_metrics(load(results), ["toyret:MeanR"])["metric"]) == {"MeanR"}
    with pytest.raises(ValueError, match="known metrics"):
        select_metrics(load(results), ["R@1000"])


def test_paper_row_from_record_and_from_registered_task(results, monkeypatch):
    md = comparison_table(load(results))
    h = header(md)
    paper = cells(md, "MCN (paper)")
    assert paper[h.index("toyret R@10 ↑")] == "45.2" and paper[h.index("toyret MedR ↓")] == "16.0"
    assert paper[h.index("toyret R@1 ↑")] == ""                  # no published R@1: blank
    assert "not comparable with synthetic" in md

    meta = TaskMeta(name="toyret", version="1", title="toyret", description="toy",
                    main_score="R@10", metrics=("R@1", "R@10"), paper={"R@1": 18.1})
    monkeypatch.setattr("mcnbench.registry.task_meta", lambda name: meta)
    md = comparison_table(load(results))
    assert cells(md, "MCN (paper)")[header(md).index("toyret R@1 ↑")] == "18.1"
    assert "MCN (paper)" not in comparison_table(load(results), paper=False)


def test_caption_states_data_seeds_and_tie_rule(results):
    table = build_table(load(results))
    assert "synthetic (preset tiny, generator seed 7)" in table.caption
    assert "rule `mean`" in table.caption and "n = 3 seeds" in table.caption


def test_latex_is_booktabs_with_bold_and_escapes(tmp_path):
    write(tmp_path, "mil_nce", "toyret", 0, {"R@10": 30.0, "MedR": 9.0})
    write(tmp_path, "mcn", "toyret", 0, {"R@10": 40.0, "MedR": 7.0})
    tex = to_latex(build_table(load(tmp_path)))
    for token in (r"\toprule", r"\midrule", r"\bottomrule", r"\multicolumn{2}{c}{toyret}",
                  r"\textbf{40.0}", r"mil\_nce", r"MedR $\downarrow$", r"\caption{"):
        assert token in tex
    assert "±" not in tex and "mil_nce" not in tex


def test_csv_long_and_wide(results):
    df = load(results)
    long = long_frame(df)
    assert len(long[(long["label"] == "good") & (long["metric"] == "R@10")]) == 3
    wide = wide_frame(build_table(df))
    good = wide.set_index("model").loc["good"]
    assert good["toyret R@10 mean"] == pytest.approx(20.0) and good["toyret R@10 n"] == 3
    assert wide.set_index("model").loc["MCN (paper)", "toyret R@10 mean"] == pytest.approx(45.2)
    assert comparison_table(df, fmt="csv").startswith("model,")


def test_delta_columns_against_reference(results):
    md = comparison_table(load(results), reference_model="good")
    h = header(md)
    col = h.index("toyret R@10 ↑")
    assert h[col + 1] == "Δ"
    assert cells(md, "good")[col + 1] == "ref"
    assert cells(md, "bad")[col + 1] == "-15.0"
    assert md.splitlines()[2].startswith("| good")               # the reference row comes first
    with pytest.raises(ValueError, match="not in the results"):
        comparison_table(load(results), reference_model="nope")


def test_runs_of_one_label_get_their_own_rows(tmp_path):
    write(tmp_path / "full", "mcn", "toyret", 0, {"R@10": 40.0}, config={"k": 256, "cluster": 1})
    write(tmp_path / "abl", "mcn", "toyret", 0, {"R@10": 35.0}, config={"k": 256, "cluster": 0})
    write(tmp_path / "named", "mcn", "toyret", 0, {"R@10": 30.0}, variant="no-recon")
    df = load([tmp_path / "full", tmp_path / "abl", tmp_path / "named"])
    assert set(df["label"]) == {"mcn (cluster=1)", "mcn (cluster=0)", "mcn (no-recon)"}
    md = comparison_table(df, reference_model="mcn (cluster=1)")
    assert cells(md, "mcn (cluster=0)")[1] == "-5.0"


def test_retrieval_directions_get_their_own_titled_columns(tmp_path):
    """youcook2 in two directions is two measurements: never averaged as seeds, the direction in
    the header, and MCN's T→VA number only above the default direction."""
    write(tmp_path / "t2va", "mcn", "youcook2", 0, retrieval(18.0, 45.0, 16.0),
          options={"direction": "t2va", "fusion": "video+audio"})
    write(tmp_path / "a2v", "mcn", "youcook2", 0, retrieval(19.0, 50.0, 12.0),
          options={"direction": "a2v", "fusion": "video+audio"})
    df = load([tmp_path / "t2va", tmp_path / "a2v"])
    assert set(df["task"]) == {"youcook2", "youcook2[a2v]"}
    md = comparison_table(df, metrics=["R@10"])
    assert header(md) == ["YouCook2 R@10 ↑", "YouCook2 (a2v) R@10 ↑"]
    assert cells(md, "mcn") == ["45.0", "50.0"]
    assert cells(md, "MCN (paper)") == ["45.2", ""]
    write(tmp_path / "ucf", "mcn", "ucf101", 0, {"top1": 30.0}, main="top1")
    assert header(comparison_table(load(tmp_path / "ucf")))[0] == "UCF-101 top1 ↑"  # class title


def test_duplicate_records_do_not_inflate_n(results):
    df = load([results, results])
    assert df.attrs["duplicates_dropped"] > 0
    assert "n = 3 seeds" in comparison_table(df)


def test_corrupt_files_are_skipped_and_named(results):
    bad = next(results.glob("bad/*/toyret")) / "seed9.json"
    bad.write_text("{not json")
    df = load(results)
    assert [p for p, _ in df.attrs["skipped"]] == [str(bad)]
    assert "bad" in set(df["label"])


# plots and the command ------------------------------------------------------------------------
def test_report_command_writes_tables_and_plots(results, tmp_path, capsys):
    (next(results.glob("bad/*/toyret")) / "seed5.json").write_text('{"schema_version": 1}')
    log = results / "runs" / "mcn" / "train_log.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text("".join(json.dumps({"step": s, "epoch": 0, "loss": 5 - s / 10, "mms": 3.0,
                                       "cluster": 1.0, "recon": 0.5}) + "\n" for s in range(20))
                   + '{"step": 20, "lo\n')                       # a line cut short by a kill
    out = tmp_path / "report"
    assert cli(["report", str(results), "--out", str(out), "--plots", "--reference", "good"]) == 0
    captured = capsys.readouterr()
    assert "| good" in captured.out and "seed5.json" in captured.err
    assert "train_log.jsonl: skipped 1 unreadable line" in captured.err
    for name in ("table.md", "table.tex", "results_long.csv", "results_wide.csv"):
        assert (out / name).stat().st_size > 0
    for name in ("recall_at_k.png", "main_scores.png", "ablation_delta.png", "training_curves.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    assert not (out / "crosstask_per_task.png").exists()          # no CrossTask data: skipped
    assert "crosstask_per_task.png: skipped" in captured.err


def test_report_default_out_and_single_format(results, capsys):
    assert cli(["report", str(results), "--format", "latex"]) == 0
    assert (results / "report" / "table.tex").is_file()
    assert not (results / "report" / "table.md").exists()


def test_report_errors_exit_2(tmp_path, results, capsys):
    (tmp_path / "empty").mkdir()
    assert cli(["report", str(tmp_path / "empty")]) == 2
    assert "no result records" in capsys.readouterr().err
    assert cli(["report", str(tmp_path / "missing")]) == 2
    assert cli(["report", str(results), "--metrics", "R@1000"]) == 2
    assert "known metrics" in capsys.readouterr().err


def test_crosstask_per_task_from_metrics_or_info(tmp_path):
    write(tmp_path / "a", "mcn", "crosstask", 0, {"recall": 35.0, "recall/101": 30.0, "recall/102": 40.0},
          main="recall")
    write(tmp_path / "b", "mcn", "crosstask", 0, {"recall": 33.0}, main="recall",
          info={"per_task_recall": {"101": 31.0, "102": 35.0}})
    per_a = crosstask_per_task(load(tmp_path / "a"))
    per_b = crosstask_per_task(load(tmp_path / "b"))
    assert sorted(per_a["task_id"]) == ["101", "102"] and per_a["value"].sum() == 70.0
    assert sorted(per_b["task_id"]) == ["101", "102"] and per_b["value"].sum() == 66.0
    written, notes = write_plots(load(tmp_path / "a"), [tmp_path / "a"], tmp_path / "out")
    assert tmp_path / "out" / "crosstask_per_task.png" in written
    assert any("no reference model" in n for n in notes)


def test_tables_from_a_plain_load_results_frame(results):
    from mcnbench.records import load_results

    md = comparison_table(load_results(results), metrics=["R@10"], reference_model="good")
    assert "toyret R@10 ↑" in md and "Δ" in md
    assert isinstance(to_markdown(build_table(load_results(results))), str)
    assert np.isfinite(pd.to_numeric(wide_frame(build_table(load_results(results)))
                                     .set_index("model").loc["good"], errors="coerce")).any()
