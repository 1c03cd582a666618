"""The task base class, its result type, and the helpers every task shares.

A task (``tasks/<name>.py``) knows its data layout, its protocol constants and its metrics. The
code common to the four tasks lives here so that none of it is written twice:

* :func:`embed_rows` / :func:`embed_texts` — run ``model.embed`` over chunks of inputs built on
  demand (a YouCook2 audio batch padded to 5,120 frames is 2.7 GB at once; a chunk is not), and
  check what comes back;
* :func:`fuse` — the clip side of the score ``text · (video + audio)`` (the official MCN
  retrieval and localisation score; ``video`` and ``audio`` alone are options);
* :func:`embed_seconds`, :func:`step_scores` — per-second embeddings of a long video and their
  scores against step texts (CrossTask, Mining YouTube);
* :func:`text_report` — how many sentences became all-zero text (empty or all out-of-vocabulary).

and the whole text→clip protocol of YouCook2 and MSR-VTT: :class:`RetrievalTask`.
"""
from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mcnbench.data.batch import Batch
from mcnbench.metrics.directions import DIRECTIONS
from mcnbench.tasks.meta import TaskMeta

FUSIONS = ("video+audio", "video", "audio")


@dataclass
class TaskResult:
    """What :meth:`Task.evaluate` returns.

    metrics:   name → value (recalls, MoF, IoU in percent; MedR/MeanR as 1-based ranks)
    per_query: name → array with one row per query / video (e.g. ``ranks`` [Q], NaN = miss)
    info:      counts and the options in force (queries, complete_size, skipped videos, ...)
    """

    metrics: dict[str, float]
    per_query: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict = field(default_factory=dict)


