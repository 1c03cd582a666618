"""``mcnbench report``: comparison tables (Markdown, LaTeX, CSV) and plots from result records."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = """\
examples:
  mcnbench report                                   table of results/latest, files in results/latest/report/
  mcnbench report results/ablate --reference mcn --plots
  mcnbench report runs/a runs/b --format latex --out paper/tables --metrics youcook2:R@10 crosstask:recall
"""

FORMAT_NAMES = {"md": ("markdown",), "latex": ("latex",), "csv": ("csv",),
                "all": ("markdown", "latex", "csv")}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.commands._common import DEFAULT_OUT, HelpFormatter

    p = sub.add_parser(
        "report", help="tables and plots from result records", formatter_class=HelpFormatter,
        epilog=EPILOG,
        description="Summarise result records into one table: a row per run (the model and what "
                    "differs from its defaults; runs of different identity are never merged), a "
                    "column per task and metric, cells 'mean ± std' over seeds (std with ddof=1), the "
                    "best per column in bold and MCN's published numbers in their own row. Prints the "
                    "Markdown table and writes the chosen formats (and PNG plots) into --out.")
    p.add_argument("results", nargs="*", default=[DEFAULT_OUT], metavar="RESULTS",
                   help="result folders or record files")
    p.add_argument("--allow-mixed-data", action="store_true",
                   help="put results computed on different data (fingerprints) in one table, the "
                        "data as a column (default: refuse)")
    p.add_argument("--format", choices=tuple(FORMAT_NAMES), default="all",
                   help="which table files to write (md: table.md, latex: table.tex, "
                        "csv: results_long.csv + results_wide.csv)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="folder for the files (default: <first RESULTS>/report)")
    p.add_argument("--metrics", nargs="+", metavar="METRIC",
                   help="metrics to show: names (R@10), task:name (crosstask:recall), 'main' or 'all' "
                        "(default: each task's headline metrics)")
    p.add_argument("--reference", metavar="MODEL",
                   help="add a Δ column per metric: each row's difference from this model (or row label)")
    p.add_argument("--plots", action="store_true", help="also write PNG figures")
    p.add_argument("--no-paper", dest="paper", action="store_false",
                   help="leave out the 'MCN (paper)' row of published numbers")
    return p


def main(args: argparse.Namespace) -> int:
    from mcnbench.report import build_table, load, to_markdown, write_tables

    df = load(args.results, allow_mixed_data=args.allow_mixed_data)
    for path, why in df.attrs.get("skipped", []):
        print(f"mcnbench report: skipped unreadable {path}: {why}", file=sys.stderr)
    if df.empty:
        print(f"mcnbench report: error: no result records under {', '.join(map(str, args.results))}",
              file=sys.stderr)
        return 2
    try:
        table = build_table(df, args.metrics, args.reference, paper=args.paper)
    except ValueError as err:  # unknown metric or reference model: the message lists the choices
        print(f"mcnbench report: error: {err}", file=sys.stderr)
        return 2
    print(to_markdown(table))
    out = args.out or _default_out(args.results)
    written = write_tables(df, out, FORMAT_NAMES[args.format], table=table)
    if args.plots:
        from mcnbench.report.plots import write_plots

        figures, notes = write_plots(df, args.results, out, args.reference, args.metrics)
        written += figures
        for note in notes:
            print(f"mcnbench report: {note}", file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0


def _default_out(results: list[str]) -> Path:
    first = Path(results[0])
    return (first if first.is_dir() else first.parent) / "report"
