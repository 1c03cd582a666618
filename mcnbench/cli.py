"""The ``mcnbench`` command: an explicit list of subcommands, one module each in
``mcnbench/commands/`` with ``add_parser(subparsers)`` and ``main(args) -> int``.

Heavy imports (torch, pandas) happen inside each ``main``, so that ``--help`` is instant. This is
also the one place that turns a user's mistake into one line on stderr and exit status 2: bad
data (``DataError``), bad names or options (``RegistryError``, ``ValueError``), and every
filesystem fault (``OSError``: a read-only or full disk, a folder that is a file) — never a
traceback. Warnings of mcnbench (dropped videos, broken plug-ins, ...) are one line each.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from mcnbench import __version__
from mcnbench.commands._common import HelpFormatter

# The subcommands, in the order ``--help`` lists them.
COMMANDS = ("run", "eval", "train", "sweep", "ablate", "paper", "report", "compare", "index",
            "search", "migrate", "synth", "list")

EPILOG = """\
examples:
  mcnbench run --model mcn --tasks all          train + evaluate on the embedded synthetic world
  mcnbench run --model mcn --tasks youcook2 --data-root /data/mcn --checkpoint e30.pth --tie-rule legacy
  mcnbench ablate --no-cluster                  MCN against MCN without clustering
  mcnbench compare results/reference/tiny results/latest --max-drop 1.0
  mcnbench list models

Run 'mcnbench COMMAND --help' for the options of one command.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcnbench", formatter_class=HelpFormatter, epilog=EPILOG,
        description="Benchmark multimodal self-supervised models (MCN and baselines) on YouCook2, "
                    "MSR-VTT, CrossTask and Mining YouTube with the published protocols.")
    parser.add_argument("--version", action="version", version=f"mcnbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMANDS:
        module = importlib.import_module(f"mcnbench.commands.{name}")
        p = module.add_parser(sub)
        p.set_defaults(_main=module.main)
    return parser


def _one_line_warnings(command: str):
    """A ``warnings.showwarning`` that prints mcnbench's own warnings as one stderr line."""
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__module__.startswith("mcnbench"):
            print(f"mcnbench {command}: warning: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)
    return show


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_main", None):
        parser.print_help()
        return 2
    from mcnbench.data.errors import DataError
    from mcnbench.data.warnings import report_data_warnings
    from mcnbench.registry import RegistryError

    command = args.command
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warnings(command)
        try:  # a DataWarning is one stderr line; under --strict it is a DataError (exit 2)
            with report_data_warnings(command, strict=getattr(args, "strict", False)):
                return int(args._main(args) or 0)
        except (DataError, RegistryError, ValueError) as err:  # bad input or options: one line
            print(f"mcnbench {command}: error: {err}", file=sys.stderr)
            return 2
        except OSError as err:  # a filesystem fault: the path and the problem, one line
            print(f"mcnbench {command}: error: {_os_error(err)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"mcnbench {command}: interrupted; finished units are kept, rerun to resume",
                  file=sys.stderr)
            return 130


def _os_error(err: OSError) -> str:
    where = err.filename if err.filename is not None else ""
    what = err.strerror or str(err)
    if err.filename2 is not None:
        where = f"{where} -> {err.filename2}"
    return f"{where}: {what}" if where else what


if __name__ == "__main__":
    sys.exit(main())
