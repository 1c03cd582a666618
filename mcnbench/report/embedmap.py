"""A 2-D map of a gallery's clip and caption embeddings (t-SNE, scikit-learn's, optional).

Clips (the fused ``video + audio`` side of the retrieval score) and their captions are embedded
together, rows L2-normalised (t-SNE with the cosine metric: the map shows directions, which is
what the dot-product scores compare), and laid out by ``sklearn.manifold.TSNE`` (PCA init, fixed
``random_state``). Points are coloured by the synthetic world's true concept, or by the model's
learned cluster; clips are dots, captions crosses. :func:`neighbour_agreement` measures how well
the map keeps concepts together (the share of each point's 2-D nearest neighbours that share its
label), so a test can check a map's content, not just that a PNG exists.

scikit-learn is an optional extra (``pip install mcnbench[viz]``); without it
:func:`embedding_map` raises ``ImportError`` saying so, and the report skips the map with a note.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

INSTALL_HINT = "the embedding map needs scikit-learn: pip install 'mcnbench[viz]'"


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def embedding_map(clips: np.ndarray, texts: np.ndarray | None = None, *, seed: int = 0,
                  perplexity: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """2-D t-SNE coordinates of ``clips [N, D]`` and ``texts [M, D]`` laid out together:
    ``(xy_clips [N, 2], xy_texts [M, 2])``. ``perplexity`` defaults to min(30, (N+M-1)/3)."""
    try:
        from sklearn.manifold import TSNE
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    texts = np.zeros((0, clips.shape[1])) if texts is None else texts
    x = np.concatenate([_normalise(clips), _normalise(texts)])
    if len(x) < 4:
        raise ValueError(f"a map needs at least 4 points, got {len(x)}")
    perp = perplexity or min(30.0, (len(x) - 1) / 3)
    from threadpoolctl import threadpool_limits

    # One OpenMP thread: Barnes-Hut t-SNE with a thread per core slows down 30x on a shared,
    # busy machine, and one thread gives the same map everywhere. Exact t-SNE is faster below
    # ~500 points.
    with threadpool_limits(limits=1, user_api="openmp"):
        xy = TSNE(n_components=2, perplexity=perp, init="pca", metric="cosine", random_state=seed,
                  max_iter=1000, method="exact" if len(x) <= 500 else "barnes_hut").fit_transform(x)
    return xy[: len(clips)], xy[len(clips):]


def neighbour_agreement(xy: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Mean over points with a label (>= 0) of the share of their ``k`` nearest 2-D neighbours
    (among labelled points, itself excluded) that have the same label."""
    labels = np.asarray(labels)
    keep = labels >= 0
    pts, lab = np.asarray(xy)[keep], labels[keep]
    if len(pts) <= k:
        return float("nan")
    d = ((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :k]
    return float((lab[nn] == lab[:, None]).mean())


def plot_embedding_map(xy_clips: np.ndarray, xy_texts: np.ndarray, colourings: dict[str, tuple],
                       path: str | Path, title: str) -> Path:
    """One panel per colouring ``{panel title: (clip labels [N], text labels [M], names)}``;
    label -1 is drawn grey; the largest groups are named at their median position."""
    import matplotlib
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from mcnbench.report.plots import STYLE, _save

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(6.2 * len(colourings), 5.6), dpi=110, layout="constrained")
        axes = fig.subplots(1, len(colourings), squeeze=False).ravel()
        cmap = colormaps["tab20"]
        for ax, (name, (lc, lt, names)) in zip(axes, colourings.items(), strict=True):
            lc, lt = np.asarray(lc), np.asarray(lt)
            groups = np.unique(np.concatenate([lc, lt]))
            order = {g: i for i, g in enumerate(sorted(g for g in groups if g >= 0))}

            def col(labels, order=order):
                return [(0.7, 0.7, 0.7, 0.6) if g < 0 else cmap(order[g] % 20) for g in labels]
            ax.scatter(xy_clips[:, 0], xy_clips[:, 1], c=col(lc), s=14, marker="o", linewidths=0,
                       label="clip (video+audio)")
            if len(xy_texts):
                ax.scatter(xy_texts[:, 0], xy_texts[:, 1], c=col(lt), s=22, marker="x", linewidths=1.0,
                           label="caption (text)")
            alll = np.concatenate([lc, lt])
            sizes = sorted(((np.count_nonzero(alll == g), g) for g in order), reverse=True)[:12]
            for _, g in sizes:
                # On the clips of the group, else its captions: the two modalities form separate
                # islands, and the median of both would put the name in the empty gap between.
                members = xy_clips[lc == g] if np.any(lc == g) else xy_texts[lt == g]
                cx, cy = np.median(members, axis=0)
                ax.annotate(str(names.get(int(g), g)) if names else str(g), (cx, cy), fontsize=7,
                            ha="center", va="center",
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.7, "lw": 0})
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            ax.set_title(name)
            ax.legend(handles=[
                Line2D([], [], marker="o", linestyle="none", color="0.3", label="clip (video+audio)"),
                Line2D([], [], marker="x", linestyle="none", color="0.3", label="caption (text)")],
                loc="lower right", fontsize=8)
        fig.suptitle(title)
        return _save(fig, Path(path))
