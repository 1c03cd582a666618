"""YouCook2 zero-shot text→clip retrieval (reference: mcn_spec §6.2, eval_protocols §3).

The AVLnet validation pickle (clip-pooled 2D ‖ 3D features, whole-clip audio, one caption per
clip) is ranked caption→clip with the score ``text · (video + audio)``. R@K divides by the rows of
the MIL-NCE csv (3,350 real clips; clips absent from the pickle are misses); MedR and MeanR are
over the evaluated queries. ``tie_rule="legacy"`` reproduces the official ``compute_metrics``,
which divides by the number of queries for YouCook2. See docs/tasks.md.
"""
from __future__ import annotations

from pathlib import Path

from mcnbench.registry import register_task
from mcnbench.tasks.base import RetrievalTask
from mcnbench.tasks.meta import RANK_METRICS, TaskMeta

META = TaskMeta(
    name="youcook2", version="1", title="YouCook2", order=10,
    description="YouCook2 text→clip retrieval, 3,350-clip val set, t·(v+a), R@1/5/10 MedR",
    main_score="R@10", metrics=("R@1", "R@5", "R@10", "MedR"), lower_is_better=RANK_METRICS,
    paper={"R@1": 18.1, "R@5": 35.5, "R@10": 45.2, "MedR": 16.0},
    paper_source="MCN (Chen et al., ICCV 2021), Table 1")


@register_task
class YouCook2(RetrievalTask):
    meta = META
    pickle_name = "youcook2/youcook_val_audio.pkl"
    csv_name = "youcook2/validation_youcook.csv"
    legacy_complete = False  # official compute_metrics: R@K over the matrix rows
    csv_lists_videos = True
    # 1024 x youcook_num_frames_multiplier (5) audio frames = 51.2 s, as the official loader
    defaults = {**RetrievalTask.defaults, "audio_frames": 5120}

    def read_pickle(self, path: Path):
        from mcnbench.data.avlnet import load_youcook2_pickle

        return load_youcook2_pickle(path)

    def read_complete(self, path: Path):
        # the csv names videos and times, not the pickle's clip ids (id[:11] is the video)
        from mcnbench.data.milnce_csv import read_youcook_csv

        return read_youcook_csv(path)["video_id"].tolist()
