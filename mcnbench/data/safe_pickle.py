"""Load pickles without letting them run code.

The datasets ship as pickles (AVLnet's YouCook2/MSR-VTT lists of dicts, HowTo100M's
``caption.pickle``). ``pickle.load`` calls whatever callable a file names, so a downloaded or
tampered pickle could execute anything. :func:`safe_load` resolves globals through an allow-list
of *data* types only: builtin containers and scalars need no globals at all; numpy arrays,
dtypes and scalars; ``set``/``frozenset``/``bytearray``/``complex``, which old protocols
spell as globals; ``collections.OrderedDict``; and torch tensors as ``pickle.dumps`` of a
tensor writes them. Any other global is refused before it is called.
"""
from __future__ import annotations

import builtins
import collections
import io
import pickle
import warnings
from pathlib import Path
from typing import Any

from mcnbench.data.errors import DataError


def _numpy_global(name: str) -> Any:
    import numpy as np

    simple = {"ndarray": np.ndarray, "dtype": np.dtype}
    if name in simple:
        return simple[name]
    # numpy 2 moved numpy.core -> numpy._core; pickles of either era name one of them, and
    # both spellings resolve to the same functions of the installed numpy.
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    table = {
        "multiarray._reconstruct": multiarray._reconstruct,
        "multiarray.scalar": multiarray.scalar,
        "numeric._frombuffer": numeric._frombuffer,
    }
    return table[name]


def _storage_from_bytes(data: bytes) -> Any:
    """Stand-in for ``torch.storage._load_from_bytes``.

    The original calls ``torch.load(..., weights_only=False)`` on the embedded bytes, which is a
    second, unrestricted unpickler. Here the same bytes go through torch's own restricted loader,
    mapped to the CPU (pickles written on a GPU machine name a CUDA device).
    """
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # legacy-format and TypedStorage deprecation chatter
            return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises several types; keep one short line of the reason
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "WeightsUnpickler error" in str(exc):
            reason = str(exc).split("WeightsUnpickler error:", 1)[1].strip().splitlines()[0]
        raise _Refused(f"embedded torch storage rejected by torch.load(weights_only=True): "
                       f"{reason}") from None


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                    backward_hooks=None, metadata=None) -> Any:
    """``torch._utils._rebuild_tensor_v2`` without what a data file has no business setting:
    backward hooks (callables run later) are dropped and ``requires_grad`` is left off."""
    import torch._utils

    return torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, False,
                                           collections.OrderedDict(), metadata)


def _torch_global(name: str) -> Any:
    if name == "torch._utils._rebuild_tensor_v2":
        return _rebuild_tensor
    if name == "torch.storage._load_from_bytes":
        return _storage_from_bytes
    raise KeyError(name)


def _codecs_encode(text: str, encoding: str = "latin1") -> bytes:
    # Protocol-2 pickles spell bytes as _codecs.encode(str, "latin1"); only plain text codecs
    # are needed, so compressors and friends named by a crafted file are refused.
    if encoding not in ("latin1", "latin-1", "iso-8859-1", "ascii", "utf-8", "utf8"):
        raise pickle.UnpicklingError(f"refused codec {encoding!r} in _codecs.encode")
    return text.encode(encoding)


# module -> names admitted; the values are resolved lazily so torch is only imported when a
# pickle actually holds a tensor.
_BUILTINS = ("set", "frozenset", "bytearray", "complex")
_ALLOWED: dict[str, tuple[str, ...]] = {
    "builtins": _BUILTINS,
    "__builtin__": _BUILTINS,  # protocol <= 2 pickles spell the module the Python 2 way
    "collections": ("OrderedDict",),
    "_codecs": ("encode",),
    "numpy": ("ndarray", "dtype"),
    "numpy.core.multiarray": ("_reconstruct", "scalar"),
    "numpy._core.multiarray": ("_reconstruct", "scalar"),
    "numpy.core.numeric": ("_frombuffer",),
    "numpy._core.numeric": ("_frombuffer",),
    "torch._utils": ("_rebuild_tensor_v2",),
    "torch.storage": ("_load_from_bytes",),
}


class SafeUnpickler(pickle.Unpickler):
    """An ``Unpickler`` whose ``find_class`` admits only the data types in ``_ALLOWED``."""

    def find_class(self, module: str, name: str) -> Any:
        if name not in _ALLOWED.get(module, ()):
            raise _Refused(f"refused global '{module}.{name}' (not on the allow-list of safe types)")
        if module in ("builtins", "__builtin__"):
            return getattr(builtins, name)
        if module == "collections":
            return collections.OrderedDict
        if module == "_codecs":
            return _codecs_encode
        if module == "numpy":
            return _numpy_global(name)
        if module.startswith("numpy."):
            return _numpy_global(f"{module.rsplit('.', 1)[1]}.{name}")
        return _torch_global(f"{module}.{name}")


class _Refused(pickle.UnpicklingError):
    """The file asked for something outside the allow-list; ``str()`` is the whole problem."""


def safe_loads(data: bytes, *, path: str | Path | None = None, what: object = None) -> Any:
    """Unpickle ``data`` through the allow-list; errors name ``path`` and ``what``."""
    try:
        return SafeUnpickler(io.BytesIO(data)).load()
    except _Refused as exc:
        raise DataError(path, what, str(exc)) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, MemoryError, RuntimeError, UnicodeDecodeError) as exc:
        raise DataError(path, what, f"truncated or corrupt pickle ({type(exc).__name__}: "
                        f"{exc})") from None


def safe_load(path: str | Path, *, what: object = None) -> Any:
    """Read the pickle at ``path`` without running code from it.

    ``what`` is an optional item label for error messages (e.g. ``"captions"``).
    Raises DataError for a missing file, a refused global or a truncated/corrupt pickle.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, what, "file not found") from None
    except OSError as exc:
        raise DataError(path, what, f"cannot read file ({exc.strerror or exc})") from None
    return safe_loads(data, path=path, what=what)
