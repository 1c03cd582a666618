"""``mcnbench report RESULTS --html OUT``: one self-contained ``index.html``.

The page holds the comparison table (significance against the reference row marked, the test
named), the figures of :mod:`mcnbench.report.plots` (PNG files beside the page, linked
relatively), the embedding map and cluster browser of the reference model when its checkpoint and
data are on this machine (:mod:`mcnbench.report.explore`), the protocol notes of each task, and
each row's identity and provenance (config hash, checkpoint, data fingerprint, versions, commit)
with relative links to its record files. No script, font or style is fetched from anywhere: the
CSS is inline, so the folder can be zipped, mailed or opened from disk.
"""
from __future__ import annotations

import datetime as _dt
import html
import inspect
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mcnbench.report.frame import PAPER_LABEL, enrich, task_title
from mcnbench.report.identity import ROW, row_key, with_row
from mcnbench.report.significance import TEST_NAME
from mcnbench.report.tables import Table, _cell

E = html.escape
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.86em;margin:.6em 0} th,td{border:1px solid #ddd;padding:.25em .5em}
th{background:#f4f4f4} td.num{text-align:right;white-space:nowrap} tr.paper td{color:#666;font-style:italic}
tr.ref td:first-child{font-weight:bold} sup.sig{color:#b30000;font-weight:bold}
figure{margin:1.2em 0} figure img{max-width:100%;border:1px solid #eee} figcaption{font-size:.9em;color:#444}
.caption{font-size:.88em;color:#444;max-width:1000px} .note{color:#8a5a00;font-size:.9em}
td.ex{font-size:.85em;color:#555} code{background:#f4f4f4;padding:0 .2em}
nav a{margin-right:1em}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;font-size:.88em}
dl.kv dt{font-weight:bold} dl.kv dd{margin:0}
"""

FIGURE_TEXT = {
    "recall_at_k.png": "Recall@K for every K (log axis) from the saved per-query ranks: mean over seeds, "
                       "band ±1 std; dots are the recorded R@K, dashed squares MCN's published numbers.",
    "rank_histogram.png": "Histogram of the ground-truth clip's rank (1 = retrieved first), seeds pooled.",
    "main_scores.png": "Each task's main score per model, error bars ±1 std over seeds; dashed: "
                       "MCN's published number (real data).",
    "ablation_delta.png": "Each row's difference from the reference on the main scores, signed so that "
                          "up is better; error bars as the title says (* = significant, paired bootstrap).",
    "crosstask_per_task.png": "CrossTask recall per task, error bars ±1 std over seeds.",
    "timelines.png": "A few CrossTask and Mining YouTube videos: ground truth and each model's "
                     "prediction per second (grey = background).",
    "training_curves.png": "One panel per trained model: the loss terms it has (named from its config; "
                           "reconstruction before its weight), mean over seeds, band min–max.",
    "learning_curves.png": "Validation monitor (caption→clip R@10 on held-out corpus videos) over "
                           "training steps, mean over seeds, band min–max; the legend gives each "
                           "model's gain over the last 20 % of its steps (plateau: < 0.5).",
    "embedding_map.png": "t-SNE of the reference model's clip (video+audio) and caption embeddings, "
                         "coloured by the synthetic world's true concept and by learned cluster.",
}


def _rel(target: str | Path, out_dir: Path) -> str:
    return Path(os.path.relpath(Path(target).resolve(), out_dir.resolve())).as_posix()


def _link(target: str | Path, out_dir: Path, text: str | None = None) -> str:
    rel = _rel(target, out_dir)
    return f"<a href='{E(rel, quote=True)}'>{E(text or rel)}</a>"


# the table ------------------------------------------------------------------------------------
def table_html(table: Table, tests: pd.DataFrame | None, reference: str | None) -> str:
    """The comparison table as HTML: mean ± std (bold = best), Δ columns when a reference is
    set, and ``*`` / ``**`` on cells whose difference from the reference row is significant
    at p < 0.05 / 0.01 (the cell's tooltip gives Δ, its 95% interval and p)."""
    sig = {}
    if tests is not None and len(tests):
        for r in tests.itertuples(index=False):
            sig[(r.row, r.task, r.metric)] = r
    head = ["<th>model</th>"]
    for task, metric in table.columns:
        from mcnbench.report.frame import arrow

        head.append(f"<th>{E(task_title(task))}<br>{E(metric)} {arrow(metric, task)}</th>")
        if table.delta is not None:
            head.append("<th>Δ</th>")
    body = []
    for row in table.rows:
        cells = [f"<td>{E(row)}</td>"]
        for col in table.columns:
            text = E(_cell(table, row, col, " ± "))
            if table.best.at[row, col]:
                text = f"<b>{text}</b>"
            t = sig.get((row, *col))
            if t is not None and row != reference:
                mark = "**" if t.p < 0.01 else "*" if t.p < 0.05 else ""
                tip = (f"Δ vs {reference} = {t.diff:+.2f}, 95% CI [{t.lo:+.2f}, {t.hi:+.2f}], "
                       f"p = {t.p:.3g} ({t.n_queries} queries)")
                text = f"<span title='{E(tip, quote=True)}'>{text}</span>"
                if mark:
                    text += f"<sup class='sig'>{mark}</sup>"
            cells.append(f"<td class='num'>{text}</td>")
            if table.delta is not None:
                d = table.delta.at[row, col]
                cells.append("<td class='num'>ref</td>" if row == table.reference else
                             f"<td class='num'>{'–' if pd.isna(d) else f'{d:+.{table.precision}f}'}</td>")
        cls = " class='ref'" if row == reference else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    if table.paper:
        cells = [f"<td>{E(PAPER_LABEL)}</td>"]
        for col in table.columns:
            v = table.paper.get(col)
            cells.append(f"<td class='num'>{'' if v is None else f'{v:.{table.precision}f}'}</td>")
            if table.delta is not None:
                cells.append("<td></td>")
        body.append(f"<tr class='paper'>{''.join(cells)}</tr>")
    return ("<table class='results'><thead><tr>" + "".join(head) + "</tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


def significance_text(tests: pd.DataFrame | None, reference: str | None, n_boot: int) -> str:
    if not reference:
        return "No reference row: no significance tests (use --reference)."
    if tests is None or tests.empty:
        return (f"Significance against <b>{E(reference)}</b>: no metric had per-query arrays that "
                "reproduce its recorded value, so nothing was tested.")
    n_sig = int(tests["significant"].sum())
    return (f"Significance against the reference row <b>{E(reference)}</b>: {E(TEST_NAME)}, "
            f"{n_boot:,} resamples; <sup class='sig'>*</sup> p &lt; 0.05, <sup class='sig'>**</sup> "
            f"p &lt; 0.01 (hover a cell for Δ, its 95% interval and p). {n_sig} of {len(tests)} "
            "tested differences are significant at 0.05. Only metrics computable from per-query "
            "arrays are tested (R@K, MedR, MeanR, CrossTask recall, MoF); IoU/IoD are not. "
            "No correction for multiple comparisons.")


# protocol notes and provenance ----------------------------------------------------------------
def _short(v) -> str | None:
    if isinstance(v, bool) or isinstance(v, (int, float)):
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    if isinstance(v, str) and len(v) <= 160:
        return v
    return None


def protocol_notes(df: pd.DataFrame, out_dir: Path) -> str:
    """Per task: its description and module notes (the registered task's docstring), version,
    the options and counts its records hold (first record)."""
    from mcnbench.report.frame import _meta, _task_class

    def _task_attr(task, attr):
        return getattr(_task_class(task.partition("[")[0]), attr, None)

    def order(task):
        meta = _meta(task)
        return (meta.order if meta is not None else 10**6, task)

    parts = []
    recs = df.attrs.get("records", {})
    for task in sorted(df["task"].unique(), key=order):
        path = df.loc[df["task"] == task, "path"].iloc[0]
        rec = recs.get(path)
        doc = ""
        obj = _task_attr(task, "evaluate")
        if obj is not None:
            module = inspect.getmodule(obj)
            doc = (module.__doc__ or "").strip() if module is not None else ""
        desc = _task_attr(task, "description") or ""
        kv = []
        if rec is not None:
            kv.append(("version", rec.task.get("version")))
            kv.append(("main score", rec.main_score))
            kv.append(("tie rule", rec.tie_rule))
            kv += [(f"option {k}", v) for k, v in sorted((rec.task.get("options") or {}).items())]
            kv += [(k, v) for k, v in sorted((rec.info or {}).items()) if _short(v) is not None]
        dl = "".join(f"<dt>{E(str(k))}</dt><dd>{E(_short(v) or str(v))}</dd>" for k, v in kv)
        parts.append(f"<h3 id='task-{E(task)}'>{E(task_title(task))} <code>{E(task)}</code></h3>"
                     + (f"<p>{E(desc)}</p>" if desc else "")
                     + (f"<pre class='caption' style='white-space:pre-wrap'>{E(doc)}</pre>" if doc else "")
                     + (f"<p class='caption'>From {_link(path, out_dir, 'the first record')}:</p>"
                        f"<dl class='kv'>{dl}</dl>" if dl else ""))
    return "".join(parts)


def provenance(df: pd.DataFrame, out_dir: Path) -> str:
    """Per row: identity (model, version, config hash, run id when recorded, variant), the
    checkpoints, the data, the versions and commit, when, and a link to every record."""
    df = with_row(df)
    recs = df.attrs.get("records", {})
    blocks = []
    for row, rows in df.groupby(ROW, sort=True):
        paths = sorted(rows["path"].unique())
        rr = [recs[p] for p in paths if p in recs]
        if not rr:
            continue
        r0 = rr[0]
        m = r0.model
        ckpts = sorted({str((r.model.get("checkpoint") or {}).get("path") or (r.model.get("checkpoint") or {})
                                                                             .get("digest") or "none")
                        for r in rr})
        commits = sorted({str(r.versions.get("git_commit", "?")) + (" (dirty)" if r.versions.get("git_dirty")
                                                                     else "") for r in rr})
        data = sorted({f"{r.data.get('kind')}"
                       + (f", preset {r.data.get('preset')}, generator seed {r.data.get('generator_seed')}"
                          if r.data.get("kind") == "synthetic" else "")
                       + f", fingerprint {str(r.data.get('fingerprint'))[:16]}" for r in rr})
        kv = [("model", f"{m.get('name')} v{m.get('version')}"),
              ("run id", ", ".join(sorted({str(getattr(r, 'run_id', None) or r.model.get('run_id') or '')
                                           for r in rr} - {""})) or "–"),
              ("config hash", ", ".join(sorted({str(r.model.get("config_hash")) for r in rr}))),
              ("variant", m.get("variant") or "–"),
              ("seeds", ", ".join(str(s) for s in sorted(rows["seed"].unique()))),
              ("tasks", ", ".join(sorted(rows["task"].unique()))),
              ("checkpoints", "; ".join(ckpts)),
              ("data", "; ".join(data)),
              ("code", "mcnbench " + ", ".join(sorted({str(r.versions.get("mcnbench")) for r in rr}))
               + "; commit " + ", ".join(commits)),
              ("libraries", ", ".join(f"{k} {r0.versions[k]}" for k in ("python", "torch", "numpy", "faiss")
                                     if k in r0.versions)),
              ("created", f"{min(r.created for r in rr)} … {max(r.created for r in rr)}")]
        dl = "".join(f"<dt>{E(k)}</dt><dd>{E(str(v))}</dd>" for k, v in kv)
        links = " ".join(_link(p, out_dir, f"{Path(p).parent.name}/{Path(p).name}") for p in paths)
        blocks.append(f"<h3>{E(row)}</h3><dl class='kv'>{dl}</dl><p class='caption'>records: {links}</p>")
    return "".join(blocks)


# the page -------------------------------------------------------------------------------------
def write_html(df: pd.DataFrame, out_dir: str | Path, *, table: Table, roots: Sequence[str | Path],
               figures: Sequence[Path] = (), files: Sequence[Path] = (), tests: pd.DataFrame | None = None,
               reference: str | None = None, explorations: Sequence = (), notes: Sequence[str] = (),
               n_boot: int = 1000) -> Path:
    """Write ``out_dir/index.html`` and return its path. ``figures``/``files``: PNGs and table
    files already written (linked relatively); ``explorations``: :class:`~mcnbench.report.explore.
    Exploration` objects (map + cluster browser)."""
    from mcnbench import __version__
    from mcnbench.report.clusters import to_html as clusters_html
    from mcnbench.utils.io import atomic_write_text

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = enrich(df)
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    sources = ", ".join(_link(r, out_dir, str(r)) for r in roots)
    nav = ("<nav><a href='#table'>table</a><a href='#figures'>figures</a>"
           + ("<a href='#explore'>look inside</a>" if explorations else "")
           + "<a href='#protocols'>protocols</a><a href='#provenance'>provenance</a>"
           "<a href='#files'>files</a></nav>")
    figs = []
    for f in map(Path, figures):
        if f.suffix.lower() != ".png":  # a figure's companion table (learning_curves.md): a file
            files = [*files, f] if f not in map(Path, files) else files
            continue
        figs.append(f"<figure id='fig-{E(f.stem)}'><a href='{E(_rel(f, out_dir), quote=True)}'>"
                    f"<img src='{E(_rel(f, out_dir), quote=True)}' alt='{E(f.name, quote=True)}'></a>"
                    f"<figcaption><b>{E(f.name)}</b>: {E(FIGURE_TEXT.get(f.name, ''))}</figcaption></figure>")
    explore_html = []
    for ex in explorations:
        part = [f"<h3>{E(ex.model)} on {E(ex.source)}</h3>"]
        if ex.checkpoint:
            part.append(f"<p class='caption'>checkpoint: <code>{E(ex.checkpoint)}</code></p>")
        for n in ex.notes:
            part.append(f"<p class='note'>{E(n)}</p>")
        if ex.map_path is not None:
            agree = "; ".join(f"{k}: {v:.2f}" for k, v in ex.agreement.items())
            part.append(f"<figure><a href='{E(_rel(ex.map_path, out_dir), quote=True)}'><img src="
                        f"'{E(_rel(ex.map_path, out_dir), quote=True)}' alt='embedding map'></a><figcaption>"
                        f"{E(FIGURE_TEXT['embedding_map.png'])} Share of each point's 5 nearest map "
                        f"neighbours with its label — {E(agree)}.</figcaption></figure>")
        part.append(clusters_html(ex.clusters, f"Cluster browser: {ex.model} on {ex.source}"))
        explore_html.append("".join(part))
    file_links = "".join(f"<li>{_link(f, out_dir, Path(f).name)}</li>" for f in files)
    note_html = "".join(f"<li class='note'>{E(n)}</li>" for n in notes)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>mcnbench report</title><style>{CSS}</style></head><body>
<h1>mcnbench report</h1>
<p class="caption">Made {E(now)} by mcnbench {E(__version__)} from {sources}: {df['path'].nunique()} records,
{row_key(df).nunique()} rows,
{df['task'].nunique()} tasks.</p>
{nav}
<h2 id="table">Results</h2>
<div style="overflow-x:auto">{table_html(table, tests, reference)}</div>
<p class="caption">{E(table.caption)}</p>
<p class="caption">{significance_text(tests, reference, n_boot)}</p>
<h2 id="figures">Figures</h2>
{''.join(figs) or '<p>No figures.</p>'}
{('<h2 id="explore">Look inside</h2>' + ''.join(explore_html)) if explore_html else ''}
<h2 id="protocols">Protocol notes</h2>
{protocol_notes(df, out_dir)}
<h2 id="provenance">Run identity and provenance</h2>
{provenance(df, out_dir)}
<h2 id="files">Files</h2>
<ul>{file_links}</ul>
{('<h3>Notes</h3><ul>' + note_html + '</ul>') if note_html else ''}
</body></html>
"""
    return atomic_write_text(out_dir / "index.html", page)
