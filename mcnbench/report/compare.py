"""Regression comparison between two sets of result records (``mcnbench compare``).

Records are matched by (model, task, seed), and the report lists every pair it matched with both
run ids. For each metric it gives the base and new values, their difference, and — when both sides
kept their per-query arrays — whether the 95% bootstrap intervals overlap.

The exit status gates CI and never passes on bad input. 2 when the comparison cannot be trusted:
a matched pair computed on different data (fingerprints differ), an unreadable record on either
side, a BASE unit with no NEW counterpart, or a side holding two different runs of one
(model, task, seed) — each check can be relaxed by name (:data:`CHECKS`); missing or empty inputs
raise ``DataError`` (also exit 2). Otherwise 1 when any *main* score dropped by more than
``max_drop`` (in the metric's own units; for lower-is-better metrics such as MedR a rise is a
drop), else 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from mcnbench.data.errors import DataError
from mcnbench.records import ResultRecord, iter_records
from mcnbench.report.frame import arrow, lower_is_better
from mcnbench.report.intervals import metric_interval

Key = tuple[str, str, int]  # (model, task, seed)
# The checks that make ``compare`` exit 2, each relaxed by its own flag (``--allow-<name>``).
CHECKS = {"data-change": "a matched pair was computed on different data (fingerprints differ)",
          "unreadable": "a record file on either side could not be read",
          "missing": "a BASE unit has no NEW counterpart"}


@dataclass
class MetricComparison:
    """One metric of one matched (model, task, seed)."""

    model: str
    task: str
    seed: int
    metric: str
    main: bool
    base: float
    new: float
    lower_better: bool = False
    base_ci: tuple[float, float] | None = None
    new_ci: tuple[float, float] | None = None
    flag: str = ""

    @property
    def diff(self) -> float:
        return self.new - self.base

    @property
    def drop(self) -> float:
        """How much worse NEW is than BASE (positive = worse), whatever the metric's direction."""
        if math.isnan(self.new) and not math.isnan(self.base):
            return math.inf  # a score that disappeared is as bad as it gets
        return self.diff if self.lower_better else -self.diff

    @property
    def overlap(self) -> bool | None:
        """Whether the two intervals overlap; None when either side has none."""
        if self.base_ci is None or self.new_ci is None:
            return None
        return self.base_ci[0] <= self.new_ci[1] and self.new_ci[0] <= self.base_ci[1]


