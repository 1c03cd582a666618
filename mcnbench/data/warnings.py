"""The one warning type for data that is accepted but not what a user would expect (dropped
videos, empty captions, a missing complete-set list): it reads like :class:`DataError`."""
from __future__ import annotations

import warnings
from pathlib import Path


class DataWarning(UserWarning):
    """Accepted but surprising input; ``str()`` reads ``"<path>: <item>: <problem>"``. The CLI
    prints it as one line; ``--strict`` turns it into an error (exit 2)."""


def warn_data(path: str | Path | None, item: object, problem: str) -> None:
    """Issue a :class:`DataWarning` naming the file, the item (None to leave out) and the problem."""
    parts = [str(path) if path is not None else "<input>"]
    if item is not None:
        parts.append(str(item))
    parts.append(problem)
    warnings.warn(": ".join(parts), DataWarning, stacklevel=2)
