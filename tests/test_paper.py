"""``mcnbench paper TABLE``: the paper's tables in their own shape, published numbers beside ours.

The declarations are checked against the registries (every column a metric its task reports,
every row a registered model, variant names as ``ablate`` makes them); the rendering on a
hand-filled table with known means; one table end to end on the tiny world.
"""
from __future__ import annotations

import argparse
import math

import pandas as pd
import pytest

from mcnbench.cli import main
from mcnbench.commands.ablate import variants_from_args
from mcnbench.commands.paper import table_keys
from mcnbench.records import read_record
from mcnbench.registry import MODELS, task_meta
from mcnbench.report.paper_tables import (
    MCN,
    TABLE_KEYS,
    Filled,
    paper_tables,
    published_text,
    render_latex,
    render_markdown,
    scaled_k,
)

pytest_plugins = ("conftest_tasks",)  # the session's tiny synthetic world: `tiny_world`


def test_every_table_of_the_paper_is_declared():
    assert TABLE_KEYS == ("1", "2", "3", "4", "5", "6", "TC", "TD", "TF")
    assert table_keys(["all"]) == list(TABLE_KEYS)
    assert table_keys(["tf", "5"]) == ["5", "TF"]  # the paper's order, any case
    with pytest.raises(ValueError, match="unknown paper table 7"):
        table_keys(["7"])


def test_rows_are_registered_models_and_columns_are_reported_metrics():
    for table in paper_tables(32).values():
        for col in table.columns:
            meta = task_meta(col.task)  # raises for an unregistered task
            assert col.metric in meta.metrics or col.metric in meta.paper or \
                any(r.prefix + col.metric in meta.paper for r in table.rows), (table.key, col)
        for row in table.rows:
            assert row.model in MODELS.names(), (table.key, row.model)
            assert set(row.options) <= set(table.tasks)


def test_variant_rows_are_named_and_configured_as_ablate_makes_them():
    """`paper 5` and `ablate --no-cluster --no-recon --loss mil-nce --combine` train one model."""
    row = paper_tables()["5"].rows[1]
    args = argparse.Namespace(model="mcn", no_cluster=True, no_recon=True, no_audio=False,
                              cluster_mode=None, clusters=None, queue_size=None,
                              loss="mil-nce", combine=True)
    _, ablated = variants_from_args(args, {})
    assert (row.title, row.name, row.overrides) == ("MIL-NCE", ablated.name, ablated.overrides)
    assert row.name == "mcn+no-cluster+no-recon+loss-mil-nce"
    k_row = paper_tables(32)["TF"].rows[0]  # ablate --clusters 8
    assert (k_row.name, k_row.overrides) == ("mcn+k8", {"n_clusters": 8})


def test_cluster_sweep_is_scaled_to_the_world():
    assert [scaled_k(k, 32) for k in (64, 128, 256, 512, 1024)] == [8, 16, 32, 64, 128]
    assert [scaled_k(k, 256) for k in (64, 256)] == [64, 256]  # real data: the paper's own K
    assert scaled_k(64, 4) == 2  # never below two clusters
    tf = paper_tables(32)["TF"]
    assert [r.title for r in tf.rows][2] == "k=256 (here 32)"
    assert tf.rows[2].name == "mcn" and tf.rows[2].published == MCN  # the default is MCN itself
    assert "× 32/256" in tf.note


def test_mcn_rows_read_the_published_numbers_from_the_task_metadata():
    t1 = paper_tables()["1"]
    mcn = t1.published(t1.rows[-1])
    assert mcn == {"YC2 R@1": 18.1, "YC2 R@5": 35.5, "YC2 R@10": 45.2,
                   "MSR R@1": 10.5, "MSR R@5": 25.2, "MSR R@10": 33.8}
    t4 = paper_tables()["4"]
    assert t4.published(t4.rows[0]) == {"R@1": 38.8, "R@5": 67.4, "R@10": 76.8}  # MV-Clip
    assert published_text(40.0) == "40.0" and published_text(0.34) == "0.34"


