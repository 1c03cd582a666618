"""MSR-VTT 1k-A zero-shot text→clip retrieval (reference: mcn_spec §6.3, eval_protocols §3).

The AVLnet ``msrvtt_jsfusion_test.pkl`` holds the 968 of the 1,000 test clips that have audio;
each is queried with its ``eval_caption``, scored ``text · (video + audio)``. R@K divides by the
1,000 rows of the MIL-NCE csv (the 32 absent clips are misses, as in the official code, legacy
rule included); MedR and MeanR are over the 968 evaluated queries. See docs/tasks.md.
"""
from __future__ import annotations

from pathlib import Path

from mcnbench.registry import register_task
from mcnbench.tasks.base import RetrievalTask
from mcnbench.tasks.meta import RANK_METRICS, TaskMeta

META = TaskMeta(
    name="msrvtt", version="1", title="MSR-VTT", order=20,
    description="MSR-VTT 1k-A text→clip retrieval, R@K over 1,000 (968 with audio), t·(v+a)",
    main_score="R@10", metrics=("R@1", "R@5", "R@10", "MedR"), lower_is_better=RANK_METRICS,
    paper={"R@1": 10.5, "R@5": 25.2, "R@10": 33.8, "MedR": 27.0},
    paper_source="MCN (Chen et al., ICCV 2021), Table 1")


@register_task
class MSRVTT(RetrievalTask):
    meta = META
    pickle_name = "msrvtt/msrvtt_jsfusion_test.pkl"
    csv_name = "msrvtt/msrvtt_test.csv"
    legacy_complete = True  # official compute_metrics: R@K / 1000 when eval_msrvtt
    defaults = {**RetrievalTask.defaults, "audio_frames": 3072}  # 1024 x 3, official loader

    def read_pickle(self, path: Path):
        from mcnbench.data.avlnet import load_msrvtt_pickle

        return load_msrvtt_pickle(path)

    def read_complete(self, path: Path):
        from mcnbench.data.milnce_csv import read_msrvtt_csv

        return read_msrvtt_csv(path)["video_id"].tolist()
