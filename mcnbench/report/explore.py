"""Look inside one model: its embedding map and cluster browser on a gallery of clips.

:func:`explore` embeds a gallery (:mod:`mcnbench.search.gallery`) with the model, lays clips and
captions out in 2-D (:mod:`~mcnbench.report.embedmap`) coloured by true concept and by learned
cluster, and summarises its clusters (:mod:`~mcnbench.report.clusters`). :func:`model_for_report`
finds the model a report's records name (its checkpoint, else the same cache entry under
``$MCNBENCH_CACHE``), so ``mcnbench report --html`` can show both for the reference model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcnbench.report.clusters import ClusterReport, browse, fused_embeddings, learned_centroids


@dataclass
class Exploration:
    """What :func:`explore` made: the cluster report, the map's file and its neighbour
    agreements (share of 5 nearest 2-D neighbours with the same label), and notes."""

    model: str
    source: str
    checkpoint: str | None
    clusters: ClusterReport
    map_path: Path | None = None
    agreement: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def explore(model, data_root: str | Path, out_dir: str | Path, *, source: str = "youcook2",
            checkpoint: str | Path | None = None, name: str | None = None, seed: int = 0,
            map_name: str = "embedding_map.png", max_map_clips: int = 400) -> Exploration:
    """Embed gallery ``source`` of ``data_root`` with ``model``; write the map into ``out_dir``.

    Clusters use the learned centroids of the training run of ``checkpoint`` when it kept them,
    else a refit with the model's ``n_clusters`` (or, for a model without one, the number of
    true concepts, else 32). The map shows at most ``max_map_clips`` clips (a seeded sample)
    and their captions; the browser always covers every clip.
    """
    from mcnbench.report.embedmap import embedding_map, neighbour_agreement, plot_embedding_map
    from mcnbench.search import embed_captions, embed_gallery, gallery_for_model, true_concepts
    from mcnbench.tasks.base import fuse

    name = name or getattr(model, "name", type(model).__name__)
    gallery = gallery_for_model(model, data_root, source)
    emb = embed_gallery(model, gallery)
    clips, _ = fuse(emb, "video+audio")
    text = embed_captions(model, gallery)
    found = true_concepts(data_root, gallery)
    truth, names = found if found is not None else (None, {})
    notes = []
    centroids = learned_centroids(checkpoint) if checkpoint else None
    if centroids is not None and centroids.shape[1] != clips.shape[1]:
        notes.append(f"centroids of {display_path(checkpoint)} are {centroids.shape[1]}-d, embeddings "
                     f"{clips.shape[1]}-d: refitting")
        centroids = None
    k = getattr(getattr(model, "train_config", None), "n_clusters", None)
    if k is None:
        k = len(set(truth[truth >= 0].tolist())) if truth is not None and (truth >= 0).any() else 32
    report = browse(fused_embeddings(emb, text), gallery.captions, centroids=centroids, k=k,
                    truth=truth, names=names, ids=gallery.ids, seed=seed)
    ex = Exploration(name, source, display_path(checkpoint), report, notes=notes)
    shown = np.arange(len(clips))
    if len(shown) > max_map_clips:  # t-SNE is quadratic-ish: map a seeded sample of the clips
        shown = np.sort(np.random.default_rng(seed).choice(len(clips), max_map_clips, replace=False))
        ex.notes.append(f"{map_name}: {max_map_clips} of {len(clips)} clips (seeded sample) mapped")
    clips, text = clips[shown], text[shown]
    labels = report.labels[shown]
    truth = truth[shown] if truth is not None else None
    try:
        xy_c, xy_t = embedding_map(clips, text, seed=seed)
    except ImportError as err:
        ex.notes.append(f"{map_name}: skipped, {err}")
        return ex
    colourings = {}
    if truth is not None:
        colourings["coloured by true concept (synthetic world)"] = (truth, truth, names)
        ex.agreement["true concept"] = neighbour_agreement(np.concatenate([xy_c, xy_t]),
                                                           np.concatenate([truth, truth]))
    colourings[f"coloured by cluster: {report.centroids_from}"] = (labels, labels, {})
    ex.agreement["learned cluster"] = neighbour_agreement(np.concatenate([xy_c, xy_t]),
                                                          np.concatenate([labels, labels]))
    ex.map_path = plot_embedding_map(
        xy_c, xy_t, colourings, Path(out_dir) / map_name,
        f"{name}: t-SNE of {len(clips)} {source} clips (dots) and their captions (crosses)")
    return ex


def model_for_report(df, row: str, *, checkpoint: str | Path | None = None,
                     data_root: str | Path | None = None, device: str = "cpu"):
    """(model, checkpoint path or None, data root, notes) for report row ``row``: the lowest
    seed's record; its checkpoint as named, else the same cache entry under the current
    ``$MCNBENCH_CACHE``; ``checkpoint`` / ``data_root`` when given override what the record
    names (the notes then say so)."""
    from mcnbench.engine.plan import build_registered as build_model
    from mcnbench.report.frame import enrich
    from mcnbench.report.identity import row_key

    df = enrich(df)
    rows = df[row_key(df) == row].sort_values("seed")
    if rows.empty:
        raise ValueError(f"no records of {row!r}")
    rec = df.attrs["records"][rows["path"].iloc[0]]
    root = rec.data.get("root")
    notes = []
    if data_root is not None:
        notes.append(f"data root {display_path(data_root)} used in place of the records' {root}")
        root = str(data_root)
    if not root or not Path(root).is_dir():
        raise FileNotFoundError(f"the data root the records name ({root}) is not on this machine "
                                "(--explore-data-root)")
    named = (rec.model.get("checkpoint") or {}).get("path")
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt is None and named and Path(named).is_file():
        ckpt = Path(named)
    if ckpt is None and named:
        from mcnbench.data.root import DataRoot
        from mcnbench.engine.checkpoints import checkpoint_dir

        train_data = (rec.model.get("checkpoint") or {}).get("train_data") \
            or DataRoot(root).corpus_entry()["fingerprint"]
        cached = checkpoint_dir(rec.model, train_data, int(rec.seed)) / "model.pth"
        if cached.is_file():
            ckpt = cached
    if named and ckpt is None:
        raise FileNotFoundError(f"the checkpoint the records name ({named}) is not on this machine")
    if named and ckpt is not None and Path(named) != ckpt:
        notes.append(f"checkpoint {display_path(ckpt)} used in place of the records' {named} (not on "
                     "this machine); the views show that model, not necessarily the one the tables measured")
    config = rec.model.get("config") or {}
    overrides, embeddings = {}, None
    name = rec.model["name"]
    if isinstance(config.get("network"), dict):  # an MCN-family model: rebuild its config
        overrides = _known({**config.get("network", {}), **config.get("train", {})})
        name = name if name in _registered() else "mcn"  # an ablation variant: mcn + its config
    elif config.get("embeddings"):  # precomputed embeddings, under whatever name they were recorded
        name, embeddings = "precomputed", config["embeddings"]
    model, _ = build_model(name, data_root=root, device=device, seed=int(rec.seed), checkpoint=ckpt,
                           embeddings=embeddings, **overrides)
    return model, ckpt, Path(root), notes


def display_path(path: str | Path | None) -> str | None:
    """A path as a report shows it: under the cache as ``$MCNBENCH_CACHE/...``, under the home
    folder as ``~/...``, else as given — so a page made on one machine names no private folder."""
    if path is None:
        return None
    from mcnbench.utils.paths import cache_dir

    p = Path(path).expanduser().resolve()
    for base, name in ((cache_dir().resolve(), "$MCNBENCH_CACHE"), (Path.home().resolve(), "~")):
        if p == base or base in p.parents:
            return f"{name}/{p.relative_to(base).as_posix()}"
    return str(path)


def _registered() -> set[str]:
    from mcnbench.registry import MODELS

    return set(MODELS.names())


def _known(overrides: dict) -> dict:
    from mcnbench.zoo.mcn_model import NETWORK_KEYS, TRAIN_KEYS

    return {k: v for k, v in overrides.items()
            if (k in NETWORK_KEYS or k in TRAIN_KEYS) and k not in ("device", "seed")}
