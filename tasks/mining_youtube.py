"""Mining YouTube zero-shot action segmentation (reference: eval_protocols §2, mcn_spec §6.7).

Frames are seconds by default: T = the 2D feature length, and second t (spanning [t, t+1) s)
takes the label of the .srt segment containing its start time, background elsewhere; ``fps``
puts GT, scores and decoder on a finer grid (frame f takes the scores of second floor(f / fps)).
``.srt`` labels that are not dictionary classes are normalised (``unknown_labels="normalise"``:
exact, inflection, head, table, see :mod:`mcnbench.data.mining_youtube`). Each second is scored
against every class, ``text_c · (video_t + audio_t)`` (class names with ``_`` as spaces; the
background class scored through the text "background"), log-softmax over the classes, then the
transcript-constrained alignment over the video's ordered transcript (the label runs of its
ground truth, background included, consecutive duplicates merged): ``decoder="exact"``
(default) or the dataset tool's Viterbi with its block conventions (``"official"``, legacy).
Metrics: MoF with and without background, IoU / IoD over the action classes and with
background, and MCN's recall (exactly-one DP over the video's action steps, per second). See
docs/tasks.md.
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
    progress,
    step_scores,
    text_report,
)
from mcnbench.tasks.meta import TaskMeta


def class_text_id(name: str) -> str:
    """Row id of a class text for ``model.embed`` (what the synthetic oracle writes):
    ``class:<name>``, the dictionary name as loaded (stripped)."""
    return f"class:{name}"


META = TaskMeta(
    name="mining_youtube", version="3", title="Mining YouTube", order=40,
    description="Mining YouTube segmentation: transcript alignment over all classes, MoF, IoU, IoD",
    main_score="IoU", metrics=("recall", "MoF", "IoU"), lower_is_better={"cluster/H"},
    paper={"recall": 18.1, "IoD": 32.0, "IoU": 23.1, "cluster/NMI": 75.8, "cluster/ARI": 48.0,
           "cluster/Acc": 61.7, "cluster/H": 0.40, "cluster/p_max": 80.8},
    paper_source="MCN (Chen et al., ICCV 2021), Table 2; clustering: Supp. Table A")


@register_task
class MiningYouTube(Task):
    # v2: labels normalised by default; decoder, fps and gt_edges options. v3: clustering
    meta = META
    defaults = {"fusion": "video+audio", "max_words": 30, "audio_frames": 1024, "window_s": 8.0,
                "chunk_size": 256, "background_text": "background", "unknown_labels": "normalise",
                "decoder": "exact", "min_len": 1, "poisson_mean": None, "fps": 1.0,
                "gt_edges": "ceil", "iou_average": "dataset", "cluster_seed": 0,
                "cluster_n_init": 10}
    choices = {"fusion": FUSIONS, "unknown_labels": ("normalise", "background", "error"),
               "decoder": ("exact", "official"), "gt_edges": ("ceil", "official"),
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

        per_query (one row per scored video): ``video_ids``, ``T`` (frames of the ``fps``
        grid: seconds by default), ``correct`` (frames whose predicted label is right), ``mof``
        (per-video MoF, percent), and for timelines ``pred_label`` / ``gt_label`` [ΣT] (class per
        frame, -1 background). ``info["label_mapping"]`` counts segments and labels per
        normalisation rule. ``tie_rule`` does not apply (nothing is ranked); it is recorded only.
        """
        from mcnbench.data import rules
        from mcnbench.data.warnings import issue
        from mcnbench.metrics.segmentation import iou_iod, mof, step_recall

        opts = self.options(**options)
        fps = float(opts["fps"])
        if not fps > 0:
            raise ValueError(f"task 'mining_youtube': option fps={opts['fps']!r} must be > 0")
        data = self.load(data_root)
        issue(rules.empty_annotations(data, data.videos))
        bg = data.classes.index("background")
        texts = self.class_texts(data.classes, opts["background_text"])
        class_emb = embed_texts(model, self.name, [class_text_id(c) for c in data.classes], texts,
                                max_words=opts["max_words"], desc="mining_youtube classes")
        label_map = data.label_map()
        mapping = _label_counts(data, label_map, opts["unknown_labels"])
        unknown = mapping.pop("not_in_dict")
        if unknown and opts["unknown_labels"] == "error":
            from mcnbench.data.errors import DataError

            raise DataError(data.root / "annotations", f"label {unknown[0]!r}",
                            f"not in weakYouTube_dict.txt ({len(unknown)} such labels)")

        missing = {v: rules.first_missing(rules.video_inputs(data, v)) for v in data.videos}
        dropped = [(v, m) for v, m in missing.items() if m is not None]
        issue(rules.dropped_videos(dropped, len(data.videos), "Mining YouTube test videos"))
        ids, preds, gts, items, past, fallback, used, clusters = [], [], [], [], {}, [], "", []
        for vid in progress(data.videos, desc="mining_youtube videos", unit="video"):
            if missing[vid] is not None:
                continue
            emb = embed_seconds(model, self.name, data, vid, audio_frames=opts["audio_frames"],
                                window_s=opts["window_s"], chunk_size=opts["chunk_size"])
            scores, used = step_scores(emb, class_emb, opts["fusion"])
            if late := rules.segments_past_end(data.annotations[vid], len(scores)):
                past[vid] = (len(late), len(scores), max(seg.end_s for seg in late))
            pred, gt, item, fell_back = self._align(data, vid, scores, bg, opts, label_map)
            if fell_back:
                fallback.append(vid)
            ids.append(vid)
            preds.append(pred)
            gts.append(gt)
            items.append(item)
            clusters.append(_cluster(emb, gt, opts))

        issue(rules.past_end(data, past, len(ids)))
        if fallback:
            from mcnbench.data.warnings import warn_data

            warn_data(data.root, "decoder=official", f"cannot align {len(fallback)} of {len(ids)} "
                      f"videos at fps={fps:g} (more transcript entries than 20-frame steps); they "
                      "use the exact decoder. The tool's grid is video frames: pass fps=29.97")
        with_steps = [it for it in items if it is not None]
        rec = step_recall(with_steps) if with_steps else {"recall": float("nan"),
                                                          "n_videos_skipped": 0}
        av = opts["iou_average"]
        no_bg, with_bg = iou_iod(preds, gts, bg=bg, average=av), iou_iod(preds, gts, average=av)
        metrics = {"MoF": 100 * mof(preds, gts), "MoF_no_bg": 100 * mof(preds, gts, bg=bg),
                   "IoU": 100 * no_bg["iou"], "IoD": 100 * no_bg["iod"],
                   "IoU_bg": 100 * with_bg["iou"], "IoD_bg": 100 * with_bg["iod"],
                   "recall": 100 * rec["recall"]}
        metrics.update(_cluster_means(clusters))
        correct = np.array([int((p == g).sum()) for p, g in zip(preds, gts, strict=True)],
                           dtype=np.int64)
        lengths = np.array([len(g) for g in gts], dtype=np.int64)
        info = {
            "videos_in_test_list": data.info["n_test_ids"], "videos_annotated": len(data.videos),
            "videos_scored": len(ids), "videos_dropped_missing_files": len(dropped),
            "dropped": [v for v, _ in dropped[:50]], "classes": len(data.classes),
            "videos_empty_annotation": sum(not data.annotations[v] for v in data.videos),
            "segments_past_end": sum(n for n, _, _ in past.values()),
            "videos_with_segments_past_end": len(past),
            "unknown_labels": unknown, "unknown_labels_as": opts["unknown_labels"],
            "label_mapping": mapping,
            "decoder": opts["decoder"], "decoder_settings": _decoder_settings(opts),
            "videos_official_fallback": len(fallback), "official_fallback": fallback[:50],
            "videos_without_action_steps": len(items) - len(with_steps),
            "recall_videos_skipped_short": rec["n_videos_skipped"],
            "time_base": (f"{fps:g} frames per second: frame f = [f/fps, (f+1)/fps) s takes the "
                          "label of the segment containing f/fps (gt_edges=official: frames "
                          "round(start*fps)-1 .. round(end*fps)-1) and the scores of second "
                          "floor(f/fps); T = ceil(2D feature length * fps); recall per second"),
            "gt_edges": opts["gt_edges"],
            "fusion_used": used, "iou_average": av,
            "class_text": text_report(data_root, texts, opts["max_words"], what="class names",
                                      source=data.root / "weakYouTube_dict.txt"),
        }
        per_query = {"video_ids": np.asarray(ids, dtype=str), "T": lengths, "correct": correct,
                     "mof": 100 * correct / np.maximum(lengths, 1),
                     # for timelines: per-second predicted and GT class (-1: background), [ΣT]
                     "pred_label": np.concatenate([np.where(p == bg, -1, p) for p in preds]
                                                  or [np.zeros(0)]).astype(np.int16),
                     "gt_label": np.concatenate([np.where(g == bg, -1, g) for g in gts]
                                                or [np.zeros(0)]).astype(np.int16)}
        return TaskResult(metrics, per_query, info)

    def _align(self, data, vid: str, scores: np.ndarray, bg: int, opts: dict, label_map):
        """(predicted [T] class per frame, GT [T], MCN recall input or None, whether the
        official decoder could not align the video) of one video; frames at ``opts["fps"]``."""
        from mcnbench.metrics.segmentation import MYT_OFFICIAL, official_alignment, transcript_alignment

        unknown = "background" if opts["unknown_labels"] == "background" else "normalise"
        fps = float(opts["fps"])
        edges = opts["gt_edges"]
        gt_sec = data.frame_labels(vid, len(scores), 1.0, unknown=unknown, label_map=label_map,
                                   edges=edges)
        if fps == 1.0:
            gt, grid = gt_sec, scores
        else:
            n = int(np.ceil(len(scores) * fps - 1e-9))
            gt = data.frame_labels(vid, n, fps, unknown=unknown, label_map=label_map, edges=edges)
            grid = scores[np.minimum((np.arange(n) / fps).astype(np.int64), len(scores) - 1)]
        transcript = np.array([c for c, _, _ in _runs(gt)])  # label runs, background included
        fell_back = False
        if opts["decoder"] == "official":
            try:
                return (official_alignment(grid, transcript, log_softmax=True, **MYT_OFFICIAL).labels,
                        gt, _step_items(scores, _runs(gt_sec), bg), False)
            except ValueError:
                fell_back = True  # the tool cannot align it (fewer 20-frame steps than entries)
        pred = transcript_alignment(grid, transcript, log_softmax=True, min_len=opts["min_len"],
                                    poisson_mean=opts["poisson_mean"]).labels
        return pred, gt, _step_items(scores, _runs(gt_sec), bg), fell_back


