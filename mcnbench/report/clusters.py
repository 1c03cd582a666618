"""The cluster browser: what each of a trained MCN's k-means clusters holds.

MCN clusters the fused embedding ``(video + audio + text) / 3`` of its training clips with online
k-means (mcn_spec §4.2). For a gallery of clips with captions this module assigns every clip to
the model's *learned* centroids (the last refit, saved in the run's ``checkpoint.pth`` beside
``model.pth``) — or, when no centroids were kept (a released checkpoint, a baseline without
clustering), to a cosine k-means refit on the gallery with the model's ``n_clusters``, and says
so. Per cluster it reports the size, the most frequent caption words, and on a synthetic world
the majority true concept and the cluster's purity; over all clusters purity and NMI against
the true concepts (:func:`mcnbench.search.gallery.true_concepts`) — a measurement only a world
with ground-truth semantics allows.

    purity = Σ_clusters max_concept |cluster ∩ concept| / N_known
    NMI    = I(cluster; concept) / ((H(cluster) + H(concept)) / 2)      (arithmetic normalisation)

both over the clips whose concept is known (background and unknown clips are left out of the
scores but still shown in the sizes).
"""
from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Function words never worth showing as a cluster's "topic".
STOPWORDS = frozenset("""a an the and or but of to in on at for with from by into onto over under up down out
off is are was were be been being am i i'm im you we we're our it it's its this that these those there
here then now so just some very can will would should could do does did have has had not no yes my your
their them they he she his her me us let's lets""".split())
_WORD = re.compile(r"[a-z][a-z']*")


@dataclass
class Cluster:
    """One cluster: ``size`` clips, its ``words`` [(word, count)], the majority concept among
    its clips of known concept and the share it has (``purity``; NaN when none is known)."""

    cluster: int
    size: int
    words: list[tuple[str, int]]
    concept: str = ""
    purity: float = float("nan")
    n_known: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class ClusterReport:
    """Every non-empty cluster (largest first) and the overall scores."""

    clusters: list[Cluster]
    n: int
    k: int
    centroids_from: str
    purity: float = float("nan")
    nmi: float = float("nan")
    n_known: int = 0
    labels: np.ndarray | None = None

    def frame(self):
        import pandas as pd

        return pd.DataFrame([{"cluster": c.cluster, "size": c.size, "concept": c.concept,
                              "purity": c.purity, "known": c.n_known,
                              "words": " ".join(w for w, _ in c.words)} for c in self.clusters])


# scores ---------------------------------------------------------------------------------------
def _contingency(labels: np.ndarray, truth: np.ndarray) -> np.ndarray:
    _, li = np.unique(labels, return_inverse=True)
    _, ti = np.unique(truth, return_inverse=True)
    table = np.zeros((li.max() + 1, ti.max() + 1), dtype=np.int64)
    np.add.at(table, (li, ti), 1)
    return table


def purity(labels, truth) -> float:
    """Σ over clusters of its largest concept count, over N (``labels``, ``truth``: [N] ints)."""
    labels, truth = np.asarray(labels), np.asarray(truth)
    if labels.size == 0:
        return float("nan")
    return float(_contingency(labels, truth).max(axis=1).sum() / labels.size)


def nmi(labels, truth) -> float:
    """Normalised mutual information (arithmetic mean of the entropies; 1 when both partitions
    are a single group), the same as ``sklearn.metrics.normalized_mutual_info_score``."""
    labels, truth = np.asarray(labels), np.asarray(truth)
    if labels.size == 0:
        return float("nan")
    p = _contingency(labels, truth) / labels.size
    pu, pv = p.sum(axis=1), p.sum(axis=0)
    nz = p > 0
    mi = float((p[nz] * np.log(p[nz] / np.outer(pu, pv)[nz])).sum())
    hu = float(-(pu[pu > 0] * np.log(pu[pu > 0])).sum())
    hv = float(-(pv[pv > 0] * np.log(pv[pv > 0])).sum())
    if hu == 0 and hv == 0:
        return 1.0
    return max(0.0, mi) / ((hu + hv) / 2) if hu + hv > 0 else 0.0


def words_of(caption: str) -> list[str]:
    return [w for w in _WORD.findall(caption.lower()) if w not in STOPWORDS]


def cluster_words(captions: list[str], labels: np.ndarray, top: int = 6) -> dict[int, list[tuple[str, int]]]:
    """Per cluster its ``top`` most frequent caption words, leaving out function words and
    words found in more than half of the clusters (talk every cluster has says nothing)."""
    counts: dict[int, Counter] = {}
    for cap, lab in zip(captions, labels, strict=True):
        counts.setdefault(int(lab), Counter()).update(words_of(cap))
    spread = Counter(w for c in counts.values() for w in c)
    common = {w for w, n in spread.items() if len(counts) > 3 and n > len(counts) / 2}
    return {k: [(w, n) for w, n in c.most_common() if w not in common][:top] for k, c in counts.items()}


# centroids ------------------------------------------------------------------------------------
def learned_centroids(checkpoint: str | Path) -> np.ndarray | None:
    """``[K, D]`` centroids of the fused k-means saved with a training run: ``checkpoint.pth``
    beside ``checkpoint`` (a ``model.pth``), or ``checkpoint`` itself when it is a run
    checkpoint; None when the run kept none (clustering off, per-modality k-means, a released
    weights-only file)."""
    import torch

    checkpoint = Path(checkpoint)
    run = checkpoint if checkpoint.name == "checkpoint.pth" else checkpoint.with_name("checkpoint.pth")
    if not run.is_file():
        return None
    try:
        state = torch.load(run, map_location="cpu", weights_only=True)
        c = state["trainer"]["kmeans"]["fused"]["centroids"]
    except (KeyError, TypeError, RuntimeError, OSError):
        return None
    return None if c is None else c.double().numpy()


