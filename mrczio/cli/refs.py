"""``mrczio refs``: kerchunk/zarr references so stock zarr + fsspec read a file's frames."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "refs"
HELP = "write zarr (kerchunk) references for an MRCZ or MRC file"
DESCRIPTION = """\
Describe FILE (a path or URL) as a zarr v2 array with one chunk per frame, each chunk a
[url, offset, length] pointer into FILE, so zarr + fsspec + numcodecs read its frames
without mrczio, one range request per frame. blosc2 chunks, other codecs and 4-bit
(packed) files cannot be expressed and are refused. See docs/lazy-and-remote.md.
"""
EPILOG = """\
examples:
  mrczio refs movie.mrcz > movie.json
  mrczio refs movie.mrcz -o movie.json --url https://example.org/data/movie.mrcz
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="MRCZ or MRC file, or its URL")
    parser.add_argument("-o", "--output", metavar="OUT.json", help="write here (default: stdout)")
    parser.add_argument("--url", help="URL the references point to (default: FILE, made absolute)")


def run(args: argparse.Namespace) -> int:
    from mrczio.refs import references, write_references

    if args.output:
        write_references(args.file, args.output, url=args.url)
    else:
        json.dump(references(args.file, url=args.url), sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0