def _decoder_settings(opts: dict) -> dict:
    from mcnbench.metrics.segmentation import MYT_OFFICIAL

    if opts["decoder"] == "official":
        return {**MYT_OFFICIAL, "fallback": "exact decoder (min_len, poisson_mean) where the "
                "official one cannot align a video"}
    return {"min_len": opts["min_len"], "poisson_mean": opts["poisson_mean"], "frame_sampling": 1}


def _label_counts(data, label_map, mode: str) -> dict:
    """Segments and distinct labels of the evaluated videos per mapping rule (``exact``,
    ``inflection``, ``head``, ``table``, ``background`` = mapped by no rule), under ``mode``
    (with ``background`` / ``error`` only exact labels count as mapped); ``not_in_dict``: the
    labels that are not exact classes."""
    from mcnbench.data.mining_youtube import label_report

    rep = label_report(data.annotations, label_map, data.videos)
    not_exact = sorted([*rep["mapped"], *rep["unmapped"]])
    if mode != "normalise":  # every label that is not a class is background (or an error)
        for counts in (rep["segments"], rep["labels"]):
            counts["background"] = sum(v for k, v in counts.items() if k != "exact")
            counts.update(inflection=0, head=0, table=0)
        rep["unmapped"] = not_exact
    return {"segments": rep["segments"], "labels": rep["labels"], "unmapped_labels": rep["unmapped"],
            "not_in_dict": not_exact}


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


def _cluster(emb: dict, gt: np.ndarray, opts: dict) -> dict | None:
    """Clustering scores of one video: k-means with k = its labels present, background
    included, on every second (None: fewer than 2 labels). ``gt`` is on the ``fps`` grid; each
    second takes the label of its first frame."""
    from mcnbench.metrics.clustering import cluster_video
    from mcnbench.tasks.base import fuse

    fused = fuse(emb, opts["fusion"])[0]
    gt = gt[np.minimum((np.arange(len(fused)) * float(opts["fps"])).astype(int), len(gt) - 1)]
    if len(np.unique(gt)) < 2:
        return None
    return cluster_video(fused, gt, seed=opts["cluster_seed"], n_init=opts["cluster_n_init"])


def _cluster_means(clusters: list) -> dict[str, float]:
    """``cluster/<score>`` averaged over the clustered videos: percent, ``cluster/H`` in nats."""
    from mcnbench.metrics.clustering import mean_scores

    scores = mean_scores([c for c in clusters if c is not None])
    return {f"cluster/{k}": v if k == "H" else 100 * v for k, v in scores.items()}
