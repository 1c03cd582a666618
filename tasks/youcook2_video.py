"""YouCook2 text→full-video retrieval (reference: mcn_spec §6.5, MCN Table 4).

The clips and captions of the ``youcook2`` task, grouped by video (``id[:11]``): the caption ×
clip matrix ``text · (video + audio)`` is turned into video-level retrieval by three protocols
(:mod:`mcnbench.metrics.video_retrieval`): Caption Avg. (the main one), MV-Video and MV-Clip.
R@1/5/10 over the videos of the csv (videos absent from the pickle count as misses; legacy:
over the videos present, as the published code). See docs/tasks.md.
"""
from __future__ import annotations

import numpy as np

from mcnbench.data.batch import Batch
from mcnbench.registry import register_task
from mcnbench.tasks.base import FUSIONS, Task, TaskResult, embed_rows, embed_texts, fuse, text_report
from mcnbench.tasks.meta import RANK_METRICS, TaskMeta

from .youcook2 import YouCook2

PROTOCOL_TITLES = {"caption_avg": "Caption Avg.", "mv_video": "MV-Video", "mv_clip": "MV-Clip"}

META = TaskMeta(
    name="youcook2_video", version="1", title="YouCook2 videos", order=15,
    description="YouCook2 text→full-video retrieval: Caption Avg. (main, R@10), MV-Video, MV-Clip, "
                "R@1/5/10 over videos",
    main_score="caption_avg/R@10",
    metrics=tuple(f"{p}/R@{k}" for p in PROTOCOL_TITLES for k in (1, 5, 10)),
    lower_is_better=RANK_METRICS,
    paper={"caption_avg/R@1": 53.4, "caption_avg/R@5": 75.0, "caption_avg/R@10": 81.4,
           "mv_video/R@1": 38.8, "mv_video/R@5": 67.7, "mv_video/R@10": 78.4,
           "mv_clip/R@1": 38.8, "mv_clip/R@5": 67.4, "mv_clip/R@10": 76.8},
    paper_source="MCN (Chen et al., ICCV 2021), Table 4")


@register_task
class YouCook2Video(Task):
    meta = META
    # the clips are youcook2's: row ids and the precomputed folder are youcook2's too
    embed_task = "youcook2"
    pickle_name, csv_name = YouCook2.pickle_name, YouCook2.csv_name
    defaults = {"fusion": "video+audio", "max_words": 20, "audio_frames": 5120, "chunk_size": 256}
    choices = {"fusion": FUSIONS}

    def load(self, data_root):
        """youcook2's clip set (:meth:`RetrievalTask.load`)."""
        return YouCook2().load(data_root)

    def data_files(self, data_root):
        return YouCook2().data_files(data_root)

    def complete_videos(self, data_root) -> tuple[int | None, str]:
        """(distinct video ids of the csv, or None without it; where that came from)."""
        from mcnbench.data.milnce_csv import read_youcook_csv

        csv = data_root / self.csv_name
        if not csv.exists():
            return None, f"videos present ({csv} absent)"
        return int(read_youcook_csv(csv)["video_id"].nunique()), str(csv)

    def evaluate(self, model, data_root, *, tie_rule="mean", **options) -> TaskResult:
        """``<protocol>/R@K`` (percent) for protocol in caption_avg, mv_video, mv_clip and
        ``caption_avg/MedR``, ``caption_avg/MeanR``.

        per_query (one row per video present): ``videos``, ``ranks`` (Caption Avg., 0-based),
        ``hits_<protocol>`` [V, 3] bool at K = 1, 5, 10.
        """
        from pathlib import Path

        from mcnbench.data.prep import pad_or_truncate
        from mcnbench.metrics.video_retrieval import group_by_video, video_retrieval

        opts = self.options(**options)
        data_root = Path(data_root)
        data = self.load(data_root)
        clips, F = data.clips, int(opts["audio_frames"])
        text = embed_texts(model, self.embed_task, clips.ids, clips.captions,
                           max_words=opts["max_words"], desc=f"{self.name} text")
        lengths = np.minimum(clips.audio_lengths, F)  # as youcook2 (docs/tasks.md)
        emb = embed_rows(model, len(clips), lambda s, e: Batch(
            ids=clips.ids[s:e], task=self.embed_task, video=clips.video[s:e],
            audio=np.stack([pad_or_truncate(a, F) for a in clips.audio[s:e]]),
            nframes=lengths[s:e]), chunk_size=int(opts["chunk_size"]), desc=f"{self.name} clips")
        gallery, used = fuse(emb, opts["fusion"])
        if text.shape[1] != gallery.shape[1]:
            raise ValueError(f"text embeddings are {text.shape[1]}-d, clip embeddings "
                             f"{gallery.shape[1]}-d")
        videos, video = group_by_video(clips.ids)
        complete, source = self.complete_videos(data_root)
        legacy = tie_rule == "legacy"
        if complete is not None and complete < len(videos):
            from mcnbench.data.errors import DataError

            raise DataError(data_root / self.csv_name, None, f"lists {complete} videos but the "
                            f"pickle's clip ids name {len(videos)} (id[:11])")
        m = text.astype(np.float64) @ gallery.astype(np.float64).T
        res = video_retrieval(m, video, videos, tie_rule=tie_rule,
                              complete_videos=None if legacy or complete is None else complete)
        info = {
            **res.info, "complete_videos_source": source,
            "complete_videos_in_csv": complete, "missing_videos":
                None if complete is None else complete - len(videos),
            "r_at_k_denominator": res.info["complete_videos"], "clips": len(clips),
            "fusion": opts["fusion"], "fusion_used": used, "audio_frames": F,
            "max_words": opts["max_words"], "protocol_titles": PROTOCOL_TITLES,
            "text": text_report(data_root, clips.captions, opts["max_words"]),
            "pickle": str(clips.path),
        }
        per_query = {"videos": np.asarray(res.videos), "ranks": res.ranks,
                     **{f"hits_{p}": h for p, h in res.hits.items()}}
        return TaskResult(res.metrics, per_query, info)
