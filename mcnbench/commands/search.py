"""``mcnbench search``: the clips of an index folder that best match a text."""
from __future__ import annotations

import argparse

EPILOG = """\
examples:
  mcnbench search "crack the egg" --index idx/yc2
  mcnbench search "add the flour" "pour water" --index idx/yc2 -k 5 --format csv
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.commands._common import HelpFormatter

    p = sub.add_parser(
        "search", help="top clips of an index (`mcnbench index`) for a text query",
        formatter_class=HelpFormatter, epilog=EPILOG,
        description="Embed each query text with the model that built the index (rebuilt from "
                    "index.json; its checkpoint digest and config hash are checked) and print the "
                    "top K clips: rank, score (text · clip), clip id, video id, time span, caption.")
    p.add_argument("queries", nargs="+", metavar="TEXT", help="query text(s)")
    p.add_argument("--index", required=True, metavar="DIR", help="index folder")
    p.add_argument("-k", type=int, default=10, help="clips per query")
    p.add_argument("--format", default="table", choices=("table", "csv", "json"))
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    return p


def _span(start, end) -> str:
    import math

    def t(x) -> str:
        return "?" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{float(x):.1f}"
    return f"{t(start)}–{t(end)} s"


def main(args: argparse.Namespace) -> int:
    import sys

    from mcnbench.search import search

    if args.k < 1:
        raise ValueError(f"-k must be >= 1, got {args.k}")
    hits = search(args.index, args.queries, args.k, device=args.device)
    hits.insert(0, "text", [args.queries[q] for q in hits["query"]])
    if args.format == "csv":
        sys.stdout.write(hits.to_csv(index=False))
        return 0
    if args.format == "json":
        sys.stdout.write(hits.to_json(orient="records", indent=1) + "\n")
        return 0
    from tabulate import tabulate

    for q, text in enumerate(args.queries):
        block = hits[hits["query"] == q]
        rows = [[r.rank, f"{r.score:.3f}", r.id, r.video_id, _span(r.start, r.end), r.caption]
                for r in block.itertuples()]
        print(f"query: {text!r}")
        print(tabulate(rows, headers=["rank", "score", "clip", "video", "span", "caption"],
                       tablefmt="simple", disable_numparse=True))
        print()
    return 0
