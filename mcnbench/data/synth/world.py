"""The latent side of the synthetic world: words, concepts, tasks and the view parameters.

    z_verb[v], z_obj[o] ~ N(0, I_L)
    z[c] = (z_verb[v_c] + z_obj[o_c] + σ_own·ε_c) / sqrt(2 + σ_own²)        (unit variance per dim)

A concept is a step such as "crack egg"; a task is an ordered list of steps from one domain.
The parameters of every modality's view (video 2D/3D, audio, word vectors) are drawn here once,
so that the corpus and every evaluation twin see the same world.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mcnbench.data.synth import vocab
from mcnbench.data.synth.presets import Knobs

DOMAIN_SHARE = {"f": 0.6, "h": 0.15, "c": 0.12, "g": 0.13}  # food dominates, as in HowTo100M
WORD_SCALE = 0.15  # per-dimension size of word vectors (GoogleNews vectors are ~0.1-0.2)


@dataclass
class Task:
    """A recipe: an ordered list of concept ids from one domain."""

    index: int
    title: str
    domain: str
    steps: np.ndarray  # [K] concept ids in order


@dataclass
class View:
    """One video stream: f = relu(A·tanh(B·x + b) + c + style + noise)."""

    B: np.ndarray  # [H, L]
    b: np.ndarray  # [H]
    A: np.ndarray  # [Dh, H]
    c: np.ndarray  # [Dh]


@dataclass
class World:
    knobs: Knobs
    verbs: list[tuple[str, str, str]]   # (base, -ing, domains) of the verbs in the world
    objects: list[tuple[str, str]]      # (word, domain)
    concepts: np.ndarray                # [C, 2] (verb index, object index)
    in_corpus: np.ndarray               # [C] bool: in the shared pool (else MSR-VTT-only)
    z: np.ndarray                       # [C, L] concept latents
    z_background: np.ndarray            # [L] the shared part of every background scene
    tasks: list[Task]
    msrvtt_pool: np.ndarray             # concept ids the MSR-VTT twin draws from
    video2d: View
    video3d: View
    speech_W: np.ndarray                # [40, L] concept -> band profile of speech
    speech_b: np.ndarray                # [40]
    speech_rate: np.ndarray             # [L] concept -> syllable rate
    action_W: np.ndarray                # [40, L] shown step -> its (weak) sound
    words: list[str] = field(default_factory=list)
    word_vectors: np.ndarray | None = None  # [V, we_dim] float32

    def name(self, c: int, sep: str = " ") -> str:
        v, o = self.concepts[c]
        return f"{self.verbs[v][0]}{sep}{self.objects[o][0]}"

    @property
    def n_main(self) -> int:
        return int(self.in_corpus.sum())


def _quota(n: int, minimum: int) -> dict[str, int]:
    """Split n over the domains by DOMAIN_SHARE, each at least ``minimum``, food takes the rest."""
    q = {d: max(minimum, round(s * n)) for d, s in DOMAIN_SHARE.items() if d != "f"}
    q["f"] = n - sum(q.values())
    if q["f"] < minimum:
        raise ValueError(f"{n} is too few to give every domain {minimum} (raise the knob)")
    return q


def _pick_words(rng: np.random.Generator, k: Knobs):
    obj_q = _quota(k.n_objects, 3)
    objects = []
    for d, n in obj_q.items():
        pool = [o for o in vocab.OBJECTS if o[1] == d]
        if n > len(pool):
            raise ValueError(f"n_objects={k.n_objects} needs {n} '{d}' objects; "
                             f"the built-in list has {len(pool)}")
        objects += [pool[i] for i in np.sort(rng.choice(len(pool), n, replace=False))]
    verbs: list[tuple[str, str, str]] = []
    for d, n in _quota(k.n_verbs, 2).items():
        pool = [v for v in vocab.VERBS if d in v[2] and "m" not in v[2] and v not in verbs]
        n = min(n, len(pool))
        verbs += [pool[i] for i in np.sort(rng.choice(len(pool), n, replace=False))]
    # the MSR-VTT-only words always exist (they are never in the corpus)
    verbs += [v for v in vocab.VERBS if v[2] == "m"]
    objects += [o for o in vocab.OBJECTS if o[1] == "m"]
    return verbs, objects


def _pick_concepts(rng, k: Knobs, verbs, objects):
    """Main pool by domain quota, then the MSR-VTT pool (seen + unseen concepts)."""
    pairs = {d: [(vi, oi) for vi, v in enumerate(verbs) for oi, o in enumerate(objects)
                 if o[1] == d and d in v[2]] for d in "fhcgm"}
    chosen: list[tuple[int, int]] = []
    for d, n in _quota(k.n_concepts, k.steps_per_task[1]).items():
        if n > len(pairs[d]):
            raise ValueError(f"n_concepts={k.n_concepts} needs {n} '{d}' concepts; only "
                             f"{len(pairs[d])} verb-object pairs exist (raise n_verbs/n_objects)")
        chosen += [pairs[d][i] for i in np.sort(rng.choice(len(pairs[d]), n, replace=False))]
    n_unseen = round(k.msrvtt_unseen * k.msrvtt_concepts)
    n_seen = k.msrvtt_concepts - n_unseen
    taken = set(chosen)
    novel = [p for d in "fhcg" for p in pairs[d] if p not in taken]
    n_mm = min(len(pairs["m"]), (n_unseen + 1) // 2)  # half held-out words, half new pairings
    if n_unseen - n_mm > len(novel):
        raise ValueError("not enough unused verb-object pairs for msrvtt_unseen")
    unseen = [pairs["m"][i] for i in rng.choice(len(pairs["m"]), n_mm, replace=False)]
    unseen += [novel[i] for i in rng.choice(len(novel), n_unseen - n_mm, replace=False)]
    seen = np.sort(rng.choice(len(chosen), n_seen, replace=False))
    concepts = np.array(chosen + unseen, dtype=np.int64).reshape(-1, 2)
    msrvtt = np.concatenate([seen, len(chosen) + np.arange(len(unseen))]).astype(np.int64)
    in_corpus = np.arange(len(concepts)) < len(chosen)
    return concepts, in_corpus, msrvtt


def _tasks(rng, k: Knobs, concepts, objects, in_corpus) -> list[Task]:
    dom = np.array([objects[o][1] for o in concepts[:, 1]])
    titles_used: dict[str, int] = {}
    tasks = []
    for d, n in _quota(k.n_tasks, 1).items():
        ids = np.flatnonzero((dom == d) & in_corpus)
        titles = vocab.TASK_TITLES[d]
        for j in range(n):
            K = int(rng.integers(k.steps_per_task[0], k.steps_per_task[1] + 1))
            steps = rng.choice(ids, min(K, len(ids)), replace=False)
            title = titles[j % len(titles)]
            titles_used[title] = titles_used.get(title, 0) + 1
            if titles_used[title] > 1:  # more tasks than titles: a numbered variant
                title = f"{title} {titles_used[title]}"
            tasks.append(Task(len(tasks), title, d, steps.astype(np.int64)))
    return tasks


def _view(rng, L: int, H: int, Dh: int) -> View:
    # gains keep tanh in its curved range and make about a third of the relu outputs zero
    return View(B=rng.standard_normal((H, L)) * (1.5 / np.sqrt(L)), b=0.3 * rng.standard_normal(H),
                A=rng.standard_normal((Dh, H)) / np.sqrt(H), c=np.full(Dh, 0.2))


def build_world(rng: np.random.Generator, k: Knobs) -> World:
    """Draw the vocabulary, concepts, tasks, view parameters and word vectors."""
    L = k.latent_dim
    verbs, objects = _pick_words(rng, k)
    concepts, in_corpus, msrvtt = _pick_concepts(rng, k, verbs, objects)
    z_verb = rng.standard_normal((len(verbs), L))
    z_obj = rng.standard_normal((len(objects), L))
    own = rng.standard_normal((len(concepts), L))
    z = (z_verb[concepts[:, 0]] + z_obj[concepts[:, 1]] + k.own_scale * own)
    z /= np.sqrt(2.0 + k.own_scale ** 2)
    world = World(
        knobs=k, verbs=verbs, objects=objects, concepts=concepts, in_corpus=in_corpus, z=z,
        z_background=rng.standard_normal(L),
        tasks=_tasks(rng, k, concepts, objects, in_corpus), msrvtt_pool=msrvtt,
        video2d=_view(rng, L, k.video_hidden, k.video_half_dim),
        video3d=_view(rng, L, k.video_hidden, k.video_half_dim),
        speech_W=rng.standard_normal((40, L)) * (1.2 / np.sqrt(L)),
        speech_b=0.3 * rng.standard_normal(40),
        speech_rate=rng.standard_normal(L) / np.sqrt(L),
        action_W=rng.standard_normal((40, L)) * (1.2 / np.sqrt(L)),
    )
    _word_vectors(rng, world, z_verb, z_obj)
    return world


def _word_vectors(rng, world: World, z_verb: np.ndarray, z_obj: np.ndarray) -> None:
    """w = WORD_SCALE·(P·z_part + word_noise·ε) for concept words, WORD_SCALE·ε for fillers."""
    k = world.knobs
    P = rng.standard_normal((k.we_dim, k.latent_dim)) / np.sqrt(k.latent_dim)
    fillers = list(dict.fromkeys(vocab.FILLERS + vocab.SUBJECTS + vocab.PLACES + vocab.TOOLS
                                 + vocab.ADVERBS))
    words, parts = [], []
    for i, (base, ing, _) in enumerate(world.verbs):
        words += [base, ing]
        parts += [z_verb[i], z_verb[i]]  # both forms carry the verb, with their own noise
    for i, (obj, _) in enumerate(world.objects):
        words.append(obj)
        parts.append(z_obj[i])
    words.append("background")
    parts.append(world.z_background)
    clash = sorted(set(words) & set(fillers))
    if clash or len(set(words)) != len(words):
        raise AssertionError(f"vocabulary words used twice: {clash}")  # a bug in vocab.py
    signal = np.stack(parts) @ P.T
    concept_vecs = signal + k.word_noise * rng.standard_normal(signal.shape)
    filler_vecs = rng.standard_normal((len(fillers), k.we_dim))
    # frequent words first, as in GoogleNews
    world.words = fillers + words
    world.word_vectors = (WORD_SCALE * np.concatenate([filler_vecs, concept_vecs])
                          ).astype(np.float32)
