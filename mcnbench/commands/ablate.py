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
    from mcnbench.commands._common import HelpFormatter, add_data_options, add_protocol_options

    p = sub.add_parser(
        "ablate", help="train and evaluate MCN and variants of it, table of differences",
        description="Train MCN and each requested variant with the same seeds and data, evaluate "
                    "them on the tasks and print each variant's metrics and its difference from "
                    "full MCN, shaped like the paper's loss and clustering ablation tables. Each "
                    "flag adds one variant; --combine applies all flags to a single variant.",
        formatter_class=HelpFormatter, epilog=EPILOG)
    v = p.add_argument_group("variants (each flag adds one variant of --model)")
    v.add_argument("--model", default="mcn", metavar="NAME", help="the full model ablated")
    v.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config value of every variant (repeatable), e.g. --set epochs=2")
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
    add_protocol_options(p)
    add_data_options(p)
    return p


def variants_from_args(args: argparse.Namespace, base_overrides: dict) -> list:
    """The full model first, then one ModelSpec per flag (or one combined variant)."""
    from mcnbench.engine import ModelSpec

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
    full = ModelSpec(args.model, overrides=dict(base_overrides), variant="full")
    return [full] + [variant_spec(args.model, [(label, c)], base_overrides) for label, c in changes]


def variant_spec(model: str, changes: list[tuple[str, dict]], base_overrides: dict):
    """The ModelSpec of ``model`` with ``changes`` ((flag, overrides), ...) on top of
    ``base_overrides``: named ``model+flag+flag``, its label showing only the base overrides (the
    name says the rest). ``ablate`` and ``paper`` both build variants here, so they train and
    record the same models."""
    from mcnbench.engine import ModelSpec

    flags = "+".join(flag for flag, _ in changes)
    overrides = dict(base_overrides)
    for _, change in changes:
        overrides.update(change)
    return ModelSpec(model, name=f"{model}+{flags}", overrides=overrides, variant=flags,
                     label_overrides=dict(base_overrides))


def main(args: argparse.Namespace) -> int:
    from mcnbench.commands._common import parse_overrides, print_outcomes, run_spec
    from mcnbench.engine import run

    variants = variants_from_args(args, parse_overrides(args.overrides))
    spec = run_spec(args, variants, train=True)
    print(f"ablation of {args.model}: {', '.join(v.name for v in variants)}")
    print_outcomes(run(spec), spec.out, reference=args.model)
    return 0
