"""``mcnbench paper TABLE``: train and evaluate what one of the paper's tables needs, write it in
the paper's shape with the published numbers beside ours (Markdown, LaTeX, CSV)."""
from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  mcnbench paper 5 --seeds 3                      loss ablation (NCE, MIL-NCE, MMS, +Cluster, +Recon)
  mcnbench paper 6 TF --seeds 3                   clustering variants; the number of clusters
  mcnbench paper all --preset tiny --set epochs=1 every table, a quick smoke run
  mcnbench paper 1 --data-root /data/mcn          Table 1 on real features

tables: 1 retrieval, 2 localisation, 3 clustering metrics (+ Supp. A), 4 full-video retrieval,
5 loss ablation, 6 clustering pipeline, TC modalities, TD zero-shot action recognition,
TF number of clusters (scaled to the world: the paper's 256 is the world's default K).
Trained models and records are shared with `run` and `ablate` (same names, same cache).
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.commands._common import HelpFormatter, add_data_options
    from mcnbench.metrics.retrieval import TIE_RULES
    from mcnbench.report.paper_tables import TABLE_KEYS

    p = sub.add_parser(
        "paper", help="regenerate a table of the MCN paper in its own shape, published numbers beside",
        description="Train (reusing cached models) and evaluate every row of the named tables of "
                    "Chen et al. (ICCV 2021), then write each as <out>/report/paper-table<KEY>.md, "
                    ".tex and .csv: our numbers (mean ± std over seeds, best in bold) in one block, the "
                    "published ones in a second block beside them. Records go to <out> as for "
                    "`run`, so a rerun only evaluates what is missing.",
        formatter_class=HelpFormatter, epilog=EPILOG)
    p.add_argument("tables", nargs="+", metavar="TABLE",
                   help=f"{' '.join(TABLE_KEYS)} or all")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config value of every trained row (repeatable), e.g. --set epochs=2")
    p.add_argument("--tie-rule", default="mean", choices=TIE_RULES,
                   help="rank of a ground truth tied with other items ('legacy': the official code's)")
    add_data_options(p)
    return p


def table_keys(names: list[str]) -> list[str]:
    """``["5", "tf"]`` / ``["all"]`` → table keys in the paper's order; unknown → ValueError."""
    from mcnbench.report.paper_tables import TABLE_KEYS

    wanted = [n.strip().upper() for name in names for n in name.split(",") if n.strip()]
    if "ALL" in wanted:
        return list(TABLE_KEYS)
    bad = [n for n in wanted if n not in TABLE_KEYS]
    if bad or not wanted:
        raise ValueError(f"unknown paper table {', '.join(bad) or '(none)'}; choose from "
                         f"{' '.join(TABLE_KEYS)} or all")
    return [k for k in TABLE_KEYS if k in wanted]


def default_clusters(root, overrides: dict) -> int:
    """The K that stands for the paper's 256: ``--set n_clusters``, else the data root's hint,
    else the training default (256, the paper's)."""
    from mcnbench.training.config import TrainConfig

    return int(overrides.get("n_clusters")
               or root.hints.get("train", {}).get("n_clusters")
               or TrainConfig().n_clusters)


def fill(table, spec_of_row, run, *, log=print):
    """Run every row of ``table`` (``spec_of_row(row, tasks)`` → RunSpec) and collect its values:
    a :class:`~mcnbench.report.paper_tables.Filled` without caption, every record and the
    paths of the record files."""
    from mcnbench.report.paper_tables import Filled

    filled, records, paths = Filled(table, values={}, runs={}), [], []
    for i, row in enumerate(table.rows):
        log(f"-- table {table.key}, row {i + 1}/{len(table.rows)}: {row.title} ({row.name})")
        for outcome in run(spec_of_row(row, table.tasks), log=log):
            rec = outcome.record
            records.append(rec)
            if outcome.path is not None:
                paths.append(str(outcome.path))
            filled.runs.setdefault(i, [])
            if rec.run_id not in filled.runs[i]:
                filled.runs[i].append(rec.run_id)
            for j, col in enumerate(table.columns):
                if col.task == rec.task["name"]:
                    metric = row.prefix + col.metric
                    if metric not in rec.metrics:
                        raise ValueError(f"table {table.key}, row {row.title!r}: task {col.task} "
                                         f"reported no metric {metric!r}")
                    filled.values.setdefault((i, j), []).append((rec.seed, rec.metrics[metric]))
    return filled, records, paths


