"""``mcnbench migrate OLD NEW``: convert a results folder of schema 1 (mcnbench 0.1) to the
run-identity layout, without re-running anything."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

EPILOG = """\
examples:
  mcnbench migrate results/default results/default-v2     then replace the old folder by the new

Each schema-1 record <model>/<task>/seed<k>.json becomes <model>/<run id>/<task>/seed<k>.json
(schema 2) with its per-query arrays; <model>/train-seed<k>/ logs move to
<model>/train/schema1/seed<k>/. The data fingerprint stays the one schema 1 computed (the
manifest's sha256 for a synthetic root), marked as such: results of a new run are never silently
matched with it. OLD is not changed.
"""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.commands._common import HelpFormatter

    p = sub.add_parser("migrate", help="convert schema-1 result records to the run-identity layout",
                       description="Rewrite every schema-1 record under OLD into NEW in the layout "
                                   "<model>/<run id>/<task>/seed<k>.json (schema 2).",
                       formatter_class=HelpFormatter, epilog=EPILOG)
    p.add_argument("old", metavar="OLD", type=Path, help="results folder of schema 1")
    p.add_argument("new", metavar="NEW", type=Path, help="folder to write (must not exist or be empty)")
    return p


def upgrade(old: dict, source: Path) -> dict:
    """A schema-2 record dict from a schema-1 one (``source``: where it was read, for provenance)."""
    from mcnbench.records import SCHEMA_VERSION, run_id

    rec = dict(old)
    model = dict(rec["model"])
    ckpt = model.get("checkpoint")
    if isinstance(ckpt, dict) and "digest" in ckpt:  # a given checkpoint: schema 1 kept its digest
        ckpt = {**ckpt, "sha256": ckpt["digest"].removeprefix("sha256:")}
    model["checkpoint"] = ckpt
    model.setdefault("overrides", {})
    data = {**rec["data"], "fingerprint_of": "schema 1 (synthetic: manifest.json sha256)"}
    rec.update(model=model, data=data, schema_version=SCHEMA_VERSION,
               label=model["name"], provenance={"command": None, "migrated_from": str(source)})
    rec["run_id"] = run_id(model, rec["task"], rec["tie_rule"], data)
    return rec


def main(args: argparse.Namespace) -> int:
    from mcnbench.commands._common import writable_folder
    from mcnbench.data.errors import DataError
    from mcnbench.records import ResultRecord, record_path, safe_name
    from mcnbench.utils.io import atomic_write_bytes, atomic_write_json

    if not args.old.is_dir():
        raise DataError(args.old, None, "no such folder")
    if args.new.exists() and any(args.new.iterdir()):
        raise DataError(args.new, None, "exists and is not empty: migrate into a new folder")
    writable_folder(args.new, "NEW")
    n = 0
    for path in sorted(args.old.glob("*/*/seed*.json")):
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            print(f"mcnbench migrate: warning: {path}: skipped, unreadable ({err})", file=sys.stderr)
            continue
        if not isinstance(old, dict) or old.get("schema_version") != 1:
            print(f"mcnbench migrate: warning: {path}: skipped, not a schema-1 record", file=sys.stderr)
            continue
        new = upgrade(old, path)
        ResultRecord.from_dict(new)  # the upgraded record must be valid schema 2
        dest = record_path(args.new, new["model"]["name"], new["run_id"], new["task"]["name"],
                           new["seed"])
        for arr in sorted(path.parent.glob(f"{path.stem}.*.npy")):
            atomic_write_bytes(dest.with_name(arr.name), arr.read_bytes())
        atomic_write_json(dest, new)
        n += 1
    logs = 0
    for log in sorted(args.old.glob("*/train-seed*/train_log.jsonl")):
        seed = log.parent.name.removeprefix("train-")
        dest = args.new / safe_name(log.parent.parent.name) / "train" / "schema1" / seed
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, dest / log.name)
        logs += 1
    print(f"migrated {n} records and {logs} training logs from {args.old} to {args.new}")
    return 0 if n else 2
