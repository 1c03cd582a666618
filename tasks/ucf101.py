"""UCF-101 zero-shot action recognition (reference: mcn_spec §6.8, MCN Supp. Table D).

Every video of MCN's ``UCF101_data.pkl`` (the full dataset, as Brattoli et al. test) is scored
against every class text, ``class · video`` (video only, as published; option
``fusion="video+audio"`` adds the audio embedding of the videos that have a soundtrack). Class
texts: the CamelCase names split at capitals, lower-cased ("ApplyEyeMakeup" → "apply eye
makeup"). Top-1 / Top-5 over all videos. See docs/tasks.md.
"""
from __future__ import annotations

from mcnbench.registry import register_task
from mcnbench.tasks.meta import TaskMeta

from ._zero_shot import ZeroShotTask

META = TaskMeta(
    name="ucf101", version="1", title="UCF-101", order=50,
    description="UCF-101 zero-shot action recognition, class·video over all videos, Top-1 (main)/Top-5",
    main_score="top1", metrics=("top1", "top5"), paper={"top1": 33.0, "top5": 62.3},
    paper_source="MCN (Chen et al., ICCV 2021), Supp. Table D")


@register_task
class UCF101(ZeroShotTask):
    meta = META
    dataset = "ucf101"
    pickle_name = "ucf101/UCF101_data.pkl"
    # MCN, Supp. Table D (MCN-actions, HowTo100M minus 5 categories: 33.9 / 63.7; Brattoli et
    # al.: 37.6 / 62.5; in docs/tasks.md)
    choices = {**ZeroShotTask.choices, "fusion": ("video", "video+audio")}
