"""``mcnbench index``: embed a gallery of clips with a model into a faiss index folder."""
from __future__ import annotations

import argparse

EPILOG = """\
examples:
  mcnbench index --model mcn --checkpoint model.pth --source youcook2 --out idx/yc2
  mcnbench index --model precomputed --embeddings W/oracle --data-root W --source msrvtt --out idx/o
  mcnbench index --model random --source corpus --kind ivf --nprobe 16 --out idx/corpus
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.commands._common import HelpFormatter
    from mcnbench.search.gallery import SOURCES
    from mcnbench.search.index import DEFAULT_NPROBE, IVF_ABOVE

    p = sub.add_parser(
        "index", help="embed a gallery of clips into a faiss index for `mcnbench search`",
        formatter_class=HelpFormatter, epilog=EPILOG,
        description="Embed every clip of a gallery (a retrieval task's clips, or every caption of "
                    "the pretraining corpus as a clip) with a model, fuse video and audio as the "
                    "retrieval tasks score them, and write OUT/index.faiss, OUT/clips.csv (id, "
                    "video id, start, end, caption) and OUT/index.json (the model's identity, "
                    "data root, index parameters). Exact IndexFlatIP by default; above "
                    "--ivf-above clips an IVF index, whose recall@10 against exact search is "
                    "measured on the gallery's captions and printed.")
    what = p.add_argument_group("model")
    what.add_argument("--model", required=True, metavar="NAME",
                      help="registered model name or package.module:factory")
    what.add_argument("--checkpoint", default=None, metavar="PATH", help="model weights to load")
    what.add_argument("--embeddings", default=None, metavar="DIR",
                      help="folder of precomputed embeddings (model 'precomputed')")
    what.add_argument("--seed", type=int, default=0, help="model seed (the init of an untrained one)")
    what.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                      help="override a model config value (repeatable)")
    what.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    gal = p.add_argument_group("gallery and index")
    gal.add_argument("--source", default="youcook2", choices=SOURCES, help="which clips to index")
    gal.add_argument("--data-root", default=None, metavar="DIR",
                     help="data root (default: $MCNBENCH_DATA, else the default synthetic world)")
    gal.add_argument("--fusion", default="video+audio", choices=("video+audio", "video", "audio"),
                     help="clip side of the score text · clip")
    gal.add_argument("--kind", default="auto", choices=("auto", "flat", "ivf"),
                     help="exact (flat), IVF, or IVF above --ivf-above clips")
    gal.add_argument("--ivf-above", type=int, default=IVF_ABOVE, metavar="N",
                     help="gallery size above which 'auto' builds an IVF index")
    gal.add_argument("--nlist", type=int, default=None, help="IVF lists (default about 4*sqrt(N))")
    gal.add_argument("--nprobe", type=int, default=DEFAULT_NPROBE, help="IVF lists probed per query")
    gal.add_argument("--out", required=True, metavar="DIR", help="index folder to write")
    return p


def main(args: argparse.Namespace) -> int:
    import sys

    from mcnbench.commands._common import parse_overrides
    from mcnbench.search import build_gallery_index

    build_gallery_index(args.model, source=args.source, out=args.out, data_root=args.data_root,
                        checkpoint=args.checkpoint, embeddings=args.embeddings, seed=args.seed,
                        device=args.device, overrides=parse_overrides(args.overrides),
                        fusion=args.fusion, kind=args.kind, ivf_above=args.ivf_above,
                        nlist=args.nlist, nprobe=args.nprobe,
                        log=lambda s: print(s, file=sys.stderr))
    return 0
