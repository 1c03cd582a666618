"""UCF-101 zero-shot action recognition (reference: mcn_spec §6.8, MCN Supp. Table D).

Every video of MCN's ``UCF101_data.pkl`` (the full dataset, as Brattoli et al. test) is scored
against every class text, ``class · video`` (video only, as published; option
``fusion="video+audio"`` adds the audio embedding of the videos that have a soundtrack). Class
texts: the CamelCase names split at capitals, lower-cased ("ApplyEyeMakeup" → "apply eye
makeup"). Top-1 / Top-5 over all videos. See docs/tasks.md.
"""
from __future__ import annotations

from mcnbench.registry import register_task

from ._zero_shot import ZeroShotTask

DESCRIPTION = "UCF-101 zero-shot action recognition, class·video over all videos, Top-1 (main)/Top-5"


@register_task("ucf101", version="1", description=DESCRIPTION)
class UCF101(ZeroShotTask):
    name = "ucf101"
    title = "UCF-101"
    version = "1"
    description = DESCRIPTION
    dataset = "ucf101"
    pickle_name = "ucf101/UCF101_data.pkl"
    # MCN, Supp. Table D (MCN-actions, HowTo100M minus 5 categories: 33.9 / 63.7; Brattoli et
    # al.: 37.6 / 62.5; in docs/tasks.md)
    paper = {"top1": 33.0, "top5": 62.3}
    choices = {**ZeroShotTask.choices, "fusion": ("video", "video+audio")}
