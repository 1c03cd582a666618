"""Modality views of a timeline: video features and a log-mel-like spectrogram.

Video (2D at 1 row/s, 3D at 1.5 rows/s, each with its own parameters A, B, b, c):

    x_t = z_seg(t) + σ_v·ε_t
    f_t = relu(A·tanh(B·x_t + b) + c + s_video + σ_out·η_t)          float32 [T, Dh]

Audio (100 frames/s, 40 bands, in dB; speech carries the *narrated* concept, the shown step
only adds a weak sound of its own):

    room[b]        = tilt·(b/39) + 2·ε_b                                  per video
    action[f, b]   = action_db·tanh(W_act·z_seg(f))[b]                    during steps only
    speech[f, b]   = speech_level + profile_db·tanh(W_sp·z_n + b_sp)[b] + voice[b]
                     + 15·(0.5·sin(2π·rate_n·t_f + φ) - 0.5)              during caption n
    S = 10·log10(10^((room+action)/10) + 10^(speech/10)) + σ_a·u,   u uniform, unit variance
    S ← max(S - max(S), -80)                                              float16, dB ≤ 0

where z_n is the narrated concept's latent (a random latent for filler talk) and
rate_n = 3 + 2·tanh(u·z_n) syllables/s.
"""
from __future__ import annotations

import numpy as np

from mcnbench.data.synth.timeline import Narration, Timeline
from mcnbench.data.synth.world import World

FRAMES_PER_S = 100
BANDS = 40
FPS_2D, FPS_3D = 1.0, 1.5
TOP_DB = 80.0


def n_rows(duration: float, fps: float) -> int:
    return max(1, int(duration * fps))


def frame_segments(tl: Timeline, fps: float, n: int) -> np.ndarray:
    """Segment index of each row's centre time."""
    return tl.at((np.arange(n) + 0.5) / fps)


def render_videos(rng: np.random.Generator, world: World, timelines: list[Timeline],
                  noise_scale: float = 1.0, shift: np.ndarray | None = None
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """2D ``[T2, Dh]`` and 3D ``[T3, Dh]`` float32 features of each timeline.

    All videos' rows go through one matrix product per stream (small per-video products spend
    their time in BLAS thread start-up). ``shift`` is a domain offset added to every video's
    style.
    """
    k = world.knobs
    streams = []
    for view, fps in ((world.video2d, FPS_2D), (world.video3d, FPS_3D)):
        counts = [n_rows(tl.duration, fps) for tl in timelines]
        z = np.concatenate([tl.z[frame_segments(tl, fps, n)]
                            for tl, n in zip(timelines, counts, strict=True)]).astype(np.float32)
        x = z + np.float32(noise_scale * k.video_noise) * rng.standard_normal(z.shape, np.float32)
        style = noise_scale * k.video_style * rng.standard_normal((len(timelines), len(view.c)))
        if shift is not None:
            style = style + shift
        h = np.tanh(x @ view.B.T.astype(np.float32) + view.b.astype(np.float32))
        pre = h @ view.A.T.astype(np.float32)
        pre += (view.c + style).astype(np.float32).repeat(counts, axis=0)
        pre += (np.float32(noise_scale * k.video_out_noise)
                * rng.standard_normal(pre.shape, np.float32))
        np.maximum(pre, 0.0, out=pre)
        streams.append(np.split(pre, np.cumsum(counts)[:-1]))
    return list(zip(streams[0], streams[1], strict=True))


def speech_latents(rng: np.random.Generator, world: World, narrated: np.ndarray) -> np.ndarray:
    """Latent of what each caption says; filler talk gets a random latent of its own."""
    z = rng.standard_normal((len(narrated), world.z.shape[1]))
    talk = narrated >= 0
    z[talk] = world.z[narrated[talk]]
    return z


def spectrogram(rng: np.random.Generator, world: World, tl: Timeline, narration: Narration,
                noise_scale: float = 1.0) -> np.ndarray:
    """``[40, F]`` float16 log-mel-like spectrogram of the whole video (max 0 dB)."""
    k = world.knobs
    F = max(1, int(round(tl.duration * FRAMES_PER_S)))
    t = np.arange(F, dtype=np.float32) / FRAMES_PER_S
    # room noise plus the weak sound of the step being shown, one row per segment
    room = rng.uniform(-8.0, 0.0) * np.linspace(0.0, 1.0, BANDS) + 2.0 * rng.standard_normal(BANDS)
    rows = room + k.action_sound_db * np.tanh(tl.z @ world.action_W.T) * (tl.concept >= 0)[:, None]
    S = rows.astype(np.float32)[tl.at(t)]  # [F, 40]
    if len(narration):  # speech during the captions
        zs = speech_latents(rng, world, narration.narrated)
        voice = 3.0 * rng.standard_normal(BANDS)
        profile = (k.speech_level_db + voice
                   + k.speech_profile_db * np.tanh(zs @ world.speech_W.T + world.speech_b))
        rate = 3.0 + 2.0 * np.tanh(zs @ world.speech_rate)
        phase = rng.uniform(0.0, 2 * np.pi, len(zs))
        f0 = np.floor(narration.start * FRAMES_PER_S).astype(np.int64)
        f1 = np.floor(narration.end * FRAMES_PER_S).astype(np.int64)
        frames = np.arange(F)
        idx = np.searchsorted(f0, frames, side="right") - 1
        inside = np.flatnonzero((idx >= 0) & (frames < f1[np.maximum(idx, 0)]))
        i = idx[inside]
        env = 15.0 * (0.5 * np.sin(2 * np.pi * rate[i] * t[inside] + phase[i]) - 0.5)
        speech = profile.astype(np.float32)[i] + env.astype(np.float32)[:, None]
        ln = np.float32(np.log(10.0) / 10.0)
        S[inside] = np.logaddexp(S[inside] * ln, speech * ln) / ln
    # uniform noise of standard deviation σ_a (Gaussian draws cost 5x more and add nothing)
    noise = rng.random(S.shape, np.float32) - np.float32(0.5)
    S += np.float32(noise_scale * k.audio_noise_db * np.sqrt(12.0)) * noise
    S -= S.max()
    np.maximum(S, -TOP_DB, out=S)
    return S.T.astype(np.float16, order="C")
