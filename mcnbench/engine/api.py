"""The Python API: ``mcnbench.evaluate(model, tasks)`` → a pandas DataFrame, through the engine."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mcnbench.engine.plan import ModelSpec, RunSpec, resolve_tasks
from mcnbench.engine.run import Outcome, run


def evaluate(model: Any, tasks: str | list[str] = "all", *, data_root: str | Path | None = None,
             seeds: int | list[int] = 1, out: str | Path | None = None, tie_rule: str = "mean",
             task_options: dict[str, dict] | None = None, device: str = "cpu",
             train: bool = False, overwrite: bool = False, verbose: bool = False) -> Any:
    """Evaluate ``model`` zero-shot on ``tasks`` with the same engine as ``mcnbench run``.

    model:        an object with ``embed(batch) -> {modality: [N, D]}`` (the protocol of
                  docs/adding_a_model.md; optional ``name``, ``version``, ``config``) or a
                  registered model name (``"random"``, ``"mcn"``, ``"pkg.mod:factory"``)
    tasks:        ``"all"``, ``"youcook2,msrvtt"`` or a list of task names
    data_root:    a data root folder; default ``$MCNBENCH_DATA``, else the default synthetic world
    seeds:        a count (``3`` → seeds 0, 1, 2) or a list of seeds
    out:          a results folder to write the records into (skipping what is up to date), or
                  None to keep everything in memory
    train:        train a trainable registered model first (as ``mcnbench run``); default False
                  evaluates it as it is

    Returns one row per (model, run id, task, seed): columns ``model``, ``label``, ``run_id``,
    ``task``, ``seed``, ``main_score`` (its name), ``path`` (None without ``out``) and one column
    per metric (NaN where a task does not have it).
    """
    import pandas as pd

    from mcnbench.data.root import resolve

    log = (lambda msg: print(msg, file=sys.stderr)) if verbose else (lambda msg: None)
    seed_list = list(range(int(seeds))) if isinstance(seeds, int) else [int(s) for s in seeds]
    spec = RunSpec(models=[ModelSpec(model)], tasks=resolve_tasks(tasks), seeds=seed_list,
                   data=resolve(data_root, log=log), out=None if out is None else Path(out),
                   tie_rule=tie_rule, task_options=dict(task_options or {}), device=device,
                   train=train, overwrite=overwrite, command="mcnbench.evaluate(...)")
    return outcomes_frame(run(spec, log=log), pd)


def outcomes_frame(outcomes: list[Outcome], pd=None) -> Any:
    """One row per outcome (see :func:`evaluate`)."""
    if pd is None:
        import pandas as pd
    rows = [{"model": o.record.model["name"], "label": o.record.label, "run_id": o.record.run_id,
             "task": o.record.task["name"], "seed": o.record.seed,
             "main_score": o.record.main_score, "path": None if o.path is None else str(o.path),
             **o.record.metrics} for o in outcomes]
    return pd.DataFrame(rows)
