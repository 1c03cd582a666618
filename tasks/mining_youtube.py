"""Mining YouTube zero-shot action segmentation (reference: eval_protocols §2, mcn_spec §6.7).

Frames are seconds: T = the 2D feature length, and second t (spanning [t, t+1) s) takes the
label of the .srt segment containing its start time, background elsewhere. Each second is scored
against every class, ``text_c · (video_t + audio_t)`` (class names with ``_`` as spaces; the
background class scored through the text "background"), log-softmax over the classes, then the
transcript-constrained alignment over the video's ordered transcript (the label runs of its
per-second ground truth, background included, consecutive duplicates merged). Metrics: MoF with
and without background, IoU / IoD over the action classes and with background, and MCN's recall
(exactly-one DP over the video's action steps). See docs/tasks.md.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mcnbench.registry import register_task
from mcnbench.task import (
    FUSIONS,
    Task,
    TaskResult,
    embed_seconds,
    embed_texts,
    has_inputs,
    progress,
    step_scores,
    text_report,
)

DESCRIPTION = "Mining YouTube segmentation: transcript alignment over all classes, MoF, IoU, IoD"


def class_text_id(name: str) -> str:
    """Row id of a class text for ``model.embed`` (what the synthetic oracle writes):
    ``class:<name>``, the dictionary name as loaded (stripped)."""
    return f"class:{name}"


@register_task("mining_youtube", version="1", description=DESCRIPTION)
class MiningYouTube(Task):
    name = "mining_youtube"
    version = "1"
    description = DESCRIPTION
    main_score = "IoU"
    paper = {"recall": 18.1, "IoD": 32.0, "IoU": 23.1}  # MCN Table 2
    defaults = {"fusion": "video+audio", "max_words": 30, "audio_frames": 1024, "window_s": 8.0,
                "chunk_size": 256, "background_text": "background", "unknown_labels": "background",
                "min_len": 1, "poisson_mean": None, "iou_average": "dataset"}
    choices = {"fusion": FUSIONS, "unknown_labels": ("background", "error"),
               "iou_average": ("dataset", "video")}

    def load(self, data_root):
        from mcnbench.data.mining_youtube import load_mining_youtube

        return load_mining_youtube(data_root)

    def data_files(self, data_root):
        root = Path(data_root) / "mining_youtube"
        defining = [p for p in (root / "weakYouTube_dict.txt", root / "videos_test.txt")
                    if p.is_file()] + sorted((root / "annotations").glob("*.srt"))
        bulk = sorted((root / "features").glob("*.npy")) + sorted((root / "audio").glob("*.npz"))
        return defining, bulk

    def class_texts(self, classes: list[str], background_text: str) -> list[str]:
        from mcnbench.data.text import step_name_to_text

        # the tokenizer keeps "_" inside words: "crack_egg" would be one OOV token
        return [background_text if c == "background" else step_name_to_text(c) for c in classes]

    def evaluate(self, model, data_root, *, tie_rule="mean", **options) -> TaskResult:
        """MoF, MoF_no_bg, IoU, IoD (action classes), IoU_bg, IoD_bg, recall — percent.

        per_query (one row per scored video): ``video_ids``, ``T``, ``correct`` (seconds whose
        predicted label is right), ``mof`` (per-video MoF, percent), and for timelines
        ``pred_label`` / ``gt_label`` [ΣT] (class per second, -1 background). ``tie_rule`` does not
        apply (nothing is ranked); it is recorded only.
        """
        from mcnbench.metrics.segmentation import iou_iod, mof, step_recall

        opts = self.options(**options)
        data = self.load(data_root)
        bg = data.classes.index("background")
        texts = self.class_texts(data.classes, opts["background_text"])
        class_emb = embed_texts(model, self.name, [class_text_id(c) for c in data.classes], texts,
                                max_words=opts["max_words"], desc="mining_youtube classes")
        known = set(data.classes)
        unknown = sorted({s.label for v in data.videos for s in data.annotations[v]} - known)
        if unknown and opts["unknown_labels"] == "error":
            from mcnbench.data.errors import DataError

            raise DataError(data.root / "annotations", f"label {unknown[0]!r}",
                            f"not in weakYouTube_dict.txt ({len(unknown)} such labels)")

        ids, preds, gts, items, dropped, used = [], [], [], [], [], ""
        for vid in progress(data.videos, desc="mining_youtube videos", unit="video"):
            if not has_inputs(data, vid):
                dropped.append(vid)
                continue
            emb = embed_seconds(model, self.name, data, vid, audio_frames=opts["audio_frames"],
                                window_s=opts["window_s"], chunk_size=opts["chunk_size"])
            scores, used = step_scores(emb, class_emb, opts["fusion"])
            pred, gt, item = self._align(data, vid, scores, bg, opts)
            ids.append(vid)
            preds.append(pred)
            gts.append(gt)
            items.append(item)

        with_steps = [it for it in items if it is not None]
        rec = step_recall(with_steps) if with_steps else {"recall": float("nan"),
                                                          "n_videos_skipped": 0}
        av = opts["iou_average"]
        no_bg, with_bg = iou_iod(preds, gts, bg=bg, average=av), iou_iod(preds, gts, average=av)
        metrics = {"MoF": 100 * mof(preds, gts), "MoF_no_bg": 100 * mof(preds, gts, bg=bg),
                   "IoU": 100 * no_bg["iou"], "IoD": 100 * no_bg["iod"],
                   "IoU_bg": 100 * with_bg["iou"], "IoD_bg": 100 * with_bg["iod"],
                   "recall": 100 * rec["recall"]}
        correct = np.array([int((p == g).sum()) for p, g in zip(preds, gts, strict=True)],
                           dtype=np.int64)
        lengths = np.array([len(g) for g in gts], dtype=np.int64)
        info = {
            "videos_in_test_list": data.info["n_test_ids"], "videos_annotated": len(data.videos),
            "videos_scored": len(ids), "videos_dropped_missing_files": len(dropped),
            "dropped": dropped[:50], "classes": len(data.classes),
            "unknown_labels": unknown, "unknown_labels_as": "background",
            "videos_without_action_steps": len(items) - len(with_steps),
            "recall_videos_skipped_short": rec["n_videos_skipped"],
            "time_base": "1 s per frame: second t = [t, t+1) s takes the label of the segment "
                         "containing t; T = 2D feature length",
            "fusion_used": used, "iou_average": av,
            "class_text": text_report(data_root, texts, opts["max_words"]),
        }
        per_query = {"video_ids": np.asarray(ids, dtype=str), "T": lengths, "correct": correct,
                     "mof": 100 * correct / np.maximum(lengths, 1),
                     # for timelines: per-second predicted and GT class (-1: background), [ΣT]
                     "pred_label": np.concatenate([np.where(p == bg, -1, p) for p in preds]
                                                  or [np.zeros(0)]).astype(np.int16),
                     "gt_label": np.concatenate([np.where(g == bg, -1, g) for g in gts]
                                                or [np.zeros(0)]).astype(np.int16)}
        return TaskResult(metrics, per_query, info)

    def _align(self, data, vid: str, scores: np.ndarray, bg: int, opts: dict):
        """(predicted [T] class per second, GT [T], MCN recall input or None) of one video."""
        from mcnbench.data.mining_youtube import segments_to_frame_labels
        from mcnbench.metrics.segmentation import transcript_alignment

        gt = segments_to_frame_labels(data.annotations[vid], len(scores), 1.0, data.classes,
                                      unknown="background",
                                      path=data.root / "annotations" / f"{vid}.srt")
        runs = _runs(gt)  # the transcript: label runs, background included
        pred = transcript_alignment(scores, np.array([c for c, _, _ in runs]), log_softmax=True,
                                    min_len=opts["min_len"],
                                    poisson_mean=opts["poisson_mean"]).labels
        return pred, gt, _step_items(scores, runs, bg)


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """Label runs ``(class, start, stop)`` of a [T] label sequence, in order."""
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [len(labels)]])
    return [(int(labels[s]), int(s), int(e)) for s, e in zip(starts, stops, strict=True)]


def _step_items(scores: np.ndarray, runs: list[tuple[int, int, int]], bg: int):
    """MCN recall input of one video: scores of its action steps ``[T, K]`` (one column per
    non-background run, in order) and their ground truth ``[T, K]`` (the run's seconds); None
    when the video has no action step."""
    steps = [(c, s, e) for c, s, e in runs if c != bg]
    if not steps:
        return None
    y = np.zeros((len(scores), len(steps)), dtype=np.uint8)
    for k, (_, s, e) in enumerate(steps):
        y[s:e, k] = 1
    return scores[:, [c for c, _, _ in steps]], y
