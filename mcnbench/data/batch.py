"""The batch a task hands to a model: either clips or sentences, with stable row ids."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Batch:
    """Inputs for ``Model.embed``.

    ids:     [N] stable row ids (``precomputed`` looks rows up by them)
    task:    the task asking (``precomputed`` reads ``<dir>/<task>/``)
    video:   [N, 2*Dh] float32, each half L2-normalised, or None
    audio:   [N, 40, F] float32 log-mel spectrogram, or None
    nframes: [N] int64 valid audio frames, or None
    text:    N raw sentences, or None
    max_words: words kept per sentence when a model tokenises ``text``
    """

    ids: list[str]
    task: str
    video: np.ndarray | None = None
    audio: np.ndarray | None = None
    nframes: np.ndarray | None = None
    text: list[str] | None = None
    max_words: int = 20

    def __post_init__(self) -> None:
        n = len(self.ids)
        for name in ("video", "audio", "nframes"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"Batch.{name} has {len(value)} rows for {n} ids")
        if self.text is not None and len(self.text) != n:
            raise ValueError(f"Batch.text has {len(self.text)} sentences for {n} ids")
        if (self.audio is None) != (self.nframes is None):
            raise ValueError("Batch.audio and Batch.nframes go together")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def is_text(self) -> bool:
        return self.text is not None
