"""The retrieval twins: YouCook2 validation clips and the MSR-VTT 1k-A test (reference §6.2-6.3).

    youcook2/youcook_val_audio.pkl     [{"2d", "3d": float32 [Dh] (max over the clip's rows),
                                         "audio": torch.FloatTensor [40, n], "caption", "id"}]
    youcook2/validation_youcook.csv    end,start,task,text,video_id — the complete set
    msrvtt/msrvtt_jsfusion_test.pkl    [{"id", "2d_pooled", "3d_pooled", "audio", "eval_caption"}]
    msrvtt/msrvtt_test.csv             key,vid_key,video_id,sentence — the complete set

As in the releases, a few clips of each csv are missing from the pickle (YouCook2: 11 of 3,350
lack features; MSR-VTT: 32 of 1,000 lack audio); they count as misses at evaluation.
YouCook2 clips are the step segments of held-out videos of the corpus's food tasks; MSR-VTT
clips are short single-action videos from a partly unseen concept pool with more noise and a
feature offset shared by the whole set (the domain shift).
"""
from __future__ import annotations

import numpy as np

from mcnbench.data.synth import sentences
from mcnbench.data.synth.common import Oracle, youtube_ids
from mcnbench.data.synth.render import FPS_2D, FPS_3D, FRAMES_PER_S, render_videos, spectrogram
from mcnbench.data.synth.sink import Sink
from mcnbench.data.synth.timeline import Narration, layout, narrate, step_order
from mcnbench.data.synth.world import World


def said(world: World, narr: Narration, start: float, end: float) -> np.ndarray:
    """Latent of what is said about concepts in [start, end] (overlap-weighted; 0 if nothing)."""
    overlap = np.clip(np.minimum(narr.end, end) - np.maximum(narr.start, start), 0.0, None)
    w = overlap * (narr.narrated >= 0)
    if not w.any():
        return np.zeros(world.z.shape[1])
    return w @ world.z[np.maximum(narr.narrated, 0)]


def _pool(f2d, f3d, spec, start: float, end: float):
    """Clip features as the release has them: max over rows int(s·fps)..int(e·fps) of each
    stream; the clip's own spectrogram, renormalised to max 0 dB."""
    p2 = f2d[int(start * FPS_2D): int(end * FPS_2D) + 1].max(axis=0)
    p3 = f3d[int(start * FPS_3D): int(end * FPS_3D) + 1].max(axis=0)
    f0 = int(start * FRAMES_PER_S)
    a = spec[:, f0: max(f0 + 1, int(end * FRAMES_PER_S))].astype(np.float32)
    return p2, p3, a - a.max()


def _missing(rng, n: int, frac: float) -> set[int]:
    k = min(n - 1, max(1, round(frac * n))) if n > 1 else 0
    return set(rng.choice(n, k, replace=False).tolist())


