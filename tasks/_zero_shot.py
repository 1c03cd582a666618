"""The zero-shot action-recognition protocol shared by ``ucf101`` and ``hmdb51`` (mcn_spec §6.8).

Not a task itself (the registry skips modules starting with ``_``): :class:`ZeroShotTask` is the
base of the two registered ones.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mcnbench.data.batch import Batch
from mcnbench.tasks.base import Task, TaskResult, embed_rows, embed_texts, fuse, text_report


def class_text_id(name: str) -> str:
    """Row id of a class text for ``model.embed``: ``class:<name>`` (the pickle's class name)."""
    return f"class:{name}"


class ZeroShotTask(Task):
    """Every video of an MCN action pickle against every class text, Top-1 / Top-5.

    Subclasses set ``name``, ``dataset`` (``ucf101`` / ``hmdb51``), ``pickle_name`` (path under
    the data root) and the ``fusion`` choices their data allows.
    """

    dataset: ClassVar[str] = ""
    pickle_name: ClassVar[str] = ""
    titles: ClassVar[dict[str, str]] = {"top1": "Top-1", "top5": "Top-5"}
    ks: ClassVar[tuple[int, ...]] = (1, 5)
    defaults: ClassVar[dict[str, Any]] = {"fusion": "video", "pooling": "mean", "max_words": 20,
                                          "audio_frames": 3072, "chunk_size": 256}
    choices: ClassVar[dict[str, tuple]] = {"fusion": ("video",), "pooling": ("mean", "max")}

    def load(self, data_root, pooling: str = "mean"):
        from mcnbench.data.action_recognition import load_action_pickle

        return load_action_pickle(Path(data_root) / self.pickle_name, self.dataset,
                                  pooling=pooling)

    def data_files(self, data_root):
        path = Path(data_root) / self.pickle_name
        return ([path] if path.exists() else []), []

    def evaluate(self, model, data_root, *, tie_rule="mean", **options) -> TaskResult:
        """top1, top5 (percent, over every video of the pickle).

        per_query (one row per video): ``videos``, ``labels`` (class index into
        ``info.classes``), ``ranks`` (0-based rank of the true class under the tie rule;
        legacy: the first tied position), ``hits`` [N, 2] (Top-1, Top-5 as scored).
        """
        from mcnbench.data.prep import pad_or_truncate
        from mcnbench.metrics.retrieval import ranks_from_similarity
        from mcnbench.metrics.zero_shot import topk_accuracy, topk_hits

        opts = self.options(**options)
        data = self.load(data_root, opts["pooling"])
        texts = data.class_texts
        class_emb = embed_texts(model, self.name, [class_text_id(c) for c in data.classes],
                                texts, max_words=opts["max_words"], desc=f"{self.name} classes")
        with_audio = opts["fusion"] == "video+audio"
        F = int(opts["audio_frames"])
        if with_audio:
            lengths = np.minimum([a.shape[1] for a in data.audio], F).astype(np.int64)

        def batch(s, e):
            if not with_audio:
                return Batch(ids=data.videos[s:e], task=self.name, video=data.video[s:e])
            return Batch(ids=data.videos[s:e], task=self.name, video=data.video[s:e],
                         audio=np.stack([pad_or_truncate(a, F) for a in data.audio[s:e]]),
                         nframes=lengths[s:e])

        emb = embed_rows(model, len(data), batch, chunk_size=int(opts["chunk_size"]),
                         desc=f"{self.name} videos")
        side, used = fuse(emb, "video")
        if with_audio:
            if "audio" not in emb:
                raise ValueError(f"fusion 'video+audio' needs audio embeddings; the model gave "
                                 f"{sorted(emb)}")
            # a video without a soundtrack (zeros [40, 1] in the pickle) is scored by its video
            side = side + emb["audio"] * data.has_audio[:, None]
            used = "video+audio (video only where has_audio = 0)"
        if side.shape[1] != class_emb.shape[1]:
            raise ValueError(f"video embeddings are {side.shape[1]}-d, class text "
                             f"{class_emb.shape[1]}-d")
        scores = side.astype(np.float64) @ class_emb.astype(np.float64).T  # [N, C]
        metrics = topk_accuracy(scores, data.labels, self.ks, tie_rule=tie_rule)
        ranks = ranks_from_similarity(scores, data.labels, tie_rule=tie_rule)
        info = {
            "videos": len(data), "classes": data.classes, "n_classes": len(data.classes),
            "class_texts": texts, "videos_with_audio": int(data.has_audio.sum()),
            "videos_with_tied_true_class": ranks.n_tied, "fusion_used": used,
            "pooling": opts["pooling"], "training_counts": data.info["training_counts"],
            "pooled_not_mean": data.info["pooled_not_mean"], "pickle": str(data.path),
            "class_text": text_report(data_root, texts, opts["max_words"]),
        }
        per_query = {"videos": np.asarray(data.videos), "labels": data.labels,
                     "ranks": ranks.ranks,
                     "hits": topk_hits(scores, data.labels, self.ks, tie_rule=tie_rule)}
        return TaskResult(metrics, per_query, info)
