"""``TaskMeta``: everything about a task that is not its code, written once per task.

Each task module declares one ``META = TaskMeta(...)`` and its class sets ``meta = META``; the
registry (``register_task``), the records (task name and version), ``mcnbench list`` and every
report (titles, column order, metric directions, MCN's published numbers) read it from there.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TaskMeta:
    """A task's identity and display metadata.

    name:            registry name, record folder name (``youcook2``)
    version:         changes whenever the task's numbers would (protocol, loader, defaults)
    description:     one line for ``mcnbench list tasks``
    main_score:      the headline metric (``R@10``), what ``compare`` gates on
    title:           display name in tables and plots (``YouCook2``)
    metrics:         the headline metrics a table shows by default, in column order
    lower_is_better: metric names where smaller is better (MedR, MeanR); all others: higher
    paper:           MCN's published numbers {metric: value} on the real dataset
    paper_source:    where ``paper`` comes from (table of the paper)
    order:           position among tasks in tables (the paper's order); ties by name
    """

    name: str
    version: str
    description: str
    main_score: str
    title: str
    metrics: tuple[str, ...] = ()
    lower_is_better: frozenset[str] = field(default_factory=frozenset)
    paper: dict[str, float] = field(default_factory=dict)
    paper_source: str = ""
    order: int = 100

    def __post_init__(self) -> None:
        if not (self.name and self.description and self.main_score and self.title):
            raise ValueError(f"TaskMeta {self.name!r}: name, description, main_score and title "
                             "are required")
        object.__setattr__(self, "version", str(self.version))
        object.__setattr__(self, "lower_is_better", frozenset(self.lower_is_better))
        if self.main_score not in self.metrics:
            object.__setattr__(self, "metrics", (self.main_score, *self.metrics))

    def is_lower_better(self, metric: str) -> bool:
        """Whether a smaller ``metric`` is better; ``video/MedR`` is looked up as ``MedR``."""
        return metric in self.lower_is_better or metric.rsplit("/", 1)[-1] in self.lower_is_better


RANK_METRICS = frozenset({"MedR", "MeanR"})