class Task(ABC):
    """Base of the registered tasks.

    Subclasses set ``meta`` (their :class:`~mcnbench.tasks.meta.TaskMeta`, the one home of the
    task's name, version, titles and published numbers; ``name``, ``version``, ``main_score`` and
    ``paper`` are read from it) and implement :meth:`load` and :meth:`evaluate`. ``defaults``
    declares every option with its default; ``choices`` the allowed values of the options that
    have a fixed set. :meth:`options` merges and checks what a caller passes.
    """

    meta: ClassVar[TaskMeta]
    defaults: ClassVar[dict[str, Any]] = {}
    choices: ClassVar[dict[str, tuple]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        meta = cls.__dict__.get("meta")
        if meta is not None:  # shorthands, derived: the metadata is written only in ``meta``
            cls.name, cls.version, cls.main_score = meta.name, meta.version, meta.main_score
            cls.description, cls.paper = meta.description, dict(meta.paper)

    def options(self, **options: Any) -> dict:
        """``defaults`` updated with ``options``; unknown names and bad choices raise ValueError."""
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise ValueError(f"task {self.name!r} has no option(s) {unknown}; "
                             f"known: {sorted(self.defaults)}")
        merged = {**self.defaults, **options}
        for key, allowed in self.choices.items():
            if merged[key] not in allowed:
                raise ValueError(f"task {self.name!r}: option {key}={merged[key]!r} is not one "
                                 f"of {allowed}")
        return merged

    @abstractmethod
    def load(self, data_root: str | Path) -> Any:
        """The validated eval set of this task under ``data_root``."""

    @abstractmethod
    def evaluate(self, model, data_root: str | Path, *, tie_rule: str = "mean",
                 **options: Any) -> TaskResult:
        """Evaluate ``model`` zero-shot: metrics, per-query arrays and counts."""

    def data_files(self, data_root: str | Path) -> tuple[list[Path], list[Path]]:
        """Files the task reads, for the real-data fingerprint (see :mod:`mcnbench.engine.units`):
        (definition files whose content is hashed, bulk per-video feature files listed by name
        and size)."""
        return [], []


# ----------------------------------------------------------------------------- embedding

def progress(iterable, *, desc: str, total: int | None = None, unit: str = "it"):
    """A tqdm bar on stderr that disappears when done; ``TQDM_DISABLE=1`` turns it off."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=False, file=sys.stderr,
                dynamic_ncols=True)


def embed_rows(model, n: int, make_batch: Callable[[int, int], Batch], *, chunk_size: int = 256,
               desc: str = "embed", show_progress: bool = True) -> dict[str, np.ndarray]:
    """Embed ``n`` rows with ``model.embed(make_batch(start, stop))``, ``chunk_size`` rows at a
    time, and concatenate: modality → ``[n, D]`` float32.

    Every chunk must return the same modalities, each ``[stop - start, D]`` and finite; anything
    else raises ValueError naming the model, the modality and the rows.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    parts: dict[str, list[np.ndarray]] = {}
    starts = range(0, n, chunk_size)
    if show_progress and n > chunk_size:
        starts = progress(starts, desc=desc, total=len(starts), unit="chunk")
    for start in starts:
        stop = min(n, start + chunk_size)
        out = model.embed(make_batch(start, stop))
        if parts and set(out) != set(parts):
            raise ValueError(f"model {_name(model)!r} returned modalities {sorted(out)} for rows "
                             f"{start}:{stop} but {sorted(parts)} before")
        for key, emb in out.items():
            parts.setdefault(key, []).append(_check_embedding(model, key, emb, start, stop))
    if not parts:
        return {}
    return {key: np.concatenate(chunks, axis=0) for key, chunks in parts.items()}


def embed_texts(model, task: str, ids: list[str], texts: list[str], *, max_words: int,
                chunk_size: int = 1024, desc: str = "embed text") -> np.ndarray:
    """``[N, D]`` text embeddings of ``texts`` (row ids ``ids``) through ``model.embed``."""
    out = embed_rows(model, len(ids), lambda s, e: Batch(
        ids=list(ids[s:e]), task=task, text=list(texts[s:e]), max_words=max_words),
        chunk_size=chunk_size, desc=desc)
    if "text" not in out:
        raise ValueError(f"model {_name(model)!r} returned no 'text' embedding for sentences "
                         f"(got {sorted(out)})")
    return out["text"]


def fuse(clip_emb: dict[str, np.ndarray], fusion: str) -> tuple[np.ndarray, str]:
    """The clip side of the score: ``video + audio`` (default), ``video`` or ``audio`` ``[N, D]``.

    ``text · (v + a) = text · v + text · a``, so summing first is the official sum of the two dot
    products. A model without audio (or video) under ``video+audio`` is scored with what it has;
    the second value names what was used (records keep it). Asking for a missing modality alone
    raises ValueError.
    """
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
    wanted = ("video", "audio") if fusion == "video+audio" else (fusion,)
    have = [m for m in wanted if m in clip_emb]
    if not have:
        raise ValueError(f"fusion {fusion!r} needs {' or '.join(wanted)} embeddings; the model "
                         f"gave {sorted(clip_emb)}")
    if len({clip_emb[m].shape for m in have}) > 1:
        raise ValueError("video and audio embeddings differ in shape: "
                         + ", ".join(f"{m} {clip_emb[m].shape}" for m in have))
    out = clip_emb[have[0]] if len(have) == 1 else clip_emb[have[0]] + clip_emb[have[1]]
    return out, "+".join(have)


def _check_embedding(model, key: str, emb, start: int, stop: int) -> np.ndarray:
    emb = np.asarray(emb)
    if emb.ndim != 2 or emb.shape[0] != stop - start:
        raise ValueError(f"model {_name(model)!r}: {key} embedding of rows {start}:{stop} has "
                         f"shape {emb.shape}, expected [{stop - start}, D]")
    emb = emb.astype(np.float32, copy=False)
    if not np.isfinite(emb).all():
        row = start + int(np.flatnonzero(~np.isfinite(emb).all(axis=1))[0])
        raise ValueError(f"model {_name(model)!r}: {key} embedding of row {row} is not finite")
    return emb


def _name(model) -> str:
    return getattr(model, "name", type(model).__name__)


# ----------------------------------------------------------------------------- inputs

def has_inputs(source, video_id: str) -> bool:
    """Whether ``source`` (a CrossTask or Mining YouTube set) has the 2D, 3D and audio files of
    ``video_id``; tasks drop and count videos without them (as MMPT does)."""
    from mcnbench.data.rules import first_missing, video_inputs

    return first_missing(video_inputs(source, video_id)) is None


def embed_seconds(model, task: str, source, video_id: str, *, audio_frames: int = 1024,
                  window_s: float = 8.0, chunk_size: int = 256) -> dict[str, np.ndarray]:
    """Per-second embeddings ``[T, D]`` of one long video (CrossTask, Mining YouTube).

    ``source`` reads the files (``load_video(id) -> (2D [T2d, Dh], 3D [T3d, Dh])``,
    ``load_audio(id) -> [40, F]``). T is the 2D feature length (1 row per second), the time axis
    of the ground truth too. Inputs as the MCN CrossTask loader builds them (mcn_spec §6.6):
    video = 2D and 3D adaptive-max-pooled to T rows, each half L2-normalised; audio = a
    ``window_s``-second window around each second, clamped to the video, padded to
    ``audio_frames``. Row ids are ``<video_id>@<second>`` (contracts).
    """
    from mcnbench.data.prep import adaptive_max_pool, crosstask_audio_windows, video_input

    f2d, f3d = source.load_video(video_id)
    T = len(f2d)
    video = video_input(adaptive_max_pool(f2d, T), adaptive_max_pool(f3d, T))
    audio, nframes = crosstask_audio_windows(source.load_audio(video_id), T, window_s=window_s,
                                             n_frames=audio_frames)
    ids = [f"{video_id}@{t}" for t in range(T)]
    return embed_rows(model, T, lambda s, e: Batch(
        ids=ids[s:e], task=task, video=video[s:e], audio=audio[s:e], nframes=nframes[s:e]),
        chunk_size=chunk_size, show_progress=False)


def step_scores(clip_emb: dict[str, np.ndarray], text_emb: np.ndarray, fusion: str
                ) -> tuple[np.ndarray, str]:
    """``[T, K]`` scores ``text_k · fused_t`` of T seconds against K step texts ``[K, D]``."""
    fused, used = fuse(clip_emb, fusion)
    if fused.shape[1] != text_emb.shape[1]:
        raise ValueError(f"clip embeddings are {fused.shape[1]}-d, text {text_emb.shape[1]}-d")
    return fused.astype(np.float64) @ text_emb.astype(np.float64).T, used


# ----------------------------------------------------------------------------- text counts

def text_report(data_root: str | Path, texts: list[str], max_words: int, *,
                source: str | Path | None = None, what: str = "sentences") -> dict:
    """Counts of what tokenisation does to ``texts`` (sentences that become all-zero text, OOV
    rate, truncation), using the data root's ``word2vec.bin``; without it only empty sentences
    can be counted. Warns (DataWarning naming ``source``, the file the ``what`` come from) when
    most of them become all-zero text (:func:`mcnbench.data.rules.zero_text`)."""
    from mcnbench.data.rules import text_stats, zero_text
    from mcnbench.data.warnings import issue

    stats = text_stats(Path(data_root) / "word2vec.bin", texts, max_words)
    issue(zero_text(source, stats, what))
    return stats


# ----------------------------------------------------------------------------- retrieval

@dataclass
class RetrievalSet:
    """A loaded text→clip test set.

    clips:          the clips present in the feature pickle (one caption each; row i ↔ clip i)
    complete_size:  size of the complete test set (the csv's rows); absent clips are misses
    complete_source: the csv read, or why ``complete_size`` is the number of clips
    missing_ids:    ids of the complete set absent from the pickle, when the csv names clips
    """

    clips: Any
    complete_size: int
    complete_source: str
    missing_ids: list[str] | None = None


class RetrievalTask(Task):
    """Text→clip retrieval over an AVLnet pickle (YouCook2, MSR-VTT; reference §6.2-6.3).

    Subclasses set ``pickle_name``, ``csv_name`` (paths under the data root), the default
    ``audio_frames``, ``legacy_complete`` (whether the official ``compute_metrics`` divides by
    the complete size) and implement :meth:`read_pickle` and :meth:`read_complete`.
    """

    pickle_name: ClassVar[str] = ""
    csv_name: ClassVar[str] = ""
    legacy_complete: ClassVar[bool] = False
    csv_lists_videos: ClassVar[bool] = False  # the csv names videos (YouCook2), not clips
    defaults: ClassVar[dict[str, Any]] = {"fusion": "video+audio", "max_words": 20,
                                          "audio_frames": 0, "chunk_size": 256,
                                          "direction": "t2va"}
    # query → gallery modalities (mcnbench.metrics.directions; Supp. Table C); a non-default
    # direction is another measurement: reports give it its own column, titled with it
    choices = {"fusion": FUSIONS, "direction": DIRECTIONS}
    view_options: ClassVar[tuple[str, ...]] = ("direction",)

    @abstractmethod
    def read_pickle(self, path: Path):
        """The dataset's AVLnet pickle as a ClipSet."""

    @abstractmethod
    def read_complete(self, path: Path) -> list[str]:
        """One id per row of the complete-set csv: a clip id, or with ``csv_lists_videos`` the
        id of the clip's video."""

    def data_files(self, data_root):
        root = Path(data_root)
        return [p for p in (root / self.pickle_name, root / self.csv_name) if p.exists()], []

    def load(self, data_root: str | Path) -> RetrievalSet:
        root = Path(data_root)
        from mcnbench.data.rules import complete_set, youtube_id
        from mcnbench.data.warnings import issue

        clips = self.read_pickle(root / self.pickle_name)
        cs = complete_set(clips, root / self.csv_name, self.read_complete,
                          youtube_id if self.csv_lists_videos else None)
        issue(cs.warning)  # no csv: R@K divides by the clips present
        return RetrievalSet(clips, cs.size, cs.source, cs.missing_ids)

    def evaluate(self, model, data_root, *, tie_rule: str = "mean", **options) -> TaskResult:
        """R@1/5/10 (percent, over ``complete_size``), MedR, MeanR (over the evaluated queries).

        per_query: ``ranks`` [Q] 0-based (legacy: the first tied position), ``ids`` [Q].
        """
        from mcnbench.data.prep import pad_or_truncate
        from mcnbench.metrics.directions import retrieval_sides
        from mcnbench.metrics.retrieval import ranks_from_embeddings, retrieval_metrics

        opts = self.options(**options)
        data = self.load(data_root)
        clips, F, chunk = data.clips, int(opts["audio_frames"]), int(opts["chunk_size"])
        text = None if opts["direction"] == "a2v" else embed_texts(
            model, self.name, clips.ids, clips.captions, max_words=opts["max_words"],
            desc=f"{self.name} text")
        # nframes is clipped to the padded length: the model masks audio frames beyond nframes,
        # and frames past F do not exist in its input (the official loader passes the unclipped
        # length, which only rescales a mean over a mask wider than the input).
        lengths = np.minimum(clips.audio_lengths, F)
        emb = embed_rows(model, len(clips), lambda s, e: Batch(
            ids=clips.ids[s:e], task=self.name, video=clips.video[s:e],
            audio=np.stack([pad_or_truncate(a, F) for a in clips.audio[s:e]]),
            nframes=lengths[s:e]), chunk_size=chunk, desc=f"{self.name} clips")
        queries, gallery, sides = retrieval_sides(text, emb, opts["direction"], opts["fusion"])
        # the clip side (a2v has two): what fusion_used has always named
        used = (sides["gallery"] if sides["query"] == "text" else sides["query"]
                if sides["gallery"] == "text" else f"{sides['query']}→{sides['gallery']}")
        ranks = ranks_from_embeddings(queries, gallery, tie_rule=tie_rule)
        # The official compute_metrics divides by the matrix rows for YouCook2 and by 1,000 for
        # MSR-VTT; every other rule counts absent clips as misses (EAO).
        legacy_q = tie_rule == "legacy" and not self.legacy_complete
        metrics = retrieval_metrics(ranks, complete_size=None if legacy_q else data.complete_size)
        info = {
            "queries": len(clips), "complete_size": data.complete_size,
            "complete_source": data.complete_source, "r_at_k_denominator":
                len(clips) if legacy_q else data.complete_size,
            "missing_clips": data.complete_size - len(clips),
            "missing_ids": data.missing_ids, "queries_with_ties": ranks.n_tied,
            "fusion": opts["fusion"], "fusion_used": used, "audio_frames": F, **sides,
            "max_words": opts["max_words"], "text": text_report(
                data_root, clips.captions, opts["max_words"], source=clips.path, what="captions"),
            "pickle": str(clips.path), "pickle_info": dict(clips.info),
        }
        return TaskResult(metrics, {"ranks": ranks.ranks, "ids": np.asarray(clips.ids)}, info)
