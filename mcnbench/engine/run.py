"""Execute a :class:`~mcnbench.engine.plan.RunSpec`: build, train when needed, evaluate, write.

For every (model, seed): build the model; plan its units (:func:`~mcnbench.engine.plan.plan_units`);
skip the ones whose record of the same identity exists (and, when all are, do not even train);
otherwise train a trainable model without a checkpoint through the cache
(:mod:`mcnbench.engine.checkpoints`), then evaluate each remaining task and write its record.
A killed run resumes: training continues from its last checkpoint, finished records are kept.
Two runs into one folder lose nothing: records of different identity have different paths and
are written atomically, and training of one cache entry is serialised by a file lock.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcnbench.engine.checkpoints import checkpoint_dir, ensure_trained, keep_train_log
from mcnbench.engine.plan import (
    RunSpec,
    Unit,
    build_model,
    check_task_options,
    is_trainable,
    make_task,
    model_dir,
    plan_units,
    task_data_files,
)
from mcnbench.records import ResultRecord, write_record

Log = Callable[[str], None]


@dataclass
class Outcome:
    """One unit after the run: its record, where it is (None without ``out``), whether it was
    skipped as up to date, and its per-query arrays (empty when skipped)."""

    record: ResultRecord
    path: Path | None
    skipped: bool = False
    per_query: dict[str, np.ndarray] = field(default_factory=dict)


def run(spec: RunSpec, *, log: Log = print) -> list[Outcome]:
    """Run every model × seed × task of ``spec``; one :class:`Outcome` per unit, in order."""
    from mcnbench.metrics.retrieval import TIE_RULES

    if spec.tie_rule not in TIE_RULES:
        raise ValueError(f"tie rule must be one of {TIE_RULES}, got {spec.tie_rule!r}")
    if not spec.seeds:
        raise ValueError("no seeds to run")
    tasks = [make_task(n) for n in spec.tasks]
    options = check_task_options(tasks, spec.task_options)  # bad options fail before any work
    root = spec.data
    data: dict[str, dict] = {}  # fingerprints, once the first model is built (bad overrides first)
    outcomes: list[Outcome] = []
    for mspec in spec.models:
        for seed in spec.seeds:
            log(f"== {mspec.name} seed {seed}")
            model, entry = build_model(mspec, root, seed=seed, device=spec.device)
            train = spec.train and is_trainable(model) and mspec.checkpoint is None
            if is_trainable(model) and mspec.checkpoint is None and not spec.train:
                log(f"  note: {mspec.name} is trainable and no checkpoint was given: evaluating its "
                    "untrained weights (`mcnbench run` trains first)")
            if train:
                corpus = root.corpus_entry()["fingerprint"]
                folder = checkpoint_dir(entry, corpus, seed)
                entry["checkpoint"] = {"path": str(folder / "model.pth"), "cached": True,
                                       "train_data": corpus, "key": folder.name.split("-", 1)[1]}
            if not data:
                data = {t.name: root.record_entry(task_data_files(t, root)) for t in tasks}
            units = plan_units(spec, mspec, entry, tasks, options, data, seed)
            todo = [u for u in units if u.up_to_date is None]
            for u in units:
                if u.up_to_date is not None:
                    log(f"  {u.task.name}: up to date, skipped ({_headline(u.up_to_date)}) {u.path}")
                    outcomes.append(Outcome(u.up_to_date, u.path, skipped=True))
            if not todo:
                continue
            train_s = None
            if train:
                ckpt, spent = ensure_trained(model, entry, data_root=root.path, train_data=corpus,
                                             seed=seed, device=spec.device, log=log)
                model.load(ckpt)
                train_s = round(spent, 1)
                if spec.out is not None:  # <out>/<model>/train/<cache key>/seed<k>/train_log.jsonl
                    keep_train_log(ckpt.parent, model_dir(spec.out, mspec.name) / "train"
                                   / entry["checkpoint"]["key"] / f"seed{seed}")
            for i, unit in enumerate(todo, 1):
                log(f"[{i}/{len(todo)}] {unit.task.name}")
                outcomes.append(_evaluate(unit, model, spec, train_s, log))
    return outcomes


def _evaluate(unit: Unit, model, spec: RunSpec, train_s: float | None, log: Log) -> Outcome:
    from mcnbench.utils.seed import seed_everything

    record, task = unit.record, unit.task
    if unit.path is not None and unit.path.exists():
        log(f"  {task.name}: {'re-evaluating' if spec.overwrite else 'replacing unreadable'} "
            f"{unit.path}")
    seed_everything(record.seed)
    t0 = time.perf_counter()
    result = task.evaluate(model, spec.data.path, tie_rule=spec.tie_rule, **record.task["options"])
    record.timings = {"train_s": train_s, "eval_s": round(time.perf_counter() - t0, 3)}
    record.metrics = {k: float(v) for k, v in result.metrics.items()}
    record.info = dict(result.info)
    per_query = {k: np.asarray(v) for k, v in result.per_query.items()}
    path = None if spec.out is None else write_record(record, spec.out, per_query)
    log(f"  {task.name}: {_headline(record)} in {record.timings['eval_s']:.1f} s"
        + (f" -> {path}" if path else ""))
    return Outcome(record, path, per_query=per_query)


def _headline(record: ResultRecord) -> str:
    shown = [record.main_score] + [k for k in record.metrics if k != record.main_score
                                   and "/" not in k][:4]
    return ", ".join(f"{k} {record.metrics[k]:.2f}" for k in shown if k in record.metrics)
