"""How much of MCN's fused retrieval score t·(v+a) is the audio part t·a, per checkpoint.

usage: python score_parts.py DATA_ROOT MODEL:NAME=CHECKPOINT [...]   (MODEL: a registered name)
For the YouCook2 gallery of DATA_ROOT: mean embedding norms, and over the caption queries the
share of the fused score's variance across clips that the audio part carries,
var_j(t_i·a_j) / (var_j(t_i·v_j) + var_j(t_i·a_j)), averaged over queries i.
"""
import sys

import numpy as np

from mcnbench.engine.plan import build_registered
from mcnbench.search.gallery import embed_captions, embed_gallery, load_gallery

root, pairs = sys.argv[1], [a.split("=", 1) for a in sys.argv[2:]]
gallery = load_gallery(root, "youcook2")
print("| model, checkpoint | ‖v‖ | ‖a‖ | ‖t‖ | audio share of score variance | R@10 t·v | R@10 t·(v+a) |")
print("|---|---|---|---|---|---|---|")
for name, ckpt in pairs:
    model_name, name = name.split(":", 1)
    model, _ = build_registered(model_name, root, checkpoint=ckpt)
    emb = embed_gallery(model, gallery)
    v, a, t = emb["video"].astype(np.float64), emb["audio"].astype(np.float64), \
        embed_captions(model, gallery).astype(np.float64)
    sv, sa = t @ v.T, t @ a.T
    share = float(np.mean(sa.var(axis=1) / (sv.var(axis=1) + sa.var(axis=1))))

    def r10(s):
        truth = np.diag(s)[:, None]
        return 100 * float(np.mean((s > truth).sum(axis=1) < 10))
    n = lambda x: float(np.linalg.norm(x, axis=1).mean())
    print(f"| {model_name}, {name} | {n(v):.2f} | {n(a):.2f} | {n(t):.2f} | {share:.2f} | {r10(sv):.1f} | {r10(sv + sa):.1f} |")
