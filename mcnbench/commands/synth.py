"""``mcnbench synth``: write the synthetic world to a folder, or check a data root."""
from __future__ import annotations

import argparse
import json
import sys

from mcnbench.data.synth.presets import PRESETS

EPILOG = """\
examples:
  mcnbench synth --preset tiny --seed 0 --out /tmp/world        a test-sized world (seconds)
  mcnbench synth --out data/synth --set corpus_videos=800 --set p_aligned=0.8 \\
      --set p_neighbour=0.1 --set p_unrelated=0.1                 change knobs of the preset
  mcnbench synth --cache                                      the cached default world (as 'run' uses)
  mcnbench synth --check /data/mcn                            run the loaders on a (real) data root
  mcnbench synth --check /tmp/world --json                    the report as JSON

Knobs and the generative model: docs/synthetic.md. Exit status of --check: 0 ok, 1 errors.
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.commands._common import HelpFormatter

    p = sub.add_parser(
        "synth", help="generate the synthetic world, or check a data root",
        description="Write a complete data root (HowTo100M-format corpus, YouCook2, MSR-VTT, "
                    "CrossTask and Mining YouTube twins, word2vec vocabulary, oracle embeddings, "
                    "manifest.json) generated from a documented latent-concept model, or check "
                    "that the loaders read a data root (synthetic or real).",
        epilog=EPILOG, formatter_class=HelpFormatter)
    p.add_argument("--preset", choices=tuple(PRESETS), default="default",
                   help="sizes: tiny (tests), default (the demo), comparison (the committed "
                        "comparison: 4x corpus, larger test sets), paper (the paper's shapes)")
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--out", metavar="DIR", help="write the world to DIR")
    mode.add_argument("--check", metavar="DIR", help="check the data root DIR and exit")
    mode.add_argument("--cache", action="store_true",
                      help="make sure the cached world of --preset/--seed exists; print its path")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out DIR")
    p.add_argument("--set", metavar="KNOB=VALUE", action="append", default=[],
                   help="override one knob of the preset (repeatable; VALUE is JSON or a string)")
    p.add_argument("--sample", type=int, default=50,
                   help="--check on a real root: videos per dataset whose files are read (0: all)")
    p.add_argument("--json", action="store_true", help="--check: print the report as JSON")
    return p


def _overrides(items: list[str]) -> dict:
    from mcnbench.commands._common import parse_value

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"mcnbench synth: error: --set needs KNOB=VALUE, got {item!r}")
        out[key.strip()] = parse_value(value)
    return out


def main(args: argparse.Namespace) -> int:
    import time

    from mcnbench.data.manifest import MANIFEST, read_manifest
    from mcnbench.data.synth import ensure_world, generate
    from mcnbench.data.synth.check import check_root

    if args.check:
        report = check_root(args.check, sample=args.sample or None)
        print(json.dumps(report.as_dict(), indent=2) if args.json else report.format())
        return 0 if report.ok else 1
    if args.cache:
        print(ensure_world(args.preset, args.seed))
        return 0
    t0 = time.perf_counter()
    try:
        out = generate(args.out, args.preset, args.seed, overwrite=args.force,
                       **_overrides(args.set))
    except (FileExistsError, TypeError, ValueError) as exc:
        print(f"mcnbench synth: error: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - t0
    manifest = read_manifest(out / MANIFEST)
    print(f"wrote the {args.preset} synthetic world (seed {args.seed}) to {out}: "
          f"{len(manifest['files'])} files, {manifest['total_bytes'] / 1e6:.1f} MB in "
          f"{seconds:.1f} s")
    return 0
