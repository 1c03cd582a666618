"""``mcnbench run``: train a model when it needs it, evaluate every task, print the table."""
from __future__ import annotations

import argparse

EPILOG = """\
examples:
  mcnbench run --model mcn --tasks all                   the embedded default synthetic world
  mcnbench run --model contrastive-only --seeds 3        three seeds (0, 1, 2), mean ± std
  mcnbench run --model mcn --seed-list 5,7               exactly seeds 5 and 7
  mcnbench run --model mcn --checkpoint e30.pth --tasks youcook2 --data-root /data/mcn --tie-rule legacy
  mcnbench run --model mcn --preset tiny --set epochs=1  a quick smoke run
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.commands._common import (
        HelpFormatter,
        add_data_options,
        add_model_options,
        add_protocol_options,
    )

    p = sub.add_parser(
        "run", help="train (if needed) and evaluate a model on tasks, print the comparison table",
        description="Train the model when it is trainable and no cached checkpoint exists (cache "
                    "key: model config, training data, seed), evaluate it on every task, write one "
                    "record per (model, run id, task, seed) under OUT/<model>/<run id>/<task>/ and "
                    "print the main scores with MCN's published numbers beside them. A rerun skips "
                    "units whose record of the same identity exists; a killed run resumes.",
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
    spec = run_spec(args, [model], train=True)
    outcomes = run(spec)
    print_outcomes(outcomes, spec.out)
    note = demo_note(outcomes, spec.data)
    if note:
        print(note)
    return 0


def demo_note(outcomes, data) -> str:
    """A plain line after a run whose model the harness trained (its records name a cached
    checkpoint) on the default world with the preset's epochs (no override): it is not the
    committed comparison, and where that is. ``data``: the run's DataRoot."""
    def demo(rec) -> bool:
        model = rec.model or {}
        return bool((model.get("checkpoint") or {}).get("cached")
                    and (rec.data or {}).get("preset") == "default"
                    and "epochs" not in (model.get("overrides") or {}))

    if not any(demo(o.record) for o in outcomes):
        return ""
    epochs = data.hints.get("train", {}).get("epochs")
    return (f"note: this is the default world's short demo training ({epochs} epochs, a few minutes "
            "on 2 cores), not a comparison to rank methods by: the committed one (5 seeds, longer "
            "training, a validation monitor, significance) is results/default, made as "
            "results/README.md says.")
