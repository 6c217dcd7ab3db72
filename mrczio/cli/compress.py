"""``mrczio compress``: MRCZ copies of files, like gzip."""

from __future__ import annotations

import argparse

from mrczio.cli import transcode

NAME = "compress"
HELP = "write an MRCZ copy of each file"
DESCRIPTION = """\
Write an MRCZ copy (one blosc chunk per frame) of each input, in any readable format.

OUT defaults to IN with the extension .mrcz, beside IN (movie.mrc -> movie.mrcz).
With -o DIR/ every output goes into DIR under the same name; -o FILE names the
output of a single input. Inputs are never overwritten and are kept unless --rm.
"""
EPILOG = """\
examples:
  mrczio compress movie.mrc                    # writes movie.mrcz
  mrczio compress *.mrc -o compressed/         # compressed/NAME.mrcz for each
  mrczio compress movie.mrc -o m.mrcz -c lz4 -l 5 --rm
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    transcode.add_arguments(parser, with_format=False, with_codec=True, with_tiff=False, with_packing=False)


def run(args: argparse.Namespace) -> int:
    return transcode.run(args, NAME, "mrcz")
