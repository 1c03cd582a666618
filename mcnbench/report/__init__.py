"""Reports made from result records: comparison tables, plots and regression comparisons.

    from mcnbench.report import load, comparison_table, compare_results
    df = load("results")                                   # enriched long frame
    print(comparison_table(df, reference_model="mcn"))     # Markdown, with Δ columns
    cmp = compare_results("results/reference", "results/latest", max_drop=0.5)
    print(render_markdown(cmp)); raise SystemExit(cmp.exit_code)

``frame`` loads and labels records and knows metric directions and published numbers;
``identity`` says what one report row is (``row_key``) and gives it its colour; ``tables``
renders Markdown / LaTeX / CSV; ``plots`` writes PNGs; ``significance`` is the paired bootstrap
between rows; ``html`` writes the self-contained ``index.html``; ``explore`` (with ``clusters``
and ``embedmap``) looks inside one model; ``compare`` is the CI gate.
"""
from __future__ import annotations

from mcnbench.report.compare import Comparison, MetricComparison, compare_results, render_markdown
from mcnbench.report.frame import (
    PAPER_LABEL,
    enrich,
    load,
    lower_is_better,
    paper_numbers,
    select_metrics,
)
from mcnbench.report.tables import (
    FORMATS,
    Table,
    build_table,
    comparison_table,
    long_frame,
    render,
    summarize,
    to_latex,
    to_markdown,
    wide_frame,
    write_tables,
)

__all__ = [
    "FORMATS", "PAPER_LABEL", "Comparison", "MetricComparison",
    "Table", "build_table", "compare_results", "comparison_table", "enrich", "load", "long_frame",
    "lower_is_better", "paper_numbers", "render", "render_markdown", "select_metrics", "summarize",
    "to_latex", "to_markdown", "wide_frame", "write_tables",
]
