"""The one error type every loader raises: it names the file, the item and the problem."""
from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad or missing input data.

    ``str(err)`` reads ``"<path>: <item>: <problem>"`` (the item is left out when None), so a
    person sees in one line which file, which entry of it and what is wrong.
    """

    def __init__(self, path: str | Path | None, item: object, problem: str):
        self.path = None if path is None else Path(path)
        self.item = item
        self.problem = problem
        parts = [str(self.path) if self.path is not None else "<input>"]
        if item is not None:
            parts.append(str(item))
        parts.append(problem)
        super().__init__(": ".join(parts))
