"""Choose a hyper-parameter on the validation monitor: train a grid, score each held-out curve.

A :class:`SweepSpec` names the models, one config key and its values, the seeds, the overrides
every cell shares and the data root. :func:`sweep` trains every (model, value, seed) through the
checkpoint cache (:mod:`mcnbench.engine.checkpoints`: a cell ``run`` trained already is reused, and
a later ``run --set KEY=CHOSEN`` with the same overrides trains nothing) and reads the run's
``train_log.jsonl``, which it keeps in its output folder with the cache entry's key: a sweep
interrupted, or moved to a machine without the cache, resumes from that folder and trains only
the cells it lacks. ``jobs`` trains a round's cells side by side in worker processes. A run's
score is the mean of the monitor (default :data:`DEFAULT_MONITOR`,
caption→clip R@10 on held-out corpus videos by text · video, the same score for every model)
over the last ``tail`` of its steps, the window of the report's plateau test and steadier than
the last point alone. :func:`choose`
takes, per model, the value with the best mean score over seeds. No test task is read: a value
chosen on a test set would be tuned on it.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mcnbench.data.root import DataRoot
from mcnbench.engine.checkpoints import (
    MODEL_FILE,
    checkpoint_dir,
    ensure_trained,
    keep_train_log,
    kept_run,
)
from mcnbench.engine.plan import ModelSpec, build_model, is_trainable
from mcnbench.metrics.curves import TAIL, tail_mean
from mcnbench.records import safe_name
from mcnbench.training.state import read_log
from mcnbench.utils.io import stable_hash

Log = Callable[[str], None]
# text · video, not the model's own t · (v + a): on held-out *corpus* clips the caption is the
# audio's own narration, so the own score rewards a speech-to-words match that the test tasks do
# not (on the default world it chose a learning rate, and kept rising over a training length,
# that were worse on every test task: results/README.md, results/studies/training-length/)
DEFAULT_MONITOR = "val_video_R@10"


class SweepWarning(UserWarning):
    """The sweep's choice is at the edge of its grid: a value beyond it may be better."""


