"""Options shared by several commands, and turning them into library keywords."""

from __future__ import annotations

import argparse
from typing import Any


def parse_size(text: str) -> int:
    """``"1M"`` -> 1048576, ``"128K"`` -> 131072, ``"4096"`` -> 4096."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 65536, 128K, 1M)") from None


def parse_codec_option(text: str) -> tuple[str, str]:
    """``"preset=9"`` -> ``("preset", "9")``; the codec converts and checks the value."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"not NAME=VALUE: {text!r}")
    return name.strip(), value.strip()


def common_parser() -> argparse.ArgumentParser:
    """``-q``/``-v``, accepted by every command (a parent parser)."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("messages")
    loud = group.add_mutually_exclusive_group()
    loud.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    loud.add_argument("-v", "--verbose", action="store_true", help="print details (options, checks)")
    return parser


def add_json_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--json", action="store_true",
        help=f"print {what} as JSON, one object per line (schema: docs/cli.md)",
    )  # fmt: skip


def add_progress_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="show a progress bar with MB/s and ETA (default: only when stderr is a terminal)",
    )  # fmt: skip


def add_write_options(parser: argparse.ArgumentParser, *, with_format: bool, with_codec: bool = True) -> None:
    """Output options of every command that writes files (codec options for MRCZ)."""
    group = parser.add_argument_group("output")
    if with_format:
        group.add_argument(
            "--format", help="output format: mrc, mrcz, tiff, ... (default: from -o's extension)"
        )
    if with_codec:
        group.add_argument(
            "-c", "--codec", help="MRCZ codec: zstd (default), lz4, lz4hc, zlib, blosclz, none"
        )
        group.add_argument("-l", "--level", type=int, help="compression level 0-9 (default 1)")
        group.add_argument(
            "--filter", choices=("auto", "bitshuffle", "shuffle", "none"), help="shuffle filter"
        )
        group.add_argument("-B", "--blocksize", type=parse_size, help="blosc block size, e.g. 256K, 1M")
        group.add_argument("-j", "--threads", type=int, help="compression threads (default: all CPUs)")
        group.add_argument(
            "--chunk-format", choices=("blosc1", "blosc2"), help="chunk format (default blosc1)"
        )
        group.add_argument(
            "-O", "--codec-option", action="append", type=parse_codec_option, metavar="NAME=VALUE",
            help="a parameter of the chosen codec (repeatable), e.g. --codec-option level=5; "
            "`mrczio plugins -v` lists each codec's parameters",
        )  # fmt: skip
    group.add_argument("--metadata-format", help="metadata serializer (json, msgpack)")
    group.add_argument(
        "--overwrite", action="store_true", help="replace existing output files (never an input)"
    )
    add_progress_option(group)


def write_options(args: argparse.Namespace) -> dict[str, Any]:
    """The write options given on the command line, as library keywords."""
    names = ("codec", "level", "filter", "blocksize", "threads", "chunk_format", "metadata_format")
    options = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    if getattr(args, "codec_option", None):
        options["codec_options"] = dict(args.codec_option)
    return options


def progress_wanted(args: argparse.Namespace) -> bool | None:
    """``--progress``/``--no-progress`` as given; ``-q`` turns the automatic bar off."""
    if args.progress is None and getattr(args, "quiet", False):
        return False
    return args.progress  # type: ignore[no-any-return]
