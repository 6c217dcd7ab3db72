"""``mrczio convert``: any registered format to any other, lossless or refused."""

from __future__ import annotations

import argparse

from mrczio.cli import transcode

NAME = "convert"
HELP = "convert files between any two registered formats"
DESCRIPTION = """\
Copy each input into another format (mrc, mrcz, tiff, ...), frame by frame.

There is no default OUT: give -o OUT (one input; the format follows OUT's extension
unless --format), -o DIR/ with --format NAME (every output in DIR), or --format NAME
alone (each output beside its input, with that format's extension). A conversion is
lossless or refused; --clip rounds and clips values the target cannot hold. Inputs
are never overwritten and are kept unless --rm.
"""
EPILOG = """\
examples:
  mrczio convert movie.mrcz -o movie.tif
  mrczio convert *.mrcz --format tiff          # NAME.tif beside each input
  mrczio convert *.mrc -o out/ --format mrc --packed4bit
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    transcode.add_arguments(parser, with_format=True, with_codec=True, with_tiff=True, with_packing=True)


def run(args: argparse.Namespace) -> int:
    return transcode.run(args, NAME, None)
