"""``TrainConfig``: every knob of an MCN training run (reference mcn_spec §5.1 for the defaults).

The defaults are the released MCN run (README command + args.py defaults). Baselines are
overrides of the same config: contrastive-only = ``cluster_mode="none", recon=False``; per-modality
clustering = ``cluster_mode="per-modality"``; MIL-NCE / NCE = ``loss="mil-nce"`` / ``"nce"``; the
clustering variants of the paper's Table 6 = ``cluster_mode`` in ``sinkhorn-swap``,
``sinkhorn-joint``, ``kmeans-joint``, ``per-modality`` with ``cluster_labels`` hard or soft.
"""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, fields

CLUSTER_MODES = ("joint", "fused", "per-modality", "kmeans-joint", "sinkhorn-swap", "sinkhorn-joint",
                 "none")
KMEANS_MODES = ("joint", "fused", "per-modality", "kmeans-joint")  # the modes that run k-means
CLUSTER_LABELS = ("hard", "soft")
LOSSES = ("mms", "nce", "mil-nce")
AMP_MODES = ("auto", "bf16", "fp16", "off")


@dataclass
class TrainConfig:
    """One training run.

    Data (reference §2.3): ``batch_videos`` videos per global batch, ``n_pair`` clips drawn per
    video (so B = batch_videos·n_pair clips are contrasted against each other), clips extended to
    ``min_time`` seconds, ``audio_frames`` spectrogram frames (100/s) and ``max_words`` words per
    clip. ``audio_clamp=False`` reproduces the official loader's unclamped negative first frame
    (defect §9.2-10); the default clamps at frame 0.

    Optimisation (§5.1): Adam (``lr``, no weight decay), linear warm-up over ``warmup_steps`` then
    half-cosine to 0 over all steps.

    Losses (§4): ``loss`` is the contrastive term over the three modality pairs ("mms" with
    margin ``margin``, or "nce" / "mil-nce"); ``cluster_mode`` picks the clustering loss
    ("joint": k-means on the fused (v+a+t)/3, centroid-contrast on each modality averaged — the
    released model; "fused": centroid-contrast on the fused vector (args ``mean=1``);
    "per-modality": one k-means per modality, each modality pulled to the other modalities'
    centroids when ``cluster_swap`` (K-means Swap) else to its own; "kmeans-joint": k-means on the
    fused vector, a linear classifier on each modality predicts the fused vector's cluster
    (K-means Joint); "sinkhorn-swap" / "sinkhorn-joint": ``n_clusters`` learnable prototypes,
    Sinkhorn-Knopp codes (``sinkhorn_epsilon``, ``sinkhorn_iters``) of each modality / of the fused
    vector predicted from every other modality / from each modality with softmax(scores /
    ``cluster_temperature``), prototypes frozen during the first ``prototype_freeze_epochs``
    epochs; "none"), weighted by ``cluster_weight``. ``cluster_labels``: "hard" targets (nearest
    centroid, argmax code) or "soft" (the Sinkhorn codes; for k-means softmax(cos(x, C) /
    ``cluster_temperature``)); equations in docs/training.md, "Clustering variants";
    ``recon`` adds ``recon_weight``·mean(recon). k-means: ``n_clusters`` centroids, a FIFO queue of
    ``queue_batches`` batches' worth of fused vectors (first half of each video's clips),
    warm-started refit every ``refit_every`` steps. ``no_audio`` drops the audio modality.

    Run: ``seed``, ``num_workers`` data-loader processes, a resumable checkpoint every
    ``checkpoint_every`` steps (0 = only at epoch ends), ``amp`` ("auto" = bf16 (fp16 if bf16 is
    unsupported) autocast on CUDA, off on CPU), ``device`` ("auto" = cuda if available).

    Validation monitor (:mod:`mcnbench.training.monitor`): ``val_fraction`` of the corpus videos
    (chosen by a hash of the video id) are held out of training; every ``val_every`` steps
    (0 = off; also before the first and after the last step) caption→clip R@1/5/10 and MedR on
    ``val_clips`` held-out clips drawn with ``val_seed`` go into the step log.
    """

    epochs: int = 30
    batch_videos: int = 128
    n_pair: int = 32
    min_time: float = 10.0
    audio_frames: int = 1000
    max_words: int = 20
    audio_clamp: bool = True
    lr: float = 1e-4
    warmup_steps: int = 5000
    n_clusters: int = 256
    queue_batches: int = 20
    refit_every: int = 20
    cluster_mode: str = "joint"
    cluster_weight: float = 1.0
    cluster_swap: bool = True
    cluster_labels: str = "hard"
    cluster_temperature: float = 0.1
    sinkhorn_epsilon: float = 0.05
    sinkhorn_iters: int = 3
    prototype_freeze_epochs: int = 1
    recon: bool = True
    recon_weight: float = 50.0
    loss: str = "mms"
    margin: float = 0.001
    no_audio: bool = False
    seed: int = 1
    num_workers: int = 0
    checkpoint_every: int = 0
    amp: str = "auto"
    device: str = "auto"
    val_fraction: float = 0.0
    val_every: int = 0
    val_clips: int = 1000
    val_seed: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        problems = []
        for name in ("epochs", "batch_videos", "n_pair", "audio_frames", "max_words", "n_clusters",
                     "refit_every", "sinkhorn_iters"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("warmup_steps", "queue_batches", "num_workers", "checkpoint_every",
                     "prototype_freeze_epochs", "val_every"):
            if int(getattr(self, name)) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.lr <= 0:
            problems.append(f"lr must be > 0, got {self.lr!r}")
        if self.cluster_mode not in CLUSTER_MODES:
            problems.append(f"cluster_mode must be one of {CLUSTER_MODES}, got {self.cluster_mode!r}")
        if self.cluster_labels not in CLUSTER_LABELS:
            problems.append(f"cluster_labels must be one of {CLUSTER_LABELS}, got {self.cluster_labels!r}")
        for name in ("cluster_temperature", "sinkhorn_epsilon"):
            if not float(getattr(self, name)) > 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.amp not in AMP_MODES:
            problems.append(f"amp must be one of {AMP_MODES}, got {self.amp!r}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            problems.append(f"device must be auto, cpu or cuda[:k], got {self.device!r}")
        if self.cluster_mode in KMEANS_MODES and self.clips_per_batch < self.n_clusters:
            problems.append(f"a batch of {self.clips_per_batch} clips cannot seed {self.n_clusters} "
                            "k-means clusters; raise batch_videos·n_pair or lower n_clusters")
        if not 0.0 <= self.val_fraction < 1.0:
            problems.append(f"val_fraction must be in [0, 1), got {self.val_fraction!r}")
        if self.val_every and self.val_fraction <= 0:
            problems.append("val_every needs held-out videos: set val_fraction > 0")
        if int(self.val_clips) < 2:
            problems.append(f"val_clips must be >= 2, got {self.val_clips!r}")
        if problems:
            raise ValueError("invalid TrainConfig: " + "; ".join(problems))

    @property
    def clips_per_batch(self) -> int:
        """B: clips in one global batch."""
        return self.batch_videos * self.n_pair

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_dict(cls, d: dict, *, strict: bool = True) -> TrainConfig:
        """Build from a dict; values are coerced to the field types (``"3"`` -> 3 for ``--set``).

        ``strict`` rejects unknown keys (naming the known ones); otherwise they are ignored.
        """
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown and strict:
            raise ValueError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
        kwargs = {k: coerce(v, known[k]) for k, v in d.items() if k in known}
        return cls(**kwargs)

    def replace(self, **changes) -> TrainConfig:
        return TrainConfig.from_dict({**self.to_dict(), **changes})


def coerce(value, field: dataclasses.Field):
    """``value`` converted to the type of ``field`` (bool from "true"/"0"/..., int, float, str)."""
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    if kind == "bool":
        if isinstance(value, str):
            low = value.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{field.name}: expected a boolean, got {value!r}")
        return bool(value)
    try:
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(float(value)) if isinstance(value, str) else int(value)
        if kind == "float":
            return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"option {field.name}: expected {'an integer' if kind == 'int' else 'a number'}, "
                         f"got {value!r}") from None
    return str(value)
