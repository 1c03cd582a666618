"""Text→clip search over a gallery embedded by any model, with faiss.

    from mcnbench.search import build_gallery_index, search
    build_gallery_index("mcn", source="youcook2", out="idx", data_root=root, checkpoint="model.pth")
    hits = search("idx", ["crack the egg"], k=10)      # DataFrame: rank, score, id, span, caption

``build_gallery_index`` embeds a :mod:`~mcnbench.search.gallery` with the model, fuses the clip
side as the retrieval tasks do (``video + audio`` by default) and writes an index folder
(:mod:`~mcnbench.search.index`) that records the model's identity; ``search`` rebuilds that same
model (checking its config hash and checkpoint digest) to embed the query text.
"""
from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path

import numpy as np

from mcnbench.data.errors import DataError
from mcnbench.search.gallery import (
    SOURCES,
    Gallery,
    embed_captions,
    embed_gallery,
    embed_queries,
    load_gallery,
    true_concepts,
)
from mcnbench.search.index import IVF_ABOVE, SearchIndex, build, read_index, write_index

__all__ = ["IVF_ABOVE", "SOURCES", "Gallery", "SearchIndex", "build", "build_gallery_index",
           "embed_captions", "embed_gallery", "embed_queries", "gallery_for_model", "load_gallery",
           "load_model", "read_index", "search", "true_concepts", "write_index"]


def _train_value(model, key: str, default):
    cfg = getattr(model, "train_config", None)
    return getattr(cfg, key, default) if cfg is not None else default


def gallery_for_model(model, data_root: str | Path, source: str) -> Gallery:
    """The gallery ``source`` built with the model's own clip settings where it has them (the
    corpus: its training ``min_time``, ``audio_frames``, ``max_words``)."""
    if source == "corpus":
        return load_gallery(data_root, "corpus", audio_frames=int(_train_value(model, "audio_frames", 1000)),
                            min_time=float(_train_value(model, "min_time", 10.0)),
                            max_words=int(_train_value(model, "max_words", 20)))
    return load_gallery(data_root, source)


def load_model(identity: dict, data_root: str | Path, device: str = "cpu"):
    """Rebuild the model an index (or a record) names: ``identity`` has name, seed, overrides,
    checkpoint {path, digest}, embeddings, config_hash. Raises ``DataError`` when the checkpoint
    is gone or changed, or the rebuilt config differs."""
    from mcnbench.engine.plan import build_registered as build_model
    from mcnbench.records import config_hash
    from mcnbench.utils.io import sha256_file

    ckpt = (identity.get("checkpoint") or {}).get("path")
    if ckpt is not None:
        if not Path(ckpt).is_file():
            raise DataError(ckpt, None, "checkpoint named by the index is gone; rebuild the index")
        digest = identity["checkpoint"].get("sha256")
        if digest and sha256_file(ckpt) != digest:
            raise DataError(ckpt, None, "checkpoint changed since the index was built; rebuild it")
    model, entry = build_model(identity["name"], data_root=data_root, device=device,
                               seed=int(identity.get("seed", 0)), checkpoint=ckpt,
                               embeddings=identity.get("embeddings"), **(identity.get("overrides") or {}))
    want = identity.get("config_hash")
    if want and config_hash(entry["config"]) != want:
        raise DataError(identity.get("embeddings") or ckpt or identity["name"], None,
                        "the model rebuilt for the query has another config than the one that built "
                        "the index (code or defaults changed); rebuild the index")
    return model, entry


