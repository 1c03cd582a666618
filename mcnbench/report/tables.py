"""Comparison tables: one row per model (variant), one column per (task, metric).

Cells are ``mean ± std`` over seeds (std with ddof=1; a single seed shows just the value), the
best value per column is marked (bold), MCN's published numbers sit in their own row, and the
caption says what the numbers are: how many seeds, which data, which tie rule. The same
``Table`` renders as Markdown, LaTeX (booktabs) or CSV.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mcnbench.report.frame import (
    PAPER_LABEL,
    arrow,
    column_order,
    enrich,
    lower_is_better,
    paper_numbers,
    select_metrics,
    task_title,
)

FORMATS = ("markdown", "latex", "csv")
MAX_STD = 3.0  # points: a seed std above it is flagged (issue 13: std ≤ 3 or say why)
TIE_RULES = {"mean": "a tied ground truth ranked at the mean of its tied positions",
             "optimistic": "ties resolved optimistically (ground truth first)",
             "pessimistic": "ties resolved pessimistically (ground truth last)",
             "legacy": "ties resolved as the official code does (np.where, legacy)"}


@dataclass
class Table:
    """Numbers and marks of one comparison table, before rendering."""

    columns: list[tuple[str, str]]              # (task, metric), in display order
    mean: pd.DataFrame                           # index: row labels; columns: MultiIndex (task, metric)
    std: pd.DataFrame
    n: pd.DataFrame
    best: pd.DataFrame                           # bool, same shape
    paper: dict[tuple[str, str], float] = field(default_factory=dict)
    delta: pd.DataFrame | None = None            # mean − mean of the reference row
    reference: str | None = None
    caption: str = ""
    precision: int = 1
    row_data: dict[str, str] = field(default_factory=dict)  # row → data, when data are mixed
    max_std: float | None = None                 # flag cells whose seed std exceeds it (‡)

    def noisy(self, row: str, col: tuple[str, str]) -> bool:
        """Whether this cell's std over seeds exceeds ``max_std`` (scores in points only: rank
        metrics such as MedR, where lower is better, have other units and are never flagged)."""
        if self.max_std is None or lower_is_better(col[1], col[0]):
            return False
        std = self.std.at[row, col]
        return bool(pd.notna(std) and std > self.max_std)

    @property
    def any_noisy(self) -> bool:
        return any(self.noisy(r, c) for r in self.rows for c in self.columns)

    @property
    def rows(self) -> list[str]:
        return list(self.mean.index)

    @property
    def typical_n(self) -> int:
        counts = self.counts()
        return int(counts.mode().max()) if len(counts) else 0  # ties: the larger n

    def counts(self) -> pd.Series:
        """Every cell's number of seeds, flat (missing cells left out)."""
        return pd.Series(self.n.to_numpy().ravel()).dropna().astype(int)


# building -------------------------------------------------------------------------------------
def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """mean, std (ddof=1) and n over seeds per (label, task, metric), as a tidy frame."""
    df = enrich(df)
    return (df.groupby(["label", "task", "metric"], sort=False)["value"]
              .agg(mean="mean", std="std", n="count").reset_index())


