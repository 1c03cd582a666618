"""Options shared by ``run``, ``ablate`` (and their parsing helpers)."""
from __future__ import annotations

import argparse
import json

from mcnbench.metrics.retrieval import TIE_RULES  # noqa: F401  (re-exported for the parsers)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Data, protocol and output options common to the commands that train and evaluate."""
    proto = p.add_argument_group("protocol")
    proto.add_argument("--tasks", default="all", metavar="all|A,B",
                       help="tasks to evaluate (mcnbench list tasks)")
    proto.add_argument("--tie-rule", default="mean", choices=TIE_RULES,
                       help="rank of a ground truth tied with other items; 'legacy' reproduces "
                            "the official compute_metrics")
    proto.add_argument("--task-option", action="append", default=[], metavar="TASK.KEY=VALUE",
                       help="set a task option (repeatable), e.g. crosstask.dp_input=raw")
    data = p.add_argument_group("data and output")
    data.add_argument("--data-root", default=None, metavar="DIR",
                      help="data root with real features (default: $MCNBENCH_DATA, else the "
                           "synthetic world of --preset)")
    data.add_argument("--preset", default="default", choices=("tiny", "default", "paper"),
                      help="synthetic world used when no data root is given")
    data.add_argument("--seeds", default="1", metavar="N|A,B",
                      help="number of seeds (0..N-1) or an explicit comma-separated list")
    data.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    data.add_argument("--out", default="results/latest", metavar="DIR", help="results folder")
    data.add_argument("--overwrite", action="store_true",
                      help="re-evaluate units whose record is up to date")
    data.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                      help="override a model or training config value (repeatable), e.g. "
                           "--set epochs=2")


def parse_seeds(text: str) -> list[int]:
    """``"3"`` → [0, 1, 2]; ``"1,5"`` → [1, 5]."""
    text = str(text).strip()
    if "," in text:
        return [int(s) for s in text.split(",") if s.strip()]
    n = int(text)
    if n < 1:
        raise ValueError(f"--seeds must be >= 1, got {n}")
    return list(range(n))


def parse_value(text: str):
    """A command-line value: JSON when it parses (``2``, ``false``, ``[1, 2]``), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_overrides(items: list[str]) -> dict:
    """``["epochs=2", "cluster_mode=none"]`` → ``{"epochs": 2, "cluster_mode": "none"}``."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not (eq and key):
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
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


def print_table(out, log=print, reference_model: str | None = None) -> None:
    """The comparison table of everything in ``out`` (published numbers beside ours)."""
    from mcnbench.report import comparison_table, load

    df = load([out])
    if df.empty:
        log("no results to tabulate")
        return
    log("")
    log(comparison_table(df, metrics="main" if reference_model else None, fmt="markdown",
                         reference_model=reference_model))
