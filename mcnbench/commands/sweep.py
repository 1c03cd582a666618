"""``mcnbench sweep``: choose a hyper-parameter (the learning rate) per model on the validation
monitor, the same grid and budget for every model, no test task read."""
from __future__ import annotations

import argparse

EPILOG = """\
examples:
  mcnbench sweep --model mcn,nce,mil-nce --grid lr=1e-3,3e-3,1e-2 --set epochs=12 \\
      --set val_fraction=0.1 --set val_every=22
  mcnbench sweep --model mcn --grid lr=1e-3,3e-3 --preset tiny --set epochs=1 \\
      --set val_fraction=0.2 --set val_every=1

Every cell trains through the checkpoint cache: a later `mcnbench run --model M --set lr=CHOSEN`
with the same --set options reuses the sweep's checkpoint (seed 0) and trains only the other seeds.
Each cell's train_log.jsonl is kept in --out with its cache key: the same command on a machine
without the cache (or after an interruption) trains only the cells --out does not hold yet.
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.commands._common import HelpFormatter, add_data_options

    p = sub.add_parser(
        "sweep", help="choose a hyper-parameter (lr) per model on the validation monitor",
        formatter_class=HelpFormatter, epilog=EPILOG,
        description="Train each model once per value of one config key (and seed), score each run "
                    "by its validation monitor (held-out corpus videos) averaged over the last "
                    "--tail of its steps, and choose per model the value with the best mean over "
                    "seeds. Writes sweep.json (identity, runs, choice), sweep.csv, sweep.md and "
                    "sweep.png to --out. Test tasks are never evaluated.")
    p.add_argument("--model", required=True, metavar="A,B",
                   help="trainable registered models, comma-separated")
    p.add_argument("--grid", required=True, metavar="KEY=V,V,...",
                   help="the config key swept and its values, e.g. lr=1e-3,3e-3,1e-2")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config value of every cell (repeatable); the monitor needs "
                        "--set val_fraction=0.1 --set val_every=22")
    p.add_argument("--monitor", default=None,
                   help="the logged validation key scored (default: val_video_R@10, text · video, "
                        "the same score for every model; val_R@10: each model's own clip score)")
    p.add_argument("--tail", type=float, default=0.2,
                   help="fraction of the last steps whose monitor values are averaged")
    p.add_argument("--promote", type=int, default=0, metavar="N",
                   help="successive halving: train each model's N best values of the first "
                        "round again with --promote-seeds and choose among them (0: off)")
    p.add_argument("--promote-seeds", default="", metavar="A,B,...",
                   help="the seeds of the promotion round, e.g. 1")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="train N cells of a round side by side in worker processes of cores/N "
                        "threads each (docs/training.md: when it pays)")
    add_data_options(p, out="results/sweep",
                     overwrite="replace a sweep of another identity in --out")
    return p


def parse_grid(text: str) -> tuple[str, list]:
    """``"lr=1e-3,3e-3"`` → ``("lr", [0.001, 0.003])`` (each value read as JSON when it parses)."""
    from mcnbench.commands._common import parse_value

    key, eq, values = text.partition("=")
    items = [parse_value(v.strip()) for v in values.split(",") if v.strip()]
    if not (eq and key.strip() and items):
        raise ValueError(f"--grid {text!r}: expected KEY=V,V,..., e.g. lr=1e-3,3e-3,1e-2")
    return key.strip(), items


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pandas as pd

    from mcnbench.commands._common import (
        command_line,
        parse_overrides,
        parse_seed_list,
        parse_seeds,
        preflight,
    )
    from mcnbench.data.root import resolve
    from mcnbench.engine.sweep import DEFAULT_MONITOR, SweepSpec, check_folder, choose, sweep, write_sweep
    from mcnbench.report.plots import plot_sweep
    from mcnbench.training.state import read_log

    key, values = parse_grid(args.grid)
    models = [m.strip() for m in args.model.split(",") if m.strip()]
    promote_seeds = (parse_seed_list(args.promote_seeds, "--promote-seeds")
                     if args.promote_seeds else [])
    preflight(args.out, cache=True)
    monitor = args.monitor or DEFAULT_MONITOR
    spec = SweepSpec(models=models, key=key, values=values, seeds=parse_seeds(args),
                     data=resolve(args.data_root, preset=args.preset),
                     base=parse_overrides(args.overrides), monitor=monitor, tail=args.tail,
                     promote=args.promote, promote_seeds=promote_seeds, device=args.device,
                     jobs=args.jobs)
    out = Path(args.out)
    if not args.overwrite:
        check_folder(spec, out)  # before any training
    rows = sweep(spec, out=out)
    chosen = choose(rows, values)
    written = write_sweep(spec, rows, chosen, out, command=command_line(), overwrite=True)
    logs = pd.concat([pd.DataFrame(read_log(out / r["log"])).assign(
        model=r["model"], setting=f"{key}={r['value']}", log=r["log"]) for r in rows],
        ignore_index=True)
    figure = plot_sweep(logs, {m: f"{key}={c['value']}" for m, c in chosen.items()},
                        monitor, out / "sweep.png", tail=args.tail)
    print("")
    print((out / "sweep.md").read_text(encoding="utf-8"))
    for name, c in chosen.items():
        print(f"{name}: {key}={c['value']} ({monitor} {c['mean']:.2f} over the last "
              f"{args.tail:.0%}, {c['n']} seed(s))" + (" — at the edge of the grid" if c["edge"] else ""))
    print("written: " + ", ".join(str(p) for p in [*written, *([figure] if figure else [])]))
    return 0
