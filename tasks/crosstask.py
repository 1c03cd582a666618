"""CrossTask zero-shot step localisation (reference: eval_protocols §1, mcn_spec §6.6).

Per test video of the frozen split (``crosstask/test_split.csv``; built with the MMPT seed-0
recipe in memory when absent, and said so), T = the 2D feature length (1 row per second, the
time axis of the official ground truth), score[t, k] = text_k · (video_t + audio_t), then the
ordered one-second-per-step DP. Default: the official CrossTask protocol (DP on
``-log_softmax`` over the steps of each second; recall pooled per task, then the mean over
tasks). ``dp_input="raw"`` runs the DP on ``-scores`` as MCN's code does; MCN's per-video recall
is reported as ``recall_per_video``. See docs/tasks.md.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mcnbench.registry import register_task
from mcnbench.tasks.base import (
    FUSIONS,
    Task,
    TaskResult,
    embed_seconds,
    embed_texts,
    fuse,
    progress,
    step_scores,
    text_report,
)
from mcnbench.tasks.meta import TaskMeta

META = TaskMeta(
    name="crosstask", version="2", title="CrossTask", order=30,  # 2: IoU/IoD, clustering
    description="CrossTask step localisation: t_k·(v+a) per second, ordered DP, recall (18 tasks)",
    main_score="recall", metrics=("recall", "IoU", "IoD"), lower_is_better={"cluster/H"},
    paper={"recall": 35.1, "IoD": 33.6, "IoU": 22.2, "cluster/NMI": 65.5, "cluster/ARI": 48.5,
           "cluster/Acc": 57.6, "cluster/H": 0.34, "cluster/p_max": 83.8},
    # MCN's own protocol (DP on raw scores, per-video recall), Table 2; clustering: Table 3;
    # per-task numbers (Supp. Table I): docs/tasks.md
    paper_source="MCN (Chen et al., ICCV 2021), Tables 2 and 3")


@register_task
class CrossTask(Task):
    meta = META
    defaults = {"fusion": "video+audio", "dp_input": "log_softmax", "short": "diagonal",
                "max_words": 30, "audio_frames": 1024, "window_s": 8.0, "chunk_size": 256,
                "n_train": 30, "split_seed": 0, "write_split": False, "cluster_seed": 0,
                "cluster_n_init": 10}
    choices = {"fusion": FUSIONS, "dp_input": ("log_softmax", "raw"),
               "short": ("diagonal", "skip"), "write_split": (False, True)}

    def load(self, data_root):
        """(release, test split [(task, video_id)], split info)."""
        from mcnbench.data.crosstask import load_crosstask

        release = load_crosstask(data_root)
        return (release, *self._split(release, self.defaults))

    def _split(self, release, opts):
        from mcnbench.data.crosstask import make_test_split, write_test_split

        if release.test_split is not None:
            return release.test_split, {"test_split_source": str(release.test_split_path),
                                        "test_split_sha256": release.test_split_sha256}
        split, info = make_test_split(release, n_train=opts["n_train"], seed=opts["split_seed"])
        info["test_split_source"] = (f"built in memory ({release.test_split_path} absent): "
                                     f"MMPT recipe, seed {opts['split_seed']}, "
                                     f"n_train {opts['n_train']}")
        if opts["write_split"]:
            info["test_split_sha256"] = write_test_split(release.test_split_path, split)
            info["test_split_source"] += f"; written to {release.test_split_path}"
        return split, info

    def data_files(self, data_root):
        root = Path(data_root) / "crosstask"
        rel = root / "crosstask_release"
        defining = [p for p in (rel / "tasks_primary.txt", rel / "videos.csv",
                                rel / "videos_val.csv", root / "test_split.csv") if p.is_file()]
        defining += sorted((rel / "annotations").glob("*.csv"))
        bulk = sorted((root / "features").glob("*.npy")) + sorted((root / "audio").glob("*.npz"))
        return defining, bulk

    def evaluate(self, model, data_root, *, tie_rule="mean", **options) -> TaskResult:
        """recall (official), recall_per_video (MCN), recall/<task_id> — percent.

        per_query (one row per scored video): ``video_ids``, ``task_ids``, ``T``, ``matches``
        (GT seconds hit, the official count), ``hits`` (steps hit), ``present`` (steps in GT);
        for timelines ``K`` (steps), ``pred_second`` [ΣK] and ``gt_step`` [ΣT] (videos in order).
        ``tie_rule`` does not apply (no ranking); it is recorded only.
        """
        from mcnbench.data.crosstask import load_crosstask
        from mcnbench.data.rules import crosstask_missing, dropped_videos
        from mcnbench.data.warnings import issue
        from mcnbench.metrics.alignment import (
            crosstask_dp_batch,
            crosstask_ground_truth,
            crosstask_recall,
            video_hits,
        )

        opts = self.options(**options)
        release = load_crosstask(data_root)
        split, split_info = self._split(release, opts)
        texts, text_ids = [], []
        for tid, card in release.tasks.items():
            texts += card.steps
            text_ids += [f"{tid}#{k}" for k in range(card.n_steps)]
        step_emb = embed_texts(model, self.name, text_ids, texts, max_words=opts["max_words"],
                               desc="crosstask steps")
        offsets = np.cumsum([0] + [c.n_steps for c in release.tasks.values()])
        by_task = {tid: step_emb[offsets[i]:offsets[i + 1]]
                   for i, tid in enumerate(release.tasks)}

        missing = {(t, v): crosstask_missing(release, t, v) for t, v in split}
        dropped = [(f"{t}_{v}", m) for (t, v), m in missing.items() if m is not None]
        issue(dropped_videos(dropped, len(split), "CrossTask test videos"))  # before the wait
        videos, scores, truths, used, clusters = [], [], [], "", []
        for task, vid in progress(split, desc="crosstask videos", total=len(split), unit="video"):
            if missing[task, vid] is not None:
                continue
            emb = embed_seconds(model, self.name, release, vid, audio_frames=opts["audio_frames"],
                                window_s=opts["window_s"], chunk_size=opts["chunk_size"])
            s, used = step_scores(emb, by_task[task], opts["fusion"])
            card = release.tasks[task]
            segs = release.load_annotation(task, vid)
            truths.append(crosstask_ground_truth([tuple(g) for g in segs], len(s), card.n_steps))
            videos.append((task, vid))
            scores.append(s)
            clusters.append(self._cluster(emb, truths[-1], opts))

        dp = crosstask_dp_batch(scores, log_softmax=opts["dp_input"] == "log_softmax",
                                short=opts["short"])
        shapes = [s.shape for s in scores]  # (T, K) per video
        preds_by_task: dict[str, list] = {}
        for (task, _), pred, y in zip(videos, dp.preds, truths, strict=True):
            preds_by_task.setdefault(task, []).append((pred, y))
        rec = crosstask_recall(preds_by_task)
        counts = np.array([video_hits(p, y) for p, y in zip(dp.preds, truths, strict=True)],
                          dtype=np.int64).reshape(-1, 3)
        metrics = {"recall": 100 * rec["recall"], "recall_per_video": 100 * rec["recall_per_video"]}
        metrics.update({f"recall/{t}": 100 * r for t, r in rec["per_task"].items()})
        metrics.update(_overlap_and_clusters(preds_by_task, clusters))
        info = {
            **split_info, "videos_in_split": len(split), "videos_scored": len(videos),
            "videos_dropped_missing_files": len(dropped), "dropped": [v for v, _ in dropped[:50]],
            "videos_T_lt_K": sum(t < k for t, k in shapes), "videos_T_eq_K":
                sum(t == k for t, k in shapes), "videos_skipped_short": dp.counts["skipped"],
            "short_policy": (f"T<K: skipped, counted as all-miss; T==K: "
                             f"{'forced diagonal' if opts['short'] == 'diagonal' else 'skipped'}"),
            "videos_without_gt_steps": rec["n_videos_no_gt"], "tasks_scored": rec["n_tasks"],
            "tasks_without_gt": rec["tasks_without_gt"],
            "recall_per_video_by_task": {t: 100 * r for t, r in rec["per_task_per_video"].items()},
            "task_titles": {t: c.title for t, c in release.tasks.items()},
            "fusion_used": used, "dp_input": opts["dp_input"],
            "steps_text": text_report(data_root, texts, opts["max_words"], what="step names",
                                      source=release.root / "crosstask_release" / "tasks_primary.txt"),
            "videos_clustered": sum(c is not None for c in clusters),
            "clustering": "k-means (k = steps present) on the L2-normalised per-second "
                          f"{used} embeddings of the seconds inside exactly one step",
        }
        per_query = {"video_ids": np.asarray([v for _, v in videos], dtype=str),
                     "task_ids": np.asarray([t for t, _ in videos], dtype=str),
                     "T": np.asarray([len(s) for s in scores], dtype=np.int64),
                     "matches": counts[:, 0], "hits": counts[:, 1], "present": counts[:, 2],
                     # for timelines: steps per video, each step's predicted second (-1: none),
                     # each second's GT step (-1: background), videos concatenated in order
                     "K": np.asarray([y.shape[1] for y in truths], dtype=np.int32),
                     "pred_second": np.concatenate([np.full(y.shape[1], -1) if p is None else
                                                    np.where(p.any(0), p.argmax(0), -1) for p, y
                                                    in zip(dp.preds, truths, strict=True)]
                                                   or [np.zeros(0)]).astype(np.int32),
                     "gt_step": np.concatenate([np.where(y.any(1), y.argmax(1), -1) for y in truths]
                                               or [np.zeros(0)]).astype(np.int16),
                     **_cluster_columns(clusters)}
        return TaskResult(metrics, per_query, info)

    def _cluster(self, emb: dict, y_true: np.ndarray, opts: dict) -> dict | None:
        """Clustering scores of one video's step seconds (None: fewer than 2 steps present)."""
        from mcnbench.metrics.clustering import cluster_video, single_label_seconds

        keep, labels = single_label_seconds(y_true)
        if len(np.unique(labels)) < 2:
            return None
        fused, _ = fuse(emb, opts["fusion"])
        return cluster_video(fused[keep], labels, seed=opts["cluster_seed"],
                             n_init=opts["cluster_n_init"])


def _overlap_and_clusters(preds_by_task: dict, clusters: list) -> dict:
    """IoU / IoD of the DP's seconds (per task, then mean over tasks) and the clustering scores
    averaged over the clustered videos; percent (``cluster/H`` in nats)."""
    from mcnbench.metrics.clustering import mean_scores
    from mcnbench.metrics.overlap import crosstask_overlap

    ov = crosstask_overlap(preds_by_task)
    out = {"IoU": 100 * ov["iou"], "IoD": 100 * ov["iod"]}
    scores = mean_scores([c for c in clusters if c is not None])
    out.update({f"cluster/{k}": v if k == "H" else 100 * v for k, v in scores.items()})
    return out


def _cluster_columns(clusters: list) -> dict[str, np.ndarray]:
    """Per-video clustering scores as per-query columns ``cluster_<score>`` (NaN: not clustered)."""
    from mcnbench.metrics.clustering import SCORES

    return {f"cluster_{k}": np.array([np.nan if c is None else c[k] for c in clusters])
            for k in SCORES}
