"""What is an error and what is a warning: the rules ``eval`` / ``run`` (through the tasks) and
``synth --check`` share, so that both say the same about one data root (docs/errors.md).

A rule that finds a surprising but usable input returns a :class:`DataWarning` (or None); the
caller issues it (:func:`mcnbench.data.warnings.issue`) and keeps the counts in the task's
``info``. A rule that finds unusable input raises :class:`DataError`.

    cs = complete_set(clips, root / "msrvtt/msrvtt_test.csv", msrvtt_csv_ids)
    issue(cs.warning)      # None when the csv is there
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mcnbench.data.errors import DataError
from mcnbench.data.warnings import DataWarning

# Warn when at least this fraction of a task's sentences become all-zero text.
ZERO_TEXT_FRACTION = 0.5
# A segment may end this far past the last feature second (feature lengths are the video length
# rounded down) before it counts as running past the end of the video.
PAST_END_TOLERANCE_S = 1.0
# ids named in one warning line
LISTED = 5


def _listed(ids: Sequence[str]) -> str:
    more = f", ... ({len(ids) - LISTED} more)" if len(ids) > LISTED else ""
    return ", ".join(ids[:LISTED]) + more


# ----------------------------------------------------------------------------- retrieval

@dataclass
class CompleteSet:
    """The complete test set a retrieval task divides R@K by.

    size: rows of the csv, or the number of clips when the csv is absent; source: the csv
    read, or why ``size`` is the number of clips; missing_ids: ids of the csv absent from the
    pickle (None when the csv does not name clips); warning: set when the csv is absent.
    """

    size: int
    source: str
    missing_ids: list[str] | None = None
    warning: DataWarning | None = None


def youtube_id(clip_id: str) -> str:
    """The video a YouCook2 clip id belongs to: its first 11 characters (mcn_spec §6.2)."""
    return clip_id[:11]


def complete_set(clips, csv: str | Path, read_ids: Callable[[Path], list[str]],
                 key: Callable[[str], str] | None = None) -> CompleteSet:
    """The complete test set of ``clips`` (a ClipSet) from ``csv``.

    ``read_ids(csv)`` gives one id per csv row; ``key`` maps a clip id to that id (None: the
    csv names clips, and the absent ones are listed; YouCook2: :func:`youtube_id`, the csv
    names videos). An absent csv is a warning (R@K then divides by the clips of the pickle,
    not the complete set). A csv shorter than the pickle, or a clip whose id the csv does not
    list, raises DataError.
    """
    csv = Path(csv)
    n = len(clips)
    if not csv.exists():
        warning = DataWarning(csv, None, f"file not found, so R@K divides by the {n} clips of "
                              f"{Path(clips.path).name} instead of the complete test set (clips "
                              "absent from the pickle are not counted as misses)")
        return CompleteSet(n, f"number of clips ({csv} absent)", None, warning)
    ids = read_ids(csv)
    if len(ids) < n:
        raise DataError(csv, None, f"lists {len(ids)} clips but {clips.path} holds {n}: "
                        "the csv must list the complete test set")
    known = set(ids)
    to_csv = key or (lambda c: c)
    stray = [c for c in clips.ids if to_csv(c) not in known]
    if stray:
        what = "" if key is None else f"its video {to_csv(stray[0])!r} is "
        raise DataError(clips.path, f"id {stray[0]!r}", f"{what}not in the complete test set "
                        f"{csv} ({len(stray)} such clips)")
    missing = None
    if key is None:
        present = set(clips.ids)
        missing = [c for c in ids if c not in present]
    return CompleteSet(len(ids), str(csv), missing)


# ----------------------------------------------------------------------------- per-video inputs

def video_inputs(source, video_id: str) -> list[Path]:
    """The 2D, 3D and audio files of ``video_id`` in a CrossTask / Mining YouTube set."""
    return [source.feature_path(video_id, "2d"), source.feature_path(video_id, "3d"),
            source.audio_path(video_id)]


def first_missing(paths: Iterable[Path | None], fallback: Path | None = None) -> Path | None:
    """The first of ``paths`` that is not a file (None counts as missing and is reported as
    ``fallback``), or None when all exist."""
    for p in paths:
        if p is None:
            return fallback
        if not Path(p).is_file():
            return Path(p)
    return None


def crosstask_missing(release, task: str, video_id: str) -> Path | None:
    """The first missing input of CrossTask test video ``(task, video_id)`` (annotation, 2D,
    3D, audio), or None when it has all of them."""
    ann = release.annotations.get((task, video_id))
    fallback = release.root / "crosstask_release" / "annotations" / f"{task}_{video_id}.csv"
    return first_missing([ann, *video_inputs(release, video_id)], fallback=fallback)


def dropped_videos(dropped: Sequence[tuple[str, Path]], total: int, what: str
                   ) -> DataWarning | None:
    """The warning for ``dropped`` ``(video, its first missing file)`` of ``total`` ``what``
    (e.g. "CrossTask test videos"): they are left out of the score (as MMPT does), which a
    person must be told. One line names the first missing file, the count and the first ids.
    When every video is dropped nothing is left to score: DataError."""
    if not dropped:
        return None
    if len(dropped) == total:
        raise DataError(dropped[0][1], f"all {total} {what}", "a file is missing for every one "
                        "of them (this one first), so nothing is left to score")
    return DataWarning(dropped[0][1], f"{len(dropped)} of {total} {what}",
                       "file not found, so these videos are left out of the score: "
                       + _listed([v for v, _ in dropped]))


# ----------------------------------------------------------------------------- text

def text_stats(word2vec: str | Path, texts: Sequence[str], max_words: int, vectors=None) -> dict:
    """Counts of what tokenisation does to ``texts`` (see :class:`~mcnbench.data.text.TextStats`)
    with the vocabulary of ``word2vec`` (``vectors`` if already loaded); without that file only
    empty sentences can be counted. ``vocabulary`` names the file used (or None)."""
    from mcnbench.data.text import TextStats, Tokenizer, tokenize

    word2vec = Path(word2vec)
    if vectors is None and not word2vec.exists():
        stats = TextStats(n_sentences=len(texts), n_empty=sum(not tokenize(t) for t in texts))
        return {**stats.as_dict(), "vocabulary": None}
    if vectors is None:
        from mcnbench.data.word2vec import load_word2vec

        vectors = load_word2vec(word2vec)
    _, stats = Tokenizer(vectors, max_words=max_words).indices([tokenize(t) for t in texts])
    return {**stats.as_dict(), "vocabulary": str(word2vec)}


def zero_text(source: str | Path | None, stats: dict, what: str) -> DataWarning | None:
    """A warning when at least :data:`ZERO_TEXT_FRACTION` of the ``what`` read from ``source``
    become all-zero text (``stats`` from :func:`text_stats`): all-zero texts get one and the
    same embedding, so their scores tie and say nothing about the text."""
    n, zero = int(stats["n_sentences"]), int(stats["n_zero"])
    if not n or zero < ZERO_TEXT_FRACTION * n:
        return None
    vocab = Path(stats["vocabulary"]).name if stats.get("vocabulary") else "the vocabulary"
    share = "all" if zero == n else f"{100 * zero / n:.0f} %"
    return DataWarning(source, f"{zero} of {n} {what}",
                       f"become all-zero text ({stats['n_empty']} empty, {stats['n_all_oov']} "
                       f"with no word in {vocab}); {share} of them share one embedding, so the "
                       "metrics say little about the text")


# ----------------------------------------------------------------------------- Mining YouTube

def empty_annotations(data, videos: Sequence[str]) -> DataWarning | None:
    """A warning for the ``videos`` of a MiningYouTube set whose .srt holds no segment: their
    ground truth is background throughout, which an annotation never means on purpose."""
    empty = [v for v in videos if not data.annotations.get(v)]
    if not empty:
        return None
    return DataWarning(data.root / "annotations" / f"{empty[0]}.srt",
                       f"{len(empty)} of {len(videos)} annotated test videos",
                       "the .srt holds no segment, so the whole video is background in the "
                       "ground truth: " + _listed(empty))


def segments_past_end(segments, n_seconds: int) -> list:
    """The segments that end more than :data:`PAST_END_TOLERANCE_S` after a video of
    ``n_seconds`` feature seconds (their seconds past the end have no features and are
    dropped; a segment entirely past the end is lost)."""
    return [s for s in segments if s.end_s > n_seconds + PAST_END_TOLERANCE_S]


def past_end(data, found: dict[str, tuple[int, int, float]], total: int) -> DataWarning | None:
    """The warning for ``found`` ``{video: (segments past the end, T, latest end)}`` of
    ``total`` videos read (``data``: the MiningYouTube set)."""
    if not found:
        return None
    vid, (_, T, end) = next(iter(found.items()))
    n = sum(k for k, _, _ in found.values())
    return DataWarning(data.root / "annotations" / f"{vid}.srt",
                       f"{_plural(n, 'segment')} in {len(found)} of {total} videos",
                       f"end{'s' if n == 1 else ''} more than {PAST_END_TOLERANCE_S:g} s after "
                       f"the video's features ({vid}: features for {T} s, a segment ending at "
                       f"{end:.1f} s); the seconds past the end are not scored: "
                       + _listed(list(found)))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
