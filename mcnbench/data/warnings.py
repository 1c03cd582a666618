"""Data that is accepted but surprising: a warning that reads like a :class:`DataError`.

    warn_data(csv, None, "file not found: R@K divides by the 968 clips of the pickle")

issues a :class:`DataWarning` whose text is ``"<path>: <item>: <problem>"``. A command prints
each one as a single stderr line (:func:`report_data_warnings`); ``--strict`` turns them into
errors with ``warnings.simplefilter("error", DataWarning)``, under which ``warn_data`` raises
the DataWarning itself. A DataWarning is also a :class:`DataError`, so a strict run fails through
the same one-line handler as any other bad input (exit 2).

What a task warns about it also counts in its result ``info`` (records keep the counts).
"""
from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from mcnbench.data.errors import DataError


class DataWarning(DataError, UserWarning):
    """Input that is used but probably not what the user meant.

    ``str(w)`` reads ``"<path>: <item>: <problem>"`` (item left out when None), like DataError;
    ``w.path``, ``w.item`` and ``w.problem`` hold the parts.
    """


def warn_data(path: str | Path | None, item: object, problem: str, *, stacklevel: int = 2
              ) -> DataWarning:
    """Issue (and return) a :class:`DataWarning`; raises it instead where the ``"error"`` filter
    is set for DataWarning (``--strict``)."""
    w = DataWarning(path, item, problem)
    warnings.warn(w, stacklevel=stacklevel + 1)
    return w


def issue(w: DataWarning | None) -> None:
    """Issue ``w`` (a rule's finding, see :mod:`mcnbench.data.rules`) unless it is None."""
    if w is not None:
        warnings.warn(w, stacklevel=2)


@contextmanager
def report_data_warnings(command: str, *, strict: bool = False, stream: IO[str] | None = None
                         ) -> Iterator[list[DataWarning]]:
    """Within the block, print each distinct DataWarning once as one line
    ``mcnbench <command>: warning: <message>`` on ``stream`` (default stderr); with ``strict``
    raise it instead. Yields the list of warnings printed. Other warnings are left as they are.
    """
    printed: list[DataWarning] = []
    seen: set[str] = set()
    with warnings.catch_warnings():
        previous = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not isinstance(message, DataWarning):
                return previous(message, category, filename, lineno, file, line)
            if str(message) in seen:  # the same finding from another seed or task
                return None
            seen.add(str(message))
            printed.append(message)
            print(f"mcnbench {command}: warning: {message}", file=stream or sys.stderr,
                  flush=True)
            return None

        warnings.showwarning = show
        # "always": Python's default shows a warning once per code line, and two different
        # findings issued from one line must both be seen.
        warnings.simplefilter("error" if strict else "always", DataWarning)
        yield printed
