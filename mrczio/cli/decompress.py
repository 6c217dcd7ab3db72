"""``mrczio decompress``: plain MRC copies of files, like gunzip."""

from __future__ import annotations

import argparse

from mrczio.cli import transcode

NAME = "decompress"
HELP = "write a plain MRC copy of each file"
DESCRIPTION = """\
Write a plain MRC2014 copy of each input (MRCZ, TIFF or any readable format).

OUT defaults to IN with the extension .mrc, beside IN (movie.mrcz -> movie.mrc).
With -o DIR/ every output goes into DIR under the same name; -o FILE names the
output of a single input. Inputs are never overwritten and are kept unless --rm.
"""
EPILOG = """\
examples:
  mrczio decompress movie.mrcz                 # writes movie.mrc
  mrczio decompress *.mrcz -o plain/           # plain/NAME.mrc for each
  mrczio decompress movie.mrcz -o back.mrc --rm
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    transcode.add_arguments(parser, with_format=False, with_codec=False, with_tiff=False, with_packing=True)


def run(args: argparse.Namespace) -> int:
    return transcode.run(args, NAME, "mrc")
