"""Every retrieval direction of trained checkpoints on the validation monitor's held-out corpus clips.

    python directions.py DATA_ROOT CKPT_DIR [CKPT_DIR ...] > table.md

CKPT_DIR is a checkpoint-cache folder (``<cache>/checkpoints/<model>/seed<k>-<key>/`` with
``model.pth`` and ``config.json``). The clips are the ones the monitor scored during training
(the same ``val_fraction`` split, ``val_clips`` draw and ``val_seed``, built with the run's own
``min_time`` / ``audio_frames`` / ``max_words``), embedded in eval mode; query i's ground truth is
clip i. Prints one markdown row per model (mean ± std of R@10 over its checkpoints) and writes
``directions.json`` (every checkpoint's values) beside this script.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

from mcnbench.data.clip_sampler import ClipDataset
from mcnbench.data.word2vec import load_word2vec
from mcnbench.metrics.directions import retrieval_sides
from mcnbench.metrics.retrieval import ranks_from_embeddings, retrieval_metrics
from mcnbench.models.checkpoint import load_mcn
from mcnbench.training.config import TrainConfig
from mcnbench.training.monitor import ValMonitor

DIRECTIONS = {"T→VA": "t2va", "T→V": "t2v", "T→A": "t2a", "A→V": "a2v"}  # as the test tasks name them


def r_at_10(emb: dict, direction: str) -> float:
    """R@10 of ``direction`` on ``{"video", "audio", "text"}`` embeddings ``[N, D]``."""
    clips = {m: emb[m].double().numpy() for m in ("video", "audio")}
    queries, gallery, _ = retrieval_sides(emb["text"].double().numpy(), clips, direction)
    return float(retrieval_metrics(ranks_from_embeddings(queries, gallery), ks=(10,))["R@10"])


def main(root: Path, ckpts: list[Path]) -> None:
    torch.set_num_threads(1)
    wv = load_word2vec(root / "word2vec.bin")
    monitors, rows = {}, []
    for ck in ckpts:
        t = TrainConfig(**json.loads((ck / "config.json").read_text())["train"])
        key = (t.min_time, t.audio_frames, t.max_words, t.val_fraction, t.val_clips, t.val_seed)
        if key not in monitors:
            data = ClipDataset(root, wv, split="val", n_pair=t.n_pair, min_time=t.min_time,
                               audio_frames=t.audio_frames, max_words=t.max_words, seed=t.seed,
                               audio_clamp=t.audio_clamp, val_fraction=t.val_fraction)
            monitors[key] = ValMonitor(data, t.val_clips, t.val_seed)
        emb = monitors[key].embeddings(load_mcn(ck / "model.pth"))
        rows.append({"model": ck.parent.name, "checkpoint": ck.name, "clips": len(monitors[key]),
                     **{d: r_at_10(emb, name) for d, name in DIRECTIONS.items()}})
        print(f"<!-- {rows[-1]} -->", file=sys.stderr, flush=True)
    (Path(__file__).parent / "directions.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("| R@10 on held-out corpus clips | n | " + " | ".join(DIRECTIONS) + " |")
    print("|---|---|" + "---|" * len(DIRECTIONS))
    for model in dict.fromkeys(r["model"] for r in rows):
        got = [r for r in rows if r["model"] == model]
        cells = [f"{np.mean([r[d] for r in got]):.1f} ± {np.std([r[d] for r in got], ddof=1):.1f}"
                 if len(got) > 1 else f"{got[0][d]:.1f}" for d in DIRECTIONS]
        print(f"| {model} | {len(got)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])
