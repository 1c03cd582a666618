"""Per-video feature files: video features ``[T, D]`` (.npz / .npy) and log-mel spectrograms
``[40, F]`` (.npz), validated on read.

Real files: HowTo100M ``<vid>_2d.npz`` / ``_3d.npz`` (key ``features``, 2D at 1 row/s, 3D at
1.5 rows/s), CrossTask/Mining YouTube ``<vid>_2d.npy`` / ``_3d.npy``, spectrograms
``<vid>_spec.npz`` / ``<vid>.npz`` (key ``arr_0``, float16, 100 frames/s).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from mcnbench.data.errors import DataError


def check_array(arr: object, path: Path | str | None, item: object, *, ndim: int,
                shape: tuple[int | None, ...] | None = None, min_len: int = 1,
                axis_name: str = "row") -> np.ndarray:
    """Validate a numeric array and return it as float32.

    Checks: an ndarray (or tensor-like) of a real numeric dtype, ``ndim`` dimensions, the fixed
    sizes in ``shape`` (None = any), at least ``min_len`` entries along axis 0, all finite (the
    first bad ``axis_name`` is named). ``item`` labels the array in the error.
    """
    if hasattr(arr, "detach") and hasattr(arr, "numpy"):  # a torch tensor
        arr = arr.detach().cpu().numpy()
    if not isinstance(arr, np.ndarray):
        raise DataError(path, item, f"expected a numeric array, got {type(arr).__name__}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise DataError(path, item, f"dtype {arr.dtype} is not a real numeric type")
    if arr.ndim != ndim:
        raise DataError(path, item, f"expected {ndim}-D array, got shape {arr.shape}")
    if shape is not None:
        for ax, want in enumerate(shape):
            if want is not None and arr.shape[ax] != want:
                raise DataError(path, item, f"expected size {want} on axis {ax}, "
                                f"got shape {arr.shape}")
    if arr.shape[0] < min_len:
        raise DataError(path, item, f"empty: shape {arr.shape}")
    out = arr.astype(np.float32, copy=False)
    finite = np.isfinite(out)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        where = f"{axis_name} {bad[-1] if axis_name == 'frame' else bad[0]}"
        raise DataError(path, item, f"non-finite value (NaN/inf) at {where}")
    return out


def _open_npz(path: Path, key: str):
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(path, None, f"not a readable .npz file ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise DataError(path, None, "not an .npz archive (a bare .npy array?)")
    with data:
        if key not in data.files:
            raise DataError(path, f"key {key!r}", f"missing (keys present: {data.files})")
        try:
            return data[key]
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise DataError(path, f"key {key!r}", f"unreadable array ({exc})") from None


def load_npz_features(path: str | Path, key: str = "features", dim: int | None = None
                      ) -> np.ndarray:
    """Video features ``[T, D]`` float32 from ``path[key]``; checks 2-D, ``D == dim`` if
    given, T ≥ 1, numeric, finite (names the first bad row)."""
    path = Path(path)
    arr = _open_npz(path, key)
    return check_array(arr, path, f"key {key!r}", ndim=2, shape=(None, dim))


def load_npy_features(path: str | Path, dim: int | None = None) -> np.ndarray:
    """Video features ``[T, D]`` float32 from a ``.npy`` file (CrossTask / Mining YouTube)."""
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(path, None, f"not a readable .npy file ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise DataError(path, None, "expected a .npy array, found an .npz archive")
    return check_array(arr, path, None, ndim=2, shape=(None, dim))


def load_spectrogram(path: str | Path, bands: int = 40, key: str = "arr_0") -> np.ndarray:
    """Log-mel spectrogram ``[bands, F]`` float32 (stored float16, dB ≤ 0, 100 frames/s).

    Checks 2-D with ``bands`` rows, at least one frame, numeric, finite (names the first bad
    frame)."""
    path = Path(path)
    arr = _open_npz(path, key)
    spec = check_array(arr, path, f"key {key!r}", ndim=2, shape=(bands, None),
                       axis_name="frame")
    if spec.shape[1] < 1:
        raise DataError(path, f"key {key!r}", f"spectrogram has no frames: shape {spec.shape}")
    return spec