def build_gallery_index(model_name: str, *, source: str, out: str | Path,
                        data_root: str | Path | None = None, checkpoint: str | Path | None = None,
                        embeddings: str | Path | None = None, seed: int = 0, device: str = "cpu",
                        overrides: dict | None = None, fusion: str = "video+audio", kind: str = "auto",
                        ivf_above: int = IVF_ABOVE, nlist: int | None = None, nprobe: int = 32,
                        log=print) -> dict:
    """Embed gallery ``source`` with the model and write an index folder at ``out``; returns
    the folder's ``index.json`` content."""
    from mcnbench.data.root import resolve
    from mcnbench.engine.plan import build_registered as build_model
    from mcnbench.records import config_hash
    from mcnbench.tasks.base import fuse
    from mcnbench.utils.env import versions

    root = resolve(data_root, log=log).path
    overrides = dict(overrides or {})
    model, entry = build_model(model_name, data_root=root, device=device, seed=seed,
                               checkpoint=checkpoint, embeddings=embeddings, **overrides)
    gallery = gallery_for_model(model, root, source)
    log(f"embedding {len(gallery)} {source} clips with {model_name}")
    t0 = time.perf_counter()
    clips, used = fuse(embed_gallery(model, gallery), fusion)
    embed_s = time.perf_counter() - t0
    queries = None
    if kind != "flat" and (kind == "ivf" or len(gallery) > ivf_above):
        # recall of the approximate index is measured on real text queries: the gallery's captions
        sample = np.random.default_rng(seed).choice(len(gallery), min(len(gallery), 1000), replace=False)
        sub = Gallery(gallery.source, gallery.task, [gallery.ids[i] for i in sample], [], np.empty(0),
                      np.empty(0), [gallery.captions[i] for i in sample], gallery.max_words,
                      gallery.make_batch)
        queries = embed_captions(model, sub)
    index, desc = build(clips, kind=kind, ivf_above=ivf_above, nlist=nlist, nprobe=nprobe,
                        queries=queries, seed=seed)
    identity = {"name": model_name, "version": entry.get("version"), "config": entry["config"],
                "config_hash": config_hash(entry["config"]), "checkpoint": entry.get("checkpoint"),
                "embeddings": None if embeddings is None else str(Path(embeddings).resolve()),
                "seed": seed, "overrides": overrides}
    info = {"model": identity, "data_root": str(Path(root).resolve()), "source": source,
            "gallery": {**gallery.info, "max_words": gallery.max_words}, "fusion": fusion,
            "fusion_used": used, "index": desc,
            "score": "inner product of the raw embeddings: text · clip (official retrieval score)",
            "embed_s": round(embed_s, 3),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": versions()}
    write_index(out, index, gallery.meta(), info)
    line = f"indexed {desc['n']} clips ({desc['dim']}-d) in {desc['build_s']:.2f} s: {desc['faiss']}"
    if desc["kind"] == "ivf":
        line += (f" nlist={desc['nlist']} nprobe={desc['nprobe']}, recall@10 vs exact search "
                 f"{desc['recall_at_10']:.3f} on {desc['recall_queries']} {desc['recall_query_source']}")
    log(f"{line} -> {out}")
    return info


def search(folder: str | Path, texts: list[str], k: int = 10, *, device: str = "cpu"):
    """The top ``k`` clips of the index at ``folder`` for each query text, as a DataFrame
    (:meth:`SearchIndex.hits`; ``query`` is the position in ``texts``), the query embedded by
    the model that built the index."""
    idx = read_index(folder)
    info = idx.info
    model, _ = load_model(info["model"], info["data_root"], device=device)
    max_words = int(info.get("gallery", {}).get("max_words", 20))
    gallery = None
    if info["model"]["name"] == "precomputed":  # it needs row ids: match queries to captions
        gallery = _caption_gallery(idx, max_words)
    q = embed_queries(model, list(texts), gallery, max_words=max_words)
    return idx.hits(q, k)


def _caption_gallery(idx: SearchIndex, max_words: int) -> Gallery:
    meta = idx.meta
    task = {"corpus": "howto100m"}.get(idx.info["source"], idx.info["source"])
    return Gallery(idx.info["source"], task, list(meta["id"]), list(meta["video_id"]),
                   meta["start"].to_numpy(), meta["end"].to_numpy(), list(meta["caption"]), max_words,
                   lambda s, e: None)
