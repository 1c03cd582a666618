"""IoU and IoD of predicted step seconds against the ground truth (CrossTask, MCN Table 2).

Defined as for Mining YouTube (:func:`mcnbench.metrics.segmentation.iou_iod`): per step class,
``IoU = |G∩D| / |G∪D|`` and ``IoD = |G∩D| / |D|`` with ``G`` the class's ground-truth seconds and
``D`` its predicted seconds, frame counts pooled over the videos that share the class. Here the
inputs are binary ``[T, K]`` matrices (a second may belong to two overlapping CrossTask steps,
which a label sequence cannot say), and a class is a step *of one task*, so the pooling and the
mean over steps are per task; the headline is the mean over tasks, as CrossTask's recall is.

Classes are the steps present in the ground truth (a step never annotated in a task is left
out; a present step never predicted has IoD 0, as in :func:`iou_iod`). A skipped video
(prediction None) predicts nothing. Fractions in [0, 1].
"""
from __future__ import annotations

import numpy as np


def step_overlap(pairs) -> dict:
    """IoU / IoD of one task's videos: ``pairs`` = ``[(Y_pred [T, K] or None, Y_true [T, K])]``.

    Returns ``{"iou", "iod", "per_step": {k: (iou, iod)}}`` (NaN when no step is present).
    """
    inter = union = det = gt = None
    for y_pred, y_true in pairs:
        y_true = np.asarray(y_true) > 0
        y_pred = np.zeros_like(y_true) if y_pred is None else np.asarray(y_pred) > 0
        if y_pred.shape != y_true.shape:
            raise ValueError(f"prediction {y_pred.shape} and ground truth {y_true.shape} differ")
        parts = ((y_pred & y_true).sum(0), (y_pred | y_true).sum(0), y_pred.sum(0), y_true.sum(0))
        if inter is None:
            inter, union, det, gt = (p.astype(np.int64) for p in parts)
        else:
            if len(parts[0]) != len(inter):
                raise ValueError(f"videos of one task have {len(inter)} and {len(parts[0])} steps")
            inter, union, det, gt = (a + p for a, p in zip((inter, union, det, gt), parts,
                                                            strict=True))
    if inter is None or not (gt > 0).any():
        return {"iou": float("nan"), "iod": float("nan"), "per_step": {}}
    per_step = {int(k): (inter[k] / union[k], inter[k] / det[k] if det[k] else 0.0)
                for k in np.flatnonzero(gt > 0)}
    vals = np.array(list(per_step.values()), dtype=np.float64)
    return {"iou": float(vals[:, 0].mean()), "iod": float(vals[:, 1].mean()), "per_step": per_step}


def crosstask_overlap(preds_by_task: dict) -> dict:
    """``{"iou", "iod", "per_task": {task: (iou, iod)}}``: :func:`step_overlap` per task, then
    the unweighted mean over the tasks with a present step."""
    per_task = {}
    for task, pairs in preds_by_task.items():
        res = step_overlap(pairs)
        if res["per_step"]:
            per_task[task] = (res["iou"], res["iod"])
    if not per_task:
        return {"iou": float("nan"), "iod": float("nan"), "per_task": {}}
    vals = np.array(list(per_task.values()))
    return {"iou": float(vals[:, 0].mean()), "iod": float(vals[:, 1].mean()), "per_task": per_task}
