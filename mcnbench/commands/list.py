"""``mcnbench list tasks|models``: what the registries hold."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mcnbench.commands._common import HelpFormatter

    p = sub.add_parser("list", help="list the registered tasks or models",
                       description="List the registered tasks or models with version and description, "
                                   "built-in and plug-in alike.", formatter_class=HelpFormatter)
    p.add_argument("what", choices=("tasks", "models"), help="which registry to list")
    return p


def main(args: argparse.Namespace) -> int:
    from mcnbench.registry import MODELS, TASKS

    registry = TASKS if args.what == "tasks" else MODELS
    entries = registry.entries()
    if not entries:
        print(f"no {args.what} registered yet (built-in packages: "
              f"{', '.join(registry._builtin_packages)}; plug-ins: entry-point group "
              f"'{registry.group}')")
        return 0
    width = max(len(e.name) for e in entries)
    # tasks also show their main score (the number a table or regression check leads with)
    mains = {e.name: str(getattr(e.obj, "main_score", "") or "-") for e in entries}
    mw = max(len("main score"), *(len(m) for m in mains.values())) if args.what == "tasks" else 0
    main_head = f"{'main score':<{mw}}  " if mw else ""
    print(f"{'name':<{width}}  version  {main_head}description")
    for e in entries:
        source = "" if e.source == "builtin" else f"  [{e.source}]"
        main = f"{mains[e.name]:<{mw}}  " if mw else ""
        print(f"{e.name:<{width}}  {e.version:<7}  {main}{e.description}{source}")
    return 0