def build_table(df: pd.DataFrame, metrics: str | Sequence[str] | None = None,
                reference_model: str | None = None, *, paper: bool = True,
                precision: int = 1, max_std: float | None = MAX_STD) -> Table:
    """The ``Table`` for the records in ``df`` (a ``load_results`` frame, plain or enriched);
    cells whose std over seeds exceeds ``max_std`` points are flagged ``‡`` (None: never)."""
    df = enrich(df)
    if df.empty:
        raise ValueError("no result records to tabulate")
    shown = select_metrics(df, metrics)
    stats = summarize(shown)
    columns = column_order(zip(stats["task"], stats["metric"], strict=True))
    wide = stats.pivot(index="label", columns=["task", "metric"])
    mean = wide["mean"].reindex(columns=pd.MultiIndex.from_tuples(columns))
    rows = sorted(mean.index)
    reference = resolve_label(df, reference_model) if reference_model else None
    if reference:  # the reference row first: the Δ columns are read against it
        rows = [reference] + [r for r in rows if r != reference]
    mean = mean.loc[rows]
    std = wide["std"].reindex(index=rows, columns=mean.columns)
    n = wide["n"].reindex(index=rows, columns=mean.columns)
    table = Table(columns=columns, mean=mean, std=std, n=n, best=_best(mean, precision),
                  paper={c: v for c, v in paper_numbers(df).items() if c in columns} if paper else {},
                  reference=reference, precision=precision, max_std=max_std)
    if reference:
        table.delta = mean - mean.loc[reference]
    if df.attrs.get("mixed_data"):  # --allow-mixed-data: the data is a column
        table.row_data = dict(zip(df["label"], df["data"].fillna("?"), strict=True))
    table.caption = caption(shown, table)
    return table


def resolve_label(df: pd.DataFrame, name: str) -> str:
    """The row label meant by ``name``: an exact label, or a model name with a single label."""
    df = enrich(df)
    labels = sorted(df["label"].unique())
    if name in labels:
        return name
    matches = sorted(df.loc[df["model"] == name, "label"].unique())
    if len(matches) == 1:
        return matches[0]
    choices = ", ".join(repr(x) for x in (matches or labels))
    raise ValueError(f"reference model {name!r} is {'ambiguous' if matches else 'not in the results'}; "
                     f"choose one of: {choices}")


def _best(mean: pd.DataFrame, precision: int) -> pd.DataFrame:
    """Per column, the rows with the best mean at the shown precision (ties all marked)."""
    rounded = mean.round(precision)
    best = pd.DataFrame(False, index=mean.index, columns=mean.columns)
    for col in mean.columns:
        values = rounded[col].dropna()
        if len(values) < 2:  # one number is not "the best" of anything
            continue
        target = values.min() if lower_is_better(col[1], col[0]) else values.max()
        best[col] = rounded[col] == target
    return best


def caption(df: pd.DataFrame, table: Table) -> str:
    """What the numbers are: statistic and n, marking rule, tie rule, data, paper row."""
    n_all = table.counts()
    if n_all.empty or n_all.max() <= 1:
        stat = "Single seed per cell"
    elif n_all.nunique() == 1:
        stat = f"Mean ± std over n = {n_all.iloc[0]} seeds (std with ddof=1)"
    else:
        stat = (f"Mean ± std over n = {table.typical_n} seeds (std with ddof=1; cells with another n "
                f"say so; n ranges {n_all.min()}–{n_all.max()})")
    parts = [stat + ".",
             "Best per column marked in bold (↑ higher is better, ↓ lower is better; values equal at "
             "the shown precision share the mark)."]
    if table.reference:
        parts.append(f"Δ: row minus {table.reference}, in the metric's units.")
    if table.any_noisy:
        parts.append(f"‡: std over seeds above {table.max_std:g} points; differences in that cell "
                     "smaller than its std are not established.")
    rules = sorted(df["tie_rule"].dropna().unique())
    if len(rules) == 1:
        parts.append(f"Similarity ties: {TIE_RULES.get(rules[0], rules[0])} (rule `{rules[0]}`).")
    elif rules:
        parts.append(f"Similarity ties: mixed rules ({', '.join(rules)}) — compare with care.")
    parts.append(f"Data: {_data_text(df)}.")
    if table.paper:
        synthetic = (df["data_kind"] == "synthetic").any()
        note = " — not comparable with synthetic-data numbers" if synthetic else ""
        parts.append(f"{PAPER_LABEL}: numbers published by Chen et al., ICCV 2021, on the real "
                     f"datasets{note}.")
    return " ".join(parts)


