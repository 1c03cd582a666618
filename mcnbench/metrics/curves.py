"""Reading a learning curve: the plateau test of the report and the score of the sweep.

Both read the same window, the last :data:`TAIL` of a run's steps, so that "this model had
plateaued" (``report``'s learning-curve table) and "this learning rate scored best" (``sweep``)
are statements about the same part of training. A curve is given as its logged steps and values,
e.g. every ``val_every`` steps of the validation monitor.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["PLATEAU_GAIN", "TAIL", "tail_gain", "tail_mean"]

TAIL = 0.2          # the window: the last 20 % of the steps
PLATEAU_GAIN = 0.5  # "plateaued": gained less than this (points) over the window


def _clean(steps: Sequence[float], values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(steps, dtype=float)
    v = np.asarray(values, dtype=float)
    if s.shape != v.shape or s.ndim != 1:
        raise ValueError(f"steps and values must be 1-D and of one length, got {s.shape} and {v.shape}")
    keep = ~np.isnan(v)
    order = np.argsort(s[keep], kind="stable")
    return s[keep][order], v[keep][order]


def tail_gain(steps: Sequence[float], values: Sequence[float], tail: float = TAIL) -> float:
    """What a curve gained over the last ``tail`` of its steps: its last value minus its value at
    the last logged step at or before ``(1 - tail) · last step`` (so the window covers at least
    ``tail`` of the run; the first point when none is that early). ``steps``, ``values``: ``[n]``
    (NaN values are skipped); NaN with fewer than two points."""
    s, v = _clean(steps, values)
    if len(s) < 2:
        return math.nan
    early = np.flatnonzero(s <= (1.0 - tail) * s[-1])
    return float(v[-1] - v[early[-1] if len(early) else 0])


def tail_mean(steps: Sequence[float], values: Sequence[float], tail: float = TAIL) -> tuple[float, int]:
    """(mean of the values logged at steps ≥ ``(1 - tail) · last step``, how many were averaged):
    steadier than the last point alone. ``steps``, ``values``: ``[n]`` (NaN values are skipped);
    ``(NaN, 0)`` for a curve with no value."""
    s, v = _clean(steps, values)
    if not len(s):
        return math.nan, 0
    window = v[s >= (1.0 - tail) * s[-1]].tolist()
    return sum(window) / len(window), len(window)  # a plain sum: the committed sweeps' scores