def _filled(values) -> Filled:
    table = paper_tables()["TF"]
    return Filled(table, values=values, runs={0: ["abc123"]}, caption="caption text")


def test_cells_are_mean_and_std_over_seeds_and_the_best_is_per_direction():
    # two rows, column 0 = YC2 R@1 (higher better), column 3 = YC2 MedR (lower better)
    f = _filled({(0, 0): [(0, 10.0), (1, 12.0)], (1, 0): [(0, 20.0), (1, 30.0)],
                 (0, 3): [(0, 5.0), (1, 7.0)], (1, 3): [(0, 9.0), (1, 9.0)]})
    mean, std, n = f.stats(0, 0)
    assert (mean, n) == (11.0, 2) and std == pytest.approx(math.sqrt(2))
    assert f.best() == {(1, 0), (0, 3)}
    md = render_markdown(f)
    row0 = next(line for line in md.splitlines() if line.startswith("| k=64"))
    assert "11.0 ± 1.4" in row0 and "**6.0 ± 1.4**" in row0
    assert row0.rstrip(" |").endswith("27.0")  # the published block: MSR-VTT MedR of k=64
    assert "paper YC2 R@1" in md and "caption text" in md and "`abc123`" in md
    tex = render_latex(f)
    assert r"\multicolumn{8}{c}{Ours} & \multicolumn{8}{c}{Published}" in tex
    assert r"\textbf{6.0 $\pm$ 1.4}" in tex


@pytest.mark.slow  # trains MCN for one epoch on the tiny world
def test_paper_table_4_end_to_end(tiny_world, tmp_path, capsys):
    out = tmp_path / "res"
    argv = ["paper", "4", "--data-root", str(tiny_world), "--set", "epochs=1", "--seeds", "2",
            "--out", str(out)]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert "## Table 4: Text→full-video retrieval on YouCook2" in stdout
    md = (out / "report" / "paper-table4.md").read_text()
    tex = (out / "report" / "paper-table4.tex").read_text()
    long = pd.read_csv(out / "report" / "paper-table4.csv")
    assert r"\begin{tabular}" in tex and "Caption Avg." in tex

    # our cells are the means of the records' values (2 seeds), the paper's beside them
    records = [read_record(p) for p in sorted(out.glob("mcn/*/youcook2_video/seed*.json"))]
    assert [r.seed for r in records] == [0, 1]
    mean = sum(r.metrics["caption_avg/R@10"] for r in records) / 2
    row = next(line for line in md.splitlines() if line.startswith("| Caption Avg."))
    assert f"{mean:.1f} ± " in row and row.rstrip(" |").endswith("81.4")
    cells = long[(long["row"] == "Caption Avg.") & (long["column"] == "R@10")]
    assert sorted(cells["seed"]) == [0, 1] and cells["value"].mean() == pytest.approx(mean)
    assert "2 seeds (0, 1" in md and "1 epochs" in md and records[0].run_id in md

    # a rerun evaluates nothing and writes the same table
    assert main(argv) == 0
    assert "training" not in capsys.readouterr().out
    assert (out / "report" / "paper-table4.md").read_text() == md


def test_unknown_table_is_one_line_and_exit_2(capsys, tmp_path):
    assert main(["paper", "7", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown paper table 7" in err[0]


def test_latex_is_plain_ascii_for_every_table():
    """Arrows, ⟨H⟩, × and ± are written as LaTeX math, so the .tex compiles without inputenc."""
    for table in paper_tables(32).values():
        filled = Filled(table, values={(0, 0): [(0, 1.0), (1, 2.0)]}, runs={},
                        caption="6 epochs of 16 videos × 16 clips; T→V")
        tex = render_latex(filled)
        assert tex.isascii(), (table.key, sorted({c for c in tex if not c.isascii()}))