@dataclass
class Comparison:
    """Everything ``mcnbench compare`` reports, and the exit status it implies."""

    base_path: str
    new_path: str
    max_drop: float
    rows: list[MetricComparison] = field(default_factory=list)
    only_base: list[tuple[Key, str]] = field(default_factory=list)   # (key, file)
    only_new: list[tuple[Key, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)     # (file, reason)
    notes: list[str] = field(default_factory=list)
    matched: list[tuple[Key, str, str]] = field(default_factory=list)  # (key, base run, new run)
    data_changed: list[tuple[Key, str, str]] = field(default_factory=list)  # (key, base fp, new fp)
    allowed: frozenset[str] = frozenset()
    n_base: int = 0
    n_new: int = 0

    @property
    def regressions(self) -> list[MetricComparison]:
        return [r for r in self.rows if r.main and r.drop > self.max_drop]

    @property
    def problems(self) -> list[str]:
        """Why the comparison cannot be trusted (checks not relaxed), one line each."""
        found = {"data-change": [f"{_key_text(k)}: data fingerprint {a[:12]} in base, {b[:12]} in new"
                                 for k, a, b in self.data_changed],
                 "unreadable": [f"{f}: {why}" for f, why in self.skipped],
                 "missing": [f"{_key_text(k)} ({f}) has no counterpart in new" for k, f in self.only_base]}
        return [f"{msg} (--allow-{check} to accept)" for check, msgs in found.items()
                if check not in self.allowed for msg in msgs]

    @property
    def exit_code(self) -> int:
        if self.problems:
            return 2
        return 1 if self.regressions else 0


# loading --------------------------------------------------------------------------------------
Side = dict[Key, tuple[Path, ResultRecord]]  # the records of BASE or NEW, by key, with their files


def load_side(path: str | Path) -> tuple[Side, list[tuple[str, str]], list[str]]:
    """The records of one side by (model, task, seed), the skipped files, and notes on duplicates.

    The same record found twice (same run id) counts once, the newest. Two *different* runs of one
    (model, task, seed) on one side cannot be matched unambiguously: ``DataError`` naming them.
    Raises ``DataError`` naming the path when it does not exist or holds no readable record.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, None, "no such file or folder")
    good, skipped = iter_records(path)
    skipped = [(str(p), why) for p, why in skipped]
    if not good:
        why = "; ".join(f"{p}: {w}" for p, w in skipped) if skipped else "no seed*.json record files"
        raise DataError(path, None, f"no readable result records ({why})")
    by_key: dict[Key, list[tuple[Path, ResultRecord]]] = {}
    for f, r in good:
        by_key.setdefault((r.model["name"], r.task["name"], int(r.seed)), []).append((f, r))
    notes = []
    for key, found in by_key.items():
        runs = {r.run_id: r.label for _, r in found}
        if len(runs) > 1:
            listed = "; ".join(f"run {rid} ({label})" for rid, label in sorted(runs.items()))
            raise DataError(path, _key_text(key), f"{len(runs)} different runs ({listed}): compare "
                            "folders that hold one run of each model, or record files")
        if len(found) > 1:  # the same record twice (copied folders): trust the newest
            found.sort(key=lambda fr: fr[1].created)
            notes.append(f"{len(found)} copies of {_key_text(key)} under {path}; using the newest, "
                         f"{found[-1][0]}")
    return {k: v[-1] for k, v in by_key.items()}, skipped, notes


def _key_text(key: Key) -> str:
    return f"{key[0]} / {key[1]} / seed {key[2]}"


# comparing ------------------------------------------------------------------------------------
def compare_results(base: str | Path, new: str | Path, *, max_drop: float = 0.5,
                    metrics: str = "main", n_boot: int = 1000, alpha: float = 0.05,
                    seed: int = 0, allow: frozenset[str] | set[str] = frozenset()) -> Comparison:
    """Compare the records under ``new`` with those under ``base`` (folders or record files).

    ``metrics="main"`` compares each record's main score; ``"all"`` every metric on either side.
    ``allow`` relaxes checks of :data:`CHECKS` by name (see :attr:`Comparison.exit_code`).
    """
    if metrics not in ("main", "all"):
        raise ValueError(f"metrics must be 'main' or 'all', not {metrics!r}")
    unknown = sorted(set(allow) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; known: {sorted(CHECKS)}")
    base_recs, base_skipped, notes = load_side(base)
    new_recs, new_skipped, new_notes = load_side(new)
    cmp = Comparison(str(base), str(new), float(max_drop), skipped=base_skipped + new_skipped,
                     notes=notes + new_notes, n_base=len(base_recs), n_new=len(new_recs),
                     allowed=frozenset(allow))
    common = sorted(set(base_recs) & set(new_recs))
    cmp.only_base = [(k, str(base_recs[k][0])) for k in sorted(set(base_recs) - set(new_recs))]
    cmp.only_new = [(k, str(new_recs[k][0])) for k in sorted(set(new_recs) - set(base_recs))]
    if not common:
        raise DataError(new, None, f"no (model, task, seed) in common with {base}: base has "
                                   f"{_keys_text(base_recs)}; new has {_keys_text(new_recs)}")
    for key in common:
        (bf, br), (nf, nr) = base_recs[key], new_recs[key]
        cmp.matched.append((key, br.run_id, nr.run_id))
        if br.data.get("fingerprint") != nr.data.get("fingerprint"):
            cmp.data_changed.append((key, str(br.data.get("fingerprint")),
                                     str(nr.data.get("fingerprint"))))
        cmp.notes += _provenance_notes(key, br, nr)
        names = [br.main_score] if metrics == "main" else sorted(set(br.metrics) | set(nr.metrics))
        for metric in names:
            row = MetricComparison(*key, metric=metric, main=metric == br.main_score,
                                   base=_value(br, metric), new=_value(nr, metric),
                                   lower_better=lower_is_better(metric, key[1]))
            row.base_ci = metric_interval(bf, br, metric, row.base, n_boot=n_boot, alpha=alpha, seed=seed)
            row.new_ci = metric_interval(nf, nr, metric, row.new, n_boot=n_boot, alpha=alpha, seed=seed)
            row.flag = _flag(row, cmp.max_drop)
            cmp.rows.append(row)
    return cmp


def _value(record: ResultRecord, metric: str) -> float:
    v = record.metrics.get(metric)
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _keys_text(recs: dict) -> str:
    keys = sorted(recs)
    text = ", ".join(_key_text(k) for k in keys[:5])
    return text + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def _provenance_notes(key: Key, base: ResultRecord, new: ResultRecord) -> list[str]:
    """Differences that make a number comparison questionable, said once per record pair."""
    checks = [("task version", base.task.get("version"), new.task.get("version")),
              ("task options", base.task.get("options"), new.task.get("options")),
              ("tie rule", base.tie_rule, new.tie_rule),
              ("model config", base.model.get("config_hash"), new.model.get("config_hash")),
              ("main score", base.main_score, new.main_score)]
    return [f"{_key_text(key)}: {what} differs ({a} → {b})" for what, a, b in checks if a != b]


def _flag(row: MetricComparison, max_drop: float) -> str:
    if math.isnan(row.base) and math.isnan(row.new):
        return ""
    if math.isnan(row.new):
        return "REGRESSION: missing in new" if row.main else "missing in new"
    if math.isnan(row.base):
        return "new metric"
    if row.main and row.drop > max_drop:
        return f"REGRESSION: drop {row.drop:.2f} > {max_drop:g}"
    if row.overlap is False:
        return "worse, CIs disjoint" if row.drop > 0 else "better, CIs disjoint"
    return ""


# rendering ------------------------------------------------------------------------------------
def render_markdown(cmp: Comparison, precision: int = 2) -> str:
    """The regression report as Markdown: verdict, metric table, then what did not match."""
    from tabulate import tabulate

    def num(v: float) -> str:
        return "–" if v is None or math.isnan(v) else f"{v:.{precision}f}"

    def ci(iv) -> str:
        return "n/a" if iv is None else f"[{iv[0]:.{precision}f}, {iv[1]:.{precision}f}]"

    bad = cmp.regressions
    if cmp.problems:
        verdict = (f"**NOT COMPARABLE** (exit 2): {len(cmp.problems)} problem(s) listed under "
                   "'Problems'; no verdict on the scores")
    elif bad:
        verdict = f"**FAIL**: {len(bad)} main score(s) dropped by more than {cmp.max_drop:g}"
    else:
        verdict = f"**OK**: no main score dropped by more than {cmp.max_drop:g}"
    lines = ["# mcnbench regression report", "",
             f"- base: `{cmp.base_path}` ({cmp.n_base} records)",
             f"- new: `{cmp.new_path}` ({cmp.n_new} records)",
             f"- max drop: {cmp.max_drop:g} in each metric's units (↓ metrics: a rise counts as a drop)",
             "", verdict, ""]
    lines += [f"- {_key_text((r.model, r.task, r.seed))}: {r.metric} {num(r.base)} → {num(r.new)}"
              for r in bad] + ([""] if bad else [])
    rows = [[r.model, r.task, r.seed, f"{r.metric} {arrow(r.metric, r.task)}" + (" (main)" if r.main else ""),
             num(r.base), num(r.new), "–" if math.isnan(r.diff) else f"{r.diff:+.{precision}f}",
             ci(r.base_ci), ci(r.new_ci), {True: "yes", False: "no", None: "n/a"}[r.overlap], r.flag]
            for r in cmp.rows]
    lines.append(tabulate(rows, headers=["model", "task", "seed", "metric", "base", "new", "Δ",
                                         "95% CI base", "95% CI new", "CIs overlap", "flag"],
                          tablefmt="github", disable_numparse=True))
    lines += ["", "CIs: 95% percentile bootstrap over queries, from the per-query arrays saved beside "
                  "each record (n/a when a side has none that reproduce its value)."]
    if cmp.problems:
        lines += ["", "## Problems", ""] + [f"- {p}" for p in cmp.problems]
    lines += ["", f"## Matched ({len(cmp.matched)} units)", ""]
    lines += [f"- {_key_text(k)}: base run `{a}` ↔ new run `{b}`" + (" (same identity)" if a == b else "")
              for k, a, b in cmp.matched]
    for title, items in (("Only in base (missing from new)", cmp.only_base),
                         ("Only in new (not in base)", cmp.only_new)):
        if items:
            lines += ["", f"## {title}", ""] + [f"- {_key_text(k)} (`{f}`)" for k, f in items]
    if cmp.skipped:
        lines += ["", "## Skipped unreadable files", ""] + [f"- `{f}`: {why}" for f, why in cmp.skipped]
    if cmp.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in dict.fromkeys(cmp.notes)]
    return "\n".join(lines) + "\n"

