"""The ``mrczio`` command line.

Exit codes: 0 success, 1 failure (bad input, failed validation), 2 usage error.
Progress bars go to stderr and only when it is a terminal; machine-readable output
(``--json``) goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mrczio import api
from mrczio.conversion import convert
from mrczio.errors import MrczioError
from mrczio.progress import Progress
from mrczio.registry import NameTable, get_registry

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


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


def _add_write_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--format", help="output format (default: from the extension)")
    group.add_argument("-c", "--codec", help="MRCZ codec: zstd, lz4, lz4hc, zlib, blosclz, none")
    group.add_argument("-l", "--level", type=int, help="compression level 0-9 (default 1)")
    group.add_argument("--filter", choices=("auto", "bitshuffle", "shuffle", "none"), help="shuffle filter")
    group.add_argument("-B", "--blocksize", type=parse_size, help="blosc block size, e.g. 256K, 1M")
    group.add_argument("-j", "--threads", type=int, help="compression threads (default: all CPUs)")
    group.add_argument("--chunk-format", choices=("blosc1", "blosc2"), help="chunk format (default blosc1)")
    group.add_argument("--metadata-format", help="metadata serializer (json, msgpack)")
    group.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    group.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="show a progress bar (default: when stderr is a terminal)")  # fmt: skip


def _write_options(args: argparse.Namespace) -> dict[str, Any]:
    names = ("codec", "level", "filter", "blocksize", "threads", "chunk_format", "metadata_format")
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _add_conversion_options(parser: argparse.ArgumentParser) -> None:
    """Options of compress, decompress and convert beyond the common write options."""
    group = parser.add_argument_group("conversion")
    group.add_argument("-o", "--output-dir", help="write every input into this folder (batch mode)")
    group.add_argument("--compression", help="TIFF compression: lzw (default), deflate, zstd, none")
    group.add_argument("--packed4bit", nargs="?", const=True, choices=("serialem", "standard"),
                       help="4-bit output: MRC mode 101; TIFF serialem (default) or standard")  # fmt: skip
    group.add_argument("--dtype", help="cast to this dtype (refused if any value would change, see --clip)")
    group.add_argument("--clip", action="store_true", help="round and clip values the output cannot hold")


def _conversion_options(args: argparse.Namespace) -> dict[str, Any]:
    options = {n: getattr(args, n) for n in ("compression", "packed4bit", "dtype") if getattr(args, n) is not None}
    return {**options, "clip": True} if args.clip else options


def _pairs(args: argparse.Namespace, default_ext: str | None) -> list[tuple[str, str]]:
    """(input, output) pairs: ``IN [OUT]``, or ``IN... -o DIR`` in batch mode."""
    from mrczio.conversion import batch_targets

    if args.output_dir:
        if args.format is None:
            raise MrczioError("batch conversion (-o DIR) needs --format")
        target = get_registry().format(args.format)
        return list(zip(args.inputs, batch_targets(args.inputs, args.output_dir, target), strict=True))
    if len(args.inputs) > 2:
        raise MrczioError("several inputs need an output folder: -o DIR")
    source = args.inputs[0]
    output = args.inputs[1] if len(args.inputs) == 2 else None
    if output is None and default_ext is None:
        raise MrczioError("convert needs an output path (IN OUT) or an output folder (-o DIR)")
    return [(source, output or os.path.splitext(source)[0] + (default_ext or ""))]


def _convert(args: argparse.Namespace, default_ext: str | None, forced: dict[str, Any]) -> int:
    pairs = _pairs(args, default_ext)
    options = {**_write_options(args), **_conversion_options(args), **forced}
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
    total = 0
    for source, _ in pairs:
        with api.open(source) as reader:
            total += len(reader)
    label = os.path.basename(pairs[0][0]) if len(pairs) == 1 else f"{len(pairs)} files"
    with Progress(total, label, enabled=args.progress) as bar:
        reports = [
            convert(source, output, format=args.format, overwrite=args.overwrite, progress=bar, **options)
            for source, output in pairs
        ]
    for (source, output), report in zip(pairs, reports, strict=True):
        changed = f"; {report.changed_pixels:,} pixels changed (--clip)" if report.changed_pixels else ""
        print(f"{source} -> {output} ({os.path.getsize(source):,} -> {os.path.getsize(output):,} bytes{changed})")
    return EXIT_OK


def cmd_convert(args: argparse.Namespace) -> int:
    return _convert(args, None, {})


def cmd_compress(args: argparse.Namespace) -> int:
    if args.format is None:
        args.format = "mrcz"
    return _convert(args, ".mrcz", {})


def cmd_decompress(args: argparse.Namespace) -> int:
    if args.format is None:
        args.format = "mrc"
    return _convert(args, ".mrc", {})


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
            "extended_header": {"exttyp": reader.exttyp.decode("latin-1"), "bytes": len(reader.extended_header)},
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


def cmd_info(args: argparse.Namespace) -> int:
    infos = [describe(path) for path in args.files]
    if args.json:
        json.dump(infos if len(infos) > 1 else infos[0], sys.stdout, indent=2, default=str)
        print()
    else:
        for info in infos:
            _print_info(info)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from mrczio.validate import validate

    status = EXIT_OK
    for path in args.files:
        findings = validate(path)
        errors = [f for f in findings if f.severity == "error"]
        for finding in findings:
            print(f"{path}: {finding.severity}: [{finding.code}] {finding.message}")
        if errors:
            status = EXIT_FAILURE
        elif not findings:
            print(f"{path}: valid")
    return status


def cmd_plugins(args: argparse.Namespace) -> int:
    registry = get_registry()
    tables: dict[str, NameTable[Any]] = {
        "formats": registry.formats, "pixel modes": registry.modes, "codecs": registry.codecs,
        "serializers": registry.serializers, "filters": registry.filters,
    }  # fmt: skip
    if args.json:
        out = {kind: {str(e.key): e.plugin for e in table.entries()} for kind, table in tables.items()}
        out["plugins"] = {r.name: f"{r.distribution} {r.version}" for r in registry.records}
        out["failed"] = {f.name: f.error for f in registry.failures}
        json.dump(out, sys.stdout, indent=2)
        print()
        return EXIT_OK
    print("plugins:")
    for record in registry.records:
        print(f"  {record.name:<12} {record.distribution} {record.version}  ({record.value})")
    for failure in registry.failures:
        print(f"  {failure.name:<12} FAILED ({failure.distribution}): {failure.error}")
    for kind, table in tables.items():
        print(f"{kind}: " + ", ".join(f"{e.key} [{e.plugin}]" for e in table.entries()))
    return EXIT_OK


def _correction_params(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    params: dict[str, dict[str, Any]] = {"gain": {}, "outliers": {}}
    if args.gain:
        params["gain"]["gain"] = api.imread(args.gain).astype(np.float32)
    if args.dark:
        params["gain"]["dark"] = api.imread(args.dark).astype(np.float32)
    if args.dose_rate is not None:
        params["gain"]["dose_rate"] = args.dose_rate
    if args.outlier_mode:
        params["outliers"]["mode"] = args.outlier_mode
    return params


def cmd_correct(args: argparse.Namespace) -> int:
    from mrczio.correct import correct_files

    names = [n.strip() for n in args.filters.split(",") if n.strip()]
    os.makedirs(args.output_dir, exist_ok=True)
    with Progress(len(args.inputs), "correct", enabled=args.progress) as bar:
        reports = correct_files(
            args.inputs, args.output_dir, names, params=_correction_params(args),
            koma_radius=args.koma_radius, koma_mode=args.koma_mode, suffix=args.suffix,
            overwrite=args.overwrite, progress=bar, **_write_options(args),
        )  # fmt: skip
    for report in reports:
        print(f"{report['source']} -> {report['output']}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from mrczio.demo import format_rows, run_demo

    shape = (args.size, args.size)
    print(f"Synthetic counting movie: {args.frames} frames of {shape[0]}x{shape[1]} uint8, "
          f"Poisson dose {args.dose} e-/pixel/frame")  # fmt: skip
    rows = run_demo(args.frames, shape, args.dose, directory=args.dir)
    print(format_rows(rows, args.frames * shape[0] * shape[1]))
    return EXIT_OK if all(r.identical for r in rows) else EXIT_FAILURE


def cmd_bench(args: argparse.Namespace) -> int:
    """Run benchmarks/run.py from the source tree (benchmarks/ is not in the wheel)."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isfile(os.path.join(root, "benchmarks", "run.py")):
        print("mrczio bench: benchmarks/ is not installed with the wheel; in a source checkout run "
              "`python -m benchmarks.run --quick` (or `pip install -e .` there)", file=sys.stderr)  # fmt: skip
        return EXIT_FAILURE
    command = [sys.executable, "-m", "benchmarks.run", "--full" if args.full else "--quick"]
    command += (["--out", args.out] if args.out else []) + (["--docs"] if args.docs else [])
    return subprocess.run(command, cwd=root, check=False).returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mrczio", description="Fast, honest EM movie I/O (MRCZ, MRC, ...)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: list[tuple[str, Callable[[argparse.Namespace], int], str]] = [
        ("info", cmd_info, "describe files"),
        ("compress", cmd_compress, "write an MRCZ copy of a file"),
        ("decompress", cmd_decompress, "write a plain MRC copy of a file"),
        ("convert", cmd_convert, "convert between any two registered formats"),
        ("validate", cmd_validate, "check files against MRC2014 and MRCZ rules"),
        ("plugins", cmd_plugins, "list installed plugins and what they provide"),
        ("correct", cmd_correct, "apply detector corrections (gain, outliers, koma) to files"),
        ("demo", cmd_demo, "write a synthetic counting movie in each codec and compare"),
        ("bench", cmd_bench, "run the benchmark suite (source checkout only; see docs/benchmarks.md)"),
    ]
    parsers = {}
    for name, handler, help_text in commands:
        parsers[name] = sub.add_parser(name, help=help_text, description=help_text)
        parsers[name].set_defaults(handler=handler)
    parsers["info"].add_argument("files", nargs="+")
    parsers["info"].add_argument("--json", action="store_true", help="print JSON")
    parsers["validate"].add_argument("files", nargs="+")
    parsers["plugins"].add_argument("--json", action="store_true", help="print JSON")
    for name in ("compress", "decompress", "convert"):
        parsers[name].add_argument("inputs", nargs="+", metavar="IN", help="input file(s); IN OUT for one file")
        _add_write_options(parsers[name])
        _add_conversion_options(parsers[name])
    correct = parsers["correct"]
    correct.add_argument("inputs", nargs="+", help="stacks, in acquisition order for koma")
    correct.add_argument("-o", "--output-dir", required=True, help="folder for the corrected stacks")
    correct.add_argument("--filters", default="gain,outliers", help="filters in order (default gain,outliers)")
    correct.add_argument("--gain", help="gain reference file (else the one stored in each file's metadata)")
    correct.add_argument("--dark", help="dark reference file")
    correct.add_argument("--dose-rate", type=float, help="dose rate (e-/pixel/s) for the gamma of eq. 11")
    correct.add_argument("--outlier-mode", choices=("default", "paper"))
    correct.add_argument("--koma-radius", type=int, default=2, help="KOMA radius a (default 2)")
    correct.add_argument("--koma-mode", choices=("multiply", "subtract"), default="multiply")
    correct.add_argument("--suffix", default=".mrcz", help="output extension (default .mrcz)")
    _add_write_options(correct)
    demo = parsers["demo"]
    demo.add_argument("--frames", type=int, default=24)
    demo.add_argument("--size", type=int, default=1024, help="frame width and height")
    demo.add_argument("--dose", type=float, default=1.0)
    demo.add_argument("--dir", help="scratch folder (default: system temp)")
    bench = parsers["bench"]
    bench.add_argument("--full", action="store_true", help="K2-size data, three repetitions (default: quick)")
    bench.add_argument("--out", help="results folder (default: a new temporary folder)")
    bench.add_argument("--docs", action="store_true", help="rewrite docs/benchmarks.md and its plots")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except MrczioError as exc:
        print(f"mrczio: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        print(f"mrczio: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
