"""The localization twins: a CrossTask release and a Mining YouTube test set (eval_protocols
§1.1-1.3, §2.1).

CrossTask: task cards, video lists, ``step,start,end`` annotations of every primary video, the
seed-0 test split (drop val videos, 30 training videos per primary task, the rest test) and
per-second features and audio of every primary video outside the val list (the split recipe
drops videos without features before it draws, so they must all be there).

Mining YouTube: five-dish cooking videos with at least 60 % background, ``.srt`` annotations
covering every second (background included, an action may repeat), a class dictionary with
``background`` last, features and audio. As in the release, some action labels are not written
as their class name but as a variant (``crack_eggs``, ``cracking_egg``, ``crack_egg_fresh``),
which the loader's label normalisation maps back (:func:`label_variant`).
"""
from __future__ import annotations

import zlib

import numpy as np

from mcnbench.data.synth import vocab
from mcnbench.data.synth.common import Oracle, youtube_ids
from mcnbench.data.synth.render import FPS_2D, n_rows, render_videos, spectrogram
from mcnbench.data.synth.retrieval import said
from mcnbench.data.synth.sink import Sink
from mcnbench.data.synth.timeline import Timeline, layout, narrate, step_order
from mcnbench.data.synth.world import World


def _render(world: World, rng, sink: Sink, folder: str, videos: dict[str, Timeline]) -> dict:
    """Features and audio of each ``{video id: timeline}``; returns each video's oracle rows
    ``(ids <vid>@<second>, shown latents, said latents)``."""
    out = {}
    feats = render_videos(rng, world, list(videos.values()))
    for (vid, tl), (f2d, f3d) in zip(videos.items(), feats, strict=True):
        narr = narrate(rng, world, tl)
        sink.npy(f"{folder}/features/{vid}_2d.npy", f2d)
        sink.npy(f"{folder}/features/{vid}_3d.npy", f3d)
        sink.npz(f"{folder}/audio/{vid}.npz", arr_0=spectrogram(rng, world, tl, narr))
        t = np.arange(n_rows(tl.duration, FPS_2D), dtype=np.float64)
        audio = np.stack([said(world, narr, s, s + 1.0) for s in t])
        out[vid] = ([f"{vid}@{s}" for s in range(len(t))], tl.z[tl.at(t + 0.5)], audio)
    return out


def seed0_split(videos: list[tuple[str, str]], val: set[tuple[str, str]], primary: list[str],
                n_train: int = 30, seed: int = 0) -> list[tuple[str, str]]:
    """The MMPT recipe (eval_protocols §1.2): per task in file order, val videos removed; a
    primary task with more than ``n_train`` videos keeps ``n_train`` drawn by
    ``RandomState(seed).choice(..., replace=False)`` for training and tests the rest."""
    by_task: dict[str, list[str]] = {}
    for task, vid in videos:
        if (task, vid) not in val:
            by_task.setdefault(task, []).append(vid)
    rs = np.random.RandomState(seed)
    test = []
    for task, vids in by_task.items():
        if task in primary and len(vids) > n_train:
            train = set(rs.choice(vids, n_train, replace=False).tolist())
            test += [(task, v) for v in vids if v not in train]
    return test


def _test_split(root, videos, val, primary) -> list[tuple[str, str]]:
    """The loaders' own recipe when they have it (one source of truth), else seed0_split."""
    try:
        from mcnbench.data.crosstask import load_crosstask, make_test_split
    except ImportError:
        return seed0_split(videos, val, primary)
    split, _ = make_test_split(load_crosstask(root), n_train=30, seed=0)
    return [(str(t), str(v)) for t, v in split]


