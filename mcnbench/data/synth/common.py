"""Small shared pieces: per-component random generators, YouTube-like ids, the oracle."""
from __future__ import annotations

import zlib
from collections import defaultdict

import numpy as np

from mcnbench.data.synth.sink import Sink

_ID_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))


def rng_for(seed: int, component: str) -> np.random.Generator:
    """An independent generator per named component.

    ``SeedSequence(seed, spawn_key=(crc32(component),))`` is what ``SeedSequence(seed).spawn``
    would build for a child, but keyed by name: adding, removing or resizing one component never
    shifts the random numbers of another.
    """
    key = zlib.crc32(component.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(key,)))


def youtube_ids(rng: np.random.Generator, n: int, taken: set[str] | None = None) -> list[str]:
    """``n`` distinct 11-character ids over YouTube's alphabet, none in ``taken`` (updated)."""
    taken = set() if taken is None else taken
    out: list[str] = []
    while len(out) < n:
        for row in _ID_ALPHABET[rng.integers(64, size=(n - len(out), 11))]:
            vid = "".join(row)
            if vid not in taken:
                taken.add(vid)
                out.append(vid)
    return out


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm (zero rows stay zero), float32."""
    x = np.asarray(x, np.float64)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.where(n > 0, n, 1.0)).astype(np.float32)


class Oracle:
    """Embeddings straight from the latents, in the precomputed-embeddings layout.

    The embedding of a latent z is z/|z| (the identity projection, D = latent_dim). Clip rows:
    ``video`` from the shown instance latent, ``audio`` from what is said (zero when nothing
    about a concept is said); text rows from the concept latent. Written to
    ``oracle/<task>/clips.npz`` and ``oracle/<task>/text.npz``.
    """

    def __init__(self) -> None:
        self.clips: dict[str, list] = defaultdict(list)
        self.text: dict[str, list] = defaultdict(list)

    def add_clips(self, task: str, ids: list[str], video: np.ndarray, audio: np.ndarray) -> None:
        self.clips[task].append((list(ids), unit(video), unit(audio)))

    def add_text(self, task: str, ids: list[str], z: np.ndarray) -> None:
        self.text[task].append((list(ids), unit(z)))

    def write(self, sink: Sink) -> dict:
        counts = {}
        for task in sorted(set(self.clips) | set(self.text)):
            c, t = self.clips.get(task, []), self.text.get(task, [])
            if c:
                sink.npz(f"oracle/{task}/clips.npz",
                         ids=np.array([i for ids, _, _ in c for i in ids]),
                         video=np.concatenate([v for _, v, _ in c]),
                         audio=np.concatenate([a for _, _, a in c]))
            if t:
                sink.npz(f"oracle/{task}/text.npz", ids=np.array([i for ids, _ in t for i in ids]),
                         text=np.concatenate([x for _, x in t]))
            counts[task] = {"clips": sum(len(x[0]) for x in c), "texts": sum(len(x[0]) for x in t)}
        return counts
