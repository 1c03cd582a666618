"""Galleries: the clips a model embeds to be searched, browsed or mapped.

A gallery is a list of clips with what a person needs to look at one (clip id, video id, time
span, caption) and a way to build the model's input batch for any range of them:

* ``youcook2`` / ``msrvtt``: the retrieval test set's clips, inputs exactly as the task builds
  them (its ``audio_frames`` and ``max_words``); spans from the YouCook2 csv (MSR-VTT clips are
  whole videos: start 0, end unknown);
* ``corpus``: every caption of the HowTo100M-format pretraining corpus as a clip, extended to
  ``min_time`` seconds by the training sampler's neighbour rule, inputs pooled as in training
  (:mod:`mcnbench.data.clip_sampler`).

On a synthetic world :func:`true_concepts` gives each clip the concept the generator put there
(from ``oracle/``), which no real dataset can tell: the cluster browser and the embedding map
colour and score by it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcnbench.data.batch import Batch
from mcnbench.data.errors import DataError

SOURCES = ("youcook2", "msrvtt", "corpus")


@dataclass
class Gallery:
    """N clips of one source; ``clip_batch(s, e)`` builds rows ``s:e`` for ``model.embed``.

    ids, video_ids, captions: [N] strings; start, end: [N] seconds (NaN when not known).
    task: the ``Batch.task`` the rows are asked under (the precomputed model's folder).
    """

    source: str
    task: str
    ids: list[str]
    video_ids: list[str]
    start: np.ndarray
    end: np.ndarray
    captions: list[str]
    max_words: int
    make_batch: Callable[[int, int], Batch] = field(repr=False)
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def clip_batch(self, start: int, stop: int) -> Batch:
        return self.make_batch(start, stop)

    def meta(self):
        """The gallery as a DataFrame: ``id, video_id, start, end, caption`` (one row per clip)."""
        import pandas as pd

        return pd.DataFrame({"id": self.ids, "video_id": self.video_ids, "start": self.start,
                             "end": self.end, "caption": self.captions})


def load_gallery(data_root: str | Path, source: str, *, audio_frames: int | None = None,
                 min_time: float = 10.0, max_words: int = 20) -> Gallery:
    """The gallery ``source`` (one of :data:`SOURCES`) of ``data_root``.

    ``audio_frames``: padded spectrogram length (retrieval sources: the task's default when
    None; corpus: 1000 when None); ``min_time``/``max_words``: corpus clips as the training
    sampler builds them (pass the model's training config).
    """
    if source not in SOURCES:
        raise ValueError(f"gallery source must be one of {SOURCES}, got {source!r}")
    if source == "corpus":
        return _corpus(Path(data_root), audio_frames or 1000, min_time, max_words)
    return _retrieval(Path(data_root), source, audio_frames)


def _retrieval(root: Path, source: str, audio_frames: int | None) -> Gallery:
    from mcnbench.data.prep import pad_or_truncate
    from mcnbench.engine.plan import make_task

    task = make_task(source)
    opts = task.options()
    data = task.load(root)
    clips = data.clips
    frames = int(opts["audio_frames"] if audio_frames is None else audio_frames)
    lengths = np.minimum(clips.audio_lengths, frames)
    spans = _youcook2_spans(root / task.csv_name) if source == "youcook2" else {}
    start = np.array([spans.get(i, (np.nan, np.nan, ""))[0] for i in clips.ids], dtype=np.float64)
    end = np.array([spans.get(i, (np.nan, np.nan, ""))[1] for i in clips.ids], dtype=np.float64)
    if source == "msrvtt":
        start[:] = 0.0  # a 1k-A clip is a whole short video
    video_ids = [spans[i][2] if i in spans else (i[:11] if source == "youcook2" else i) for i in clips.ids]

    def make_batch(s: int, e: int) -> Batch:
        return Batch(ids=clips.ids[s:e], task=source, video=clips.video[s:e],
                     audio=np.stack([pad_or_truncate(a, frames) for a in clips.audio[s:e]]),
                     nframes=lengths[s:e])

    return Gallery(source, source, list(clips.ids), video_ids, start, end, list(clips.captions),
                   int(opts["max_words"]), make_batch,
                   {"pickle": str(clips.path), "audio_frames": frames})


def _youcook2_spans(csv: Path) -> dict[str, tuple[float, float, str]]:
    """clip id → (start, end, video id) from the YouCook2 csv: the j-th row of a video is clip
    ``<video_id>_<j>`` (the AVLnet id scheme); {} when the csv is absent or has no spans."""
    import pandas as pd

    if not csv.is_file():
        return {}
    try:
        table = pd.read_csv(csv)
    except (OSError, ValueError, pd.errors.ParserError):
        return {}
    if not {"start", "end", "video_id"} <= set(table.columns):
        return {}
    j = table.groupby("video_id").cumcount()
    return {f"{v}_{k}": (float(s), float(e), str(v))
            for v, k, s, e in zip(table["video_id"], j, table["start"], table["end"], strict=True)}


def _corpus(root: Path, audio_frames: int, min_time: float, max_words: int) -> Gallery:
    from mcnbench.data.clip_sampler import audio_windows, extend_caption
    from mcnbench.data.features import load_npz_features, load_spectrogram
    from mcnbench.data.howto100m import (
        feature_paths,
        howto_dir,
        load_captions,
        read_video_paths,
        spectrogram_path,
    )
    from mcnbench.data.prep import pool_clips

    folder = howto_dir(root)
    captions = load_captions(folder / "caption.pickle")
    ids, vids, starts, ends, texts, video_rows, owners, rels = [], [], [], [], [], [], [], []
    for rel, vid in read_video_paths(folder / "videopaths.csv"):
        cap = captions.get(vid)
        if cap is None or len(cap.start) == 0:
            continue
        f2d, f3d = feature_paths(folder, rel)
        s_all, e_all = np.asarray(cap.start, np.float64), np.asarray(cap.end, np.float64)
        spans = [extend_caption(s_all, e_all, i, min_time)[1:] for i in range(len(s_all))]
        s = np.array([s_all[lo] for lo, _ in spans])
        e = np.array([e_all[hi] for _, hi in spans])
        video_rows.append(pool_clips(load_npz_features(f2d), load_npz_features(f3d), s, e))
        owners += [len(rels)] * len(s)
        rels.append(rel)
        ids += [f"{vid}#{i}" for i in range(len(s))]
        vids += [vid] * len(s)
        starts.append(s)
        ends.append(e)
        texts += [str(t) for t in cap.text]
    if not ids:
        raise DataError(folder / "videopaths.csv", None, "no listed video has captions: empty corpus gallery")
    video = np.concatenate(video_rows).astype(np.float32)
    start, end, owner = np.concatenate(starts), np.concatenate(ends), np.asarray(owners)
    cache: dict[int, np.ndarray] = {}

    def spec(v: int) -> np.ndarray:
        if v not in cache:
            cache.clear()  # clips of a video are contiguous: one spectrogram in memory at a time
            cache[v] = load_spectrogram(spectrogram_path(folder, rels[v]))
        return cache[v]

    def make_batch(s: int, e: int) -> Batch:
        audio, nframes = [], []
        for v in np.unique(owner[s:e]):
            rows = np.flatnonzero(owner[s:e] == v) + s
            a, n = audio_windows(spec(int(v)), start[rows], end[rows], audio_frames)
            audio.append(a)
            nframes.append(n)
        return Batch(ids=ids[s:e], task="howto100m", video=video[s:e], audio=np.concatenate(audio),
                     nframes=np.concatenate(nframes))

    return Gallery("corpus", "howto100m", ids, vids, start, end, texts, max_words, make_batch,
                   {"videos": len(rels), "min_time": min_time, "audio_frames": audio_frames})


# embedding --------------------------------------------------------------------------------------
def embed_gallery(model, gallery: Gallery, *, chunk_size: int = 256) -> dict[str, np.ndarray]:
    """The model's clip embeddings of every gallery row: modality → ``[N, D]`` float32."""
    from mcnbench.tasks.base import embed_rows

    return embed_rows(model, len(gallery), gallery.clip_batch, chunk_size=chunk_size,
                      desc=f"{gallery.source} clips")


def embed_captions(model, gallery: Gallery) -> np.ndarray:
    """``[N, D]`` text embeddings of the gallery's own captions (row ids = clip ids)."""
    from mcnbench.tasks.base import embed_texts

    return embed_texts(model, gallery.task, gallery.ids, gallery.captions,
                       max_words=gallery.max_words, desc=f"{gallery.source} captions")


def embed_queries(model, texts: list[str], gallery: Gallery | None = None,
                  max_words: int = 20) -> np.ndarray:
    """``[Q, D]`` text embeddings of free-text queries.

    Models that embed text themselves ignore row ids. A ``precomputed`` model can only serve
    texts it has rows for: a query equal to a gallery caption is asked for under that clip's id,
    any other text under the text itself (which such a model will report as missing).
    """
    from mcnbench.tasks.base import embed_texts

    by_caption: dict[str, str] = {}
    if gallery is not None:
        for i, c in zip(gallery.ids, gallery.captions, strict=True):
            by_caption.setdefault(c, i)
    ids = [by_caption.get(t, t) for t in texts]
    task = gallery.task if gallery is not None else "search"
    words = gallery.max_words if gallery is not None else max_words
    return embed_texts(model, task, ids, list(texts), max_words=words, desc="queries")


# ground truth of a synthetic world --------------------------------------------------------------
def true_concepts(data_root: str | Path, gallery: Gallery) -> tuple[np.ndarray, dict[int, str]] | None:
    """Each clip's true concept ``[N]`` (-1: background or unknown) and concept id → name, on a
    synthetic world; None on a real data root (no ``oracle/``).

    Retrieval clips: the concept whose latent the oracle's text row of the clip is (the oracle
    writes ``e(z[c]) = z[c] / |z[c]|`` for a caption of concept c; matched at cosine > 0.999).
    Corpus clips: the concept shown at the caption's midpoint (``oracle/howto100m_narration.csv``).
    """
    import pandas as pd

    oracle = Path(data_root) / "oracle"
    if not (oracle / "concepts.csv").is_file():
        return None
    concepts = pd.read_csv(oracle / "concepts.csv")
    names = dict(zip(concepts["concept"].astype(int), concepts["name"].astype(str), strict=True))
    if gallery.source == "corpus":
        truth = pd.read_csv(oracle / "howto100m_narration.csv")
        shown = {f"{v}#{int(c)}": int(s) for v, c, s in zip(truth["video_id"], truth["caption"],
                                                             truth["shown"], strict=True)}
        return np.array([shown.get(i, -1) for i in gallery.ids], dtype=np.int64), names
    with np.load(oracle / "world.npz") as w:
        z = w["z"].astype(np.float64)
    with np.load(oracle / gallery.task / "text.npz") as t:
        rows = {str(i): r for r, i in enumerate(t["ids"])}
        text = t["text"].astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    out = np.full(len(gallery), -1, dtype=np.int64)
    have = [k for k, i in enumerate(gallery.ids) if i in rows]
    if have:
        t = text[[rows[gallery.ids[k]] for k in have]]
        t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
        sim = t @ z.T
        best = sim.argmax(axis=1)
        ok = sim[np.arange(len(best)), best] > 0.999
        out[np.asarray(have)[ok]] = best[ok]
    return out, names
