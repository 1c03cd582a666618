"""``mcnbench run``: train a model when it needs it, evaluate every task, print the table."""
from __future__ import annotations

import argparse

EPILOG = """\
examples:
  mcnbench run --model mcn --tasks all                   the embedded default synthetic world
  mcnbench run --model contrastive-only --seeds 3        three seeds, mean ± std in the table
  mcnbench run --model mcn --checkpoint e30.pth --tasks youcook2 --data-root /data/mcn --tie-rule legacy
  mcnbench run --model mcn --preset tiny --set epochs=1  a quick smoke run
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.cli import HelpFormatter
    from mcnbench.commands._common import add_run_options

    p = sub.add_parser(
        "run", help="train (if needed) and evaluate a model on tasks, print the comparison table",
        description="Train the model when it is trainable and no cached checkpoint exists (cache "
                    "key: model config, data fingerprint, seed), evaluate it on every task, write "
                    "one record per (model, task, seed) and print a table with MCN's published "
                    "numbers beside ours. A rerun skips finished units; a killed run resumes.",
        formatter_class=HelpFormatter, epilog=EPILOG)
    what = p.add_argument_group("model")
    what.add_argument("--model", required=True, metavar="NAME",
                      help="registered model or package.module:factory (mcnbench list models)")
    what.add_argument("--checkpoint", default=None, metavar="PATH",
                      help="evaluate these weights instead of training (released MCN format works)")
    what.add_argument("--embeddings", default=None, metavar="DIR",
                      help="folder of precomputed embeddings (model 'precomputed')")
    add_run_options(p)
    return p


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mcnbench.commands._common import parse_overrides, parse_seeds, parse_task_options, print_table
    from mcnbench.engine.pipeline import Variant, resolve_root, run_variants

    overrides = parse_overrides(args.overrides)
    root = resolve_root(args.data_root, args.preset, print)
    run_variants([Variant(args.model, args.model, overrides)], args.tasks,
                 seeds=parse_seeds(args.seeds), data_root=root, out=Path(args.out),
                 tie_rule=args.tie_rule, device=args.device, checkpoint=args.checkpoint,
                 embeddings=args.embeddings,
                 overwrite=args.overwrite, task_options=parse_task_options(args.task_option))
    print_table(args.out)
    return 0