def assign(fused: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Nearest centroid by cosine similarity, as the training k-means assigns: ``[N]``."""
    import torch

    from mcnbench.models.kmeans import assign_cosine

    return assign_cosine(torch.as_tensor(fused, dtype=torch.float64),
                         torch.as_tensor(centroids, dtype=torch.float64)).numpy()


def refit(fused: np.ndarray, k: int, seed: int = 0, restarts: int = 8) -> np.ndarray:
    """Cosine k-means (the training's own :func:`~mcnbench.models.kmeans.cosine_kmeans`) on the
    gallery: ``[N]`` labels (k capped at N), the best of ``restarts`` random inits by total
    cosine similarity of the clips to their centroids (one init can stall in a poor optimum)."""
    import torch

    from mcnbench.models.kmeans import cosine_kmeans

    k = max(1, min(int(k), len(fused)))
    x = torch.as_tensor(fused, dtype=torch.float64)
    xn = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    gen = torch.Generator().manual_seed(seed)
    best, best_score = None, -np.inf
    for _ in range(max(1, restarts)):
        cents, labels = cosine_kmeans(x, k, generator=gen, empty="reseed")
        cn = cents / cents.norm(dim=1, keepdim=True).clamp_min(1e-12)
        score = float((xn * cn[labels]).sum())
        if score > best_score:
            best, best_score = labels, score
    return best.numpy()


def fused_embeddings(emb: dict[str, np.ndarray], text: np.ndarray) -> np.ndarray:
    """The clustering input of MCN's joint mode: the mean of the modalities' embeddings
    ``(v + a + t) / 3`` (``(v + t) / 2`` without audio), ``[N, D]``."""
    parts = [emb[m] for m in ("video", "audio") if m in emb] + [text]
    return np.mean(np.stack([p.astype(np.float64) for p in parts]), axis=0)


# the browser ----------------------------------------------------------------------------------
def browse(fused: np.ndarray, captions: list[str], *, centroids: np.ndarray | None = None,
           k: int | None = None, truth: np.ndarray | None = None, names: dict[int, str] | None = None,
           ids: list[str] | None = None, seed: int = 0, top_words: int = 6) -> ClusterReport:
    """Cluster ``fused [N, D]`` (to ``centroids [K, D]`` when given, else a refit with ``k``)
    and summarise each cluster; ``truth [N]`` (concept ids, -1 unknown) adds purity and NMI."""
    if centroids is not None:
        labels, k, source = assign(fused, centroids), len(centroids), "learned centroids of the training run"
    else:
        if not k:
            raise ValueError("need learned centroids or a number of clusters k")
        labels, source = refit(fused, k, seed), f"cosine k-means refit on the gallery (k={k})"
    words = cluster_words(captions, labels, top_words)
    names = names or {}
    known = truth is not None
    clusters = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        cl = Cluster(int(c), len(members), words.get(int(c), []),
                     examples=[captions[i] for i in members[:3]])
        if known:
            t = truth[members]
            t = t[t >= 0]
            cl.n_known = len(t)
            if len(t):
                values, counts = np.unique(t, return_counts=True)
                cl.concept = names.get(int(values[counts.argmax()]), str(values[counts.argmax()]))
                cl.purity = float(counts.max() / len(t))
        clusters.append(cl)
    clusters.sort(key=lambda c: (-c.size, c.cluster))
    report = ClusterReport(clusters, len(fused), int(k), source, labels=labels)
    if known:
        ok = truth >= 0
        report.n_known = int(ok.sum())
        report.purity, report.nmi = purity(labels[ok], truth[ok]), nmi(labels[ok], truth[ok])
    return report


def to_html(report: ClusterReport, title: str = "Clusters") -> str:
    """An HTML ``<section>``: the overall scores and one table row per cluster."""
    e = html.escape
    head = (f"<p>{report.n} clips in {len(report.clusters)} non-empty of {report.k} clusters; "
            f"assignment: {e(report.centroids_from)}.")
    if report.n_known:
        head += (f" Against the synthetic world's true concepts ({report.n_known} clips of known "
                 f"concept): <b>purity {report.purity:.3f}</b>, <b>NMI {report.nmi:.3f}</b>.")
    head += "</p>"
    rows = []
    for c in report.clusters:
        words = ", ".join(f"{e(w)} ({n})" for w, n in c.words) or "–"
        pur = "" if np.isnan(c.purity) else f"{c.purity:.2f}"
        ex = "<br>".join(e(x) for x in c.examples)
        rows.append(f"<tr><td>{c.cluster}</td><td>{c.size}</td><td>{words}</td><td>{e(c.concept)}</td>"
                    f"<td>{pur}</td><td class='ex'>{ex}</td></tr>")
    table = ("<table class='clusters'><thead><tr><th>cluster</th><th>size</th><th>most frequent "
             "caption words</th><th>majority true concept</th><th>purity</th><th>example captions"
             "</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    return f"<section><h3>{e(title)}</h3>{head}{table}</section>"
