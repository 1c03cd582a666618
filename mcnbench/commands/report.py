"""``mcnbench report``: comparison tables (Markdown, LaTeX, CSV) and plots from result records."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

EPILOG = """\
examples:
  mcnbench report                                   table of results/latest, files in results/latest/report/
  mcnbench report results/ablate --reference mcn --plots
  mcnbench report runs/a runs/b --format latex --out paper/tables --metrics youcook2:R@10 crosstask:recall
  mcnbench report results/default --html results/default/report   tables, plots, index.html in one folder
"""

FORMAT_NAMES = {"md": ("markdown",), "latex": ("latex",), "csv": ("csv",),
                "all": ("markdown", "latex", "csv")}


def _max_std(text: str) -> float:
    if text.strip().lower() == "none":
        return math.inf
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of points or 'none', got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


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
    p.add_argument("--max-std", type=_max_std, default=None, metavar="POINTS",
                   help="flag (‡) cells whose std over seeds exceeds POINTS; 'none' never flags "
                        "(default: 3, report.tables.MAX_STD)")
    p.add_argument("--plots", action="store_true", help="also write PNG figures")
    p.add_argument("--no-paper", dest="paper", action="store_false",
                   help="leave out the 'MCN (paper)' row of published numbers")
    h = p.add_argument_group("HTML report")
    h.add_argument("--html", nargs="?", const=True, default=None, metavar="DIR",
                   help="also write index.html (implies --plots) with significance marks, the "
                        "embedding map and cluster browser, protocol notes and provenance; DIR "
                        "is then the folder for every file (default: --out)")
    h.add_argument("--n-boot", type=int, default=1000,
                   help="resamples of the paired bootstrap significance test")
    h.add_argument("--explore", default=None, metavar="ROW",
                   help="row whose model the embedding map and cluster browser show (default: "
                        "the reference row; 'none' to skip); needs its checkpoint and data root")
    h.add_argument("--explore-checkpoint", default=None, metavar="PATH",
                   help="weights to use for --explore instead of the checkpoint the records name")
    h.add_argument("--explore-data-root", default=None, metavar="DIR",
                   help="data root to use for --explore instead of the one the records name")
    h.add_argument("--explore-source", default="youcook2", choices=("youcook2", "msrvtt", "corpus"),
                   help="gallery the map and browser are made on")
    return p


def main(args: argparse.Namespace) -> int:
    from mcnbench.report import build_table, load, to_markdown, write_tables
    from mcnbench.report.tables import MAX_STD

    df = load(args.results, allow_mixed_data=args.allow_mixed_data)
    for path, why in df.attrs.get("skipped", []):
        print(f"mcnbench report: skipped unreadable {path}: {why}", file=sys.stderr)
    if df.empty:
        print(f"mcnbench report: error: no result records under {', '.join(map(str, args.results))}",
              file=sys.stderr)
        return 2
    try:
        table = build_table(df, args.metrics, args.reference, paper=args.paper,
                            max_std=MAX_STD if args.max_std is None else args.max_std)
    except ValueError as err:  # unknown metric or reference model: the message lists the choices
        print(f"mcnbench report: error: {err}", file=sys.stderr)
        return 2
    print(to_markdown(table))
    out = args.out or _default_out(args.results)
    if isinstance(args.html, str):
        if args.out and Path(args.out).resolve() != Path(args.html).resolve():
            print("mcnbench report: error: --out and --html DIR name different folders; give one",
                  file=sys.stderr)
            return 2
        out = Path(args.html)
    written = write_tables(df, out, FORMAT_NAMES[args.format], table=table)
    notes, tests, reference, figures = [], None, None, []
    if args.plots or args.html:
        from mcnbench.report.plots import default_reference, write_plots
        from mcnbench.report.significance import compare_rows
        from mcnbench.report.tables import resolve_label

        reference = default_reference(df, args.reference)
        if reference:
            reference = resolve_label(df, reference)
            tests = compare_rows(df, reference, columns=table.columns, n_boot=args.n_boot)
        figures, notes = write_plots(df, args.results, out, reference, args.metrics, tests=tests)
        written += figures
    if args.html:
        written.append(_write_html(args, df, table, out, figures, written, tests, reference, notes))
    for note in notes:
        print(f"mcnbench report: {note}", file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0


def _write_html(args, df, table, out, figures, written, tests, reference, notes) -> Path:
    from mcnbench.report.html import write_html

    explorations = []
    row = reference if args.explore is None else (None if args.explore == "none" else args.explore)
    if row:
        from mcnbench.report.explore import explore, model_for_report

        try:
            model, ckpt, root, more = model_for_report(df, row, checkpoint=args.explore_checkpoint,
                                                       data_root=args.explore_data_root)
            ex = explore(model, root, out, source=args.explore_source, checkpoint=ckpt, name=row)
            ex.notes = more + ex.notes
            explorations.append(ex)
            if ex.map_path is not None:
                written.append(ex.map_path)
        except (FileNotFoundError, ValueError, OSError) as err:
            notes.append(f"embedding map and cluster browser: skipped for {row}, {err}")
    tables = [p for p in written if p.suffix in (".md", ".tex", ".csv")]
    return write_html(df, out, table=table, roots=args.results, figures=figures, files=tables,
                      tests=tests, reference=reference, explorations=explorations, notes=notes,
                      n_boot=args.n_boot)


def _default_out(results: list[str]) -> Path:
    first = Path(results[0])
    return (first if first.is_dir() else first.parent) / "report"
