"""Word vectors in the GoogleNews binary word2vec format (reference §2.1).

MCN embeds text with ``GoogleNews-vectors-negative300.bin`` loaded by gensim's
``KeyedVectors.load_word2vec_format(binary=True)``; the synthetic world writes its own vocabulary
in the same format with :func:`write_word2vec`. The official code looked words up in the gensim<4
``.vocab`` dict; gensim 4 names it ``key_to_index`` and :class:`WordVectors` exposes that.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from mcnbench.data.errors import DataError


class WordVectors:
    """A read-only vocabulary: ``words`` -> rows of a float32 ``[V, d]`` matrix.

    Lookup is case-sensitive, as in the official loaders (GoogleNews has "Egg" and "egg").
    """

    def __init__(self, key_to_index: dict[str, int], vectors: np.ndarray, path: Path | None = None):
        self.key_to_index = key_to_index
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)  # [V, d]
        self.path = path

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.key_to_index)

    def __contains__(self, word: object) -> bool:
        return word in self.key_to_index

    def __repr__(self) -> str:
        return f"WordVectors({len(self)} words, dim={self.dim}, path={self.path})"

    def vectors_for(self, words: Iterable[str]) -> np.ndarray:
        """``[n, d]`` float32 vectors of ``words`` in order; every word must be in the vocabulary
        (filter with ``in`` first — :class:`mcnbench.data.text.Tokenizer` does)."""
        rows = [self.key_to_index[w] for w in words]
        if not rows:
            return np.zeros((0, self.dim), np.float32)
        return self.vectors[np.asarray(rows, dtype=np.int64)]


_CACHE: dict[tuple, WordVectors] = {}
_CACHE_LOCK = threading.Lock()


def load_word2vec(path: str | Path, *, limit: int | None = None) -> WordVectors:
    """Load a binary word2vec file (GoogleNews format) once per process.

    ``limit`` keeps only the first ``limit`` words (GoogleNews has 3 M, ~3.6 GB as float32).
    The cache key includes the file's size and mtime, so a rewritten file is read again.
    Raises DataError if the file is missing or is not binary word2vec.
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DataError(path, None, "word2vec file not found") from None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, limit)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    wv = _read(path, limit)
    with _CACHE_LOCK:
        _CACHE[key] = wv
    return wv


def _read(path: Path, limit: int | None) -> WordVectors:
    from gensim.models import KeyedVectors

    with path.open("rb") as fh:  # gensim's own errors on a bad header are cryptic
        header = fh.readline(200).split()
    if len(header) != 2 or not all(h.isdigit() for h in header):
        raise DataError(path, "header", "not a binary word2vec file (expected a first line "
                        f"'<n_words> <dim>', got {b' '.join(header)[:60]!r})")
    try:
        kv = KeyedVectors.load_word2vec_format(str(path), binary=True, limit=limit)
    except (ValueError, EOFError, UnicodeDecodeError, OSError, IndexError) as exc:
        raise DataError(path, None, f"not a valid binary word2vec file ({exc})") from None
    vectors = np.asarray(kv.vectors, dtype=np.float32)
    if not np.isfinite(vectors).all():
        bad = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise DataError(path, f"word {kv.index_to_key[bad]!r}", "vector has NaN or inf")
    return WordVectors(dict(kv.key_to_index), vectors, path)


def write_word2vec(path: str | Path, words: Sequence[str], vectors: np.ndarray) -> Path:
    """Write ``words`` with ``vectors [n, d]`` as a binary word2vec file, atomically.

    Written by gensim's ``save_word2vec_format(binary=True)`` (header ``"n d\\n"``, then for each
    word ``"word "`` and ``d`` little-endian float32), so gensim and the original C tools read it.
    Words must be unique and free of whitespace (the format separates fields by spaces).
    """
    from gensim.models import KeyedVectors

    path = Path(path)
    vectors = np.asarray(vectors, dtype=np.float32)
    words = [str(w) for w in words]
    if vectors.ndim != 2 or vectors.shape[0] != len(words) or vectors.shape[1] < 1:
        raise DataError(path, None, f"need vectors [n_words={len(words)}, d], "
                        f"got {vectors.shape}")
    bad = [w for w in words if not w or any(c.isspace() for c in w)]
    if bad:
        raise DataError(path, f"word {bad[0]!r}", "empty or contains whitespace")
    if len(set(words)) != len(words):
        dup = next(w for i, w in enumerate(words) if w in words[:i])
        raise DataError(path, f"word {dup!r}", "duplicate word")
    if not np.isfinite(vectors).all():
        raise DataError(path, None, "vectors contain NaN or inf")
    kv = KeyedVectors(vector_size=vectors.shape[1])
    kv.add_vectors(words, vectors)
    path.parent.mkdir(parents=True, exist_ok=True)
    # same suffix as the target, because gensim (smart_open) picks compression by extension
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        kv.save_word2vec_format(str(tmp), binary=True)
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
