"""The HowTo100M twin: narrated task videos in the HowTo100M feature layout (reference §2.1).

    howto100m/videopaths.csv                       header ``path``; ``category/video_x/<id>``
    howto100m/caption.pickle                       {id: {"start", "end": float64, "text": object}}
    howto100m/features/<path>/<id>_2d.npz          key ``features`` float32 [T, Dh], 1 row/s
    howto100m/features/<path>/<id>_3d.npz          1.5 rows/s
    howto100m/audio/<path>/<id>_spec.npz           key ``arr_0`` float16 [40, F], 100 frames/s

``<path>`` is the csv row without the stray ``None/`` prefix that a few rows carry (the
official loader strips it). The truth about every caption (what it says versus what is shown)
goes to ``oracle/howto100m_narration.csv``.
"""
from __future__ import annotations

import numpy as np

from mcnbench.data.synth import vocab
from mcnbench.data.synth.common import youtube_ids
from mcnbench.data.synth.render import render_videos, spectrogram
from mcnbench.data.synth.sink import Sink
from mcnbench.data.synth.timeline import KINDS, layout, narrate, step_order
from mcnbench.data.synth.world import World


def video_path(category: str, vid: str) -> str:
    bucket = vid[0].lower() if vid[0].isalnum() else "0"
    return f"{category}/video_{bucket}/{vid}"


def write_corpus(sink: Sink, world: World, rng: np.random.Generator, taken: set[str]) -> dict:
    """Write the corpus; returns counts for the manifest."""
    k = world.knobs
    n = k.corpus_videos
    ids = youtube_ids(rng, n, taken)
    n_none = max(1, round(k.p_none_prefix * n)) if n else 0
    none_rows = set(rng.choice(n, n_none, replace=False).tolist()) if n else set()
    plans = []  # (video id, task, timeline, narration); rendered in one batch below
    for vid in ids:
        task = world.tasks[int(rng.integers(len(world.tasks)))]
        order = step_order(rng, len(task.steps), k.p_skip_step, k.p_swap_steps, k.p_repeat_step,
                           min_steps=2)
        tl = layout(rng, world, task.steps[order], rng.uniform(*k.corpus_duration_s),
                    rng.uniform(*k.corpus_background))
        plans.append((vid, task, tl, narrate(rng, world, tl)))
    videos = render_videos(rng, world, [p[2] for p in plans])
    paths, captions, truth = [], {}, []
    for i, ((vid, task, tl, narr), (f2d, f3d)) in enumerate(zip(plans, videos, strict=True)):
        path = video_path(vocab.CATEGORIES[task.domain], vid)
        paths.append(("None/" if i in none_rows else "") + path)
        sink.npz(f"howto100m/features/{path}/{vid}_2d.npz", features=f2d)
        sink.npz(f"howto100m/features/{path}/{vid}_3d.npz", features=f3d)
        sink.npz(f"howto100m/audio/{path}/{vid}_spec.npz", arr_0=spectrogram(rng, world, tl, narr))
        captions[vid] = {"start": narr.start.astype(np.float64),
                         "end": narr.end.astype(np.float64),
                         "text": np.array(narr.text, dtype=object)}
        truth += [[vid, j, task.index, f"{narr.start[j]:.3f}", f"{narr.end[j]:.3f}",
                   int(narr.shown[j]), int(narr.narrated[j]), KINDS[narr.kind[j]]]
                  for j in range(len(narr))]
    sink.csv("howto100m/videopaths.csv", [[p] for p in paths], header=["path"])
    sink.pickle("howto100m/caption.pickle", captions)
    sink.csv("oracle/howto100m_narration.csv", truth,
             header=["video_id", "caption", "task", "start", "end", "shown", "narrated", "kind"])
    return {"videos": n, "captions": len(truth), "none_prefixed_rows": n_none}
