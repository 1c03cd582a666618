"""``mcnbench ablate``: MCN against variants of itself, trained with the same seeds and data."""
from __future__ import annotations

import argparse

EPILOG = """\
examples:
  mcnbench ablate --no-cluster                      MCN vs MCN without the clustering loss
  mcnbench ablate --no-cluster --no-recon --combine the paper's "MMS" row (both removed at once)
  mcnbench ablate --clusters 64,128,256 --seeds 3   number of clusters (Supp. Table F)
  mcnbench ablate --loss nce,mil-nce                loss ablation (Table 5)
  mcnbench ablate --cluster-mode fused,per-modality clustering pipeline (Table 6)
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.cli import HelpFormatter
    from mcnbench.commands._common import add_run_options

    p = sub.add_parser(
        "ablate", help="train and evaluate MCN and variants of it, table of differences",
        description="Train MCN and each requested variant with the same seeds and data, evaluate "
                    "them on the tasks and print each variant's metrics and its difference from "
                    "full MCN, shaped like the paper's loss and clustering ablation tables. Each "
                    "flag adds one variant; --combine applies all flags to a single variant.",
        formatter_class=HelpFormatter, epilog=EPILOG)
    v = p.add_argument_group("variants (each flag adds one variant of --model)")
    v.add_argument("--model", default="mcn", metavar="NAME", help="the full model ablated")
    v.add_argument("--no-cluster", action="store_true", help="no clustering loss")
    v.add_argument("--no-recon", action="store_true", help="no reconstruction loss")
    v.add_argument("--no-audio", action="store_true", help="no audio modality")
    v.add_argument("--cluster-mode", default=None, metavar="joint|fused|per-modality",
                   help="clustering target(s), comma-separated")
    v.add_argument("--clusters", default=None, metavar="K,K,...",
                   help="numbers of k-means clusters, comma-separated")
    v.add_argument("--queue-size", default=None, metavar="N,N,...",
                   help="k-means queue length(s) in batches, comma-separated")
    v.add_argument("--loss", default=None, metavar="mms|nce|mil-nce",
                   help="contrastive loss(es), comma-separated")
    v.add_argument("--combine", action="store_true",
                   help="apply every flag above to one single variant instead of one each")
    add_run_options(p)
    p.set_defaults(out="results/ablate")
    return p


def variants_from_args(args: argparse.Namespace, base_overrides: dict) -> list:
    """The full model first, then one Variant per flag (or one combined variant)."""
    from mcnbench.engine.pipeline import Variant

    def split(text):
        return [s.strip() for s in str(text).split(",") if s.strip()]

    changes: list[tuple[str, dict]] = []
    if args.no_cluster:
        changes.append(("no-cluster", {"cluster_mode": "none"}))
    if args.no_recon:
        changes.append(("no-recon", {"recon": False}))
    if args.no_audio:
        changes.append(("no-audio", {"no_audio": True}))
    for mode in split(args.cluster_mode or ""):
        changes.append((f"cluster-{mode}", {"cluster_mode": mode}))
    for k in split(args.clusters or ""):
        changes.append((f"k{int(k)}", {"n_clusters": int(k)}))
    for q in split(args.queue_size or ""):
        changes.append((f"queue{int(q)}", {"queue_batches": int(q)}))
    for loss in split(args.loss or ""):
        changes.append((f"loss-{loss}", {"loss": loss}))
    if not changes:
        raise ValueError("name at least one variant: --no-cluster, --no-recon, --no-audio, "
                         "--cluster-mode, --clusters, --queue-size or --loss")
    if args.combine:
        merged: dict = {}
        for _, c in changes:
            clash = set(merged) & set(c)
            if clash:
                raise ValueError(f"--combine: flags set {sorted(clash)} more than once")
            merged.update(c)
        changes = [("+".join(label for label, _ in changes), merged)]
    full = Variant(args.model, args.model, dict(base_overrides), label="full")
    return [full] + [Variant(f"{args.model}+{label}", args.model, {**base_overrides, **c},
                             label=label) for label, c in changes]


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mcnbench.commands._common import parse_overrides, parse_seeds, parse_task_options, print_table
    from mcnbench.engine.pipeline import resolve_root, run_variants

    variants = variants_from_args(args, parse_overrides(args.overrides))
    root = resolve_root(args.data_root, args.preset, print)
    print(f"ablation of {args.model}: {', '.join(v.name for v in variants)}")
    run_variants(variants, args.tasks, seeds=parse_seeds(args.seeds), data_root=root,
                 out=Path(args.out), tie_rule=args.tie_rule, device=args.device,
                 overwrite=args.overwrite, task_options=parse_task_options(args.task_option))
    print_table(args.out, reference_model=args.model)
    return 0
