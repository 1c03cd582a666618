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
             2 the comparison cannot be trusted: an input is missing, a record is unreadable,
               a matched pair was computed on different data, a BASE unit has no NEW
               counterpart, or the two sides have no record in common (--allow-* relaxes one).
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.commands._common import HelpFormatter
    from mcnbench.report.compare import CHECKS

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
    for check, what in CHECKS.items():
        p.add_argument(f"--allow-{check}", action="append_const", const=check, dest="allow",
                       default=[], help=f"do not exit 2 when {what}")
    return p


def main(args: argparse.Namespace) -> int:
    from mcnbench.report.compare import compare_results, render_markdown

    # An unreadable input or nothing in common raises DataError: the CLI prints it and exits 2.
    cmp = compare_results(args.base, args.new, max_drop=args.max_drop, metrics=args.metrics,
                          n_boot=args.n_boot, allow=set(args.allow))
    text = render_markdown(cmp)
    print(text)
    if args.out:
        from mcnbench.utils.io import atomic_write_text

        atomic_write_text(args.out, text)
    for problem in cmp.problems:
        print(f"mcnbench compare: error: {problem}", file=sys.stderr)
    return cmp.exit_code