def write_youcook2(sink: Sink, world: World, rng: np.random.Generator, taken: set[str],
                   oracle: Oracle) -> dict:
    import torch

    k = world.knobs
    food = [t for t in world.tasks if t.domain == "f"]
    plans, n_clips = [], 0  # (video id, task, timeline, narration, clip segments)
    while n_clips < k.youcook2_clips:
        task = food[int(rng.integers(len(food)))]
        order = step_order(rng, len(task.steps), k.p_skip_step, k.p_swap_steps, k.p_repeat_step,
                           min_steps=2)
        tl = layout(rng, world, task.steps[order], rng.uniform(*k.youcook2_duration_s),
                    rng.uniform(*k.corpus_background))
        narr = narrate(rng, world, tl, p_silent=k.youcook2_p_silent)
        segs = tl.step_segments[: k.youcook2_clips - n_clips]
        plans.append((youtube_ids(rng, 1, taken)[0], task, tl, narr, segs))
        n_clips += len(segs)
    videos = render_videos(rng, world, [p[2] for p in plans])
    items, rows, z_clip, z_said, z_text = [], [], [], [], []
    for (vid, task, tl, narr, segs), (f2d, f3d) in zip(plans, videos, strict=True):
        spec = spectrogram(rng, world, tl, narr)
        for j, s in enumerate(segs):
            start, end = round(float(tl.start[s]), 2), round(float(tl.end[s]), 2)
            p2, p3, audio = _pool(f2d, f3d, spec, start, end)
            c = int(tl.concept[s])
            caption = sentences.youcook_caption(rng, world, c)
            items.append({"2d": p2, "3d": p3, "audio": torch.from_numpy(audio),
                          "caption": caption, "id": f"{vid}_{j}"})
            rows.append([f"{end:.2f}", f"{start:.2f}", str(101 + task.index), caption, vid])
            z_clip.append(tl.z[s])
            z_said.append(said(world, narr, start, end))
            z_text.append(world.z[c])
    missing = _missing(rng, len(items), k.youcook2_missing)
    keep = [i for i in range(len(items)) if i not in missing]
    sink.pickle("youcook2/youcook_val_audio.pkl", [items[i] for i in keep])
    sink.csv("youcook2/validation_youcook.csv", rows,
             header=["end", "start", "task", "text", "video_id"])
    oracle.add_clips("youcook2", [items[i]["id"] for i in keep], np.array(z_clip)[keep],
                     np.array(z_said)[keep])
    oracle.add_text("youcook2", [it["id"] for it in items], np.array(z_text))
    return {"clips": len(items), "in_pickle": len(keep), "missing": len(missing),
            "videos": len(plans)}


def write_msrvtt(sink: Sink, world: World, rng: np.random.Generator, oracle: Oracle) -> dict:
    import torch

    k = world.knobs
    n = k.msrvtt_clips
    numbers = rng.choice(10000, n, replace=False)
    shift = k.msrvtt_domain_shift * rng.standard_normal(k.video_half_dim)
    plans = []  # (concept, timeline, narration)
    for _ in range(n):
        c = int(world.msrvtt_pool[int(rng.integers(len(world.msrvtt_pool)))])
        tl = layout(rng, world, [c], rng.uniform(*k.msrvtt_duration_s), rng.uniform(0.1, 0.3))
        plans.append((c, tl, narrate(rng, world, tl, p_silent=k.msrvtt_p_silent)))
    videos = render_videos(rng, world, [p[1] for p in plans], k.msrvtt_noise_scale, shift=shift)
    items, rows, z_clip, z_said, z_text = [], [], [], [], []
    for i, (num, (c, tl, narr), (f2d, f3d)) in enumerate(zip(numbers, plans, videos, strict=True)):
        spec = spectrogram(rng, world, tl, narr, k.msrvtt_noise_scale)
        caption = sentences.msrvtt_caption(rng, world, c)
        items.append({"id": f"video{num}", "2d_pooled": f2d.max(axis=0),
                      "3d_pooled": f3d.max(axis=0),
                      "audio": torch.from_numpy(spec.astype(np.float32)),
                      "eval_caption": caption})
        rows.append([f"ret{i}", f"msr{num}", f"video{num}", caption])
        z_clip.append(tl.z[tl.step_segments[0]])
        z_said.append(said(world, narr, 0.0, tl.duration))
        z_text.append(world.z[c])
    unseen = sum(not world.in_corpus[p[0]] for p in plans)
    missing = _missing(rng, n, k.msrvtt_missing)
    keep = [i for i in range(n) if i not in missing]
    sink.pickle("msrvtt/msrvtt_jsfusion_test.pkl", [items[i] for i in keep])
    sink.csv("msrvtt/msrvtt_test.csv", rows, header=["key", "vid_key", "video_id", "sentence"])
    oracle.add_clips("msrvtt", [items[i]["id"] for i in keep], np.array(z_clip)[keep],
                     np.array(z_said)[keep])
    oracle.add_text("msrvtt", [it["id"] for it in items], np.array(z_text))
    return {"clips": n, "in_pickle": len(keep), "missing": len(missing),
            "clips_of_unseen_concepts": int(unseen)}
