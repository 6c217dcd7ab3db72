"""``mrczio info``: what a file holds (format, shape, header, codec, ratio)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from mrczio import api
from mrczio.cli.messages import cli_message
from mrczio.cli.options import add_json_option
from mrczio.cli.output import emit_json, log
from mrczio.errors import MrczioError

NAME = "info"
HELP = "describe files"
DESCRIPTION = """\
Describe each file: format, shape, dtype, voxel size, metadata keys, extended header,
the MRC header fields, and for MRCZ the first chunk's codec and the compression ratio.
Unreadable files are reported and the others still described (exit 1 at the end).
"""
EPILOG = """\
examples:
  mrczio info movie.mrcz
  mrczio info --json *.mrc *.mrcz              # one JSON object per line
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE")
    add_json_option(parser, "one object per file")


def describe(path: str) -> dict[str, Any]:
    """What ``mrczio info`` reports, as plain data: the format's own description of the
    file (:meth:`mrczio.StackReader.describe`) plus its size on disk."""
    with api.open(path) as reader:
        info = reader.describe()
    info["file_bytes"] = os.path.getsize(path)
    return info


def _print_info(info: dict[str, Any]) -> None:
    for key, value in info.items():
        if key == "header":
            print("header:")
            for name, field in value.items():
                print(f"  {name:<10} {field}")
        else:
            print(f"{key:<16} {value}")


def run(args: argparse.Namespace) -> int:
    status = 0
    for index, path in enumerate(args.files):
        try:
            info = describe(path)
        except (MrczioError, OSError) as exc:
            status = 1
            message = cli_message(exc)
            log.error(message)
            if args.json:
                emit_json({"path": path, "error": message})
            continue
        if args.json:
            emit_json({**info, "error": None})
        else:
            if index:
                print()
            _print_info(info)
        sys.stdout.flush()
    return status
