"""Regression comparison between two sets of result records (``mcnbench compare``).

Records are matched by (model, task, seed). For each metric the report gives the base and new
values, their difference, and — when both sides kept their per-query arrays — whether the 95%
bootstrap intervals overlap. The exit status gates CI: 1 when any *main* score dropped by more
than ``max_drop`` (in the metric's own units; for lower-is-better metrics such as MedR a rise is
a drop), 0 otherwise. Unreadable inputs and inputs with nothing in common raise ``DataError``
(the CLI's exit status 2).
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
    n_base: int = 0
    n_new: int = 0

    @property
    def regressions(self) -> list[MetricComparison]:
        return [r for r in self.rows if r.main and r.drop > self.max_drop]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0


# loading --------------------------------------------------------------------------------------
Side = dict[Key, tuple[Path, ResultRecord]]  # the records of BASE or NEW, by key, with their files


def load_side(path: str | Path) -> tuple[Side, list[tuple[str, str]], list[str]]:
    """The records of one side by (model, task, seed), the skipped files, and notes on duplicates.

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
        if len(found) > 1:  # the same unit twice (two runs under one folder): trust the newest
            found.sort(key=lambda fr: fr[1].created)
            notes.append(f"{len(found)} records for {_key_text(key)} under {path}; using the newest, "
                         f"{found[-1][0]}")
    return {k: v[-1] for k, v in by_key.items()}, skipped, notes


def _key_text(key: Key) -> str:
    return f"{key[0]} / {key[1]} / seed {key[2]}"


# comparing ------------------------------------------------------------------------------------
def compare_results(base: str | Path, new: str | Path, *, max_drop: float = 0.5,
                    metrics: str = "main", n_boot: int = 1000, alpha: float = 0.05,
                    seed: int = 0) -> Comparison:
    """Compare the records under ``new`` with those under ``base`` (folders or record files).

    ``metrics="main"`` compares each record's main score; ``"all"`` every metric on either side.
    """
    if metrics not in ("main", "all"):
        raise ValueError(f"metrics must be 'main' or 'all', not {metrics!r}")
    base_recs, base_skipped, notes = load_side(base)
    new_recs, new_skipped, new_notes = load_side(new)
    cmp = Comparison(str(base), str(new), float(max_drop), skipped=base_skipped + new_skipped,
                     notes=notes + new_notes, n_base=len(base_recs), n_new=len(new_recs))
    common = sorted(set(base_recs) & set(new_recs))
    cmp.only_base = [(k, str(base_recs[k][0])) for k in sorted(set(base_recs) - set(new_recs))]
    cmp.only_new = [(k, str(new_recs[k][0])) for k in sorted(set(new_recs) - set(base_recs))]
    if not common:
        raise DataError(new, None, f"no (model, task, seed) in common with {base}: base has "
                                   f"{_keys_text(base_recs)}; new has {_keys_text(new_recs)}")
    for key in common:
        (bf, br), (nf, nr) = base_recs[key], new_recs[key]
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
              ("tie rule", base.tie_rule, new.tie_rule),
              ("data fingerprint", base.data.get("fingerprint"), new.data.get("fingerprint")),
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
    verdict = (f"**FAIL**: {len(bad)} main score(s) dropped by more than {cmp.max_drop:g}"
               if bad else f"**OK**: no main score dropped by more than {cmp.max_drop:g}")
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
    for title, items in (("Only in base (missing from new)", cmp.only_base),
                         ("Only in new (not in base)", cmp.only_new)):
        if items:
            lines += ["", f"## {title}", ""] + [f"- {_key_text(k)} (`{f}`)" for k, f in items]
    if cmp.skipped:
        lines += ["", "## Skipped unreadable files", ""] + [f"- `{f}`: {why}" for f, why in cmp.skipped]
    if cmp.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in dict.fromkeys(cmp.notes)]
    return "\n".join(lines) + "\n"

