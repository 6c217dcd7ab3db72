"""``mrczio verify``: check every checksum and decode every frame; exit 1 on damage."""

from __future__ import annotations

import argparse

from mrczio.cli.options import add_json_option
from mrczio.cli.output import emit_json

NAME = "verify"
HELP = "check checksums and decode every frame"
DESCRIPTION = """\
Check each file's stored checksums (header, metadata and every frame; files mrczio
wrote carry CRC-32C checksums) and decode every frame. Files without checksums are
reported as such, with whether every frame decodes. Exits 1 if any file is damaged.
"""
EPILOG = """\
examples:
  mrczio verify movie.mrcz
  mrczio verify --json *.mrcz                  # one JSON object per line:
      {"path", "ok", "checksums", "frames", "frames_ok", "damaged_frames", "problems"}
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE")
    add_json_option(parser, "one result per file")


def run(args: argparse.Namespace) -> int:
    from mrczio.integrity import verify

    status = 0
    for path in args.files:
        report = verify(path)
        status = status if report.ok else 1
        if args.json:
            emit_json({
                "path": report.path, "ok": report.ok, "checksums": report.checksums,
                "frames": report.frames, "frames_ok": report.frames_ok,
                "damaged_frames": report.damaged_frames, "problems": report.problems,
            })  # fmt: skip
        else:
            print(report.summary())
    return status
