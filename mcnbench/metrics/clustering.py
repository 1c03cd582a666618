"""Clustering quality of an embedding (MCN Table 3, Supp. Table A; mcn_spec §6.9).

Per video: k-means on its per-second embeddings with k = the number of ground-truth labels in
the video, then five scores of the clustering against the per-second ground truth, averaged
over videos (:func:`mean_scores`):

* ``NMI`` — normalised mutual information ``I(Y; C) / ((H(Y) + H(C)) / 2)`` (arithmetic-mean
  normalisation, scikit-learn's default); 1 when both partitions are a single group;
* ``ARI`` — the adjusted Rand index of Hubert & Arabie from the contingency table; 1 for
  identical partitions, about 0 for independent ones; 1 when the expected index equals its
  maximum (e.g. both partitions a single group), as scikit-learn defines it;
* ``Acc`` — Hungarian accuracy: the one-to-one map between clusters and labels that matches the
  most seconds (``scipy.optimize.linear_sum_assignment`` on the contingency table), matched
  seconds / seconds;
* ``H`` — mean cluster entropy ⟨H⟩: per non-empty cluster, the entropy (natural log, nats) of the
  ground-truth labels of its members; unweighted mean over the video's clusters. 0 = pure;
* ``p_max`` — mean max purity ⟨p_max⟩: per non-empty cluster, the largest share of one label
  among its members; unweighted mean over clusters.

All scores are fractions here (tasks report NMI, ARI, Acc, p_max in percent; H in nats). The
paper does not say which log base ⟨H⟩ uses or whether the cluster means weigh clusters by size;
these are mcnbench's documented choices (docs/tasks.md).

k-means (:func:`kmeans`) is plain Lloyd's algorithm in numpy with k-means++ seeding and
``n_init`` restarts, keeping the lowest inertia, seeded, on L2-normalised rows by default (the
geometry MCN's own clustering uses: cosine).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

SCORES = ("NMI", "ARI", "Acc", "H", "p_max")


def contingency(labels_true, labels_pred) -> np.ndarray:
    """``[n_true_classes, n_clusters]`` int64 counts (rows: distinct true labels in sorted order,
    columns: distinct cluster labels in sorted order)."""
    y = np.asarray(labels_true).ravel()
    c = np.asarray(labels_pred).ravel()
    if y.shape != c.shape:
        raise ValueError(f"labels_true {y.shape} and labels_pred {c.shape} differ in length")
    _, yi = np.unique(y, return_inverse=True)
    _, ci = np.unique(c, return_inverse=True)
    table = np.zeros((yi.max() + 1 if y.size else 0, ci.max() + 1 if c.size else 0), np.int64)
    np.add.at(table, (yi, ci), 1)
    return table


def _entropy(counts: np.ndarray) -> float:
    n = counts.sum()
    p = counts[counts > 0] / n
    return float(-(p * np.log(p)).sum())


def nmi(labels_true, labels_pred) -> float:
    """Normalised mutual information, arithmetic-mean normalisation (see module doc)."""
    t = contingency(labels_true, labels_pred)
    if t.size == 0:
        return float("nan")
    if t.shape[0] == 1 and t.shape[1] == 1:
        return 1.0
    n = t.sum()
    pij = t / n
    pi, pj = pij.sum(axis=1, keepdims=True), pij.sum(axis=0, keepdims=True)
    nz = pij > 0
    mi = float((pij[nz] * np.log(pij[nz] / (pi @ pj)[nz])).sum())
    h = 0.5 * (_entropy(t.sum(axis=1)) + _entropy(t.sum(axis=0)))
    return max(0.0, mi) / h if h > 0 else 0.0


def ari(labels_true, labels_pred) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985) from the contingency table."""
    t = contingency(labels_true, labels_pred)
    n = int(t.sum())
    if n == 0:
        return float("nan")

    def pairs(x):
        x = np.asarray(x, dtype=np.float64)
        return float((x * (x - 1) / 2).sum())

    index = pairs(t)
    a, b = pairs(t.sum(axis=1)), pairs(t.sum(axis=0))
    expected = a * b / (n * (n - 1) / 2) if n > 1 else 0.0
    maximum = 0.5 * (a + b)
    if maximum == expected:  # e.g. both partitions one group, or every item alone
        return 1.0
    return (index - expected) / (maximum - expected)


def hungarian_accuracy(labels_true, labels_pred) -> tuple[float, dict]:
    """(matched / n, {cluster label: true label}) under the best one-to-one matching."""
    y = np.asarray(labels_true).ravel()
    c = np.asarray(labels_pred).ravel()
    t = contingency(y, c)
    if t.size == 0:
        return float("nan"), {}
    rows, cols = linear_sum_assignment(t, maximize=True)
    ys, cs = np.unique(y), np.unique(c)
    mapping = {cs[j].item(): ys[i].item() for i, j in zip(rows, cols, strict=True)}
    return float(t[rows, cols].sum()) / float(t.sum()), mapping


def entropy_purity(labels_true, labels_pred) -> tuple[float, float]:
    """(⟨H⟩ in nats, ⟨p_max⟩): means over the non-empty clusters of the entropy and of the
    largest label share of each cluster's members."""
    t = contingency(labels_true, labels_pred)
    if t.size == 0:
        return float("nan"), float("nan")
    sizes = t.sum(axis=0)
    H = np.array([_entropy(t[:, j]) for j in range(t.shape[1])])
    return float(H.mean()), float((t.max(axis=0) / sizes).mean())


