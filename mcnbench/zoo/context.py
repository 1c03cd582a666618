"""What a model factory is given: the data root, the device, the seed and optional files."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mcnbench.data.root import DataRoot


@dataclass
class ModelContext:
    """The environment a model is built in.

    root:       the :class:`~mcnbench.data.root.DataRoot` being evaluated (a path is accepted)
    device:     "cpu" or "cuda"
    seed:       seeds initialisation (and training, for trainable models)
    checkpoint: weights to load instead of training
    embeddings: a folder in the precomputed-embeddings layout (``precomputed`` model)
    """

    root: DataRoot | str | Path
    device: str = "cpu"
    seed: int = 0
    checkpoint: Path | None = None
    embeddings: Path | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.root, DataRoot):
            self.root = DataRoot(Path(self.root))

    @property
    def data_root(self) -> Path:
        """The data root folder (its ``word2vec.bin`` is the model's vocabulary)."""
        return self.root.path

    @property
    def word_vectors(self):
        return self.root.word_vectors

    @property
    def manifest(self) -> dict:
        """The synthetic world's manifest, or {} for a real data root."""
        return self.root.manifest

    @property
    def hints(self) -> dict:
        """Model sizes that fit this data root (synthetic presets say; real data: paper sizes)."""
        return self.root.hints
