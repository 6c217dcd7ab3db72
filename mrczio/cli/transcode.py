"""compress, decompress and convert: many inputs, one output each, like gzip and zstd.

Each input gets its own output: beside it (``IN`` with the target's extension) or in
the folder ``-o DIR``; ``-o FILE`` names the output of a single input. The whole plan
is checked before anything is written: an input is never an output (not even with
``--overwrite``), two inputs never share an output. Inputs stay (``--keep``) unless
``--rm`` is given, and then go only after their output was read back and compared.
A failing file is reported and the others still run (exit 1 at the end).
"""

from __future__ import annotations

import argparse
import errno
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from mrczio import api
from mrczio.cli import cluster_options
from mrczio.cli.messages import USAGE_ERRORS, WRITTEN, UsageError, cli_message
from mrczio.cli.options import add_json_option, add_write_options, progress_wanted, write_options
from mrczio.cli.output import emit_json, human_bytes, log
from mrczio.contracts import FileFormat
from mrczio.conversion import convert
from mrczio.errors import MissingFileError, MrczioError, OutputExistsError, UnknownFormatError
from mrczio.progress import Progress
from mrczio.registry import Registry, get_registry
from mrczio.verification import verify_output

EXIT_OK, EXIT_FAILURE = 0, 1


class VerificationError(Exception):
    """The output read back differs from its input, so ``--rm`` keeps the input."""


@dataclass(frozen=True)
class Job:
    """One input and the output it becomes."""

    source: str
    output: str


def add_arguments(
    parser: argparse.ArgumentParser,
    *,
    with_format: bool,
    with_codec: bool,
    with_tiff: bool,
    with_packing: bool,
) -> None:
    """Arguments of compress, decompress and convert (each takes the options that apply)."""
    parser.add_argument("inputs", nargs="+", metavar="IN", help="input files (any readable format)")
    parser.add_argument(
        "-o", "--output", metavar="OUT",
        help="output file (one input only), or a folder: an existing one, or a name ending "
        "in '/', or any name without a file extension when there are several inputs",
    )  # fmt: skip
    source = parser.add_argument_group("inputs").add_mutually_exclusive_group()
    source.add_argument("-k", "--keep", dest="remove", action="store_false", default=False,
                        help="keep the inputs (default)")  # fmt: skip
    source.add_argument("--rm", dest="remove", action="store_true",
                        help="remove each input once its output was read back and found identical")  # fmt: skip
    add_json_option(parser, "one result per file")
    add_write_options(parser, with_format=with_format, with_codec=with_codec)
    group = parser.add_argument_group("conversion")
    if with_tiff:
        group.add_argument("--compression", help="TIFF compression: lzw (default), deflate, zstd, none")
    if with_packing:
        group.add_argument("--packed4bit", nargs="?", const=True, choices=("serialem", "standard"),
                           help="4-bit output: MRC mode 101; TIFF serialem (default) or standard")  # fmt: skip
    group.add_argument("--dtype", help="cast to this dtype (refused if any value would change, see --clip)")
    group.add_argument("--clip", action="store_true", help="round and clip values the output cannot hold")
    cluster_options.add_arguments(parser)


def conversion_options(args: argparse.Namespace) -> dict[str, Any]:
    names = ("compression", "packed4bit", "dtype")
    options = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    return {**options, "clip": True} if args.clip else options


# -- the plan ----------------------------------------------------------------------


def plan(args: argparse.Namespace, format_name: str | None, registry: Registry) -> list[Job]:
    """Every (input, output) pair, or :class:`UsageError` before anything is written."""
    inputs: list[str] = list(args.inputs)
    target = registry.format(format_name) if format_name else None
    if args.remove and (args.clip or args.dtype):
        flag = "--clip" if args.clip else "--dtype"
        raise UsageError(f"--rm removes only inputs copied exactly; it cannot be combined with {flag}")
    if args.output is None:
        if target is None:
            raise UsageError(
                "no output given: use -o OUT (one input), -o DIR/ (a folder), or --format NAME "
                "(each output beside its input)"
            )
        jobs = [Job(s, _beside(s, target)) for s in inputs]
    elif _is_folder(args.output, len(inputs), registry):
        if target is None:
            raise UsageError(f"-o {args.output} is a folder: name the output format with --format NAME")
        jobs = [Job(s, _in_folder(s, args.output, target)) for s in inputs]
    elif len(inputs) > 1:
        raise UsageError(
            f"-o {args.output} names one file but {len(inputs)} inputs were given; "
            f"give a folder (-o DIR/) or leave -o out to write each output beside its input"
        )
    else:
        _check_extension(args.output, target, registry)
        jobs = [Job(inputs[0], args.output)]
    _check_no_clobbering(jobs)
    return jobs


