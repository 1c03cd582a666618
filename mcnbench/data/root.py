"""The data root: the one place that knows where the data is and what it is.

:func:`resolve` picks the folder (``--data-root``, else ``$MCNBENCH_DATA``, else a synthetic world
generated into the cache); :class:`DataRoot` reads its ``manifest.json`` once and answers what the
rest of mcnbench asks of a data root: synthetic or real, the model input widths, the presets'
model-size hints, the word vectors, and a fingerprint of the files a task (or training) reads.

Fingerprints are of the data, not of a description of it. Every file a task reads is digested by
content (sha256 up to 64 MiB; above that its size and the sha256 of its first and last MiB, which
catches truncation and most rewrites without reading gigabytes of features), and the fingerprint
hashes those digests with the manifest's (where there is one). Digests are remembered per file
under the cache, keyed by (size, mtime, inode), so a second evaluation re-reads nothing, while a
file that was edited, replaced or touched is digested again: an edited root is re-evaluated, a
touched-but-identical one is not. The root's own path is not part of the fingerprint: the same
world generated on two machines has the same fingerprint (the CI gate relies on that).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from mcnbench.data.errors import DataError
from mcnbench.data.manifest import MANIFEST
from mcnbench.utils.io import atomic_write_json, sha256_file, stable_hash

FULL_HASH_BELOW = 64 << 20
EDGE_BYTES = 1 << 20
# What training reads of a real root besides the per-video features (digested by size + edges).
CORPUS_FILES = ("howto100m/videopaths.csv", "howto100m/caption.pickle", "word2vec.bin")
Log = Callable[[str], None]


def file_digest(path: str | Path) -> str:
    """``sha256:<hex>`` of a file up to 64 MiB; above, ``edges:<size>:<hex>`` over its first
    and last MiB (cheap for multi-GB files, still catches truncation and most rewrites)."""
    path = Path(path)
    size = path.stat().st_size
    if size <= FULL_HASH_BELOW:
        return f"sha256:{sha256_file(path)}"
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(EDGE_BYTES))
        f.seek(size - EDGE_BYTES)
        h.update(f.read(EDGE_BYTES))
    return f"edges:{size}:{h.hexdigest()}"


def resolve(data_root: str | Path | None = None, *, preset: str = "default", seed: int = 0,
            log: Log = print) -> DataRoot:
    """The data root to use: ``data_root``, else ``$MCNBENCH_DATA``, else the synthetic world of
    ``preset`` and ``seed`` (generated into the cache on first use). A folder that does not exist
    is a :class:`DataError`."""
    if data_root is None and os.environ.get("MCNBENCH_DATA"):
        data_root = os.environ["MCNBENCH_DATA"]
        log(f"data root from MCNBENCH_DATA: {data_root}")
    if data_root is None:
        from mcnbench.data.synth import ensure_world

        log(f"no data root given (--data-root or MCNBENCH_DATA): using the synthetic world, preset "
            f"{preset}, seed {seed} (generated into the cache on first use)")
        root = DataRoot(Path(ensure_world(preset=preset, seed=seed)))
        log(f"data root: {root.path}")
        return root
    path = Path(data_root).expanduser()
    if not path.is_dir():
        raise DataError(path, None, "data root not found (a folder in the layout of docs/data.md, "
                        "or leave it out for the synthetic world)")
    return DataRoot(path)


@dataclass(eq=False)
class DataRoot:
    """A data root folder, real or synthetic (see the module docstring).

    path:     the folder (absolute)
    manifest: the synthetic world's ``manifest.json`` ({} for a real root), read once
    """

    path: Path
    _digests: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path).expanduser().resolve()

    def __fspath__(self) -> str:  # a DataRoot goes wherever a path to the root does
        return str(self.path)

    def __truediv__(self, other) -> Path:
        return self.path / other

    # ----------------------------------------------------------------------------- what it is
    @cached_property
    def manifest(self) -> dict:
        from mcnbench.data.manifest import read_root_manifest

        return read_root_manifest(self.path) or {}

    @property
    def kind(self) -> str:
        """``"synthetic"`` (a manifest written by ``mcnbench synth``) or ``"real"``."""
        return "synthetic" if self.manifest else "real"

    @property
    def hints(self) -> dict:
        """Model and training sizes that fit this root (synthetic presets; {} for real data)."""
        return dict(self.manifest.get("model_hints", {}))

    @cached_property
    def word_vectors(self):
        from mcnbench.data.word2vec import load_word2vec

        return load_word2vec(self.path / "word2vec.bin")

    @cached_property
    def widths(self) -> dict[str, int]:
        """``video_dim`` and ``we_dim``: the model input widths this root's files have."""
        from mcnbench.data.widths import infer_video_dim

        return {"video_dim": infer_video_dim(self.path), "we_dim": int(self.word_vectors.dim)}

    def describe(self) -> str:
        """One line for logs and table footnotes."""
        if self.kind == "synthetic":
            m = self.manifest
            return (f"synthetic (preset {m.get('preset')}, generator seed {m.get('seed')}, "
                    f"v{m.get('generator_version')})")
        return f"real ({self.path})"

    # ----------------------------------------------------------------------------- fingerprints
    def record_entry(self, files: Iterable[str | Path]) -> dict:
        """The record's ``data`` entry for what one task read: root, kind, preset, generator seed
        and version, the fingerprint of ``files`` (+ the manifest) and how many files it covers."""
        files = sorted({Path(f) for f in files if Path(f).is_file()})
        digests = {self._rel(f): self.digest(f) for f in files}
        manifest_sha = sha256_file(self.path / MANIFEST) if self.manifest else None
        self._save_digests()
        m = self.manifest
        return {"root": str(self.path), "kind": self.kind, "preset": m.get("preset"),
                "generator_seed": m.get("seed"), "generator_version": m.get("generator_version"),
                "fingerprint": stable_hash({"manifest": manifest_sha, "files": digests}, length=64),
                "n_files": len(digests)}

    def corpus_entry(self) -> dict:
        """The ``data`` entry of the training corpus: keys the checkpoint cache. The corpus
        definition files (:data:`CORPUS_FILES`) and, for a synthetic root, the manifest (which
        lists the digest of every feature file it wrote); real per-video features are not read."""
        files = [self.path / name for name in CORPUS_FILES]
        if self.kind == "synthetic":  # small enough to digest in full: every corpus feature file
            files += sorted((self.path / "howto100m").rglob("*.npz"))
        return self.record_entry(files)

    def digest(self, path: str | Path) -> str:
        """:func:`file_digest` of ``path``, remembered by (size, mtime, inode)."""
        path = Path(path)
        st = path.stat()
        key, stamp = self._rel(path), [st.st_size, st.st_mtime_ns, st.st_ino]
        known = self._known_digests.get(key)
        if known is not None and known[0] == stamp:
            return known[1]
        value = file_digest(path)
        self._known_digests[key] = [stamp, value]
        self._dirty = True
        return value

    def _rel(self, path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(self.path).as_posix()
        except ValueError:
            return str(Path(path).resolve())

    @property
    def _digest_file(self) -> Path:
        from mcnbench.utils.paths import cache_dir

        return cache_dir() / "digests" / f"{stable_hash(str(self.path))}.json"

    @cached_property
    def _known_digests(self) -> dict:
        self._dirty = False
        try:
            with open(self._digest_file, encoding="utf-8") as f:
                known = json.load(f)
            return known if isinstance(known, dict) else {}
        except (OSError, ValueError):
            return {}

    def _save_digests(self) -> None:
        # Only a speed-up: a cache that cannot be written means digesting again next time.
        if getattr(self, "_dirty", False):
            try:
                atomic_write_json(self._digest_file, self._known_digests)
                self._dirty = False
            except OSError:
                pass