def _data_text(df: pd.DataFrame, fingerprints: bool = True) -> str:
    per_record = df.drop_duplicates("path") if "path" in df.columns else df
    texts = []
    for (kind, preset, gseed), _ in per_record.groupby(
            [per_record["data_kind"].fillna("unknown"), per_record["preset"].fillna(""),
             per_record.get("generator_seed", pd.Series(None, index=per_record.index)).fillna("")],
            sort=True):
        if kind == "synthetic":
            bits = [f"preset {preset}" if preset else "", f"generator seed {gseed}" if gseed != "" else ""]
            detail = ", ".join(b for b in bits if b)
            texts.append(f"synthetic ({detail})" if detail else "synthetic")
        else:
            texts.append(str(kind))
    prints = sorted(per_record["fingerprint"].dropna().astype(str).str[:12].unique())
    if fingerprints and prints and len(prints) <= 4:
        texts.append(f"fingerprint{'s' if len(prints) > 1 else ''} {', '.join(prints)}")
    return "; ".join(texts) if texts else "unknown"


# rendering ------------------------------------------------------------------------------------
def comparison_table(df: pd.DataFrame, metrics: str | Sequence[str] | None = None,
                     fmt: str = "markdown", reference_model: str | None = None, *,
                     paper: bool = True, precision: int = 1) -> str:
    """Render the comparison table of ``df`` as ``markdown``, ``latex`` or ``csv`` text.

    ``reference_model`` (a model name or row label) adds a Δ column after every metric with each
    row's difference from that model — the paper-style ablation table (variant vs full MCN).
    """
    table = build_table(df, metrics, reference_model, paper=paper, precision=precision)
    return render(table, fmt)


