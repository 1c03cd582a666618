"""HMDB-51 zero-shot action recognition (reference: mcn_spec §6.8, MCN Supp. Table D).

Every video of MCN's ``HMDB_data.pkl`` (the full dataset) is scored against every class text,
``class · video`` (video only: the pickle has no audio). Class texts: the snake_case names split
at ``_`` ("brush_hair" → "brush hair"), with the official loader's fix "claping" → "clapping".
Top-1 / Top-5 over all videos. See docs/tasks.md.
"""
from __future__ import annotations

from mcnbench.registry import register_task
from mcnbench.tasks.meta import TaskMeta

from ._zero_shot import ZeroShotTask

META = TaskMeta(
    name="hmdb51", version="1", title="HMDB-51", order=60,
    description="HMDB-51 zero-shot action recognition, class·video over all videos, Top-1 (main)/Top-5",
    main_score="top1", metrics=("top1", "top5"), paper={"top1": 20.9, "top5": 48.4},
    paper_source="MCN (Chen et al., ICCV 2021), Supp. Table D")


@register_task
class HMDB51(ZeroShotTask):
    meta = META
    dataset = "hmdb51"
    pickle_name = "hmdb51/HMDB_data.pkl"
    # MCN, Supp. Table D (MCN-actions: 22.5 / 51.5; Brattoli et al.: 26.9 / 49.8)
