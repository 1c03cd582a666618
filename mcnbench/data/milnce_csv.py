"""The MIL-NCE csv lists of the retrieval test sets (eval_protocols §3.1).

``validation_youcook.csv``: ``end,start,task,text,video_id`` — the 3,350 YouCook2 validation
clips (436 videos) used for zero-shot retrieval; times in seconds.
``msrvtt_test.csv``: ``key,vid_key,video_id,sentence`` — the 1,000 MSR-VTT 1k-A test clips.
They fix ``complete_size`` (clips missing from the feature pickles count as misses).
Errors name the 1-based line of the file (the header is line 1) and the column.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mcnbench.data.errors import DataError

YOUCOOK_COLUMNS = ("end", "start", "task", "text", "video_id")
MSRVTT_COLUMNS = ("key", "vid_key", "video_id", "sentence")


def read_text_csv(path: str | Path, columns: tuple[str, ...]) -> tuple[Path, pd.DataFrame]:
    """A csv with a header read as text (no NA guessing), checked for ``columns`` and rows.

    Raises DataError for a missing or unreadable file, missing columns or no rows.
    """
    path = Path(path)
    try:
        # everything as text first: ids such as "0123" and captions such as "NA" stay verbatim
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(path, None, f"not a readable csv ({str(exc).strip()})") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(path, "header", f"missing column(s) {missing} (has {list(df.columns)})")
    if df.empty:
        raise DataError(path, None, "no rows")
    return path, df


def _line(row: int) -> str:
    return f"line {row + 2}"  # +1 for 1-based, +1 for the header


def _required_text(path: Path, df: pd.DataFrame, column: str) -> None:
    empty = np.flatnonzero(df[column].str.strip().eq("").to_numpy())
    if len(empty):
        raise DataError(path, f"{_line(empty[0])} column {column!r}", "empty value")


def _times(path: Path, df: pd.DataFrame) -> None:
    """Parse ``start``/``end`` to float64 in place; finite, ≥ 0, start ≤ end."""
    for col in ("start", "end"):
        values = pd.to_numeric(df[col].str.strip(), errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
        if len(bad):
            raise DataError(path, f"{_line(bad[0])} column {col!r}",
                            f"bad time {df[col].iloc[bad[0]]!r} (need a finite number >= 0)")
        df[col] = values
    bad = np.flatnonzero(df["start"].to_numpy() > df["end"].to_numpy())
    if len(bad):
        r = bad[0]
        raise DataError(path, f"{_line(r)} column 'start'",
                        f"start {df['start'].iloc[r]} is after end {df['end'].iloc[r]}")


def read_youcook_csv(path: str | Path) -> pd.DataFrame:
    """YouCook2 clips: DataFrame with columns end, start (float64 s), task, text, video_id (str)."""
    path, df = read_text_csv(path, YOUCOOK_COLUMNS)
    _required_text(path, df, "video_id")
    _times(path, df)
    return df


def read_msrvtt_csv(path: str | Path) -> pd.DataFrame:
    """MSR-VTT clips: DataFrame with columns key, vid_key, video_id, sentence (str); keys unique."""
    path, df = read_text_csv(path, MSRVTT_COLUMNS)
    for col in ("key", "video_id"):
        _required_text(path, df, col)
    dup = np.flatnonzero(df["key"].duplicated().to_numpy())
    if len(dup):
        raise DataError(path, f"{_line(dup[0])} column 'key'",
                        f"duplicate key {df['key'].iloc[dup[0]]!r}")
    return df
