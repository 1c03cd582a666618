"""``mcnbench train``: train a trainable model (MCN or a baseline) on a HowTo100M-format corpus."""
from __future__ import annotations

import argparse
import sys

from mcnbench.data.synth.presets import PRESETS

EPILOG = """\
examples:
  mcnbench train --model mcn                                 the default synthetic world
  mcnbench train --model mcn --preset tiny --epochs 1        a smoke run
  mcnbench train --model mcn --data-root /data/mcn --out runs/mcn --device cuda
  mcnbench train --model mcn --set cluster_mode=none --set recon=false   contrastive only
  torchrun --nproc_per_node 2 -m mcnbench train --model mcn  DistributedDataParallel (docs/training.md)

A killed run continues from its last checkpoint when started again with the same --out.
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.commands._common import HelpFormatter

    p = sub.add_parser(
        "train", help="train a model on a HowTo100M-format corpus (resumable, torchrun-ready)",
        description="Train MCN (or a trainable baseline) on the corpus under the data root and "
                    "write model.pth, config.json, train_log.jsonl and a resumable checkpoint.pth "
                    "to --out. Under torchrun each process trains on its share of every global "
                    "batch (DistributedDataParallel) and computes the same loss as 1 process.",
        formatter_class=HelpFormatter, epilog=EPILOG)
    p.add_argument("--model", default="mcn", metavar="NAME",
                   help="registered trainable model or package.module:factory")
    p.add_argument("--data-root", default=None, metavar="DIR",
                   help="data root with howto100m/ and word2vec.bin (default: $MCNBENCH_DATA, "
                        "else the synthetic world of --preset)")
    p.add_argument("--preset", default="default", choices=tuple(PRESETS),
                   help="synthetic world used when no data root is given")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default: runs/<model>-seed<N>)")
    p.add_argument("--seed", type=int, default=0, help="seeds initialisation, data order, k-means")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="continue from --out/checkpoint.pth when present")
    p.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a network or training config value (repeatable), e.g. "
                        "--set lr=3e-4 --set cluster_mode=fused")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(args: argparse.Namespace) -> int:
    import json
    import os
    import time
    from pathlib import Path

    from mcnbench.commands._common import parse_overrides, preflight
    from mcnbench.data.errors import DataError
    from mcnbench.data.root import resolve
    from mcnbench.registry import get_model
    from mcnbench.zoo.context import ModelContext

    overrides = parse_overrides(args.overrides)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    rank = int(os.environ.get("RANK", "0"))
    say = print if rank == 0 else (lambda *a, **k: None)
    out = Path(args.out) if args.out else Path("runs") / f"{args.model}-seed{args.seed}"
    preflight(out, cache=args.data_root is None and not os.environ.get("MCNBENCH_DATA"))
    root = resolve(args.data_root, preset=args.preset, log=say)
    if not (root.path / "howto100m").is_dir():
        raise DataError(root.path, None, "no howto100m/ corpus in this data root (layout: docs/data.md)")
    ctx = ModelContext(root, device=args.device, seed=args.seed)
    model = get_model(args.model).obj(ctx, **overrides)
    if not getattr(model, "trainable", False):
        print(f"mcnbench train: error: model {args.model!r} is not trainable", file=sys.stderr)
        return 2
    say(f"training {args.model} on {root.path} -> {out}")
    say("config: " + json.dumps(model.config, sort_keys=True))
    t0 = time.perf_counter()
    path = model.fit(root.path, out, seed=args.seed, device=args.device, resume=args.resume,
                     progress=not args.no_progress)
    say(f"done in {time.perf_counter() - t0:.1f} s: {path}")
    return 0
