"""faiss indexes of clip embeddings, and the folder that keeps one with what it needs to be used.

An index folder holds::

    index.faiss   the faiss index of the gallery's clip embeddings (row i = clip i)
    clips.csv     id, video_id, start, end, caption per row
    index.json    the model identity used to embed (name, version, config and its hash,
                  checkpoint with digest, embeddings folder, seed, overrides), the data root and
                  gallery source, fusion, size, index kind and parameters, build time, and for an
                  IVF index its recall@10 against exact search

Scores are inner products of the raw embeddings, the official MCN retrieval score
``text · (video + audio)`` (no normalisation), so an exact search ranks clips as the YouCook2 /
MSR-VTT protocol does. ``IndexFlatIP`` (exact) is the default; above ``ivf_above`` clips an
``IndexIVFFlat`` (inner product, ``nlist ≈ 4·sqrt(N)`` lists, ``nprobe`` probed) is built and its
recall@10 against exact search is measured on held-out queries and stored.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcnbench.data.errors import DataError

INDEX_FILE = "index.faiss"
META_FILE = "clips.csv"
INFO_FILE = "index.json"
IVF_ABOVE = 200_000
DEFAULT_NPROBE = 32


def _faiss():
    try:
        import faiss
    except ImportError as err:  # a declared dependency; a broken install gets one clear line
        raise RuntimeError("faiss is not importable (pip install faiss-cpu)") from err
    return faiss


def _f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def default_nlist(n: int) -> int:
    """IVF lists for ``n`` vectors: about 4·sqrt(n), at least 1, at most n // 39 (faiss wants
    ≥ 39 training points per centroid)."""
    return max(1, min(int(4 * math.sqrt(n)), n // 39))


def flat_index(vectors: np.ndarray):
    """Exact inner-product index of ``vectors [N, D]``."""
    faiss = _faiss()
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(_f32(vectors))
    return index


def ivf_index(vectors: np.ndarray, nlist: int | None = None, nprobe: int = DEFAULT_NPROBE, *,
              train_size: int | None = None, seed: int = 0):
    """``IndexIVFFlat`` (inner product) of ``vectors [N, D]``: k-means on ``train_size`` rows
    (default ``min(N, 64·nlist)``, drawn with ``seed``), then every row added."""
    faiss = _faiss()
    n, d = vectors.shape
    nlist = nlist or default_nlist(n)
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    m = min(n, train_size or 64 * nlist)
    rows = np.sort(np.random.default_rng(seed).choice(n, m, replace=False)) if m < n else slice(None)
    index.cp.seed = seed
    index.train(_f32(vectors[rows]))
    index.add(_f32(vectors))
    index.nprobe = min(nprobe, nlist)
    return index


def recall_vs_exact(index, exact, queries: np.ndarray, k: int = 10) -> float:
    """Fraction of the exact top-``k`` that ``index`` returns, averaged over ``queries [Q, D]``
    (the standard recall of an approximate index against brute force)."""
    _, want = exact.search(_f32(queries), k)
    _, got = index.search(_f32(queries), k)
    hits = sum(len(set(w[w >= 0]) & set(g[g >= 0])) for w, g in zip(want, got, strict=True))
    total = sum(int((w >= 0).sum()) for w in want)
    return hits / max(total, 1)


def build(vectors: np.ndarray, *, kind: str = "auto", ivf_above: int = IVF_ABOVE,
          nlist: int | None = None, nprobe: int = DEFAULT_NPROBE, queries: np.ndarray | None = None,
          seed: int = 0) -> tuple[object, dict]:
    """An index of ``vectors [N, D]`` and a description of it.

    ``kind``: ``flat`` (exact), ``ivf``, or ``auto`` (ivf above ``ivf_above`` rows). For IVF,
    recall@10 against exact search is measured on ``queries`` (default: 1,000 random gallery
    rows, a stand-in when no text queries are given) and returned as ``recall_at_10``.
    """
    if kind not in ("auto", "flat", "ivf"):
        raise ValueError(f"index kind must be auto, flat or ivf, got {kind!r}")
    vectors = _f32(vectors)
    n, d = vectors.shape
    if n == 0:
        raise ValueError("cannot index an empty gallery")
    use_ivf = kind == "ivf" or (kind == "auto" and n > ivf_above)
    t0 = time.perf_counter()
    if not use_ivf:
        index = flat_index(vectors)
        return index, {"kind": "flat", "faiss": "IndexFlatIP", "n": n, "dim": d,
                       "build_s": round(time.perf_counter() - t0, 3)}
    index = ivf_index(vectors, nlist, nprobe, seed=seed)
    build_s = time.perf_counter() - t0
    if queries is None:
        queries = vectors[np.random.default_rng(seed + 1).choice(n, min(n, 1000), replace=False)]
        source = "gallery rows"
    else:
        source = "text queries"
    exact = flat_index(vectors)
    recall = recall_vs_exact(index, exact, queries, k=min(10, n))
    del exact
    return index, {"kind": "ivf", "faiss": "IndexIVFFlat", "n": n, "dim": d, "nlist": index.nlist,
                   "nprobe": index.nprobe, "recall_at_10": round(recall, 4),
                   "recall_queries": int(len(queries)), "recall_query_source": source,
                   "build_s": round(build_s, 3)}


# the folder -----------------------------------------------------------------------------------
@dataclass
class SearchIndex:
    """A loaded index folder: ``search(queries [Q, D], k) -> (scores [Q, k], rows [Q, k])``."""

    folder: Path
    index: object
    meta: object        # pandas DataFrame, clips.csv
    info: dict

    def search(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        q = _f32(np.atleast_2d(queries))
        if q.shape[1] != self.index.d:
            raise ValueError(f"query embeddings are {q.shape[1]}-d, the index {self.index.d}-d "
                             f"({self.folder / INFO_FILE} names the model that built it)")
        return self.index.search(q, min(k, self.index.ntotal))

    def hits(self, queries: np.ndarray, k: int = 10):
        """The top ``k`` clips per query as one DataFrame: query, rank (1-based), score, row and
        the clip's ``id, video_id, start, end, caption``."""
        import pandas as pd

        scores, rows = self.search(queries, k)
        parts = []
        for qi, (s, r) in enumerate(zip(scores, rows, strict=True)):
            keep = r >= 0
            block = self.meta.iloc[r[keep]].reset_index(drop=True)
            parts.append(block.assign(query=qi, rank=np.arange(1, keep.sum() + 1), score=s[keep],
                                      row=r[keep]))
        cols = ["query", "rank", "score", "row", "id", "video_id", "start", "end", "caption"]
        return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def write_index(folder: str | Path, index, meta, info: dict) -> Path:
    """Write ``index.faiss``, ``clips.csv`` and ``index.json`` into ``folder`` (each atomically;
    ``index.json`` last, so a folder with it is complete)."""
    from mcnbench.utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text

    faiss = _faiss()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if len(meta) != index.ntotal:
        raise ValueError(f"{len(meta)} metadata rows for an index of {index.ntotal} vectors")
    atomic_write_bytes(folder / INDEX_FILE, faiss.serialize_index(index).tobytes())
    atomic_write_text(folder / META_FILE, meta.to_csv(index=False))
    atomic_write_json(folder / INFO_FILE, info)
    return folder


def read_index(folder: str | Path) -> SearchIndex:
    """Load an index folder written by :func:`write_index`; a missing or foreign folder raises
    ``DataError`` naming the file."""
    import pandas as pd

    faiss = _faiss()
    folder = Path(folder)
    info_path = folder / INFO_FILE
    if not info_path.is_file():
        raise DataError(info_path, None, "not an index folder (build one with `mcnbench index`)")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(info_path, None, f"unreadable ({err})") from None
    try:
        index = faiss.deserialize_index(np.fromfile(folder / INDEX_FILE, dtype=np.uint8))
    except (OSError, RuntimeError) as err:
        raise DataError(folder / INDEX_FILE, None, f"not a readable faiss index ({err})") from None
    meta = pd.read_csv(folder / META_FILE, dtype={"id": str, "video_id": str, "caption": str},
                       keep_default_na=False, na_values={"start": [""], "end": [""]})
    if len(meta) != index.ntotal:
        raise DataError(folder / META_FILE, None, f"{len(meta)} rows for an index of {index.ntotal} clips")
    if "nprobe" in info.get("index", {}) and hasattr(index, "nprobe"):
        index.nprobe = int(info["index"]["nprobe"])
    return SearchIndex(folder, index, meta, info)
