"""Retrieval directions: which embeddings are the queries and which the gallery (MCN Supp. Table C).

A retrieval test set pairs item i's caption with item i's clip, so every direction keeps the
ground truth on the diagonal; only the two sides change:

========  ==================  ==================  =================================================
name      queries [N, D]      gallery [N, D]      note
========  ==================  ==================  =================================================
``t2va``  text                video + audio       MCN's score ``t·(v+a)`` (the default); the clip side
                                                  is the task's ``fusion`` option
``t2v``   text                video               Supp. TC "T→V"
``t2a``   text                audio               a caption finds its clip's audio (not in the
                                                  paper): how much of ``t·(v+a)`` the audio decides
``a2v``   audio               video               Supp. TC "A→V": a clip's audio finds its video
``v2t``   video               text                the transposed direction: duplicate or all-OOV
                                                  captions embed identically, so ties appear here
``va2t``  video + audio       text                transposed ``t2va`` (clip side = ``fusion``)
========  ==================  ==================  =================================================
"""
from __future__ import annotations

import numpy as np

DIRECTIONS = ("t2va", "t2v", "t2a", "a2v", "v2t", "va2t")
# what each direction puts on each side; "clip" = the fusion option's choice
SIDES = {"t2va": ("text", "clip"), "t2v": ("text", "video"), "t2a": ("text", "audio"),
         "a2v": ("audio", "video"),
         "v2t": ("video", "text"), "va2t": ("clip", "text")}
FUSION_DIRECTIONS = ("t2va", "va2t")  # the directions whose clip side ``fusion`` chooses


def _clip_side(clip_emb: dict[str, np.ndarray], fusion: str) -> tuple[np.ndarray, str]:
    wanted = ("video", "audio") if fusion == "video+audio" else (fusion,)
    have = [m for m in wanted if m in clip_emb]
    if not have:
        raise ValueError(f"fusion {fusion!r} needs {' or '.join(wanted)} embeddings; the model "
                         f"gave {sorted(clip_emb)}")
    out = clip_emb[have[0]] if len(have) == 1 else clip_emb[have[0]] + clip_emb[have[1]]
    return out, "+".join(have)


def _one(name: str, text: np.ndarray, clip_emb: dict[str, np.ndarray], fusion: str
         ) -> tuple[np.ndarray, str]:
    if name == "text":
        return text, "text"
    if name == "clip":
        return _clip_side(clip_emb, fusion)
    if name not in clip_emb:
        raise ValueError(f"this direction needs {name} embeddings; the model gave "
                         f"{sorted(clip_emb)}")
    return clip_emb[name], name


def retrieval_sides(text: np.ndarray, clip_emb: dict[str, np.ndarray], direction: str = "t2va",
                    fusion: str = "video+audio") -> tuple[np.ndarray, np.ndarray, dict]:
    """(queries ``[N, D]``, gallery ``[N, D]``, what was used) for ``direction``.

    text: ``[N, D]`` caption embeddings; clip_emb: modality → ``[N, D]`` clip embeddings (row i
    of each belongs to caption i). fusion: the clip side of ``t2va`` / ``va2t``
    (``video+audio``, ``video``, ``audio``; a model lacking one of video/audio is scored with
    what it has, as :func:`mcnbench.tasks.base.fuse` does); the other directions fix their modalities
    and take only the default fusion. Returns the used modalities as
    ``{"direction", "query", "gallery"}`` (e.g. ``query="text", gallery="video+audio"``).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if direction not in FUSION_DIRECTIONS and fusion != "video+audio":
        raise ValueError(f"direction {direction!r} fixes its modalities; the fusion option "
                         f"({fusion!r}) applies to {' and '.join(FUSION_DIRECTIONS)} only")
    q_name, g_name = SIDES[direction]
    queries, q_used = _one(q_name, text, clip_emb, fusion)
    gallery, g_used = _one(g_name, text, clip_emb, fusion)
    if queries.shape != gallery.shape:
        raise ValueError(f"query embeddings {queries.shape} and gallery embeddings "
                         f"{gallery.shape} differ in shape")
    return queries, gallery, {"direction": direction, "query": q_used, "gallery": g_used}
