"""The one run path of mcnbench: ``run``, ``eval``, ``ablate``, ``paper`` and the Python API all
go through it.

* :mod:`~mcnbench.engine.plan` — the :class:`RunSpec` of an invocation, building models, labels,
  planning units and deciding what is up to date;
* :mod:`~mcnbench.engine.checkpoints` — the cache of trained models and its file lock;
* :mod:`~mcnbench.engine.run` — executing a spec: train when needed, evaluate, write records;
* :mod:`~mcnbench.engine.api` — ``mcnbench.evaluate(model, tasks, ...)`` → DataFrame.
"""
from mcnbench.engine.api import evaluate, outcomes_frame
from mcnbench.engine.plan import ModelSpec, RunSpec, resolve_tasks
from mcnbench.engine.run import Outcome, run

__all__ = ["ModelSpec", "Outcome", "RunSpec", "evaluate", "outcomes_frame", "resolve_tasks", "run"]