def _is_folder(output: str, n_inputs: int, registry: Registry) -> bool:
    if os.path.isdir(output) or output.endswith(("/", os.sep)):
        return True
    if n_inputs == 1 or os.path.lexists(output):
        return False
    try:
        registry.format_for_extension(output)
    except UnknownFormatError:
        return True  # several inputs and no file extension: a folder to create
    return False


def _output_name(source: str, target: FileFormat, *, keep_claimed: bool) -> str:
    stem, ext = os.path.splitext(os.path.basename(source))
    claimed = ext.lower() in (e.lower() for e in target.extensions)
    return stem + (ext if keep_claimed and claimed else target.extensions[0])


def _beside(source: str, target: FileFormat) -> str:
    return os.path.join(os.path.dirname(source), _output_name(source, target, keep_claimed=False))


def _in_folder(source: str, folder: str, target: FileFormat) -> str:
    return os.path.join(folder, _output_name(source, target, keep_claimed=True))


def _check_extension(output: str, target: FileFormat | None, registry: Registry) -> None:
    if target is not None:
        return
    try:
        registry.format_for_extension(output)
    except UnknownFormatError:
        known = ", ".join(e.key for e in registry.formats.entries())
        raise UsageError(
            f"-o {output}: no installed format writes this extension; name one with --format NAME ({known})"
        ) from None


def _identity(path: str) -> tuple[int, int] | str:
    """What makes two paths the same file: device and inode if it exists, else the real path."""
    try:
        stat = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (stat.st_dev, stat.st_ino)


def _check_no_clobbering(jobs: list[Job]) -> None:
    inputs = {_identity(job.source): job.source for job in jobs}
    outputs: dict[tuple[int, int] | str, str] = {}
    for job in jobs:
        key = _identity(job.output)
        if key in inputs:
            raise UsageError(
                f"{job.output}: would be written from {job.source} but is an input; inputs are "
                "never overwritten (choose another name with -o)"
            )
        if key in outputs:
            raise UsageError(f"{outputs[key]} and {job.source} would both be written to {job.output}")
        outputs[key] = job.source


# -- running -------------------------------------------------------------------------


def run(args: argparse.Namespace, command: str, format_name: str | None) -> int:
    """Run compress, decompress or convert; exit 0 if every file succeeded, else 1."""
    registry = get_registry()
    target = format_name or getattr(args, "format", None)
    jobs = plan(args, target, registry)
    if cluster_options.requested(args):
        return cluster_options.run(args, command, target, jobs)
    for folder in sorted({os.path.dirname(job.output) for job in jobs} - {""}):
        if args.output is not None and not os.path.isdir(folder) and folder == _folder_of(args.output):
            os.makedirs(folder)  # -o DIR/ (or a new folder for several inputs)
    options = {**write_options(args), **conversion_options(args)}
    log.debug("options: %s", options or "defaults")
    results = []
    started = time.perf_counter()
    for job in jobs:
        record = _run_one(job, args, command, target, options)
        results.append(record)
        if args.json:
            emit_json(record)
        _log_result(record)
    _log_summary(command, results, time.perf_counter() - started)
    return EXIT_OK if all(r["error"] is None for r in results) else EXIT_FAILURE