def caption(filled, records, paths, tie_rule: str) -> str:
    """What the numbers are: seeds, data (of the record files ``paths``), training length, tie
    rule, the table's note."""
    from mcnbench.report import load
    from mcnbench.report.tables import TIE_RULES, _data_text

    t = filled.table
    ns = {filled.stats(i, j)[2] for i in range(len(t.rows)) for j in range(len(t.columns))} - {0}
    seeds = sorted({r.seed for r in records})
    stat = (f"Mean ± std over {max(ns)} seeds ({', '.join(map(str, seeds))}; std with ddof=1)"
            if ns and max(ns) > 1 else f"One seed ({', '.join(map(str, seeds))})")
    parts = [stat + ", best of our rows in bold."]
    trained = [r.model.get("config", {}).get("train") or {} for r in records
               if (r.model.get("checkpoint") or {}).get("cached")]
    lengths = sorted({(c.get("epochs"), c.get("batch_videos"), c.get("n_pair")) for c in trained},
                     key=str)
    if lengths:
        parts.append("Trained rows: " + "; ".join(
            f"{e} epochs of {b} videos × {n} clips per step" for e, b, n in lengths) + ".")
    if t.note:
        parts.append(t.note)
    parts.append(f"Similarity ties: {TIE_RULES.get(tie_rule, tie_rule)}.")
    if paths:  # the data sentence every table caption has
        parts.append(f"Data: {_data_text(load(paths, allow_mixed_data=True))}.")
    synthetic = any(r.data.get("kind") == "synthetic" for r in records)
    parts.append(f"Published: Chen et al., ICCV 2021 ({t.source}), on the real datasets"
                 + (" — not comparable in value with a synthetic world's numbers; compare the "
                    "ordering of rows." if synthetic else "."))
    return " ".join(parts)


def main(args: argparse.Namespace) -> int:
    import pandas as pd

    from mcnbench.commands._common import command_line, parse_overrides, parse_seeds, preflight
    from mcnbench.commands.ablate import variant_spec
    from mcnbench.data.root import resolve
    from mcnbench.engine import ModelSpec, RunSpec, run
    from mcnbench.report.paper_tables import long_rows, paper_tables, render_latex, render_markdown
    from mcnbench.utils.io import atomic_write_text

    keys = table_keys(args.tables)
    base = parse_overrides(args.overrides)
    seeds = parse_seeds(args)
    preflight(args.out, cache=True)
    root = resolve(args.data_root, preset=args.preset)
    tables = paper_tables(default_clusters(root, base))
    out = Path(args.out)

    def spec_of_row(row, tasks):
        if row.changes:
            mspec = variant_spec(row.model, list(row.changes), base)
        else:  # the floor (`random`) drops the training options itself
            mspec = ModelSpec(row.model, overrides=dict(base))
        return RunSpec(models=[mspec], tasks=tasks, seeds=seeds, data=root, out=out,
                       tie_rule=args.tie_rule,
                       task_options={k: v for k, v in row.options.items() if k in tasks},
                       device=args.device, train=True, overwrite=args.overwrite,
                       command=command_line())

    for key in keys:
        table = tables[key]
        filled, records, paths = fill(table, spec_of_row, run)
        filled.caption = caption(filled, records, sorted(set(paths)), args.tie_rule)
        stem = out / "report" / f"paper-table{key}"
        md = render_markdown(filled)
        atomic_write_text(stem.with_suffix(".md"), md)
        atomic_write_text(stem.with_suffix(".tex"), render_latex(filled))
        atomic_write_text(stem.with_suffix(".csv"), pd.DataFrame(long_rows(filled)).to_csv(index=False))
        print("\n" + md)
        print(f"written: {stem}.md (.tex, .csv)")
    return 0
