"""``mcnbench compare BASE NEW``: a regression report between two sets of results (a CI gate)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = """\
examples:
  mcnbench compare results/reference/tiny results/latest
  mcnbench compare results/reference/tiny results/latest --max-drop 1.0 --metrics all --out report.md
  mcnbench compare old/mcn/youcook2/seed0.json new/mcn/youcook2/seed0.json

exit status: 0 no main score dropped by more than --max-drop; 1 at least one did;
             2 an input is missing or unreadable, or the two sides have no record in common.
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.cli import HelpFormatter

    p = sub.add_parser(
        "compare", help="regression report between two result sets (exit 1 on a drop)",
        formatter_class=HelpFormatter, epilog=EPILOG,
        description="Match the records of BASE and NEW by (model, task, seed) and report, per metric, "
                    "base, new, difference and whether the 95% bootstrap intervals (from the saved "
                    "per-query arrays) overlap. Fails when a record's main score drops by more than "
                    "--max-drop, in the metric's own units; for lower-is-better metrics (MedR, MeanR) "
                    "a rise is a drop.")
    p.add_argument("base", metavar="BASE", help="baseline result folder or record file")
    p.add_argument("new", metavar="NEW", help="new result folder or record file")
    p.add_argument("--max-drop", type=float, default=0.5, metavar="X",
                   help="largest tolerated drop of a main score (absolute, metric units)")
    p.add_argument("--metrics", choices=("main", "all"), default="main",
                   help="compare only each record's main score, or every metric")
    p.add_argument("--out", type=Path, metavar="FILE", help="also write the Markdown report here")
    p.add_argument("--n-boot", type=int, default=1000, metavar="N", help="bootstrap resamples")
    p.add_argument("--fail-on-missing", action="store_true",
                   help="also exit 1 when a BASE record has no match in NEW")
    return p


def main(args: argparse.Namespace) -> int:
    from mcnbench.report.compare import compare_results, render_markdown

    # An unreadable input or nothing in common raises DataError: the CLI prints it and exits 2.
    cmp = compare_results(args.base, args.new, max_drop=args.max_drop, metrics=args.metrics,
                          n_boot=args.n_boot)
    text = render_markdown(cmp)
    print(text)
    if args.out:
        from mcnbench.utils.io import atomic_write_text

        atomic_write_text(args.out, text)
    for path, why in cmp.skipped:
        print(f"mcnbench compare: skipped unreadable {path}: {why}", file=sys.stderr)
    if args.fail_on_missing and cmp.only_base:
        print(f"mcnbench compare: {len(cmp.only_base)} base record(s) missing from NEW", file=sys.stderr)
        return 1
    return cmp.exit_code
