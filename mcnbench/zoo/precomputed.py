"""The ``precomputed`` model: embeddings read from files instead of computed.

Any embedding model can be evaluated by writing its embeddings in this layout (contracts.md)::

    <dir>/<task>/clips.npz   arrays `ids` (str [N]) and any of `video`, `audio` ([N, D] float32)
    <dir>/<task>/text.npz    arrays `ids` (str [M]) and `text` ([M, D] float32)

Row ids: retrieval clips and captions use the dataset item id; CrossTask and Mining YouTube use
``<video_id>@<second>`` for per-second clips and ``<task>#<k>`` for CrossTask step texts
(0-based); Mining YouTube scores every class of its dictionary, with text ids ``class:<name>``.
The synthetic world writes its oracle (embeddings of the latent concepts) at ``<root>/oracle``.

``embed(batch)`` looks the batch's ids up in ``<dir>/<batch.task>/``; an id that is not there is
a :class:`~mcnbench.data.errors.DataError` that names the file and lists the missing ids.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mcnbench.data.batch import Batch
from mcnbench.data.errors import DataError
from mcnbench.registry import register_model

CLIP_MODALITIES = ("video", "audio")
SHOW_MISSING = 10


class _Table:
    """One ``.npz`` file: id → row, and its embedding arrays (validated when first used)."""

    def __init__(self, path: Path, keys: tuple[str, ...]):
        self.path = path
        try:
            data = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise DataError(path, None, "file not found (precomputed layout: <dir>/<task>/"
                            "clips.npz with ids, video and/or audio; text.npz with ids, text)") from None
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(path, None, f"not a readable .npz file ({exc})") from None
        with data:
            if "ids" not in data.files:
                raise DataError(path, "ids", f"missing (arrays present: {data.files})")
            ids = data["ids"]
            self.arrays = {k: data[k] for k in keys if k in data.files}
        if not self.arrays:
            raise DataError(path, None, f"has none of the arrays {list(keys)} (present: "
                            f"{sorted(set(data.files) - {'ids'})})")
        if ids.ndim != 1 or ids.dtype.kind not in "US":
            raise DataError(path, "ids", f"expected a 1-D string array, got {ids.dtype} {ids.shape}")
        self.ids = [str(i) for i in ids]
        self.index = {i: r for r, i in enumerate(self.ids)}
        if len(self.index) != len(self.ids):
            dup = next(i for r, i in enumerate(self.ids) if self.index[i] != r)
            raise DataError(path, f"id {dup!r}", "duplicate id")
        for key, arr in self.arrays.items():
            if arr.ndim != 2 or arr.shape[0] != len(self.ids) or arr.dtype.kind != "f":
                raise DataError(path, key, f"expected a float [{len(self.ids)}, D] array, got "
                                f"{arr.dtype} {arr.shape}")
            bad = ~np.isfinite(arr).all(axis=1)
            if bad.any():
                raise DataError(path, f"{key} row {int(np.flatnonzero(bad)[0])} "
                                f"(id {self.ids[int(np.flatnonzero(bad)[0])]!r})", "not finite")

    def rows(self, ids: list[str]) -> np.ndarray:
        missing = [i for i in ids if i not in self.index]
        if missing:
            shown = ", ".join(repr(i) for i in missing[:SHOW_MISSING])
            more = f" and {len(missing) - SHOW_MISSING} more" if len(missing) > SHOW_MISSING else ""
            raise DataError(self.path, f"{len(missing)} of {len(ids)} requested ids",
                            f"not in the file: {shown}{more}")
        return np.fromiter((self.index[i] for i in ids), dtype=np.int64, count=len(ids))


class PrecomputedModel:
    """Serves embeddings from a folder in the precomputed layout (see module doc)."""

    name = "precomputed"
    trainable = False
    modalities = ("video", "audio", "text")

    def __init__(self, root: str | Path):
        from mcnbench.data.root import file_digest

        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(self.root, None, "embeddings folder not found")
        files = sorted(self.root.glob("*/clips.npz")) + sorted(self.root.glob("*/text.npz"))
        if not files:
            raise DataError(self.root, None, "no <task>/clips.npz or <task>/text.npz inside")
        # The content digests make the config (and so the result cache key) change whenever
        # the embeddings do.
        self.config = {"embeddings": str(self.root.resolve()),
                       "files": {f.relative_to(self.root).as_posix(): file_digest(f)
                                 for f in files}}
        self._tables: dict[tuple[str, str], _Table] = {}

    def table(self, task: str, kind: str) -> _Table:
        key = (task, kind)
        if key not in self._tables:
            keys = ("text",) if kind == "text" else CLIP_MODALITIES
            self._tables[key] = _Table(self.root / task / f"{kind}.npz", keys)
        return self._tables[key]

    def embed(self, batch: Batch) -> dict[str, np.ndarray]:
        """``{"text": [N, D]}`` for a text batch, ``{"video"?, "audio"?: [N, D]}`` for clips."""
        table = self.table(batch.task, "text" if batch.is_text else "clips")
        rows = table.rows(list(batch.ids))
        return {k: np.asarray(v[rows], dtype=np.float32) for k, v in table.arrays.items()}


@register_model("precomputed", version="1",
                description="embeddings read from .npz files: --embeddings DIR/<task>/{clips,text}.npz")
def precomputed(ctx, **overrides) -> PrecomputedModel:
    """Embeddings read from ``ctx.embeddings`` (``--embeddings DIR``)."""
    if overrides:
        raise ValueError(f"the precomputed model takes no options, got {sorted(overrides)}")
    if ctx.embeddings is None:
        oracle = Path(ctx.data_root) / "oracle"
        hint = f"; this synthetic world's oracle embeddings are at {oracle}" if oracle.is_dir() else ""
        raise DataError(None, "--embeddings", f"the precomputed model needs a folder of "
                        f"embeddings (<dir>/<task>/clips.npz, text.npz){hint}")
    return PrecomputedModel(ctx.embeddings)


def write_embeddings(root: str | Path, task: str, *, clip_ids=None, video=None, audio=None,
                     text_ids=None, text=None) -> Path:
    """Write a task's embeddings in the precomputed layout (atomically); returns ``root/task``."""
    import io

    from mcnbench.utils.io import atomic_write_bytes

    folder = Path(root) / task
    for name, ids, arrays in (("clips", clip_ids, {"video": video, "audio": audio}),
                              ("text", text_ids, {"text": text})):
        arrays = {k: np.asarray(v, np.float32) for k, v in arrays.items() if v is not None}
        if ids is None:
            continue
        buf = io.BytesIO()
        np.savez(buf, ids=np.asarray([str(i) for i in ids]), **arrays)
        atomic_write_bytes(folder / f"{name}.npz", buf.getvalue())
    return folder