@dataclass
class SweepSpec:
    """One sweep.

    models:  registered trainable model names
    key:     the config key swept (``lr``)
    values:  its values, in grid order (numbers are ranked by value for the edge check)
    seeds:   training seeds of every cell
    data:    the data root (its corpus trains every cell; held-out videos score it)
    base:    overrides every cell shares (``{"epochs": 12, "val_fraction": 0.1}``)
    monitor: the log key scored; ``tail``: the fraction of the last steps averaged
    promote, promote_seeds: successive halving — after the first round, each model's
                ``promote`` best values train again with ``promote_seeds``, and the choice is
                among them by the mean over all their seeds (one seed's noise, e.g. a seed that
                trains badly, cannot pick the value alone); 0: one round
    jobs:    cells of a round trained side by side, each process on cores/jobs threads (CPU;
             not part of the identity: where and how fast a cell trains does not change it)
    """

    models: list[str]
    key: str
    values: list
    seeds: list[int]
    data: DataRoot
    base: dict = field(default_factory=dict)
    monitor: str = DEFAULT_MONITOR
    tail: float = TAIL
    promote: int = 0
    promote_seeds: list[int] = field(default_factory=list)
    device: str = "cpu"
    jobs: int = 1

    def __post_init__(self) -> None:
        if not self.models or not self.values or not self.seeds:
            raise ValueError("a sweep needs at least one model, one value and one seed")
        if bool(self.promote) != bool(self.promote_seeds) or self.promote < 0:
            raise ValueError("--promote N and --promote-seeds go together (N >= 1)")
        if set(self.promote_seeds) & set(self.seeds):
            raise ValueError("--promote-seeds must be seeds the first round did not train")
        if self.key in self.base:
            raise ValueError(f"{self.key} is swept: do not also --set it")
        if len({stable_hash(v) for v in self.values}) < len(self.values):
            raise ValueError(f"--grid {self.key}: a value is given twice")
        if not 0 < self.tail <= 1:
            raise ValueError(f"tail must be in (0, 1], got {self.tail}")
        if self.jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {self.jobs}")

    def identity(self) -> dict:
        """What decides the sweep's result (and not where it is written)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("data", "device", "jobs")}
        return {**d, "data": self.data.corpus_entry()["fingerprint"]}


def tail_score(log: list[dict], monitor: str, tail: float = TAIL) -> tuple[float, int]:
    """(mean of ``monitor`` over the log lines at steps ≥ ``(1 - tail) · last monitored step``,
    number of points averaged: :func:`mcnbench.metrics.curves.tail_mean`). ``log``:
    ``train_log.jsonl`` lines (``step`` and, every ``val_every`` steps, the monitor). (NaN, 0)
    when the log never measured the monitor."""
    points = [(int(r["step"]), float(r[monitor])) for r in log if isinstance(r.get(monitor), (int, float))]
    return tail_mean([s for s, _ in points], [v for _, v in points], tail)


def sweep(spec: SweepSpec, *, out: Path | None = None, log: Log = print) -> list[dict]:
    """Train (or find cached) every cell and score it; one row per (model, value, seed):
    ``model``, ``value``, ``seed``, ``round`` (2: promoted), ``score`` (:func:`tail_score`),
    ``points``, ``final`` (the monitor's last value), ``steps``, ``key`` (the checkpoint's cache
    key), ``train_s`` (what training took, from the run's config.json: the same on a cache hit)
    and ``log`` (its train_log.jsonl). With ``out``, each run's log is kept under
    ``<out>/<model>/<key>=<value>/train-seed<k>/`` (train_log.jsonl, config.json) and ``log`` is
    relative to ``out``. Every cell is checked (trainable, key known, monitor on) before the
    first one trains."""
    for name in spec.models:  # every cell is checked before the first one trains
        for value in spec.values:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # said again when the cell is built to train
                _check_cell(name, *build_model(_cell(spec, name, value), spec.data,
                                               seed=spec.seeds[0], device=spec.device), spec)
    corpus = spec.data.corpus_entry()["fingerprint"]
    cells = [(name, value, seed) for name in spec.models for value in spec.values for seed in spec.seeds]
    _train_side_by_side(spec, cells, corpus, out, log)
    rows = [_run_cell(spec, *cell, corpus, out, log, 1) for cell in cells]
    if spec.promote:
        promoted = []
        for name in spec.models:
            ranked = sorted(range(len(spec.values)), key=lambda i: -_mean(
                [r["score"] for r in rows if r["model"] == name and r["value"] == spec.values[i]]))
            promoted += [(name, spec.values[i], seed) for i in sorted(ranked[:spec.promote])
                         for seed in spec.promote_seeds]
        _train_side_by_side(spec, promoted, corpus, out, log)
        rows += [_run_cell(spec, *cell, corpus, out, log, 2) for cell in promoted]
    return rows


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _run_cell(spec: SweepSpec, name: str, value, seed: int, corpus: str, out: Path | None,
              log: Log, round_: int) -> dict:
    log(f"== {name} {spec.key}={value} seed {seed}" + (" (promoted)" if round_ > 1 else ""))
    model, entry, folder, kept = _locate(spec, name, value, seed, corpus, out)
    if _use_kept(folder, kept):
        # trained earlier into this --out, elsewhere (an empty cache: another machine, a resumed
        # sweep): its log decides the score, so the cell is not trained again
        log(f"  kept in {kept} (cache entry {folder.name} not here): not trained again")
        source, spent = kept, 0.0
    else:
        ckpt, spent = ensure_trained(model, entry, data_root=spec.data.path, train_data=corpus,
                                     seed=seed, device=spec.device, log=log)
        source = ckpt.parent
    lines = read_log(source / "train_log.jsonl")
    score, points = tail_score(lines, spec.monitor, spec.tail)
    if points == 0:
        raise ValueError(f"{source / 'train_log.jsonl'}: no {spec.monitor} logged")
    monitored = [r for r in lines if spec.monitor in r]
    log(f"  {spec.monitor} over the last {spec.tail:.0%}: {score:.2f}")
    logfile = source / "train_log.jsonl" if kept is None else keep_train_log(source, kept)
    return {"model": name, "value": value, "seed": seed, "round": round_, "score": score,
            "points": points, "final": float(monitored[-1][spec.monitor]),
            "steps": int(lines[-1]["step"]), "key": folder.name.split("-", 1)[1],
            "train_s": _train_seconds(source, spent),
            "log": str(logfile.relative_to(out) if out is not None else logfile)}


def _locate(spec: SweepSpec, name: str, value, seed: int, corpus: str,
            out: Path | None) -> tuple[Any, dict, Path, Path | None]:
    """(model, record entry, cache folder, kept-log folder or None) of one cell."""
    model, entry = build_model(_cell(spec, name, value), spec.data, seed=seed, device=spec.device)
    return model, entry, checkpoint_dir(entry, corpus, seed), _kept_dir(spec, name, value, seed, out)


def _kept_dir(spec: SweepSpec, name: str, value, seed: int, out: Path | None) -> Path | None:
    """Where the sweep keeps a cell's training log in ``out`` (None without one)."""
    if out is None:
        return None
    return Path(out) / safe_name(name) / safe_name(f"{spec.key}={value}") / f"train-seed{seed}"


def _use_kept(folder: Path, kept: Path | None) -> bool:
    """Whether a cell is scored from the log kept in ``kept`` instead of its cache entry
    ``folder``: only when the cache lacks the checkpoint and the kept log is that entry's."""
    return kept is not None and not (folder / MODEL_FILE).exists() and kept_run(kept, folder)


def _train_side_by_side(spec: SweepSpec, cells: list[tuple], corpus: str, out: Path | None,
                        log: Log) -> None:
    """Train the ``cells`` (model, value, seed) that are neither cached nor kept in ``out``,
    ``spec.jobs`` at a time in worker processes of ``cores // jobs`` threads each, into the
    checkpoint cache; :func:`_run_cell` then finds them there. One job: nothing to do here (each
    cell trains when it is scored, in this process)."""
    if spec.jobs <= 1:
        return
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    todo = []
    for name, value, seed in cells:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # said again when the cell is scored
            _, _, folder, kept = _locate(spec, name, value, seed, corpus, out)
        if not (folder / MODEL_FILE).exists() and not _use_kept(folder, kept):
            todo.append((name, value, seed))
    if not todo:
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = max(1, cores // spec.jobs)
    log(f"training {len(todo)} cell(s), {min(spec.jobs, len(todo))} side by side "
        f"({threads} thread(s) each)")
    # spawn, not fork: a forked child inherits torch's thread pools and OpenMP state mid-use
    with ProcessPoolExecutor(max_workers=spec.jobs, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_train_cell, spec, *cell, corpus, threads): cell for cell in todo}
        for done in as_completed(futures):
            message, folder = done.result()  # a failed cell raises here, as in the serial sweep
            log(message)
            kept = _kept_dir(spec, *futures[done], out)
            if kept is not None:  # kept at once: an interrupted sweep resumes from what finished
                keep_train_log(Path(folder), kept)


def _train_cell(spec: SweepSpec, name: str, value, seed: int, corpus: str,
                threads: int) -> tuple[str, str]:
    """One cell's training in a worker process (:func:`_train_side_by_side`): (a line saying it
    is done, its cache folder). Its log lines are printed with the cell's name, as several
    workers print at once."""
    import os

    import torch

    os.environ["TQDM_DISABLE"] = "1"  # one bar per worker would garble the terminal
    torch.set_num_threads(threads)
    tag = f"[{name} {spec.key}={value} seed {seed}]"
    model, entry = build_model(_cell(spec, name, value), spec.data, seed=seed, device=spec.device)
    ckpt, spent = ensure_trained(model, entry, data_root=spec.data.path, train_data=corpus, seed=seed,
                                 device=spec.device, log=lambda m: print(f"{tag} {m.strip()}", flush=True))
    return f"{tag} done ({spent:.0f} s)", str(ckpt.parent)


def _cell(spec: SweepSpec, name: str, value) -> ModelSpec:
    return ModelSpec(name, overrides={**spec.base, spec.key: value})


def _train_seconds(folder: Path, spent: float) -> float:
    import json

    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return round(float(cfg["train_seconds_this_process"]), 1)
    except (OSError, ValueError, KeyError, TypeError):
        return round(spent, 1)


def _check_cell(name: str, model: Any, entry: dict, spec: SweepSpec) -> None:
    if not is_trainable(model):
        raise ValueError(f"model {name!r} is not trainable: there is nothing to sweep")
    train = (entry.get("config") or {}).get("train") or {}
    if spec.key not in train and spec.key not in ((entry.get("config") or {}).get("network") or {}):
        raise ValueError(f"{name}: {spec.key!r} is not a config key of this model")
    if not float(train.get("val_fraction") or 0) > 0 or not int(train.get("val_every") or 0) > 0:
        raise ValueError(f"{name}: the sweep scores the validation monitor, which is off; turn it "
                         "on with --set val_fraction=0.1 --set val_every=22 (held-out share, steps "
                         "between measurements)")


def value_stats(rows: list[dict], name: str, values: list) -> dict[int, tuple[float, float, int]]:
    """``{position in values: (mean, std, n)}`` of model ``name``'s run scores per value over
    seeds (std ddof 1 as the report, 0 for one seed); values with no run are left out."""
    import numpy as np

    stats = {}
    for i, v in enumerate(values):
        s = [r["score"] for r in rows if r["model"] == name and r["value"] == v]
        if s:
            stats[i] = (float(np.mean(s)), float(np.std(s, ddof=1)) if len(s) > 1 else 0.0, len(s))
    return stats


def choose(rows: list[dict], values: list) -> dict[str, dict]:
    """Per model: ``{"value", "mean", "std", "n", "edge", "scores"}`` where ``value`` has the
    best mean ``score`` over seeds among the values with the most seeds (the promoted ones after
    successive halving; ties: the first in grid order), ``std`` is over seeds (ddof 1 as
    the report; 0 for one seed), ``scores`` maps each value's position in ``values`` to its mean,
    and ``edge`` says the choice is the smallest or largest of ≥ 3 numeric values (the grid may
    be too narrow)."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    ranked = sorted(range(len(values)), key=lambda i: values[i]) if numeric else []
    out = {}
    for name in dict.fromkeys(r["model"] for r in rows):
        means = value_stats(rows, name, values)
        most = max(m[2] for m in means.values())  # after a promotion round: the promoted
        best = max((i for i in means if means[i][2] == most), key=lambda i: (means[i][0], -i))
        edge = len(values) >= 3 and numeric and best in (ranked[0], ranked[-1])
        out[name] = {"value": values[best], "mean": means[best][0], "std": means[best][1],
                     "n": means[best][2], "edge": edge,
                     "scores": {i: m[0] for i, m in means.items()}}
        if edge:
            warnings.warn(SweepWarning(
                f"{name}: the best {values[best]} is at the edge of the grid "
                f"{values}; a value beyond it may be better (widen --grid)"), stacklevel=2)
    return out


def check_folder(spec: SweepSpec, out: Path) -> None:
    """Raise ValueError when ``<out>/sweep.json`` holds a sweep of another identity (checked
    before any training, and again before writing): two sweeps never merge into one table."""
    import json

    old = Path(out) / "sweep.json"
    if not old.exists():
        return
    try:
        same = json.loads(old.read_text(encoding="utf-8")).get("identity") == json.loads(
            json.dumps(spec.identity(), default=str))
    except (OSError, ValueError):
        same = False
    if not same:
        raise ValueError(f"{old}: holds a sweep of another identity (models, grid, seeds, "
                         "overrides, monitor or data); give another --out, or --overwrite")


def write_sweep(spec: SweepSpec, rows: list[dict], chosen: dict[str, dict], out: Path, *,
                command: str | None = None, overwrite: bool = False) -> list[Path]:
    """``<out>/sweep.json`` (the identity, every run, the choice), ``sweep.csv`` (one row per
    run) and ``sweep.md`` (model × value, mean ± std over seeds, the choice in bold). A folder
    holding a sweep of another identity is refused (ValueError) unless ``overwrite``: two sweeps
    never merge into one table (:func:`check_folder`)."""
    import csv
    import io

    from tabulate import tabulate

    from mcnbench.utils.io import atomic_write_json, atomic_write_text

    out = Path(out)
    if not overwrite:
        check_folder(spec, out)
    buf = io.StringIO()
    fields = ["model", "value", "seed", "round", "score", "points", "final", "steps", "key",
              "train_s", "log"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    table = []
    for name, c in chosen.items():
        stats, cells = value_stats(rows, name, spec.values), []
        for i, v in enumerate(spec.values):
            n = f" (n={stats[i][2]})" if i in stats and spec.promote else ""
            text = "—" if i not in stats else _mean_std(*stats[i]) + n
            cells.append(f"**{text}**" if v == c["value"] else text)
        table.append([name, *cells, f"{c['value']}" + (" (edge)" if c["edge"] else "")])
    md = (f"# Sweep of `{spec.key}` on the validation monitor\n\n"
          + tabulate(table, headers=["model", *[f"{spec.key}={v}" for v in spec.values], "chosen"],
                     tablefmt="github", disable_numparse=True)
          + f"\n\n*Score: `{spec.monitor}` on held-out corpus videos, averaged over the last "
            f"{spec.tail:.0%} of each run's steps; mean ± std over seeds {spec.seeds}"
            + (f", and for each model's {spec.promote} best values of that round also over seeds "
               f"{spec.promote_seeds} (successive halving; the choice is among those)"
               if spec.promote else "")
            + f". Shared overrides: {_overrides(spec.base)}. Chosen: the best mean (bold); \"edge\": the "
            "smallest or largest value of the grid won, so the grid may be too narrow. No test "
            "task is read.*\n")
    return [atomic_write_json(out / "sweep.json", {"identity": spec.identity(), "command": command,
                                                   "runs": rows, "chosen": chosen}),
            atomic_write_text(out / "sweep.csv", buf.getvalue()),
            atomic_write_text(out / "sweep.md", md)]


def _mean_std(mean: float, std: float, n: int) -> str:
    return f"{mean:.1f}" + (f" ± {std:.1f}" if n > 1 else "")


def _overrides(base: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(base.items())) or "none"
