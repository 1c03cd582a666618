"""What the subcommands share: the help formatter, the run options, their parsers, the preflight
of output folders, and the console table."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

from mcnbench.data.synth.presets import PRESETS
from mcnbench.metrics.retrieval import TIE_RULES

DEFAULT_OUT = "results/latest"  # never the committed results/ folder (gitignored)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the epilog's line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:  # "(default: None)" says nothing; the help says what happens
            return action.help
        return super()._get_help_string(action)


def add_protocol_options(p: argparse.ArgumentParser) -> None:
    proto = p.add_argument_group("protocol")
    proto.add_argument("--tasks", default="all", metavar="all|A,B",
                       help="tasks to evaluate (mcnbench list tasks)")
    proto.add_argument("--tie-rule", default="mean", choices=TIE_RULES,
                       help="rank of a ground truth tied with other items; 'legacy' reproduces "
                            "the official compute_metrics")
    proto.add_argument("--task-option", action="append", default=[], metavar="TASK.KEY=VALUE",
                       help="set a task option (repeatable), e.g. crosstask.dp_input=raw; the value "
                            "is read as JSON when it parses, else as a string")


def add_data_options(p: argparse.ArgumentParser, *, preset: bool = True, out: str = DEFAULT_OUT,
                     overwrite: str = "re-evaluate units whose record of the same identity exists"
                     ) -> None:
    data = p.add_argument_group("data, seeds and output")
    data.add_argument("--data-root", default=None, metavar="DIR",
                      help="data root with real features (default: $MCNBENCH_DATA, else the "
                           "synthetic world of --preset)")
    if preset:
        data.add_argument("--preset", default="default", choices=tuple(PRESETS),
                          help="synthetic world used when no data root is given")
    seeds = data.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", default=None, metavar="N",
                       help="how many seeds: N runs with seeds 0..N-1 (default 1: seed 0)")
    seeds.add_argument("--seed-list", default=None, metavar="A,B,...",
                       help="exactly these seeds, e.g. --seed-list 5 or --seed-list 3,7")
    data.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    data.add_argument("--out", default=out, metavar="DIR",
                      help="results folder (records never overwrite one of another identity)")
    data.add_argument("--overwrite", action="store_true", help=overwrite)
    data.add_argument("--strict", action="store_true",
                      help="turn every data warning (dropped videos, empty captions, ...) into an error")


def add_model_options(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    what = p.add_argument_group("model")
    what.add_argument("--model", required=required, default=None if required else "mcn", metavar="NAME",
                      help="registered model or package.module:factory (mcnbench list models)")
    what.add_argument("--checkpoint", default=None, metavar="PATH",
                      help="evaluate these weights instead of training (released MCN format works)")
    what.add_argument("--embeddings", default=None, metavar="DIR",
                      help="folder of precomputed embeddings (model 'precomputed')")
    what.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                      help="override a model or training config value (repeatable), e.g. "
                           "--set epochs=2")


# ----------------------------------------------------------------------------- parsing

def parse_seeds(args: argparse.Namespace) -> list[int]:
    """``--seeds N`` → [0, ..., N-1]; ``--seed-list A,B`` → [A, B]; neither → [0]."""
    if getattr(args, "seed_list", None) is not None:
        return parse_seed_list(args.seed_list)
    text = "1" if getattr(args, "seeds", None) is None else str(args.seeds).strip()
    try:
        n = int(text)
    except ValueError:
        hint = (f"; for explicit seeds use --seed-list {text}" if "," in text else "")
        raise ValueError(f"--seeds {text!r}: expected a number of seeds (>= 1){hint}") from None
    if n < 1:
        raise ValueError(f"--seeds {n}: expected a number of seeds >= 1")
    return list(range(n))


def parse_seed_list(text: str, option: str = "--seed-list") -> list[int]:
    """``"3,7"`` → ``[3, 7]`` (in order, without repeats); ``option`` names the flag in errors."""
    parts = [s.strip() for s in str(text).split(",")]
    try:
        seeds = [int(s) for s in parts if s]
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected integers separated by commas, e.g. "
                         f"{option} 3,7") from None
    if not seeds or any(s < 0 for s in seeds):
        raise ValueError(f"{option} {text!r}: expected seeds >= 0, e.g. 3,7")
    return list(dict.fromkeys(seeds))


def parse_value(text: str):
    """A command-line value: JSON when it parses (``2``, ``false``, ``[1, 2]``), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_overrides(items: list[str], option: str = "--set") -> dict:
    """``["epochs=2", "cluster_mode=none"]`` → ``{"epochs": 2, "cluster_mode": "none"}``."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not (eq and key.strip()):
            raise ValueError(f"{option} {item!r}: expected KEY=VALUE")
        out[key.strip()] = parse_value(value)
    return out


def parse_task_options(items: list[str]) -> dict[str, dict]:
    """``["crosstask.dp_input=raw", ...]`` → ``{"crosstask": {"dp_input": "raw"}}``."""
    out: dict[str, dict] = {}
    for item in items:
        key, eq, value = item.partition("=")
        task, dot, option = key.partition(".")
        if not (eq and dot and task and option):
            raise ValueError(f"--task-option {item!r}: expected TASK.KEY=VALUE")
        out.setdefault(task, {})[option] = parse_value(value)
    return out


def command_line() -> str:
    return shlex.join(["mcnbench", *sys.argv[1:]])


# ----------------------------------------------------------------------------- preflight

def writable_folder(path: str | Path, what: str) -> Path:
    """Check, before any work, that ``path`` is a folder this process can write or can create:
    nothing on the way is a file, and a probe file can be made in it (or in its nearest existing
    parent, so that a failing command leaves no empty folder behind). Raises OSError naming the
    path otherwise (a read-only or full filesystem, a folder that is a file)."""
    path = Path(path).expanduser()
    existing = next(p for p in [path, *path.parents] if p.exists())
    if not existing.is_dir():
        raise NotADirectoryError(20, f"{what}: {'is' if existing == path else 'inside'} a file, "
                                     "not a folder", str(existing))
    fd, probe = tempfile.mkstemp(prefix=".mcnbench-write-test-", dir=existing)
    os.close(fd)
    os.unlink(probe)
    return path


def preflight(out: str | Path | None = None, *, cache: bool = True) -> None:
    """Check the output folder and the cache folder are writable, before any work."""
    from mcnbench.utils.paths import cache_dir

    if out is not None:
        writable_folder(out, "results folder (--out)")
    if cache:
        writable_folder(cache_dir(), "cache folder ($MCNBENCH_CACHE)")


def run_spec(args: argparse.Namespace, models: list, *, train: bool):
    """The :class:`~mcnbench.engine.RunSpec` of ``run``/``eval``/``ablate``: options parsed and the
    output and cache folders checked writable before any work."""
    from pathlib import Path

    from mcnbench.data.root import resolve
    from mcnbench.engine import RunSpec, resolve_tasks

    seeds, tasks = parse_seeds(args), resolve_tasks(args.tasks)
    task_options = parse_task_options(args.task_option)
    preflight(args.out, cache=True)
    root = resolve(args.data_root, preset=getattr(args, "preset", "default"))
    return RunSpec(models=models, tasks=tasks, seeds=seeds, data=root, out=Path(args.out),
                   tie_rule=args.tie_rule, task_options=task_options, device=args.device,
                   train=train, overwrite=args.overwrite, command=command_line())


# ----------------------------------------------------------------------------- output

def print_outcomes(outcomes, out: str | Path | None, *, reference: str | None = None,
                   log=print) -> None:
    """A compact main-score table of what this command produced (fits ~100 columns), and the full
    table written into ``out`` (its path printed)."""
    from mcnbench.report import build_table, load
    from mcnbench.report.tables import console_table, write_tables

    paths = sorted({str(o.path) for o in outcomes if o.path is not None})
    if not paths:
        return
    df = load(paths, allow_mixed_data=True)
    if df.empty:
        return
    log("")
    log(console_table(df, reference=reference))
    folder = Path(out) / "report"
    written = write_tables(df, folder, ("markdown",),
                           table=build_table(df, None, reference))
    log(f"full table (every headline metric): {written[0]}")
