"""The ``mrczio`` command line: one module per sub-command, errors in CLI terms.

Every sub-command is a module listed in :data:`COMMANDS` that defines ``NAME``,
``HELP`` (one line for ``mrczio --help``), ``DESCRIPTION`` and ``EPILOG`` (its own
``--help``), ``add_arguments(parser)`` and ``run(args) -> int``. Adding a command is
adding such a module and one line to :data:`COMMANDS`; modules import their heavy
dependencies inside ``run`` so ``mrczio --help`` stays fast.

Exit codes: 0 success, 1 failure (bad input, failed validation), 2 usage error, 130
interrupted (Ctrl-C; nothing partial is left under an output name). Messages go to
stderr through the ``logging`` module (``-q`` errors only, ``-v`` details); results and
``--json`` lines go to stdout, and a closed pipe (``mrczio info *.mrc | head``) ends the
command quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from mrczio.cli.messages import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    WRITTEN,
    UsageError,
    cli_message,
    exit_code,
)
from mrczio.cli.options import common_parser, parse_size
from mrczio.cli.output import log, setup_logging
from mrczio.errors import MrczioError

__all__ = ["COMMANDS", "build_parser", "main", "parse_size"]

#: Sub-command modules, in the order ``mrczio --help`` lists them.
COMMANDS: list[str] = [
    "mrczio.cli.info",
    "mrczio.cli.compress",
    "mrczio.cli.decompress",
    "mrczio.cli.convert",
    "mrczio.cli.validate",
    "mrczio.cli.verify",
    "mrczio.cli.refs",
    "mrczio.cli.plugins",
    "mrczio.cli.correct",
    "mrczio.cli.watch",
    "mrczio.cli.demo",
    "mrczio.cli.bench",
]


def _version() -> str:
    from mrczio import __version__

    return __version__


class _VersionAction(argparse.Action):
    """``--version``: the version is read only when asked for (reading it imports
    ``importlib.metadata``, about 11 ms every other command need not pay)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"mrczio {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The parser with one sub-parser per module in :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="mrczio",
        description="Fast, honest EM movie I/O (MRCZ, MRC, 4-bit, TIFF). "
        "Run `mrczio COMMAND --help` for a command's options and defaults.",
    )
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_parser()
    for name in COMMANDS:
        module = importlib.import_module(name)
        command = sub.add_parser(
            module.NAME, help=module.HELP, description=module.DESCRIPTION, epilog=module.EPILOG,
            parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        module.add_arguments(command)
        command.set_defaults(module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (argparse's own usage errors exit 2)."""
    args = build_parser().parse_args(argv)
    setup_logging(quiet=args.quiet, verbose=args.verbose)
    WRITTEN.paths.clear()
    module: ModuleType = args.module
    try:
        code = int(module.run(args))
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILURE
    except KeyboardInterrupt:
        sys.stderr.write(f"mrczio: {WRITTEN.interrupted_message()}\n")
        return EXIT_INTERRUPTED
    except UsageError as exc:
        log.error("%s (see mrczio %s --help)", exc, module.NAME)
        return exit_code(exc)
    except (MrczioError, OSError) as exc:
        log.error(cli_message(exc))
        return exit_code(exc)
    return code


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at devnull so the exit flush cannot fail again
    (as the Python documentation on SIGPIPE recommends)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (e.g. under pytest)
        pass


if __name__ == "__main__":
    sys.exit(main())