def _run_one(
    job: Job, args: argparse.Namespace, command: str, target: str | None, options: dict[str, Any]
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "command": command, "input": job.source, "output": job.output, "format": None,
        "error": None, "frames": None, "bytes_in": None, "bytes_out": None, "ratio": None,
        "seconds": None, "changed_pixels": None, "verified": False, "input_removed": False,
    }  # fmt: skip
    started = time.perf_counter()
    try:
        _convert(job, args, target, options, record)
    except BrokenPipeError:
        raise
    except USAGE_ERRORS:
        raise
    except VerificationError as exc:
        record["error"] = f"{exc}; {job.source} kept"
        log.error(record["error"])
    except (MrczioError, OSError) as exc:
        record["error"] = cli_message(exc) + _output_hint(job, exc)
        log.error(record["error"])
    record["seconds"] = round(time.perf_counter() - started, 6)
    return record


def _output_hint(job: Job, exc: BaseException) -> str:
    """A missing input may be an output name typed the old way (``compress a.mrc b.mrcz``)."""
    if isinstance(exc, FileNotFoundError) and exc.filename == job.source:
        return f" (to name an output, use -o {job.source})"
    return ""


def _convert(
    job: Job,
    args: argparse.Namespace,
    target: str | None,
    options: dict[str, Any],
    record: dict[str, Any],
) -> None:
    _check_output_place(job.output, overwrite=args.overwrite)
    with api.open(job.source) as reader:
        frames, frame_bytes = len(reader), int(np.prod(reader.frame_shape)) * reader.dtype.itemsize
    bar = Progress(frames, os.path.basename(job.source), enabled=progress_wanted(args),
                   step_bytes=frame_bytes, clear=True)  # fmt: skip
    with bar:
        report = convert(
            job.source, job.output, format=target, overwrite=args.overwrite, progress=bar, **options
        )
    WRITTEN.add(job.output)
    record.update(
        format=report.format, frames=report.frames, changed_pixels=report.changed_pixels,
        bytes_in=os.path.getsize(job.source), bytes_out=os.path.getsize(job.output),
    )  # fmt: skip
    record["ratio"] = round(record["bytes_in"] / max(record["bytes_out"], 1), 4)
    for note in report.notes:
        log.info("%s: %s", job.output, note)
    if args.remove:
        check = verify_output(job.source, job.output)
        if not check.ok:
            raise VerificationError(check.summary())
        record["verified"] = True
        os.unlink(job.source)
        record["input_removed"] = True


def _folder_of(output: str) -> str:
    return output.rstrip("/" + os.sep) or output


def _check_output_place(output: str, *, overwrite: bool) -> None:
    folder = os.path.dirname(output) or "."
    if not os.path.isdir(folder):
        raise MissingFileError(output, f"the folder {folder} does not exist", errno.ENOENT)
    if os.path.lexists(output) and not overwrite:
        raise OutputExistsError(f"{output}: already exists; add --overwrite to replace it")


def _log_result(record: dict[str, Any]) -> None:
    if record["error"] is not None:
        return
    removed = ", input removed" if record["input_removed"] else ""
    changed = f", {record['changed_pixels']:,} pixels changed (--clip)" if record["changed_pixels"] else ""
    log.info(
        "%s -> %s: %s -> %s (ratio %.2f), %.2f s%s%s", record["input"], record["output"],
        human_bytes(record["bytes_in"]), human_bytes(record["bytes_out"]), record["ratio"],
        record["seconds"], changed, removed,
    )  # fmt: skip


def _log_summary(command: str, results: list[dict[str, Any]], seconds: float) -> None:
    done = [r for r in results if r["error"] is None]
    failed = f"{len(results) - len(done)} failed" if len(done) < len(results) else ""
    if not done:
        log.info("%s: %s, nothing written, %.2f s", command, failed, seconds)
        return
    size_in = sum(r["bytes_in"] for r in done)
    size_out = sum(r["bytes_out"] for r in done)
    files = f"{len(done)} file{'s' if len(done) != 1 else ''}" + (f", {failed}" if failed else "")
    log.info(
        "%s: %s, %s -> %s (ratio %.2f), %.2f s", command, files,
        human_bytes(size_in), human_bytes(size_out), size_in / max(size_out, 1), seconds,
    )  # fmt: skip
