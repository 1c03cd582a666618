"""Fixtures shared by the task, runner and eval-CLI tests (imported by them, not auto-loaded).

``tiny_world``: one ``tiny`` synthetic world per test session, generated with the real generator,
so the real loaders and protocols are what the tests exercise. ``oracle_dir``: its precomputed
oracle embeddings. ``random_dir``: embeddings of the same ids and width drawn from a fixed seed,
the floor every task must score low on.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcnbench.zoo.precomputed import write_embeddings


def make_world(tmp_path_factory, preset: str) -> Path:
    from mcnbench.data.synth import generate

    root = tmp_path_factory.mktemp(f"world-{preset}") / "root"
    out = generate(root, preset=preset, seed=0)
    return Path(out) if out is not None else root


def random_like(oracle: Path, out: Path, seed: int = 0) -> Path:
    """Gaussian embeddings with the oracle's ids and shapes (a deterministic, content-free model)."""
    rng = np.random.default_rng(seed)
    for task_dir in sorted(p for p in oracle.iterdir() if p.is_dir()):
        kw = {}
        with np.load(task_dir / "clips.npz") as f:
            kw["clip_ids"] = f["ids"]
            for m in ("video", "audio"):
                if m in f.files:
                    kw[m] = rng.normal(size=f[m].shape)
        with np.load(task_dir / "text.npz") as f:
            kw["text_ids"], kw["text"] = f["ids"], rng.normal(size=f["text"].shape)
        write_embeddings(out, task_dir.name, **kw)
    return out


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> Path:
    return make_world(tmp_path_factory, "tiny")


@pytest.fixture(scope="session")
def oracle_dir(tiny_world) -> Path:
    return tiny_world / "oracle"


@pytest.fixture(scope="session")
def random_dir(oracle_dir, tmp_path_factory) -> Path:
    return random_like(oracle_dir, tmp_path_factory.mktemp("random") / "emb")


class HashModel:
    """A content-free model: each row's embedding is drawn from a seed made of its id, so every
    run and every chunking gives the same numbers. Use as ``--model conftest_tasks:hash_model``."""

    name = "hash"
    trainable = False
    modalities = ("video", "audio", "text")

    def __init__(self, dim: int = 8, seed: int = 0):
        self.dim, self.seed = dim, seed
        self.config = {"dim": dim, "seed": seed}

    def _rows(self, ids, salt: str) -> np.ndarray:
        import zlib

        return np.stack([np.random.default_rng([self.seed, zlib.crc32(f"{salt}:{i}".encode())])
                         .normal(size=self.dim) for i in ids]).astype(np.float32)

    def embed(self, batch):
        if batch.is_text:
            return {"text": self._rows(batch.ids, "text")}
        return {"video": self._rows(batch.ids, "video"), "audio": self._rows(batch.ids, "audio")}


def hash_model(ctx, **overrides) -> HashModel:
    """A content-free model with embeddings drawn from each row's id (tests only)."""
    return HashModel(seed=ctx.seed, **overrides)
