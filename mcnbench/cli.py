"""The ``mcnbench`` command.

Each subcommand is one small module in ``mcnbench/commands/`` with ``add_parser(subparsers)`` and
``main(args) -> int``. Heavy imports (torch, pandas) happen inside ``main`` so that ``--help`` is
instant.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from mcnbench import __version__

# The order subcommands are listed in ``--help``; a module not named here is listed after them.
ORDER = ("run", "eval", "train", "ablate", "report", "compare", "synth", "list")

EPILOG = """\
examples:
  mcnbench run --model mcn --tasks all          train + evaluate on the embedded synthetic world
  mcnbench run --model mcn --tasks youcook2 --data-root /data/mcn --checkpoint e30.pth --tie-rule legacy
  mcnbench ablate --no-cluster                  MCN against MCN without clustering
  mcnbench compare results/reference/tiny results/latest --max-drop 1.0
  mcnbench list models

Run 'mcnbench COMMAND --help' for the options of one command.
"""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the epilog's line breaks."""


def command_modules() -> list:
    import mcnbench.commands as package

    names = [m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")]
    names.sort(key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    return [importlib.import_module(f"mcnbench.commands.{n}") for n in names]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcnbench", formatter_class=HelpFormatter, epilog=EPILOG,
        description="Benchmark multimodal self-supervised models (MCN and baselines) on YouCook2, "
                    "MSR-VTT, CrossTask and Mining YouTube with the published protocols.")
    parser.add_argument("--version", action="version", version=f"mcnbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for module in command_modules():
        p = module.add_parser(sub)
        p.set_defaults(_main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_main", None):
        parser.print_help()
        return 2
    from mcnbench.data.errors import DataError
    from mcnbench.data.warnings import report_data_warnings
    from mcnbench.registry import RegistryError

    try:  # a DataWarning is one stderr line; under --strict it is a DataError (exit 2)
        with report_data_warnings(args.command, strict=getattr(args, "strict", False)):
            return int(args._main(args) or 0)
    except (DataError, RegistryError, ValueError) as err:  # bad input or options: one line
        print(f"mcnbench {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mcnbench {args.command}: interrupted; finished units are kept, rerun to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
