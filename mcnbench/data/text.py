"""Sentences -> word-vector tensors, exactly as the official loaders do it (reference §2.2).

1. ``re.findall(r"[\\w']+", str(sentence))``, case kept (word2vec lookup is case-sensitive);
2. tokens missing from the vocabulary are dropped;
3. the first ``max_words`` survivors are kept, zero-padded to ``[max_words, d]``;
4. a sentence with no surviving token becomes all zeros.

Step 4 silently turns a caption into "no text", which ties it with every other such caption, so
:class:`TextStats` counts those cases and tasks report them.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from mcnbench.data.word2vec import WordVectors

_TOKEN = re.compile(r"[\w']+")


def tokenize(sentence: object) -> list[str]:
    """Split into ``[\\w']+`` runs, case kept: ``"Don't crack_egg!"`` -> ``["Don't", "crack_egg"]``."""
    return _TOKEN.findall(str(sentence))


def step_name_to_text(name: str) -> str:
    """A class/step id as words: ``"crack_egg "`` -> ``"crack egg"``.

    The tokenizer keeps ``_`` inside a word, so ``crack_egg`` would be one (out-of-vocabulary)
    token and the step would have no text at all (eval_protocols §2.1, "tokenisation trap").
    """
    return " ".join(str(name).replace("_", " ").split())


@dataclass
class TextStats:
    """What happened to a list of sentences on the way to word vectors.

    n_sentences; n_empty: no token at all; n_all_oov: tokens, but none in the vocabulary (both
    become all-zero text); n_truncated: more than ``max_words`` in-vocabulary tokens;
    n_tokens / n_oov_tokens over all sentences; oov_rate = n_oov_tokens / n_tokens (0 if none).
    """

    n_sentences: int = 0
    n_empty: int = 0
    n_all_oov: int = 0
    n_truncated: int = 0
    n_tokens: int = 0
    n_oov_tokens: int = 0

    @property
    def oov_rate(self) -> float:
        return self.n_oov_tokens / self.n_tokens if self.n_tokens else 0.0

    @property
    def n_zero(self) -> int:
        """Sentences that became all-zero text."""
        return self.n_empty + self.n_all_oov

    def as_dict(self) -> dict:
        return {**asdict(self), "oov_rate": self.oov_rate, "n_zero": self.n_zero}


class Tokenizer:
    """Turns sentences into ``[N, max_words, d]`` float32 word2vec tensors.

    ``max_words`` is 20 for training, YouCook2 and MSR-VTT, and 30 in the official CrossTask
    loader (reference §2.2).
    """

    def __init__(self, wv: WordVectors, max_words: int = 20):
        if max_words < 1:
            raise ValueError(f"max_words must be >= 1, got {max_words}")
        self.wv = wv
        self.max_words = int(max_words)

    def indices(self, token_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, TextStats]:
        """Vocabulary rows ``[N, max_words]`` int64 (-1 = padding) for pre-tokenised input."""
        vocab = self.wv.key_to_index
        idx = np.full((len(token_lists), self.max_words), -1, dtype=np.int64)
        stats = TextStats(n_sentences=len(token_lists))
        for i, tokens in enumerate(token_lists):
            kept = [vocab[t] for t in tokens if t in vocab]
            stats.n_tokens += len(tokens)
            stats.n_oov_tokens += len(tokens) - len(kept)
            if not tokens:
                stats.n_empty += 1
            elif not kept:
                stats.n_all_oov += 1
            elif len(kept) > self.max_words:
                stats.n_truncated += 1
            kept = kept[: self.max_words]
            idx[i, : len(kept)] = kept
        return idx, stats

    def encode_tokens(self, token_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, TextStats]:
        """``[N, max_words, d]`` float32 from pre-tokenised input (e.g. several captions' words
        appended, as the HowTo100M clip sampler does)."""
        idx, stats = self.indices(token_lists)
        return self.gather(idx), stats

    def encode(self, sentences: Sequence[str]) -> tuple[np.ndarray, TextStats]:
        """``[N, max_words, d]`` float32 word vectors of ``sentences`` and what was dropped."""
        if isinstance(sentences, str):
            raise TypeError("encode() takes a list of sentences, not one string")
        return self.encode_tokens([tokenize(s) for s in sentences])

    def gather(self, idx: np.ndarray) -> np.ndarray:
        """Rows of the vocabulary for ``idx [..., W]`` (-1 -> zero vector) -> ``[..., W, d]``."""
        if len(self.wv) == 0:  # nothing can be looked up; keep the shapes
            return np.zeros((*idx.shape, self.wv.dim), np.float32)
        out = self.wv.vectors[np.maximum(idx, 0)]
        out[idx < 0] = 0.0
        return out
