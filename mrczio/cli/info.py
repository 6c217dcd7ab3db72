"""``mrczio info``: what a file holds (format, shape, header, codec, ratio)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import numpy as np

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
    """What ``mrczio info`` reports, as plain data."""
    from mrczio.header import header_summary

    with api.open(path) as reader:
        info: dict[str, Any] = {
            "path": path,
            "format": reader.format_name,
            "shape": list(reader.shape),
            "frames": len(reader),
            "dtype": str(reader.dtype),
            "voxel_size": list(reader.voxel_size),
            "file_bytes": os.path.getsize(path),
            "metadata_keys": sorted(reader.metadata),
            "extended_header": {
                "exttyp": reader.exttyp.decode("latin-1"),
                "bytes": len(reader.extended_header),
            },
        }
        if reader.header is not None:
            info["header"] = header_summary(reader.header)
        chunk_info = getattr(reader, "chunk_info", None)
        if chunk_info is not None and len(reader):
            info["first_chunk"] = chunk_info(0)
            raw = len(reader) * int(np.prod(reader.frame_shape)) * reader.dtype.itemsize
            info["compression_ratio"] = raw / max(sum(c for _, c in reader.chunk_spans()), 1)  # type: ignore[attr-defined]
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