def write_crosstask(sink: Sink, world: World, rng: np.random.Generator, taken: set[str],
                    oracle: Oracle) -> dict:
    k = world.knobs
    order = rng.permutation(len(world.tasks))
    n_p, n_r = k.crosstask_primary, k.crosstask_related
    chosen = [world.tasks[i] for i in order[: n_p + n_r]]
    tids = [str(x) for x in rng.choice(np.arange(10000, 100000), n_p + n_r, replace=False)]
    cards = []
    for tid, task in zip(tids, chosen, strict=True):
        steps = ",".join(world.name(c) for c in task.steps)
        url = "https://www.wikihow.com/" + task.title.replace(" ", "-")
        cards.append(f"{tid}\n{task.title}\n{url}\n{len(task.steps)}\n{steps}\n\n")
    rel = "crosstask/crosstask_release"
    sink.text(f"{rel}/tasks_primary.txt", "".join(cards[:n_p]))
    sink.text(f"{rel}/tasks_related.txt", "".join(cards[n_p:]))
    videos, val, timelines = [], set(), {}
    for i, (tid, task) in enumerate(zip(tids, chosen, strict=True)):
        n = k.crosstask_videos if i < n_p else k.crosstask_related_videos
        vids = youtube_ids(rng, n, taken)
        videos += [(tid, v) for v in vids]
        if i >= n_p:
            continue
        val |= {(tid, v) for v in rng.choice(vids, k.crosstask_val, replace=False)}
        for vid in vids:
            steps = step_order(rng, len(task.steps), k.p_skip_step, k.p_swap_steps,
                               k.p_repeat_step, min_steps=2)
            tl = layout(rng, world, task.steps[steps], rng.uniform(*k.crosstask_duration_s),
                        rng.uniform(*k.crosstask_background))
            timelines[(tid, vid)] = tl
            lines = [f"{s + 1},{tl.start[g]:.2f},{tl.end[g]:.2f}\n"
                     for s, g in zip(steps, tl.step_segments, strict=True)]
            sink.text(f"{rel}/annotations/{tid}_{vid}.csv", "".join(lines))
    url = "https://www.youtube.com/watch?v="
    sink.text(f"{rel}/videos.csv", "".join(f"{t},{v},{url}{v}\n" for t, v in videos))
    sink.text(f"{rel}/videos_val.csv",
              "".join(f"{t},{v},{url}{v}\n" for t, v in videos if (t, v) in val))
    # Features for every primary video outside the val list: the seed-0 recipe drops videos
    # without features before drawing, so the split is the same whether or not it is recomputed.
    todo = {vid: tl for (tid, vid), tl in timelines.items()
            if (tid, vid) not in val or k.crosstask_features_all}
    rows = _render(world, rng, sink, "crosstask", todo)
    test = _test_split(sink.root / "crosstask", videos, val, tids[:n_p])
    sink.csv("crosstask/test_split.csv", [list(r) for r in test], header=["task", "video_id"])
    for key in test:
        oracle.add_clips("crosstask", *rows[key[1]])
    for tid, task in zip(tids[:n_p], chosen[:n_p], strict=True):
        oracle.add_text("crosstask", [f"{tid}#{j}" for j in range(len(task.steps))],
                        world.z[task.steps])
    return {"primary_tasks": n_p, "related_tasks": n_r, "videos": len(videos),
            "val_videos": len(val), "test_videos": len(test), "rendered_videos": len(todo)}


