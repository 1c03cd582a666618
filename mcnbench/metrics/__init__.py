"""Metrics: retrieval ranks/recalls, bootstrap statistics, CrossTask DP, Mining YouTube alignment.

Units: :func:`retrieval_metrics` returns percentages (R@K) and ranks (MedR, MeanR); the CrossTask
and Mining YouTube functions return fractions in [0, 1], which tasks turn into percentages.
"""
from .alignment import (
    DPBatch,
    ShortVideoError,
    crosstask_dp,
    crosstask_dp_batch,
    crosstask_ground_truth,
    crosstask_recall,
    step_costs,
    video_hits,
)
from .retrieval import (
    RankResult,
    hits_at,
    legacy_entries,
    ranks_from_embeddings,
    ranks_from_similarity,
    retrieval_metrics,
)
from .segmentation import (
    MYT_OFFICIAL,
    MYT_REFERENCE,
    Alignment,
    align_transcript,
    iou_iod,
    mof,
    official_alignment,
    official_poisson_scores,
    poisson_length_scores,
    step_recall,
    transcript_alignment,
)
from .stats import (
    bootstrap_ci,
    bootstrap_replicates,
    mean_rank_fn,
    median_rank_fn,
    metric_intervals,
    pad_missing,
    paired_bootstrap_test,
    recall_fn,
)

__all__ = [
    "Alignment", "DPBatch", "MYT_OFFICIAL", "MYT_REFERENCE", "RankResult", "ShortVideoError",
    "align_transcript", "bootstrap_ci", "bootstrap_replicates", "crosstask_dp",
    "crosstask_dp_batch", "crosstask_ground_truth", "crosstask_recall", "hits_at", "iou_iod",
    "legacy_entries", "mean_rank_fn", "median_rank_fn", "metric_intervals", "mof",
    "official_alignment", "official_poisson_scores",
    "pad_missing", "paired_bootstrap_test", "poisson_length_scores", "ranks_from_embeddings",
    "ranks_from_similarity", "recall_fn", "retrieval_metrics", "step_costs", "step_recall",
    "transcript_alignment", "video_hits",
]
