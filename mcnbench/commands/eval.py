"""``mcnbench eval``: evaluate a model as it is (no training), one result record per task."""
from __future__ import annotations

import argparse

EPILOG = """\
examples:
  mcnbench eval --model precomputed --embeddings ~/.cache/mcnbench/worlds/default-seed0-v2/oracle
  mcnbench eval --model mcn --checkpoint e30.pth --data-root /data/mcn --tie-rule legacy
  mcnbench eval --model random --tasks crosstask --task-option crosstask.dp_input=raw
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.commands._common import (
        HelpFormatter,
        add_data_options,
        add_model_options,
        add_protocol_options,
    )

    p = sub.add_parser(
        "eval", help="evaluate a model (no training) on tasks and write result records",
        description="Evaluate a registered model, as it is, on benchmark tasks: one JSON record per "
                    "(model, run id, task, seed) at OUT/<model>/<run id>/<task>/seed<N>.json, "
                    "per-query arrays beside it. Units whose record of the same identity exists "
                    "are skipped.",
        formatter_class=HelpFormatter, epilog=EPILOG)
    add_model_options(p)
    add_protocol_options(p)
    add_data_options(p)
    return p


def main(args: argparse.Namespace) -> int:
    from mcnbench.commands._common import parse_overrides, print_outcomes, run_spec
    from mcnbench.engine import ModelSpec, run

    model = ModelSpec(args.model, overrides=parse_overrides(args.overrides),
                      checkpoint=args.checkpoint, embeddings=args.embeddings)
    spec = run_spec(args, [model], train=False)
    print_outcomes(run(spec), spec.out)
    return 0
