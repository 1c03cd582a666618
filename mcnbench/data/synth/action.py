"""The zero-shot action-recognition twins: UCF-101 and HMDB-51 in MCN's pickle format (mcn_spec
§6.8; the reader is :mod:`mcnbench.data.action_recognition`).

    ucf101/UCF101_data.pkl   [{"2d", "3d": float32 [T, Dh], "2d_pooled", "3d_pooled": their mean
                              over time, "class": CamelCase ("CrackEgg"), "video":
                              "v_<Class>_g<gg>_c<cc>_", "audio": float32 [40, n] or zeros [40, 1],
                              "has_audio": 0/1, "training": 0/1}]
    hmdb51/HMDB_data.pkl     the same without "audio"/"has_audio"; "class" snake_case
                              ("crack_egg"), "training" 0/1/2 (test/train/unused)

Each class is one concept of the world; a fraction of them (``ucf_unseen``, ``hmdb_unseen``) are
concepts never shown or said in the pretraining corpus (the MSR-VTT twin's unseen pool). A video
is a short single-action clip (a little background before and after), rendered with every noise
× ``action_noise_scale`` and a feature offset N(0, ``action_domain_shift``²) shared by the whole
dataset. Nobody narrates: a UCF soundtrack (``ucf_p_audio`` of the videos) is room noise plus the
action's own weak sound; the other videos carry zeros [40, 1] and ``has_audio`` 0, as MCN's
``gen_loader.py`` writes them.
"""
from __future__ import annotations

import numpy as np

from mcnbench.data.synth.common import Oracle
from mcnbench.data.synth.render import render_videos, spectrogram
from mcnbench.data.synth.sink import Sink
from mcnbench.data.synth.timeline import Narration, layout
from mcnbench.data.synth.world import World

SILENT = Narration(np.zeros(0), np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64),
                   np.zeros(0, np.int64), [])


def pick_classes(rng: np.random.Generator, world: World, n: int, unseen: float) -> np.ndarray:
    """``n`` distinct concept ids: ``round(unseen·n)`` never in the corpus, the rest from it."""
    n_unseen = int(round(unseen * n))
    out_pool = np.flatnonzero(~world.in_corpus)
    in_pool = np.flatnonzero(world.in_corpus)
    if n_unseen > len(out_pool) or n - n_unseen > len(in_pool):
        raise ValueError(f"{n} action classes with {n_unseen} unseen need that many concepts; the "
                         f"world has {len(in_pool)} corpus and {len(out_pool)} unseen ones")
    chosen = np.concatenate([rng.choice(in_pool, n - n_unseen, replace=False),
                             rng.choice(out_pool, n_unseen, replace=False)])
    return chosen.astype(np.int64)


def _videos(rng, world: World, concepts: np.ndarray, per_class: int):
    """(concept, timeline) of every video and their (2D, 3D) features."""
    k = world.knobs
    plans = [(int(c), layout(rng, world, [int(c)], rng.uniform(*k.action_duration_s),
                             rng.uniform(0.1, 0.3)))
             for c in concepts for _ in range(per_class)]
    shift = k.action_domain_shift * rng.standard_normal(k.video_half_dim)
    feats = render_videos(rng, world, [tl for _, tl in plans], k.action_noise_scale, shift=shift)
    return plans, feats


def _item(f2d: np.ndarray, f3d: np.ndarray, cls: str, video: str, training: int) -> dict:
    return {"2d": f2d, "3d": f3d, "2d_pooled": f2d.mean(axis=0), "3d_pooled": f3d.mean(axis=0),
            "class": cls, "video": video, "training": training}


def _write(sink: Sink, world: World, rel: str, task: str, items: list[dict], plans, oracle: Oracle,
           classes: dict[int, str], concepts: np.ndarray) -> None:
    order = sorted(range(len(items)), key=lambda i: items[i]["video"])  # as gen_loader sorts
    sink.pickle(rel, [items[i] for i in order])
    z_video = np.array([plans[i][1].z[plans[i][1].step_segments[0]] for i in order])
    oracle.add_clips(task, [items[i]["video"] for i in order], z_video, np.zeros_like(z_video))
    oracle.add_text(task, [f"class:{classes[int(c)]}" for c in concepts], world.z[concepts])


def write_ucf101(sink: Sink, world: World, rng: np.random.Generator, oracle: Oracle) -> dict:
    k = world.knobs
    concepts = pick_classes(rng, world, k.ucf_classes, k.ucf_unseen)
    classes = {int(c): "".join(w.capitalize() for w in world.name(int(c)).split())
               for c in concepts}
    plans, feats = _videos(rng, world, concepts, k.ucf_videos_per_class)
    items, counter = [], {}
    for (c, tl), (f2d, f3d) in zip(plans, feats, strict=True):
        j = counter[c] = counter.get(c, -1) + 1
        item = _item(f2d, f3d, classes[c], f"v_{classes[c]}_g{j // 4 + 1:02d}_c{j % 4 + 1:02d}_",
                     int(rng.random() < 0.7))
        has = rng.random() < k.ucf_p_audio
        audio = spectrogram(rng, world, tl, SILENT, k.action_noise_scale) if has else None
        item["audio"] = (audio.astype(np.float32) if has
                         else np.zeros((40, 1), dtype=np.float32))
        item["has_audio"] = int(has)
        items.append(item)
    _write(sink, world, "ucf101/UCF101_data.pkl", "ucf101", items, plans, oracle, classes,
           concepts)
    return {"classes": len(concepts), "videos": len(items),
            "unseen_classes": int((~world.in_corpus[concepts]).sum()),
            "with_audio": sum(it["has_audio"] for it in items)}


def write_hmdb51(sink: Sink, world: World, rng: np.random.Generator, oracle: Oracle) -> dict:
    k = world.knobs
    concepts = pick_classes(rng, world, k.hmdb_classes, k.hmdb_unseen)
    classes = {int(c): "_".join(world.name(int(c)).split()) for c in concepts}
    plans, feats = _videos(rng, world, concepts, k.hmdb_videos_per_class)
    items, counter = [], {}
    for (c, _), (f2d, f3d) in zip(plans, feats, strict=True):
        j = counter[c] = counter.get(c, -1) + 1
        # <title>_<class>_<body part>_<camera motion>_<people>_<viewpoint>_<quality>_<clip>_
        name = f"clip{j:02d}_{classes[c]}_f_nm_np1_fr_med_{j % 3}_"
        items.append(_item(f2d, f3d, classes[c], name, int(rng.choice([1, 0, 2], p=[0.6, 0.3, 0.1]))))
    _write(sink, world, "hmdb51/HMDB_data.pkl", "hmdb51", items, plans, oracle, classes, concepts)
    return {"classes": len(concepts), "videos": len(items),
            "unseen_classes": int((~world.in_corpus[concepts]).sum())}
