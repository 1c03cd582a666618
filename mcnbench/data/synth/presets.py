"""The knobs of the synthetic world, the presets, and the model sizes each preset suggests.

Every knob is written into the data root's ``manifest.json``; docs/synthetic.md explains how
each one enters the generative equations. Ranges are ``(low, high)`` pairs drawn uniformly.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# Bumped whenever the same preset and seed would give different files.
GENERATOR_VERSION = "4"  # 3: Mining YouTube label variants; 4: UCF-101 / HMDB-51 twins

Range = tuple[float, float]


@dataclass(frozen=True)
class Knobs:
    # -- vocabulary and latent concepts --------------------------------------------------------
    n_verbs: int = 40                  # verbs drawn from the built-in list (MSR-VTT-only ones extra)
    n_objects: int = 70                # objects drawn likewise
    n_concepts: int = 120              # (verb, object) steps in the shared pool
    n_tasks: int = 30                  # recipes/tasks: ordered step lists over the pool
    steps_per_task: tuple[int, int] = (4, 8)
    latent_dim: int = 32               # L: size of z
    own_scale: float = 0.35            # σ_own: concept-specific part of z beyond verb + object
    instance_scale: float = 0.3        # σ_inst: how much one performance differs from another
    background_scale: float = 0.8      # σ_bg: spread of background scenes
    # -- modality views --------------------------------------------------------------------------
    video_half_dim: int = 64           # Dh of the 2D and of the 3D features
    video_hidden: int = 64             # H: width of the view's hidden layer
    video_noise: float = 0.6           # σ_v: per-frame latent noise (inside the tanh)
    video_out_noise: float = 0.15      # per-frame feature noise (before the relu)
    video_style: float = 0.35          # σ_style: per-video feature offset
    audio_noise_db: float = 5.0        # σ_a: per band and frame
    speech_level_db: float = 20.0      # speech above the room-noise floor
    speech_profile_db: float = 8.0     # amplitude of the concept's band profile
    action_sound_db: float = 3.0       # amplitude of the shown step's own sound (weak)
    we_dim: int = 100                  # word-vector size
    word_noise: float = 0.5            # noise of a concept word's vector relative to its signal
    # -- narration ----------------------------------------------------------------------------
    p_aligned: float = 0.6             # a caption during a step describes that step
    p_neighbour: float = 0.25          # ... describes the previous or next step instead
    p_unrelated: float = 0.15          # ... is filler talk
    p_background_upcoming: float = 0.3  # a caption over background announces the next step
    align_jitter_s: float = 2.0        # σ of the shift between speech and the shown action
    caption_s: Range = (2.0, 5.0)      # caption duration
    p_capitalised: float = 0.25        # eval captions starting with a capital (OOV first word)
    p_punctuation: float = 0.4         # eval captions ending with . or !
    # -- HowTo100M corpus ---------------------------------------------------------------------
    corpus_videos: int = 400
    corpus_duration_s: Range = (50.0, 120.0)
    corpus_background: Range = (0.25, 0.45)  # fraction of the video that is background
    p_skip_step: float = 0.15          # a recipe step left out of a video
    p_repeat_step: float = 0.1         # a step done a second time later
    p_swap_steps: float = 0.1          # two adjacent steps done in the other order
    p_none_prefix: float = 0.05        # videopaths.csv rows with the stray ``None/`` prefix
    # -- YouCook2 twin --------------------------------------------------------------------------
    youcook2_clips: int = 600
    youcook2_duration_s: Range = (40.0, 100.0)
    youcook2_missing: float = 0.0033   # clips in the csv but not in the pickle (11 of 3,350)
    youcook2_p_silent: float = 0.3     # caption slots without speech
    # -- MSR-VTT twin (domain shift) -----------------------------------------------------------
    msrvtt_clips: int = 300
    msrvtt_duration_s: Range = (8.0, 20.0)
    msrvtt_missing: float = 0.032      # clips without audio, absent from the pickle (32 of 1,000)
    msrvtt_concepts: int = 60
    msrvtt_unseen: float = 0.5         # fraction of its concepts never in the corpus
    msrvtt_noise_scale: float = 1.5    # multiplies every noise level
    msrvtt_domain_shift: float = 0.5   # σ of a feature offset shared by all its clips
    msrvtt_p_silent: float = 0.5
    # -- CrossTask twin -------------------------------------------------------------------------
    crosstask_primary: int = 4         # primary tasks (need > 30 non-val videos each)
    crosstask_videos: int = 36         # videos per primary task in videos.csv
    crosstask_val: int = 1             # of which listed in videos_val.csv too
    crosstask_related: int = 3         # related tasks (videos listed, no annotations)
    crosstask_related_videos: int = 3
    crosstask_duration_s: Range = (40.0, 100.0)
    crosstask_background: Range = (0.4, 0.6)
    crosstask_features_all: bool = False  # features for every primary video, not just test
    # -- Mining YouTube twin ------------------------------------------------------------------
    myt_dishes: int = 5
    myt_videos: int = 8                # per dish
    myt_duration_s: Range = (100.0, 200.0)
    myt_background: Range = (0.6, 0.8)
    myt_p_repeat: float = 0.25
    myt_p_bom: float = 0.9             # .srt files starting with a UTF-8 BOM (248 of 250)
    myt_p_variant: float = 0.2         # action .srt labels written as a variant (real: 24 %)
    # -- UCF-101 / HMDB-51 twins (zero-shot action recognition) ---------------------------------
    ucf_classes: int = 20
    ucf_videos_per_class: int = 6
    ucf_unseen: float = 0.25           # fraction of the classes never in the corpus
    ucf_p_audio: float = 0.5           # videos with a soundtrack (about half of real UCF-101)
    hmdb_classes: int = 12
    hmdb_videos_per_class: int = 6
    hmdb_unseen: float = 0.25
    action_duration_s: Range = (4.0, 10.0)
    action_noise_scale: float = 1.25   # multiplies every noise of both twins
    action_domain_shift: float = 0.3   # σ of a feature offset shared by each twin's videos

    def validate(self) -> Knobs:
        """Raise ValueError on inconsistent knobs; returns self."""
        probs = self.p_aligned + self.p_neighbour + self.p_unrelated
        if abs(probs - 1.0) > 1e-6:
            raise ValueError(f"p_aligned + p_neighbour + p_unrelated must be 1, got {probs}")
        if self.crosstask_videos - self.crosstask_val <= 30:
            raise ValueError("crosstask_videos - crosstask_val must be > 30: the seed-0 test split "
                             "keeps 30 training videos per primary task and tests the rest")
        if self.crosstask_primary + self.crosstask_related > self.n_tasks:
            raise ValueError("crosstask_primary + crosstask_related must be <= n_tasks")
        lo, hi = self.steps_per_task
        if not 2 <= lo <= hi:
            raise ValueError(f"steps_per_task must be (lo, hi) with 2 <= lo <= hi, got {lo, hi}")
        for name in ("corpus_background", "crosstask_background", "myt_background"):
            a, b = getattr(self, name)
            if not 0.0 < a <= b < 1.0:
                raise ValueError(f"{name} must be (lo, hi) within (0, 1), got {a, b}")
        if self.myt_p_variant > 1.0:
            raise ValueError(f"myt_p_variant must lie in [0, 1], got {self.myt_p_variant}")
        for name in ("ucf_unseen", "hmdb_unseen", "ucf_p_audio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        for name, low in (("ucf_classes", 2), ("hmdb_classes", 2), ("ucf_videos_per_class", 1),
                          ("hmdb_videos_per_class", 1)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be >= {low}, got {getattr(self, name)}")
        if self.myt_background[0] < 0.6:
            raise ValueError("myt_background must keep >= 60% background (the MYT regime)")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
                raise ValueError(f"knob {f.name} must be >= 0, got {v}")
        return self


@dataclass(frozen=True)
class Preset:
    knobs: Knobs
    model_hints: dict = field(default_factory=dict)


def _hints(embd, widths, recon, epochs, batch, n_pair, min_time, frames, max_words, lr, warmup,
           clusters, queue, refit, **train) -> dict:
    return {"model": {"embd_dim": embd, "davenet_widths": list(widths), "recon_size": recon},
            "train": {"epochs": epochs, "batch_videos": batch, "n_pair": n_pair,
                      "min_time": min_time, "audio_frames": frames, "max_words": max_words,
                      "lr": lr, "warmup_steps": warmup, "n_clusters": clusters,
                      "queue_batches": queue, "refit_every": refit, **train}}


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        Knobs(n_verbs=14, n_objects=20, n_concepts=28, n_tasks=8, steps_per_task=(3, 5),
              latent_dim=16, corpus_videos=24, corpus_duration_s=(30.0, 60.0),
              youcook2_clips=60, youcook2_duration_s=(30.0, 60.0), msrvtt_clips=40,
              msrvtt_concepts=16, msrvtt_duration_s=(6.0, 12.0),
              crosstask_primary=2, crosstask_videos=33, crosstask_related=1,
              crosstask_related_videos=2, crosstask_duration_s=(12.0, 24.0),
              myt_dishes=2, myt_videos=4, myt_duration_s=(40.0, 80.0), ucf_classes=8,
              ucf_videos_per_class=3, hmdb_classes=6, hmdb_videos_per_class=3),
        _hints(512, (8, 16, 16, 32), 32, 2, 8, 8, 3.0, 200, 20, 3e-3, 5, 8, 2, 2)),
    "default": Preset(
        Knobs(),
        _hints(1024, (32, 64, 64, 128), 128, 6, 16, 16, 3.0, 300, 20, 3e-3, 50, 32, 5, 5)),
    # The committed comparison's world (results/README.md): the default world with a corpus 4x
    # larger, on which longer training plateaus instead of overfitting the 357 training videos
    # (results/studies/corpus-1600/), and test sets large enough that one seed's bootstrap 95 %
    # half-width of each main score is about 3 points or less (600 YouCook2 clips gave 3.8, 20
    # CrossTask videos 5-11). Every dataset draws from its own random stream, so the corpus is
    # the one of ``--set corpus_videos=1600`` on the default preset. The hints carry the
    # comparison's training protocol: 12 epochs of 89 steps with the validation monitor.
    "comparison": Preset(
        Knobs(corpus_videos=1600, youcook2_clips=1200, msrvtt_clips=1200, crosstask_videos=81,
              myt_videos=18, ucf_videos_per_class=40, hmdb_videos_per_class=60),
        _hints(1024, (32, 64, 64, 128), 128, 12, 16, 16, 3.0, 300, 20, 3e-3, 50, 32, 5, 5,
               val_fraction=0.1, val_every=22)),
    "paper": Preset(
        Knobs(latent_dim=64, video_half_dim=2048, video_hidden=512, we_dim=300,
              corpus_videos=48, youcook2_clips=200, msrvtt_clips=100, msrvtt_concepts=40,
              crosstask_primary=2, crosstask_videos=33, crosstask_related=1,
              crosstask_related_videos=2, crosstask_duration_s=(30.0, 60.0), myt_dishes=2,
              myt_videos=3, ucf_classes=8, ucf_videos_per_class=2, hmdb_classes=6,
              hmdb_videos_per_class=2),
        _hints(6144, (128, 256, 512, 1024), 1024, 30, 128, 32, 10.0, 1000, 20, 1e-4, 5000,
               256, 20, 20)),
}


def make_knobs(preset: str = "default", **overrides) -> Knobs:
    """The preset's knobs with ``overrides`` applied and checked.

    Unknown knob names raise TypeError listing the valid ones; ranges may be given as lists.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    names = {f.name: f for f in dataclasses.fields(Knobs)}
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise TypeError(f"unknown knob(s) {unknown}; valid knobs: {sorted(names)}")
    fixed = {}
    for k, v in overrides.items():
        default = getattr(PRESETS[preset].knobs, k)
        if isinstance(default, tuple):
            if not isinstance(v, (list, tuple)) or len(v) != len(default):
                raise ValueError(f"knob {k} takes a pair like {list(default)}, got {v!r}")
            fixed[k] = tuple(type(d)(x) for d, x in zip(default, v, strict=True))
        elif isinstance(default, bool) or isinstance(v, bool):
            if not isinstance(v, bool) or not isinstance(default, bool):
                raise ValueError(f"knob {k} takes {type(default).__name__}, got {v!r}")
            fixed[k] = v
        elif isinstance(default, int) and not float(v).is_integer():
            raise ValueError(f"knob {k} takes an integer, got {v!r}")
        else:
            try:
                fixed[k] = type(default)(v)
            except (TypeError, ValueError):
                raise ValueError(f"knob {k} takes {type(default).__name__}, got {v!r}") from None
    return dataclasses.replace(PRESETS[preset].knobs, **fixed).validate()


def model_hints(preset: str) -> dict:
    """Model and training sizes that fit the preset's world (a deep copy)."""
    import copy

    return copy.deepcopy(PRESETS[preset].model_hints)
