"""Which rows of a report are "one model": the row identity every view groups by, and its colour.

A report row is one model configuration (seeds are repeats of it). Today the enriched frame names
it with ``label`` (``mcn``, ``mcn (cluster=0)``); records that carry a ``run_id`` and a human
``label`` are grouped the same way. :func:`row_key` is the one place that decides, so tables,
plots, the significance tests and the HTML report all agree on what a row is, and
:func:`model_colors` gives each row one colour in every figure.
"""
from __future__ import annotations

import colorsys
import zlib
from collections.abc import Iterable

import pandas as pd

ROW = "row"  # the column :func:`with_row` adds


def row_key(df: pd.DataFrame) -> pd.Series:
    """The row identity of every line of a results frame (``[n]`` strings).

    ``label`` when the frame has one (the enriched frame, or records that carry a human label),
    else ``run_id``, else the model name.
    """
    for column in ("label", "run_id", "model"):
        if column in df.columns:
            return df[column].astype(str)
    raise KeyError("a results frame needs a 'label', 'run_id' or 'model' column")


def with_row(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the :data:`ROW` column set from :func:`row_key` (a copy; attrs kept)."""
    out = df.assign(**{ROW: row_key(df)})
    out.attrs.update(df.attrs)
    return out


def model_colors(keys: Iterable[str]) -> dict[str, tuple[float, float, float, float]]:
    """One RGBA colour per row key, never repeated: tab20 in sorted order for the first 20, then
    hues spread by the golden ratio from a hash of the key (distinct and stable for any number).

    Call it with *all* the rows of a report (not a figure's subset) so a model keeps its colour
    in every figure.
    """
    from matplotlib import colormaps

    keys = sorted(set(map(str, keys)))
    tab = colormaps["tab20"]
    # tab20 pairs a strong and a light shade; strong shades first keeps neighbours apart.
    order = list(range(0, 20, 2)) + list(range(1, 20, 2))
    out: dict[str, tuple[float, float, float, float]] = {}
    used: set[tuple] = set()
    for i, key in enumerate(keys):
        if i < 20:
            out[key] = tuple(tab(order[i]))
            continue
        h = (zlib.crc32(key.encode()) / 2**32 + 0.618033988749895 * i) % 1.0
        rgb = colorsys.hsv_to_rgb(h, 0.55 + 0.35 * ((i // 7) % 2), 0.85 - 0.25 * ((i // 3) % 2))
        colour = (*(round(c, 4) for c in rgb), 1.0)
        while colour in used:  # astronomically unlikely; keeps the no-repeat promise anyway
            colour = (round((colour[0] + 0.01) % 1.0, 4), *colour[1:])
        out[key] = colour
        used.add(colour)
    return out