def render(table: Table, fmt: str = "markdown") -> str:
    fmt = {"md": "markdown", "tex": "latex"}.get(fmt, fmt)
    if fmt == "markdown":
        return to_markdown(table)
    if fmt == "latex":
        return to_latex(table)
    if fmt == "csv":
        return wide_frame(table).to_csv(index=False)
    raise ValueError(f"unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _cell(table: Table, row: str, col: tuple[str, str], plus_minus: str) -> str:
    mean, std, n = table.mean.at[row, col], table.std.at[row, col], table.n.at[row, col]
    if pd.isna(mean):
        return "–"
    p = table.precision
    text = f"{mean:.{p}f}"
    if pd.notna(std) and n > 1:
        text += f"{plus_minus}{std:.{p}f}" + ("‡" if table.noisy(row, col) else "")
    if pd.notna(n) and int(n) != table.typical_n:
        text += f" (n={int(n)})"
    return text


def _delta(table: Table, row: str, col: tuple[str, str]) -> str:
    if row == table.reference:
        return "ref"
    d = table.delta.at[row, col]
    return "–" if pd.isna(d) else f"{d:+.{table.precision}f}"


def _body(table: Table, plus_minus: str, bold) -> tuple[list[list[str]], list[str]]:
    """Rows of cell texts (ours, then the paper row) and the paper row's cells."""
    body = []
    for row in table.rows:
        cells = [row]
        for col in table.columns:
            text = _cell(table, row, col, plus_minus)
            cells.append(bold(text) if table.best.at[row, col] else text)
            if table.delta is not None:
                cells.append(_delta(table, row, col))
        body.append(cells)
    paper_row = []
    if table.paper:
        paper_row = [PAPER_LABEL]
        for col in table.columns:
            v = table.paper.get(col)
            paper_row.append("" if v is None else f"{v:.{table.precision}f}")
            if table.delta is not None:
                paper_row.append("")
    return body, paper_row


def _headers(table: Table) -> list[tuple[str, str, str] | None]:
    """Per table column: (task title, metric, arrow), or None for a Δ column."""
    headers: list[tuple[str, str, str] | None] = []
    for task, metric in table.columns:
        headers.append((task_title(task), metric, arrow(metric, task)))
        if table.delta is not None:
            headers.append(None)
    return headers


def to_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table with the caption below it."""
    from tabulate import tabulate

    body, paper_row = _body(table, " ± ", lambda s: f"**{s}**")
    rows = body + ([paper_row] if paper_row else [])
    headers = ["model"] + [" ".join(h) if h else "Δ" for h in _headers(table)]
    if table.row_data:  # mixed data: "label @ data" rows become a model and a data column
        rows = [[r[0].removesuffix(f" @ {table.row_data.get(r[0], '')}"), table.row_data.get(r[0], ""),
                 *r[1:]] for r in rows]
        headers.insert(1, "data")
    n_left = 2 if table.row_data else 1
    align = ["left"] * n_left + ["right"] * (len(headers) - n_left)
    text = tabulate(rows, headers=headers, tablefmt="github", colalign=align,
                    disable_numparse=True)
    return f"{text}\n\n*{table.caption}*\n"


def to_latex(table: Table, label: str = "tab:mcnbench") -> str:
    """A booktabs ``table`` environment: task names spanning their metrics, paper row last."""
    body, paper_row = _body(table, r" $\pm$ ", lambda s: rf"\textbf{{{s}}}")
    per_task = 2 if table.delta is not None else 1
    groups = [(task, sum(1 for t, _ in table.columns if t == task) * per_task)
              for task in dict.fromkeys(t for t, _ in table.columns)]
    spans, rules, start = [], [], 2
    for task, width in groups:
        spans.append(rf"\multicolumn{{{width}}}{{c}}{{{_tex(task_title(task))}}}")
        rules.append(rf"\cmidrule(lr){{{start}-{start + width - 1}}}")
        start += width
    metric_header = [_tex(f"{h[1]} {h[2]}") if h else r"$\Delta$" for h in _headers(table)]
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{_tex(table.caption)}}}",
             rf"\label{{{label}}}", rf"\begin{{tabular}}{{l{'r' * (start - 2)}}}", r"\toprule",
             " & ".join(["", *spans]) + r" \\", " ".join(rules),
             " & ".join(["Model", *metric_header]) + r" \\", r"\midrule"]
    lines += [" & ".join([_tex(r[0]), *(_tex_cell(c) for c in r[1:])]) + r" \\" for r in body]
    if paper_row:
        lines += [r"\midrule", " & ".join([_tex(paper_row[0]), *paper_row[1:]]) + r" \\"]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _tex(text: str) -> str:
    """Escape LaTeX specials in plain text; keeps ± ↑ ↓ Δ readable in math mode."""
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                 ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"),
                 ("^", r"\textasciicircum{}")):
        text = text.replace(a, b)
    for a, b in (("±", r"$\pm$"), ("↑", r"$\uparrow$"), ("↓", r"$\downarrow$"), ("Δ", r"$\Delta$"),
                 ("×", r"$\times$"), ("→", r"$\rightarrow$"), ("⟨", r"$\langle$"), ("⟩", r"$\rangle$"),
                 ("–", "--"), ("—", "---"), ("‡", r"$^\ddagger$"), ("`", "")):
        text = text.replace(a, b)
    return text


def _tex_cell(cell: str) -> str:
    # Cells are numbers built here, already carrying their LaTeX (\textbf, $\pm$); only the
    # en dash of a missing value and the minus sign of a Δ need translating.
    cell = cell.replace("–", "--").replace("‡", r"$^\ddagger$")
    return "$-$" + cell[1:] if cell.startswith("-") else cell


# console --------------------------------------------------------------------------------------
def console_table(df: pd.DataFrame, *, reference: str | None = None, width: int = 100) -> str:
    """The main score of every task per row, as plain text no wider than ``width``: columns that
    do not fit go into a further block below (the row names repeated), then a short, true note."""
    from tabulate import tabulate

    table = build_table(df, "main", reference)
    body, paper_row = _body(table, " ± ", lambda s: s)
    rows = body + ([paper_row] if paper_row else [])
    headers = [" ".join(h) if h else "Δ" for h in _headers(table)]
    blocks, start = [], 0
    while start < len(headers):
        stop = start + 1
        while stop < len(headers):
            trial = tabulate([[r[0], *r[1 + start:2 + stop]] for r in rows],
                             headers=["", *headers[start:stop + 1]], tablefmt="simple",
                             disable_numparse=True)
            if max(map(len, trial.splitlines())) > width:
                break
            stop += 1
        blocks.append(tabulate([[r[0], *r[1 + start:1 + stop]] for r in rows],
                               headers=["", *headers[start:stop]], tablefmt="simple",
                               disable_numparse=True))
        start = stop
    n = table.typical_n
    stat = f"mean ± std over {n} seeds" if n > 1 else "one seed"
    data = _data_text(df, fingerprints=False)
    note = f"Main score per task, {stat}; ↑ higher / ↓ lower is better; data: {data}."
    if table.paper:
        note += f" {PAPER_LABEL}: published on the real datasets."
    import textwrap

    return "\n\n".join(blocks) + "\n" + textwrap.fill(note, width=width)


# CSV ------------------------------------------------------------------------------------------
def long_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The tidy per-seed table (one row per label, task, metric, seed) that everything comes from."""
    df = enrich(df)
    cols = ["model", "label", "run_label", "run_id", "task", "task_version", "metric", "seed",
            "value", "main_score", "tie_rule", "data", "data_kind", "preset", "generator_seed",
            "fingerprint", "path"]
    return (df.reindex(columns=cols).sort_values(["task", "metric", "label", "seed"])
              .reset_index(drop=True))


def wide_frame(table: Table) -> pd.DataFrame:
    """One row per label with ``<task> <metric> mean|std|n[|delta]`` columns, then the paper row."""
    parts = {"mean": table.mean, "std": table.std, "n": table.n.astype("Int64")}
    if table.delta is not None:
        parts["delta"] = table.delta
    # one concat, not a column insert per cell: wide tables have hundreds of columns
    out = pd.DataFrame({f"{task} {metric} {stat}": frame[(task, metric)]
                        for task, metric in table.columns for stat, frame in parts.items()},
                       index=table.rows)
    if table.paper:
        paper = {f"{t} {m} mean": v for (t, m), v in table.paper.items()}
        out = pd.concat([out, pd.DataFrame([paper], index=[PAPER_LABEL])])
    out = out.copy()  # consolidate the concat's blocks before inserting the index column
    out.index.name = "model"
    return out.reset_index()


def write_tables(df: pd.DataFrame, out_dir: str | Path, formats: Sequence[str] = FORMATS,
                 metrics: str | Sequence[str] | None = None, reference_model: str | None = None,
                 *, paper: bool = True, table: Table | None = None) -> list[Path]:
    """Write ``table.md``, ``table.tex``, ``results_long.csv`` and ``results_wide.csv`` as asked.

    ``table`` reuses an already built table of ``df`` (the CLI prints it first).
    """
    from mcnbench.utils.io import atomic_write_text

    out_dir = Path(out_dir)
    table = table or build_table(df, metrics, reference_model, paper=paper)
    written = []
    if "markdown" in formats:
        written.append(atomic_write_text(out_dir / "table.md", to_markdown(table)))
    if "latex" in formats:
        written.append(atomic_write_text(out_dir / "table.tex", to_latex(table)))
    if "csv" in formats:
        written.append(atomic_write_text(out_dir / "results_long.csv",
                                         long_frame(df).to_csv(index=False)))
        written.append(atomic_write_text(out_dir / "results_wide.csv",
                                         wide_frame(table).to_csv(index=False)))
    return written


__all__ = ["FORMATS", "MAX_STD", "Table", "build_table", "caption", "comparison_table", "console_table",
           "long_frame", "render",
           "resolve_label", "summarize", "to_latex", "to_markdown", "wide_frame", "write_tables"]
