"""Byte-deterministic writers that record the sha256 of every file they write.

Same preset and seed must give byte-identical files, which the usual writers do not:

* ``np.savez`` stamps every zip entry with the current time, so :func:`npz_bytes` writes the
  archive itself with a fixed date (numpy reads it like any ``.npz``);
* pickling a torch tensor embeds a legacy ``torch.save`` blob whose storage key is the storage's
  memory address, so :class:`_Pickler` rewrites that key to ``"0"`` (the bytes still load with
  ``pickle.load`` and with the harness's allow-list unpickler).

Files are written straight into the staging folder that :func:`generate` renames into place at
the end, so no single file needs its own atomic rename.
"""
from __future__ import annotations

import csv
import hashlib
import io
import pickle
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np

from mcnbench.utils.io import sha256_file

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def npz_bytes(compress: bool = False, **arrays: np.ndarray) -> bytes:
    """An ``.npz`` archive of ``arrays`` with fixed entry dates (deterministic bytes)."""
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            zf.writestr(info, npy_bytes(arr), compresslevel=1 if compress else None)
    return buf.getvalue()


class _Pickler(pickle.Pickler):
    """Pickles torch tensors as ``pickle.dumps`` does, minus the memory address in the blob."""

    def reducer_override(self, obj):
        import torch

        if not isinstance(obj, torch.storage.TypedStorage):
            return NotImplemented
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.save(obj, buf, _use_new_zipfile_serialization=False)
        key = str(obj._cdata).encode()
        old = b"X" + struct.pack("<I", len(key)) + key  # the key as a protocol-2 unicode string
        data = buf.getvalue()
        if data.count(old) != 2:  # the persistent id and the key list; anything else: give up
            raise RuntimeError("unexpected torch legacy storage format; cannot pickle "
                               "deterministically with this torch version")
        data = data.replace(old, b"X" + struct.pack("<I", 1) + b"0")
        return (torch.storage._load_from_bytes, (data,))


def pickle_bytes(obj) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=4).dump(obj)
    return buf.getvalue()


def csv_bytes(rows: list[list], header: list[str] | None = None) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


class Sink:
    """Writes files under ``root`` and remembers ``relative path -> sha256``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.files: dict[str, str] = {}
        self.bytes = 0

    def write(self, rel: str, data: bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files[rel] = hashlib.sha256(data).hexdigest()
        self.bytes += len(data)
        return path

    def record(self, rel: str) -> None:
        """Checksum a file that something else wrote (word2vec.bin)."""
        path = self.root / rel
        self.files[rel] = sha256_file(path)
        self.bytes += path.stat().st_size

    def text(self, rel: str, text: str) -> Path:
        return self.write(rel, text.encode("utf-8"))

    def npy(self, rel: str, array: np.ndarray) -> Path:
        return self.write(rel, npy_bytes(array))

    def npz(self, rel: str, compress: bool = False, **arrays: np.ndarray) -> Path:
        return self.write(rel, npz_bytes(compress, **arrays))

    def pickle(self, rel: str, obj) -> Path:
        return self.write(rel, pickle_bytes(obj))

    def csv(self, rel: str, rows: list[list], header: list[str] | None = None) -> Path:
        return self.write(rel, csv_bytes(rows, header))
