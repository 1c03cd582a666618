"""Plan a run: what to build, train and evaluate, and what is already up to date.

A :class:`RunSpec` says everything about one invocation (``run``, ``eval``, ``ablate``, ``paper``
or the Python API): which models (:class:`ModelSpec`, a registry name or a model object with
overrides, checkpoint, embeddings), which tasks and seeds, the data root, the protocol (tie rule,
task options) and where records go. :func:`plan_units` turns one built model × the tasks × one
seed into :class:`Unit`\\ s: the record each would write (identity, label, path) and whether a
record of that identity is already on disk.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcnbench.data.root import DataRoot
from mcnbench.records import ResultRecord, path_of, read_record, safe_name

TIE_RULE_DEFAULT = "mean"


@dataclass
class ModelSpec:
    """One model configuration to evaluate (and train, when it is trainable).

    model:      a registry name, ``package.module:factory``, or a model object (Python API)
    name:       the records' model name (default: the registry name / the object's ``name``);
                an ablation variant is ``mcn+no-cluster``
    overrides:  config overrides passed to the factory (``--set``)
    checkpoint: weights to load instead of training
    embeddings: a folder of precomputed embeddings (model ``precomputed``)
    variant:    the ablation flag this variant stands for (in the records), or None
    label_overrides: the overrides the label shows (default: all; an ablation variant's name
                already says what its own overrides change)
    """

    model: Any
    name: str | None = None
    overrides: dict = field(default_factory=dict)
    checkpoint: Path | None = None
    embeddings: Path | None = None
    variant: str | None = None
    label_overrides: dict | None = None

    def __post_init__(self) -> None:
        if self.name is None:
            self.name = (self.model if isinstance(self.model, str)
                         else getattr(self.model, "name", None) or type(self.model).__name__)
        for key in ("checkpoint", "embeddings"):
            value = getattr(self, key)
            if value is not None:
                setattr(self, key, Path(value).expanduser())


@dataclass
class RunSpec:
    """One invocation of the engine.

    models:       the model configurations, in order
    tasks:        task names (resolved against the registry)
    seeds:        seeds to run each model with
    data:         the data root
    out:          results folder, or None to keep records in memory only (Python API)
    tie_rule:     rank rule for tied similarities (records keep it)
    task_options: {task: {option: value}}
    device:       "cpu" | "cuda"
    train:        train trainable models without a checkpoint (``eval`` passes False)
    overwrite:    re-evaluate units whose record of the same identity exists
    command:      the command line, for the records' provenance
    """

    models: list[ModelSpec]
    tasks: list[str]
    seeds: list[int]
    data: DataRoot
    out: Path | None = None
    tie_rule: str = TIE_RULE_DEFAULT
    task_options: dict[str, dict] = field(default_factory=dict)
    device: str = "cpu"
    train: bool = True
    overwrite: bool = False
    command: str | None = None


@dataclass
class Unit:
    """One (model, run id, task, seed): the planned record (no metrics yet) and its status."""

    task: Any
    record: ResultRecord
    path: Path | None
    up_to_date: ResultRecord | None = None  # the existing record of this identity, if any


# ----------------------------------------------------------------------------- tasks

def resolve_tasks(tasks: str | list[str]) -> list[str]:
    """``"all"``, ``"a,b"`` or a list → registered task names, in order, without duplicates.
    An empty selection (``""``, ``","``) or an unknown name raises ValueError/RegistryError."""
    from mcnbench.registry import TASKS

    names = tasks.split(",") if isinstance(tasks, str) else list(tasks)
    names = [n.strip() for n in names if n and n.strip()]
    if not names:
        raise ValueError(f"--tasks {tasks!r} names no task; give 'all' or a comma-separated list "
                         f"of: {', '.join(TASKS.names())}")
    if names == ["all"]:
        return TASKS.names()
    for n in names:
        TASKS.get(n)  # raises RegistryError with close matches
    return list(dict.fromkeys(names))


def make_task(name: str):
    """The registered task ``name`` as an object (classes are instantiated)."""
    from mcnbench.registry import get_task

    obj = get_task(name).obj
    return obj() if isinstance(obj, type) else obj


def check_task_options(tasks: list, task_options: dict[str, dict]) -> dict[str, dict]:
    """Every task's options merged with its defaults; unknown tasks/options raise ValueError
    before anything runs."""
    unknown = sorted(set(task_options) - {t.name for t in tasks})
    if unknown:
        raise ValueError(f"options given for task(s) {unknown} that are not evaluated")
    return {t.name: t.options(**task_options.get(t.name, {})) for t in tasks}


def task_data_files(task, root: DataRoot) -> list[Path]:
    """What a task reads under ``root``: its own files and the vocabulary every model uses."""
    defining, bulk = task.data_files(root.path)
    return [*defining, *bulk, root.path / "word2vec.bin"]


# ----------------------------------------------------------------------------- models

def build_model(spec: ModelSpec, root: DataRoot, *, seed: int, device: str) -> tuple[Any, dict]:
    """(model, the record's ``model`` entry) for one :class:`ModelSpec` and seed.

    A registry name goes through its factory with a :class:`~mcnbench.zoo.context.ModelContext`;
    a model object is used as it is (its ``name``, ``version`` and ``config`` attributes, when it
    has them, go into the entry; give it a ``config`` so two configurations stay apart).
    """
    from mcnbench.data.errors import DataError

    if spec.checkpoint is not None and not spec.checkpoint.is_file():
        raise DataError(spec.checkpoint, None, "checkpoint file not found")
    if isinstance(spec.model, str):
        from mcnbench.registry import get_model
        from mcnbench.zoo.context import ModelContext

        entry = get_model(spec.model)
        ctx = ModelContext(root, device=device, seed=seed, checkpoint=spec.checkpoint,
                           embeddings=spec.embeddings)
        try:
            model = entry.obj(ctx, **spec.overrides)
        except TypeError as err:  # an option the factory does not take (`--set epoch=2`)
            if not spec.overrides:
                raise
            raise ValueError(f"{spec.model}: {err}") from err
        source, version = entry.source, entry.version
    else:
        model, version = spec.model, str(getattr(spec.model, "version", "0"))
        source = f"object {type(model).__module__}.{type(model).__qualname__}"
    # options the model took but that cannot change it (``random --set epochs=12``) are not its
    # overrides: neither the records nor the label claim them
    ignored = set(getattr(model, "ignored_overrides", ()))
    m = {"name": spec.name, "version": version, "source": source,
         "config": dict(getattr(model, "config", None) or {}),
         "overrides": {k: v for k, v in spec.overrides.items() if k not in ignored},
         "checkpoint": None}
    if spec.variant:
        m["variant"] = spec.variant
    if spec.checkpoint is not None:
        from mcnbench.utils.io import sha256_file

        m["checkpoint"] = {"path": str(spec.checkpoint.resolve()),
                           "sha256": sha256_file(spec.checkpoint)}
    return model, m


def is_trainable(model: Any) -> bool:
    return bool(getattr(model, "trainable", False)) and callable(getattr(model, "fit", None))


# ----------------------------------------------------------------------------- labels

def run_label(spec: ModelSpec, task, options: dict, tie_rule: str, used: dict | None = None) -> str:
    """A human name for a run: the model name and what differs from its defaults
    (``mcn n_clusters=4``, ``mcn ckpt=e30.pth``, ``mcn tie=legacy``, ``mcn dp_input=raw``).
    ``used``: the overrides the built model kept (its entry's), when it dropped some."""
    parts = [str(spec.name)]
    shown = spec.overrides if spec.label_overrides is None else spec.label_overrides
    if used is not None:
        shown = {k: v for k, v in shown.items() if k in used}
    parts += [f"{k}={_short(v)}" for k, v in sorted(shown.items())]
    if spec.checkpoint is not None:
        parts.append(f"ckpt={spec.checkpoint.name}")
    if spec.embeddings is not None and spec.name == spec.model:  # a chosen name says it already
        parts.append(f"emb={spec.embeddings.name}")
    parts += [f"{k}={_short(v)}" for k, v in sorted(options.items())
              if task.defaults.get(k) != v]
    if tie_rule != TIE_RULE_DEFAULT:
        parts.append(f"tie={tie_rule}")
    return " ".join(parts)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


# ----------------------------------------------------------------------------- units

def plan_units(spec: RunSpec, mspec: ModelSpec, entry: dict, tasks: list, options: dict[str, dict],
               data: dict[str, dict], seed: int) -> list[Unit]:
    """The units of one model and seed over ``tasks``: each planned record (identity, label,
    provenance; no metrics yet), its path under ``spec.out`` and the record of the same identity
    already there, if any (unreadable or different files are never treated as up to date)."""
    units = []
    for task in tasks:
        record = ResultRecord(
            model=dict(entry), task={"name": task.name, "version": task.version,
                                     "options": options[task.name]},
            seed=seed, data=data[task.name], metrics={}, main_score=task.main_score,
            tie_rule=spec.tie_rule, label=run_label(mspec, task, options[task.name], spec.tie_rule,
                                                    entry.get("overrides")),
            provenance={"command": spec.command, "device": spec.device, "cwd": str(Path.cwd())})
        path = None if spec.out is None else path_of(record, spec.out)
        unit = Unit(task, record, path)
        if path is not None and path.exists() and not spec.overwrite:
            try:
                old = read_record(path)
            except (OSError, ValueError):
                old = None  # replaced below, and said so by the runner
            if old is not None and old.run_id == record.run_id and old.seed == seed:
                unit.up_to_date = old
        units.append(unit)
    return units


def model_dir(out: Path, name: str) -> Path:
    return Path(out) / safe_name(name)


def build_registered(name: str, data_root, *, device: str = "cpu", seed: int = 0,
                     checkpoint=None, embeddings=None, **overrides: Any) -> tuple[Any, dict]:
    """A registered model by name on ``data_root`` (a path or DataRoot): (model, record entry).
    The one-call form of :func:`build_model` for tools that embed outside a run (search, views)."""
    root = data_root if isinstance(data_root, DataRoot) else DataRoot(Path(data_root))
    return build_model(ModelSpec(name, overrides=overrides, checkpoint=checkpoint,
                                 embeddings=embeddings), root, seed=seed, device=device)
