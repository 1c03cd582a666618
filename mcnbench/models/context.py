"""What a model factory is given: the data root, the device, the seed and optional files."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path


@dataclass
class ModelContext:
    """The environment a model is built in.

    data_root:  the data root being evaluated (its ``word2vec.bin`` is the model's vocabulary)
    device:     "cpu" or "cuda"
    seed:       seeds initialisation (and training, for trainable models)
    checkpoint: weights to load instead of training
    embeddings: a folder in the precomputed-embeddings layout (``precomputed`` model)
    """

    data_root: Path
    device: str = "cpu"
    seed: int = 0
    checkpoint: Path | None = None
    embeddings: Path | None = None

    def __post_init__(self) -> None:
        self.data_root = Path(self.data_root)

    @cached_property
    def word_vectors(self):
        from mcnbench.data.word2vec import load_word2vec

        return load_word2vec(self.data_root / "word2vec.bin")

    @cached_property
    def manifest(self) -> dict:
        """The synthetic world's manifest, or {} for a real data root."""
        from mcnbench.data.manifest import read_root_manifest

        return read_root_manifest(self.data_root) or {}

    @property
    def hints(self) -> dict:
        """Model sizes that fit this data root (synthetic presets say; real data: paper sizes)."""
        return dict(self.manifest.get("model_hints", {}))
