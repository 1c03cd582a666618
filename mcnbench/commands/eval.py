"""``mcnbench eval``: evaluate a model without training it, one result record per task."""
from __future__ import annotations

import argparse
import sys

EPILOG = """\
examples:
  mcnbench eval --model precomputed --embeddings ~/.cache/mcnbench/worlds/default-seed0-v1/oracle
  mcnbench eval --model mcn --checkpoint e30.pth --data-root /data/mcn --tie-rule legacy
  mcnbench eval --model random --tasks crosstask --task-option crosstask.dp_input=raw
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.cli import HelpFormatter
    from mcnbench.commands._common import TIE_RULES

    p = sub.add_parser(
        "eval", help="evaluate a model (no training) on tasks and write result records",
        description="Evaluate a registered model, as it is, on benchmark tasks: one JSON record "
                    "per task at OUT/<model>/<task>/seed<N>.json, per-query arrays beside it. "
                    "Units already evaluated with the same configuration are skipped.",
        formatter_class=HelpFormatter, epilog=EPILOG)
    what = p.add_argument_group("what to evaluate")
    what.add_argument("--model", required=True, metavar="NAME",
                      help="registered model name or package.module:factory (mcnbench list models)")
    what.add_argument("--tasks", default="all", metavar="all|A,B",
                      help="tasks to evaluate (mcnbench list tasks)")
    what.add_argument("--checkpoint", default=None, metavar="PATH", help="model weights to load")
    what.add_argument("--embeddings", default=None, metavar="DIR",
                      help="folder of precomputed embeddings (model 'precomputed')")
    proto = p.add_argument_group("protocol")
    proto.add_argument("--tie-rule", default="mean",
                       choices=TIE_RULES,
                       help="rank of a ground truth tied with other items; 'legacy' reproduces "
                            "the official compute_metrics")
    proto.add_argument("--task-option", action="append", default=[], metavar="TASK.KEY=VALUE",
                       help="set a task option (repeatable), e.g. crosstask.dp_input=raw; the "
                            "value is read as JSON when it parses, else as a string")
    run = p.add_argument_group("run")
    run.add_argument("--data-root", default=None, metavar="DIR",
                     help="data root (default: $MCNBENCH_DATA, else the default synthetic world)")
    run.add_argument("--seed", type=int, default=0, help="seed (model init, any sampling)")
    run.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    run.add_argument("--out", default="results", metavar="DIR", help="results folder")
    run.add_argument("--overwrite", action="store_true",
                     help="re-evaluate units whose record is up to date")
    return p


def main(args: argparse.Namespace) -> int:
    from mcnbench.commands._common import parse_task_options
    from mcnbench.engine.units import evaluate

    try:
        options = parse_task_options(args.task_option)
        evaluate(args.model, args.tasks, data_root=args.data_root, out=args.out, seed=args.seed,
                 tie_rule=args.tie_rule, device=args.device, checkpoint=args.checkpoint,
                 embeddings=args.embeddings, overwrite=args.overwrite, task_options=options)
    except ValueError as err:
        from mcnbench.data.errors import DataError

        if isinstance(err, DataError):
            raise
        print(f"mcnbench eval: error: {err}", file=sys.stderr)
        return 2
    return 0
