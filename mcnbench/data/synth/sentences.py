"""Sentences about concepts: ASR-style narration, YouCook2-style instructions, MSR-VTT-style
descriptions, and filler talk.

A sentence about concept c = (verb, object) fills a template with the verb (base or -ing form),
the object and random filler words; some templates leave out the verb or the object, as speech
does. Evaluation captions are sometimes capitalised or punctuated ("Crack the egg.") to exercise
the tokenizer: the capitalised first word is out of vocabulary, the punctuation is split off.
"""
from __future__ import annotations

import numpy as np

from mcnbench.data.synth import vocab
from mcnbench.data.synth.world import World

_SLOTS = {"f": vocab.FILLERS, "s": vocab.SUBJECTS, "p": vocab.PLACES, "t": vocab.TOOLS,
          "a": vocab.ADVERBS}


def _fill(rng: np.random.Generator, template: str, world: World, c: int) -> str:
    v, o = world.concepts[c]
    base, ing, _ = world.verbs[v]
    out = []
    for token in template.split():
        key = token[1:-1] if token.startswith("{") else None
        if key == "v":
            out.append(base)
        elif key == "ving":
            out.append(ing)
        elif key == "o":
            out.append(world.objects[o][0])
        elif key in _SLOTS:
            words = _SLOTS[key]
            out.append(words[int(rng.integers(len(words)))])
        else:
            out.append(token)
    return " ".join(out)


def filler_sentence(rng: np.random.Generator) -> str:
    """Talk about nothing shown: 4-9 filler words."""
    n = int(rng.integers(4, 10))
    return " ".join(vocab.FILLERS[i] for i in rng.integers(len(vocab.FILLERS), size=n))


def narration(rng: np.random.Generator, world: World, c: int) -> str:
    """An ASR caption (lower case, no punctuation) about concept ``c``, or filler if c < 0."""
    if c < 0:
        return filler_sentence(rng)
    t = vocab.NARRATION_TEMPLATES[int(rng.integers(len(vocab.NARRATION_TEMPLATES)))]
    return _fill(rng, t, world, c)


def decorate(rng: np.random.Generator, sentence: str, p_caps: float, p_punct: float) -> str:
    """Sometimes capitalise the first letter and end with '.' or '!' (tokenizer exercise)."""
    if rng.random() < p_caps:
        sentence = sentence[:1].upper() + sentence[1:]
    if rng.random() < p_punct:
        sentence += "." if rng.random() < 0.8 else "!"
    return sentence


def youcook_caption(rng: np.random.Generator, world: World, c: int) -> str:
    """An imperative instruction such as "Crack the egg in a bowl."."""
    t = vocab.YOUCOOK_TEMPLATES[int(rng.integers(len(vocab.YOUCOOK_TEMPLATES)))]
    k = world.knobs
    return decorate(rng, _fill(rng, t, world, c), k.p_capitalised, k.p_punctuation)


def msrvtt_caption(rng: np.random.Generator, world: World, c: int) -> str:
    """A description such as "a man is playing a guitar" (-ing forms: a text domain shift)."""
    t = vocab.MSRVTT_TEMPLATES[int(rng.integers(len(vocab.MSRVTT_TEMPLATES)))]
    k = world.knobs
    return decorate(rng, _fill(rng, t, world, c), k.p_capitalised / 2, k.p_punctuation / 2)