def _srt_time(t: float) -> str:
    ms = int(round(t * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


# words after the object in variant labels, like the release's add_pepper_red, add_ham_pieces
VARIANT_MODIFIERS = ("red", "grated", "pieces", "fresh")


def label_variant(rng: np.random.Generator, verb: tuple[str, str, str], obj: str) -> str:
    """A variant of the class name ``<verb>_<obj>`` as the release's annotators wrote them: the
    object in the plural (``crack_eggs``, ``add_tomatoes``; an object already ending in ``s``
    gets a modifier instead), the verb's -ing form (``cracking_egg``, as ``using_spatula``) or
    a modifier word after the object (``crack_egg_fresh``, as ``pour_egg_whites``), one drawn
    uniformly. ``verb`` is the vocabulary entry ``(base, -ing, domains)``."""
    kind = int(rng.integers(3))
    if kind == 0 and not obj.endswith("s"):
        return f"{verb[0]}_{obj}{'es' if obj in ('tomato', 'potato') else 's'}"
    if kind == 1:
        return f"{verb[1]}_{obj}"
    return f"{verb[0]}_{obj}_{VARIANT_MODIFIERS[int(rng.integers(len(VARIANT_MODIFIERS)))]}"


def _labels(world: World, tl: Timeline, vid: str, p_variant: float) -> list[str]:
    """The .srt label of every segment. Variants draw from a generator of their own, keyed by
    the video id, so that the rest of the twin (timelines, features, BOMs) does not move."""
    rng = np.random.default_rng(np.random.SeedSequence(zlib.crc32(f"myt-variant:{vid}".encode())))
    out = []
    for c in tl.concept:
        if c < 0:
            out.append("background")
            continue
        v, o = world.concepts[int(c)]
        draw = rng.random()
        out.append(label_variant(rng, world.verbs[v], world.objects[o][0]) if draw < p_variant
                   else world.name(int(c), "_"))
    return out


def _srt(rng, labels: list[str], tl: Timeline, p_bom: float) -> str:
    """Every segment as an entry, background included. As in the release, most files start
    with a BOM, line ends are LF or CRLF, and some labels carry a trailing space."""
    entries = [f"{i + 1}\n{_srt_time(s)} --> {_srt_time(e)}\n{lab}"
               f"{' ' if rng.random() < 0.1 else ''}\n"
               for i, (s, e, lab) in enumerate(zip(tl.start, tl.end, labels, strict=True))]
    srt = "\n".join(entries)
    if rng.random() < 0.5:
        srt = srt.replace("\n", "\r\n")
    return ("\ufeff" if rng.random() < p_bom else "") + srt


def write_mining_youtube(sink: Sink, world: World, rng: np.random.Generator, taken: set[str],
                         oracle: Oracle) -> dict:
    k = world.knobs
    food = np.flatnonzero(world.in_corpus & np.array(
        [world.objects[o][1] == "f" for o in world.concepts[:, 1]]))
    dishes = []
    for _ in range(k.myt_dishes):
        K = int(rng.integers(k.steps_per_task[0], k.steps_per_task[1] + 1))
        dishes.append(rng.choice(food, min(K, len(food)), replace=False))
    classes = np.unique(np.concatenate(dishes))
    names = [world.name(int(c), "_") for c in classes] + ["background"]
    # a few names with a trailing space, as in the real dictionary
    sink.text("mining_youtube/weakYouTube_dict.txt",
              "".join(f"{n}{' ' if rng.random() < 0.15 else ''}\n" for n in names))
    timelines: dict[str, Timeline] = {}
    for steps in dishes:
        for vid in youtube_ids(rng, k.myt_videos, taken):
            order = step_order(rng, len(steps), k.p_skip_step, k.p_swap_steps, k.myt_p_repeat,
                               min_steps=2)
            timelines[vid] = layout(rng, world, steps[order], rng.uniform(*k.myt_duration_s),
                                    rng.uniform(*k.myt_background))
    n_variants = 0
    for vid, tl in timelines.items():
        labels = _labels(world, tl, vid, k.myt_p_variant)
        n_variants += sum(lab != (world.name(int(c), "_") if c >= 0 else "background")
                          for lab, c in zip(labels, tl.concept, strict=True))
        sink.text(f"mining_youtube/annotations/{vid}.srt", _srt(rng, labels, tl, k.myt_p_bom))
        z_text = np.where((tl.concept >= 0)[:, None],
                          world.z[np.maximum(tl.concept, 0)], world.z_background)
        oracle.add_text("mining_youtube", [f"{vid}#{j}" for j in range(len(tl.concept))], z_text)
    rows = _render(world, rng, sink, "mining_youtube", timelines)
    for vid in timelines:
        oracle.add_clips("mining_youtube", *rows[vid])
    ids = list(timelines)
    per_second = np.concatenate([tl.concept[tl.at(np.arange(n_rows(tl.duration, FPS_2D)) + 0.5)]
                                 for tl in timelines.values()])
    sink.text("mining_youtube/videos_test.txt", "".join(f"{v}\n" for v in ids))
    val = rng.choice(ids, max(1, round(0.1 * len(ids))), replace=False)  # a subset, as released
    sink.text("mining_youtube/videos_val.txt", "".join(f"{v}\n" for v in val))
    z_classes = np.concatenate([world.z[classes], world.z_background[None]])
    oracle.add_text("mining_youtube", [f"class:{n}" for n in names], z_classes)
    return {"dishes": k.myt_dishes, "videos": len(ids), "classes": len(names),
            "label_variants": n_variants,
            "background_fraction": round(float(np.mean(per_second < 0)), 4),
            "dish_names": list(vocab.MYT_DISHES[: k.myt_dishes])}
