"""Reading a data root's ``manifest.json`` (written by the synthetic generator; a real data root
has none). Every reader goes through :func:`read_manifest`, so a damaged file is one error that
names it instead of a JSON traceback."""
from __future__ import annotations

import json
from pathlib import Path

from mcnbench.data.errors import DataError

MANIFEST = "manifest.json"

# key -> (accepted types, what the error says it should be); other keys are not checked
_TYPED = {
    "video_half_dim": ((int,), "a positive integer"),
    "we_dim": ((int,), "a positive integer"),
    "seed": ((int,), "an integer"),
    "model_hints": ((dict,), "an object"),
    "files": ((dict,), "an object of path -> sha256"),
    "counts": ((dict,), "an object"),
}


def manifest_path(root: str | Path) -> Path:
    return Path(root) / MANIFEST


def read_manifest(path: str | Path) -> dict:
    """The manifest at ``path`` (a ``manifest.json`` file) as a dict.

    Checks: the file exists, is UTF-8 JSON, holds an object, and the keys the harness reads
    (``video_half_dim``, ``we_dim``, ``seed``, ``model_hints``, ``files``, ``counts``) have the
    right types. Anything else raises :class:`DataError` naming the file (and the key).
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, None, "is a folder, expected a JSON file") from None
    except UnicodeDecodeError as exc:
        raise DataError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"line {exc.lineno} column {exc.colno}",
                        f"not valid JSON ({exc.msg}); regenerate the world or delete the file"
                        ) from None
    if not isinstance(manifest, dict):
        raise DataError(path, None, f"expected a JSON object, got {type(manifest).__name__}")
    for key, (types, what) in _TYPED.items():
        if key not in manifest:
            continue
        value = manifest[key]
        # bool is an int in Python; "video_half_dim": true is still wrong
        bad = isinstance(value, bool) or not isinstance(value, types)
        if not bad and what == "a positive integer":
            bad = value < 1
        if bad:
            raise DataError(path, f"key {key!r}", f"expected {what}, got {value!r}"[:200])
    return manifest


def read_root_manifest(root: str | Path) -> dict | None:
    """The manifest of data root ``root``, or None when it has no ``manifest.json`` (a real
    root); a damaged one raises :class:`DataError`."""
    path = manifest_path(root)
    if not path.exists():
        return None
    return read_manifest(path)