def cluster_scores(labels_true, labels_pred) -> dict[str, float]:
    """``{"NMI", "ARI", "Acc", "H", "p_max"}`` of one clustering (fractions; H in nats)."""
    acc, _ = hungarian_accuracy(labels_true, labels_pred)
    H, p = entropy_purity(labels_true, labels_pred)
    return {"NMI": nmi(labels_true, labels_pred), "ARI": ari(labels_true, labels_pred),
            "Acc": acc, "H": H, "p_max": p}


# --------------------------------------------------------------------------- k-means

@dataclass
class KMeansResult:
    """labels: [N] int64 in [0, k); centroids: [k, D] (of the normalised rows when normalising);
    inertia: sum of squared distances to the assigned centroids."""

    labels: np.ndarray
    centroids: np.ndarray
    inertia: float


def _plusplus(G: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """k-means++ seeding (Arthur & Vassilvitskii 2007) on the Gram matrix ``G [N, N]``: each next
    centre drawn with probability proportional to the squared distance to the nearest centre
    chosen so far (``|x_i - x_p|² = G_ii + G_pp - 2 G_ip``)."""
    diag = np.diag(G)
    centres = [int(rng.integers(len(G)))]
    d2 = np.maximum(diag + diag[centres[0]] - 2.0 * G[:, centres[0]], 0.0)
    for _ in range(1, k):
        total = d2.sum()
        nxt = int(rng.choice(len(G), p=d2 / total)) if total > 0 else int(rng.integers(len(G)))
        centres.append(nxt)
        d2 = np.minimum(d2, np.maximum(diag + diag[nxt] - 2.0 * G[:, nxt], 0.0))
    return centres


def _distances(G: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``[N, k]`` squared distances of the points to the centroids ``W.T @ x`` (W ``[N, k]``)."""
    GW = G @ W
    return np.diag(G)[:, None] - 2.0 * GW + np.einsum("nk,nk->k", W, GW)[None, :]


def _lloyd(G: np.ndarray, centres: list[int], max_iter: int, tol: float
           ) -> tuple[np.ndarray, np.ndarray, float]:
    """Lloyd's iterations with every centroid a weighted mean of the points (weights ``W``), so
    that only the Gram matrix is needed: (labels [N], W [N, k], inertia)."""
    n, k = len(G), len(centres)
    W = np.zeros((n, k))
    W[centres, np.arange(k)] = 1.0
    for _ in range(max_iter):
        labels = _distances(G, W).argmin(axis=1)
        counts = np.bincount(labels, minlength=k)
        new = np.zeros_like(W)
        new[np.arange(n), labels] = 1.0
        new = np.where(counts > 0, new / np.maximum(counts, 1), W)  # an emptied cluster stays
        diff = new - W
        shift = float(np.einsum("nk,nk->", diff, G @ diff))  # Σ_j |c_j(new) - c_j(old)|²
        W = new
        if shift <= tol:
            break
    d2 = _distances(G, W)
    labels = d2.argmin(axis=1)
    return labels.astype(np.int64), W, float(np.maximum(d2[np.arange(n), labels], 0.0).sum())


def kmeans(x, k: int, *, seed: int = 0, n_init: int = 10, max_iter: int = 100,
           tol: float = 1e-8, normalize: bool = True) -> KMeansResult:
    """Lloyd's k-means of ``x [N, D]`` into ``k`` clusters: k-means++ seeds, ``n_init``
    restarts from ``np.random.default_rng(seed)``, the lowest inertia kept (the first on a tie).

    normalize: L2-normalise the rows first (cosine geometry; zero rows stay zero). ``k`` is
    capped at the number of distinct rows (k-means cannot split identical points). Everything
    runs on the ``[N, N]`` Gram matrix (a centroid is a mean of points, so distances to it are
    inner products of points): the cost per iteration is N² k, whatever D is.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"need x [N, D] with N >= 1, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN/inf")
    if normalize:
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norm > 0, norm, 1.0)
    k = max(1, min(int(k), len({row.tobytes() for row in x})))
    G = x @ x.T
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(max(1, int(n_init))):
        res = _lloyd(G, _plusplus(G, k, rng), max_iter, tol)
        if best is None or res[2] < best[2] - 1e-12:
            best = res
    labels, W, inertia = best
    return KMeansResult(labels, W.T @ x, inertia)


def cluster_video(embeddings, labels, *, k: int | None = None, seed: int = 0,
                  n_init: int = 10, normalize: bool = True) -> dict[str, float]:
    """k-means of one video's per-second embeddings ``[T, D]`` with ``k`` clusters (default:
    the number of distinct ``labels [T]``), scored against ``labels``: :func:`cluster_scores`
    plus ``k`` and ``n`` (seconds)."""
    labels = np.asarray(labels)
    if len(labels) != len(embeddings):
        raise ValueError(f"{len(embeddings)} embeddings for {len(labels)} labels")
    k = len(np.unique(labels)) if k is None else int(k)
    pred = kmeans(embeddings, k, seed=seed, n_init=n_init, normalize=normalize).labels
    return {**cluster_scores(labels, pred), "k": float(k), "n": float(len(labels))}


def mean_scores(per_video: list[dict[str, float]]) -> dict[str, float]:
    """Unweighted mean of each score over videos (NaN when there is no video)."""
    return {s: (float(np.mean([v[s] for v in per_video])) if per_video else float("nan"))
            for s in SCORES}


def single_label_seconds(y_true) -> tuple[np.ndarray, np.ndarray]:
    """(mask [T], labels [n]) of the seconds of a binary ``[T, K]`` ground truth that belong to
    exactly one step: CrossTask's background is not a class, and a second inside two
    overlapping steps has no single label."""
    y = np.asarray(y_true) > 0
    keep = y.sum(axis=1) == 1
    return keep, y[keep].argmax(axis=1)
