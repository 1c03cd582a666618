"""The MCN paper's tables in the paper's own shape: which runs each row is, and what was published.

One :class:`PaperTable` per table of Chen et al. (ICCV 2021) — ``1``, ``2``, ``3``, ``4``, ``5``,
``6`` and the supplement's ``TC``, ``TD``, ``TF`` — declares its columns (task, metric, the
paper's column name), its rows (a registered model, or an ablation variant of one, named as
``mcnbench ablate`` names it so the two commands share trained models and records), the task
options a row needs (a retrieval direction) and the numbers the paper published for that row.
MCN's own published numbers are not repeated here: rows marked ``published=MCN`` read them from
each task's :class:`~mcnbench.tasks.meta.TaskMeta` (``paper``), their one home.

:func:`render` turns a table and the measured values into Markdown or LaTeX: our block (mean ±
std over seeds, best per column in bold) beside the published block. Nothing here trains or
evaluates; ``mcnbench paper`` (:mod:`mcnbench.commands.paper`) does, through the engine.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

MCN = "task-meta"  # a row whose published numbers are MCN's, as each task's metadata has them
PAPER_K = (64, 128, 256, 512, 1024)  # Supp. Table F's cluster counts; 256 is MCN's default
PAPER_DEFAULT_K = 256


@dataclass(frozen=True)
class Col:
    """One column: ``metric`` of ``task`` (a row's ``prefix`` goes before it), headed ``title``."""

    task: str
    metric: str
    title: str
    precision: int = 1  # decimals of our numbers (⟨H⟩, in nats, needs 2)


@dataclass(frozen=True)
class Row:
    """One row: a run of ``model`` (with ``changes`` it is an ablation variant of it).

    title:     the paper's row name
    model:     a registered model name
    changes:   ((flag, {config overrides}), ...): the variant ``mcnbench ablate`` would train
               for these flags, called ``<model>+<flag>+<flag>``
    options:   {task: {option: value}} the row evaluates with (``{"youcook2": {"direction": "t2v"}}``)
    prefix:    put before every column's metric (Table 4's protocols: ``mv_clip/``)
    published: {column title: value} as printed in the paper, or :data:`MCN`
    """

    title: str
    model: str
    changes: tuple[tuple[str, dict], ...] = ()
    options: dict = field(default_factory=dict)
    prefix: str = ""
    published: dict | str = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The records' model name: ``mcn`` or ``mcn+no-cluster+no-recon``."""
        return "+".join([self.model, *(flag for flag, _ in self.changes)])

    @property
    def overrides(self) -> dict:
        merged: dict = {}
        for _, change in self.changes:
            merged.update(change)
        return merged


@dataclass(frozen=True)
class PaperTable:
    """One table of the paper: its key (``5``), caption, columns, rows and a protocol note."""

    key: str
    title: str
    source: str
    columns: tuple[Col, ...]
    rows: tuple[Row, ...]
    note: str = ""

    @property
    def tasks(self) -> list[str]:
        return list(dict.fromkeys(c.task for c in self.columns))

    def published(self, row: Row) -> dict[str, float]:
        """{column title: published value} of ``row`` (MCN's from the tasks' metadata)."""
        if row.published != MCN:
            return dict(row.published)
        from mcnbench.registry import task_meta

        out = {}
        for c in self.columns:
            value = task_meta(c.task).paper.get(row.prefix + c.metric)
            if value is not None:
                out[c.title] = value
        return out


# ----------------------------------------------------------------------------- the tables

def _retrieval(metrics=("R@1", "R@5", "R@10")) -> tuple[Col, ...]:
    short = {"youcook2": "YC2", "msrvtt": "MSR"}
    return tuple(Col(t, m, f"{short[t]} {m}") for t in ("youcook2", "msrvtt") for m in metrics)


def _direction(direction: str) -> dict:
    return {"youcook2": {"direction": direction}, "msrvtt": {"direction": direction}}


CT_NOTE = ("CrossTask recall is the official CrossTask protocol (the harness default); MCN's "
           "published numbers used the DP on raw scores and a per-video recall "
           "(--task-option crosstask.dp_input=raw, metric recall_per_video).")
ABLATION_COLS = (Col("youcook2", "R@10", "YR10"), Col("msrvtt", "R@10", "MR10"),
                 Col("crosstask", "recall", "CTR"), Col("mining_youtube", "IoU", "MYT-IOU"))
NO_CLUSTER = ("no-cluster", {"cluster_mode": "none"})
NO_RECON = ("no-recon", {"recon": False})
MIL_NCE_VAT = (NO_CLUSTER, NO_RECON, ("loss-mil-nce", {"loss": "mil-nce"}))  # T5 / TC "+audio"


def _pub(cols: tuple[Col, ...], *values: float | None) -> dict:
    return {c.title: v for c, v in zip(cols, values, strict=True) if v is not None}


def _table_f(default_k: int) -> PaperTable:
    cols = _retrieval(("R@1", "R@5", "R@10", "MedR"))
    published = {64: (17.8, 34.7, 43.4, 17, 10.1, 25.3, 34.1, 27),
                 128: (17.3, 34.8, 44.2, 19, 10.5, 24.5, 33.5, 29),
                 256: None,  # MCN itself: its numbers are the tasks' metadata
                 512: (18.3, 35.3, 44.4, 19, 10.4, 24.6, 33.5, 26.5),
                 1024: (17.9, 34.6, 43.5, 17, 9.4, 25.8, 34.6, 25)}
    rows = []
    for k_paper in PAPER_K:
        k = scaled_k(k_paper, default_k)
        pub = MCN if published[k_paper] is None else _pub(cols, *published[k_paper])
        if k == default_k:
            rows.append(Row(f"k={k_paper} (here {k})", "mcn", published=pub))
        else:
            rows.append(Row(f"k={k_paper} (here {k})", "mcn", ((f"k{k}", {"n_clusters": k}),),
                            published=pub))
    note = (f"Cluster counts scaled to the world: K = paper K × {default_k}/{PAPER_DEFAULT_K}, so "
            f"that the paper's default {PAPER_DEFAULT_K} maps to this data root's default "
            f"n_clusters = {default_k}.")
    return PaperTable("TF", "Number of clusters", "Supp. Table F", cols, tuple(rows), note)


def scaled_k(k_paper: int, default_k: int) -> int:
    """The cluster count standing for the paper's ``k_paper`` on a world whose default is
    ``default_k`` (the paper's default 256 ↦ ``default_k``), at least 2."""
    return max(2, int(round(k_paper * default_k / PAPER_DEFAULT_K)))


def paper_tables(default_k: int = PAPER_DEFAULT_K) -> dict[str, PaperTable]:
    """Every paper table by key; ``default_k`` is the data root's default ``n_clusters`` (Table F
    scales its sweep to it)."""
    t1 = _retrieval()
    t2 = (Col("crosstask", "recall", "CT Recall"), Col("crosstask", "IoD", "CT IoD"),
          Col("crosstask", "IoU", "CT IoU"), Col("mining_youtube", "recall", "MYT Recall"),
          Col("mining_youtube", "IoD", "MYT IoD"), Col("mining_youtube", "IoU", "MYT IoU"))
    t3 = tuple(Col(task, f"cluster/{m}", f"{short} {title}", 2 if m == "H" else 1)
               for task, short in (("crosstask", "CT"), ("mining_youtube", "MYT"))
               for m, title in (("NMI", "NMI"), ("ARI", "ARI"), ("Acc", "Acc"), ("H", "⟨H⟩"),
                                ("p_max", "⟨p_max⟩")))
    t4 = (Col("youcook2_video", "R@1", "R@1"), Col("youcook2_video", "R@5", "R@5"),
          Col("youcook2_video", "R@10", "R@10"))
    td = (Col("ucf101", "top1", "UCF Top-1"), Col("ucf101", "top5", "UCF Top-5"),
          Col("hmdb51", "top1", "HMDB Top-1"), Col("hmdb51", "top5", "HMDB Top-5"))
    a = ABLATION_COLS
    tables = [
        PaperTable("1", "Zero-shot text→video retrieval", "Table 1", t1, (
            Row("Random", "random", published=_pub(t1, 0.03, 0.15, 0.3, 0.01, 0.05, 0.1)),
            Row("MIL-NCE* (VT)", "mil-nce", published=_pub(t1, 8.1, 23.3, 32.3, 8.4, 23.2, 32.4)),
            Row("MCN (VAT)", "mcn", published=MCN))),
        PaperTable("2", "Temporal action localisation", "Table 2", t2, (
            Row("Random", "random"),
            Row("MIL-NCE* (VT)", "mil-nce", published=_pub(t2, 33.2, 30.2, 16.3, 14.9, 26.4, 17.8)),
            Row("MCN (VAT)", "mcn", published=MCN)), note=CT_NOTE),
        PaperTable("3", "Clustering quality of the segment embeddings", "Table 3 and Supp. Table A",
                   t3, (
            Row("Random", "random", published=_pub(t3, 3.2, 3.2, 9.4, 1.30, 47.5,
                                                   0.4, 0.4, 8.6, 2.3, 25.5)),
            Row("MIL-NCE* (VT)", "mil-nce", published=_pub(t3, 62.0, 45.6, 56.7, 0.37, 82.4,
                                                           73.1, 46.8, 60.6, 0.37, 77.9)),
            Row("MCN (VAT)", "mcn", published=MCN)),
            note="⟨H⟩ is in nats (lower is better); the other columns are percentages."),
        PaperTable("4", "Text→full-video retrieval on YouCook2", "Table 4", t4, tuple(
            Row(title, "mcn", prefix=prefix, published=MCN)
            for title, prefix in (("MV-Clip", "mv_clip/"), ("MV-Video", "mv_video/"),
                                  ("Caption Avg.", "caption_avg/"))),
            note="Rows are the three video-level protocols of one MCN run (task youcook2_video)."),
        PaperTable("5", "Loss ablation", "Table 5", a, (
            Row("NCE", "nce", published=_pub(a, 39.2, 33.5, 33.9, 21.5)),
            Row("MIL-NCE", "mcn", MIL_NCE_VAT, published=_pub(a, 40.0, 33.0, 33.7, 21.1)),
            Row("MMS", "contrastive-only", published=_pub(a, 43.7, 32.9, 34.3, 22.1)),
            Row("MMS + Cluster", "mcn", (NO_RECON,), published=_pub(a, 44.3, 33.7, 34.5, 22.6)),
            Row("MMS + Cluster + Reconstruct", "mcn", published=MCN)),
            note="Every row trains video, audio and text; NCE, MIL-NCE and MMS without clustering "
                 "or reconstruction. " + CT_NOTE),
        PaperTable("6", "Clustering pipeline", "Table 6", a, (
            Row("Sinkhorn / Swap / hard", "sinkhorn-swap", published=_pub(a, 39.0, 33.4, 33.6, 21.1)),
            Row("Sinkhorn / Swap / soft", "sinkhorn-swap-soft",
                published=_pub(a, 41.8, 33.9, 34.5, 22.1)),
            Row("Sinkhorn / Joint / hard", "sinkhorn-joint",
                published=_pub(a, 44.4, 33.4, 34.6, 21.1)),
            Row("Sinkhorn / Joint / soft", "sinkhorn-joint-soft",
                published=_pub(a, 43.6, 32.4, 34.1, 21.6)),
            Row("K-means / Swap / hard", "per-modality-cluster",
                published=_pub(a, 41.3, 32.8, 33.2, 21.0)),
            Row("K-means / Joint / hard", "kmeans-joint", published=_pub(a, 44.3, 33.1, 34.6, 21.4)),
            Row("K-means / Centroid / hard (MCN)", "mcn", published=MCN)),
            note="Every row is full MCN (video, audio, text; MMS; reconstruction) with only the "
                 "clustering target changed. " + CT_NOTE),
        PaperTable("TC", "Modalities of query and gallery", "Supp. Table C", t1, (
            Row("MMS, T→V", "contrastive-only", options=_direction("t2v"),
                published=_pub(t1, 7.4, 20.0, 29.3, 8.8, 23.2, 32.2)),
            Row("MIL-NCE*, T→V", "mil-nce", options=_direction("t2v"),
                published=_pub(t1, 8.1, 23.3, 32.3, 8.4, 23.2, 32.4)),
            Row("MCN, T→V", "mcn", options=_direction("t2v"),
                published=_pub(t1, 8.6, 24.1, 33.4, 9.6, 23.4, 32.1)),
            Row("MIL-NCE*+audio, A→V", "mcn", MIL_NCE_VAT, options=_direction("a2v"),
                published=_pub(t1, 16.2, 36.6, 43.7, 13.2, 28.4, 33.3)),
            Row("MCN, A→V", "mcn", options=_direction("a2v"),
                published=_pub(t1, 19.4, 41.3, 50.9, 14.8, 30.1, 39.0)),
            Row("NCE, T→VA", "nce", published=_pub(t1, 14.5, 32.1, 39.2, 8.8, 24.1, 33.7)),
            Row("MIL-NCE*+audio, T→VA", "mcn", MIL_NCE_VAT,
                published=_pub(t1, 15.1, 31.9, 40.0, 9.0, 23.3, 33.0)),
            Row("MMS, T→VA", "contrastive-only", published=_pub(t1, 16.1, 33.9, 43.7, 9.5, 23.3, 32.9)),
            Row("MCN, T→VA", "mcn", published=MCN)),
            note="T→V: caption vs video embedding; A→V: the clip's audio vs its video; T→VA: "
                 "caption vs video + audio (the default)."),
        PaperTable("TD", "Zero-shot action recognition", "Supp. Table D", td, (
            Row("Random", "random"),
            Row("MIL-NCE* (VT)", "mil-nce"),
            Row("MCN (VAT)", "mcn", published=MCN)),
            note="Full datasets, class name text · video embedding (video only, as published)."),
        _table_f(default_k),
    ]
    return {t.key: t for t in tables}


TABLE_KEYS = tuple(paper_tables())


# ----------------------------------------------------------------------------- rendering

@dataclass
class Filled:
    """A table with what was measured: per (row index, column index) the values over seeds,
    and the run ids and records behind each row."""

    table: PaperTable
    values: dict[tuple[int, int], list[tuple[int, float]]]  # (seed, value) per cell
    runs: dict[int, list[str]]                # row index -> run ids (one per task)
    caption: str = ""

    def stats(self, i: int, j: int) -> tuple[float, float, int]:
        """(mean, std with ddof=1 or NaN, n) of cell (i, j); NaN mean when nothing was measured."""
        vals = [v for _, v in self.values.get((i, j), []) if v is not None and not math.isnan(v)]
        if not vals:
            return math.nan, math.nan, 0
        mean = sum(vals) / len(vals)
        std = (math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
               if len(vals) > 1 else math.nan)
        return mean, std, len(vals)

    def best(self) -> set[tuple[int, int]]:
        """Cells with the best mean of their column at the shown precision (ties all marked)."""
        from mcnbench.report.frame import lower_is_better

        marks = set()
        for j, col in enumerate(self.table.columns):
            means = {i: round(self.stats(i, j)[0], col.precision)
                     for i in range(len(self.table.rows))}
            means = {i: m for i, m in means.items() if not math.isnan(m)}
            if len(means) < 2:
                continue
            row = self.table.rows[0]
            pick = min if lower_is_better(row.prefix + col.metric, col.task) else max
            target = pick(means.values())
            marks |= {(i, j) for i, m in means.items() if m == target}
        return marks


def _cells(filled: Filled, pm: str, bold) -> list[list[str]]:
    t, best = filled.table, filled.best()
    n_typical = max((filled.stats(i, j)[2] for i in range(len(t.rows))
                     for j in range(len(t.columns))), default=0)
    rows = []
    for i, row in enumerate(t.rows):
        ours = []
        for j, col in enumerate(t.columns):
            p = col.precision
            mean, std, n = filled.stats(i, j)
            if n == 0:
                ours.append("–")
                continue
            text = f"{mean:.{p}f}" + (f"{pm}{std:.{p}f}" if n > 1 else "")
            if n != n_typical:
                text += f" (n={n})"
            ours.append(bold(text) if (i, j) in best else text)
        pub = t.published(row)
        theirs = ["–" if c.title not in pub else published_text(pub[c.title]) for c in t.columns]
        rows.append([row.title, *ours, *theirs])
    return rows


def published_text(value: float) -> str:
    """A published number as the paper prints it: 40.0, 0.34, 26.5 (at least one decimal)."""
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def render_markdown(filled: Filled) -> str:
    """The table in Markdown: our block, then the published block, then the caption and runs."""
    from tabulate import tabulate

    t = filled.table
    headers = ["", *(f"{c.title}" for c in t.columns), *(f"paper {c.title}" for c in t.columns)]
    body = _cells(filled, " ± ", lambda s: f"**{s}**")
    text = tabulate(body, headers=headers, tablefmt="github", disable_numparse=True,
                    colalign=["left"] + ["right"] * (len(headers) - 1))
    runs = "\n".join(f"- {row.title}: `{row.name}`, run id{'s' if len(ids) > 1 else ''} "
                     + ", ".join(f"`{r}`" for r in ids)
                     for row, ids in ((t.rows[i], filled.runs.get(i, [])) for i in range(len(t.rows))))
    return (f"## {t.source}: {t.title}\n\n{text}\n\n*{filled.caption}*\n\n"
            f"Runs (records under `<out>/<model>/<run id>/<task>/`):\n\n{runs}\n")


def render_latex(filled: Filled) -> str:
    """A booktabs table: 'Ours' and 'Published' column groups of the same columns."""
    from mcnbench.report.tables import _tex, _tex_cell

    t = filled.table
    n = len(t.columns)
    body = _cells(filled, r" $\pm$ ", lambda s: rf"\textbf{{{s}}}")
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{_tex(t.source + ': ' + t.title)}. "
             rf"{_tex(filled.caption)}}}", rf"\label{{tab:mcnbench-paper-{t.key.lower()}}}",
             r"\resizebox{\linewidth}{!}{%", rf"\begin{{tabular}}{{l{'r' * (2 * n)}}}", r"\toprule",
             rf" & \multicolumn{{{n}}}{{c}}{{Ours}} & \multicolumn{{{n}}}{{c}}{{Published}} \\",
             rf"\cmidrule(lr){{2-{n + 1}}} \cmidrule(lr){{{n + 2}-{2 * n + 1}}}",
             " & ".join(["", *(_tex(c.title) for c in t.columns * 2)]) + r" \\", r"\midrule"]
    lines += [" & ".join([_tex(r[0]), *(_tex_cell(c) for c in r[1:])]) + r" \\" for r in body]
    lines += [r"\bottomrule", r"\end{tabular}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def long_rows(filled: Filled) -> list[dict]:
    """The tidy values behind the table: one dict per (row, column, seed), for CSV."""
    t = filled.table
    out = []
    for i, row in enumerate(t.rows):
        pub = t.published(row)
        for j, col in enumerate(t.columns):
            for seed, v in filled.values.get((i, j), []):
                out.append({"table": t.key, "row": row.title, "model": row.name, "column": col.title,
                            "task": col.task, "metric": row.prefix + col.metric, "seed": seed,
                            "value": v, "published": pub.get(col.title)})
    return out


__all__ = ["MCN", "TABLE_KEYS", "Col", "Filled", "PaperTable", "Row", "long_rows", "paper_tables",
           "render_latex", "render_markdown", "scaled_k"]
