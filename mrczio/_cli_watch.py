"""Command-line wiring for facility-scale work: ``mrczio watch`` and the batch options
(``--scheduler``, ``--cluster``, ``--retries``, ``--report``, ``--verify``, ``--slurm-*``)
of ``compress``, ``decompress`` and ``convert``.

:func:`add_watch_parser` adds the ``watch`` command; :func:`add_batch_options` adds the
batch options to a conversion command and routes it to :func:`mrczio.batch.run_batch`
when any of them is given (otherwise the command runs as before).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import tomllib
from collections.abc import Callable
from typing import Any

from mrczio.errors import MrczioError, OptionError

Handler = Callable[[argparse.Namespace], int]
BATCH_FLAGS = ("scheduler", "cluster", "retries", "report", "verify", "print_job_script")
WRITE_OPTIONS = ("codec", "level", "filter", "blocksize", "threads", "chunk_format", "metadata_format",
                 "compression", "packed4bit", "dtype")  # fmt: skip
SLURM_FLAGS = {
    "queue": str, "account": str, "cores": int, "memory": str, "processes": int, "walltime": str,
    "jobs": int, "python": str, "local_directory": str, "log_directory": str,
}  # fmt: skip


def configure_logging(level: str) -> None:
    """Send mrczio's log records to stderr at ``level`` (once per process)."""
    logger = logging.getLogger("mrczio")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


# -- watch ---------------------------------------------------------------------------------


def add_watch_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``mrczio watch SRC DEST`` to an argparse sub-parser collection."""
    text = "compress movies as they are acquired: wait until complete, compress, verify, mirror"
    parser: argparse.ArgumentParser = subparsers.add_parser("watch", help=text, description=text)
    parser.add_argument(
        "source", nargs="?", metavar="SRC", help="folder the microscope writes into"
    )
    parser.add_argument(
        "dest", nargs="?", metavar="DEST", help="folder for the compressed mirror tree"
    )
    parser.add_argument("--config", help="TOML file with a [watch] table (flags override it)")
    parser.add_argument(
        "--quiet-seconds", type=float, help="size and mtime unchanged this long (default 10)"
    )
    parser.add_argument("--poll-seconds", type=float, help="seconds between scans (default 2)")
    parser.add_argument("--delete-source", action="store_true", default=None,
                        help="delete each movie once its verified output is on disk")  # fmt: skip
    parser.add_argument("--once", action="store_true", default=None,
                        help="process what is complete, then exit (for cron and tests)")  # fmt: skip
    parser.add_argument(
        "--retries", type=int, help="extra attempts after an I/O failure (default 2)"
    )
    parser.add_argument("--journal", help="journal path (default DEST/.mrczio-watch/journal.jsonl)")
    parser.add_argument("-c", "--codec", help="MRCZ codec (default zstd)")
    parser.add_argument("-l", "--level", type=int, help="compression level")
    parser.add_argument("-j", "--threads", type=int, help="compression threads")
    parser.add_argument(
        "--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR (default INFO)"
    )
    parser.add_argument("--status", action=argparse.BooleanOptionalAction, default=None,
                        help="status line on stderr (default: when stderr is a terminal)")  # fmt: skip
    parser.set_defaults(handler=cmd_watch)
    return parser


def cmd_watch(args: argparse.Namespace) -> int:
    from mrczio.watch import Watcher, load_config
    from mrczio.watch.status import StatusLine

    configure_logging(args.log_level)
    write = {
        k: getattr(args, k) for k in ("codec", "level", "threads") if getattr(args, k) is not None
    }
    overrides = {
        "source": args.source, "dest": args.dest, "quiet_seconds": args.quiet_seconds,
        "poll_seconds": args.poll_seconds, "delete_source": args.delete_source, "once": args.once,
        "retries": args.retries, "journal": args.journal,
    }  # fmt: skip
    config = load_config(args.config, overrides)
    config.write = {**config.write, **write}
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return Watcher(config, status=StatusLine(enabled=args.status), stop=stop).run()


# -- batch ---------------------------------------------------------------------------------


def add_batch_options(parser: argparse.ArgumentParser, *, default_format: str | None) -> None:
    """Add the batch options to a conversion command and wrap its handler."""
    group = parser.add_argument_group("batch on a cluster (any of these runs the files as a batch)")
    group.add_argument("--scheduler", metavar="ADDRESS", help="address of a running dask scheduler")
    group.add_argument(
        "--cluster", metavar="KIND", help="local:N (dask), slurm, processes:N or threads:N"
    )
    group.add_argument(
        "--retries", type=int, help="extra attempts after a transient failure (default 2)"
    )
    group.add_argument(
        "--report", metavar="FILE", help="append one JSON line per file here ('-': stdout)"
    )
    group.add_argument(
        "--verify", action="store_true", help="decode every output against its source"
    )
    group.add_argument("--cluster-config", metavar="FILE", help="TOML file with a [slurm] table")
    group.add_argument(
        "--print-job-script", action="store_true", help="print the SLURM job script and exit"
    )
    for name, kind in SLURM_FLAGS.items():
        group.add_argument(
            f"--slurm-{name.replace('_', '-')}", type=kind, dest=f"slurm_{name}", metavar="V"
        )
    group.add_argument("--slurm-directive", action="append", dest="slurm_job_extra_directives", metavar="V",
                       help="extra #SBATCH line, e.g. --slurm-directive=--gres=gpu:1 (repeatable)")  # fmt: skip
    group.add_argument("--slurm-prologue", action="append", dest="slurm_job_script_prologue", metavar="V",
                       help="shell line run before the worker starts (repeatable)")  # fmt: skip
    serial: Handler = parser.get_default("handler")

    def handler(args: argparse.Namespace) -> int:
        if any(getattr(args, flag) not in (None, False) for flag in BATCH_FLAGS):
            return cmd_batch(args, default_format)
        return serial(args)

    parser.set_defaults(handler=handler)


def slurm_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``[slurm]`` table of ``--cluster-config`` overridden by ``--slurm-*`` flags."""
    options: dict[str, Any] = {}
    if args.cluster_config:
        try:
            with open(args.cluster_config, "rb") as handle:
                options.update(tomllib.load(handle).get("slurm", {}))
        except tomllib.TOMLDecodeError as exc:
            raise OptionError(f"{args.cluster_config}: not valid TOML: {exc}") from None
    prefix = "slurm_"
    options.update(
        {
            k[len(prefix) :]: v
            for k, v in vars(args).items()
            if k.startswith(prefix) and v is not None
        }
    )
    return options


def _batch_pairs(args: argparse.Namespace, extension: str) -> list[tuple[str, str]]:
    from mrczio.batch import output_paths

    inputs: list[str] = list(args.inputs)
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
        return list(zip(inputs, output_paths(inputs, args.output_dir, extension), strict=True))
    if len(inputs) == 2:
        return [(inputs[0], inputs[1])]
    if len(inputs) > 2:
        raise MrczioError("several inputs need an output folder: -o DIR")
    return list(zip(inputs, output_paths(inputs, None, extension), strict=True))


def cmd_batch(args: argparse.Namespace, default_format: str | None) -> int:
    """Run a conversion command as a batch on the chosen executor."""
    from mrczio.batch import BatchJob, FileReport, run_batch
    from mrczio.cluster import open_executor, slurm_job_script
    from mrczio.progress import Progress
    from mrczio.registry import get_registry

    configure_logging("WARNING")
    slurm = slurm_options(args)
    if args.print_job_script:
        print(slurm_job_script(slurm))
        return 0
    name = args.format or default_format
    if name is None:
        raise MrczioError("batch conversion needs --format (or use compress / decompress)")
    target = get_registry().format(name)
    options = {k: getattr(args, k) for k in WRITE_OPTIONS if getattr(args, k, None) is not None}
    if getattr(args, "clip", False):
        options["clip"] = True
    jobs = [BatchJob(source, output, format=target.name, options=options, overwrite=args.overwrite,
                     verify=args.verify) for source, output in _batch_pairs(args, target.extensions[0])]  # fmt: skip
    report = sys.stdout if args.report == "-" else args.report
    retries = 2 if args.retries is None else args.retries
    with (
        open_executor(scheduler=args.scheduler, cluster=args.cluster, slurm=slurm) as executor,
        Progress(len(jobs), f"{len(jobs)} files", enabled=args.progress) as bar,
    ):
        results = run_batch(
            jobs, executor, retries=retries, report=report, on_result=lambda _: bar(1)
        )
    failed: list[FileReport] = [r for r in results if r.status != "ok"]
    if args.report != "-":
        for result in results:
            if result.status == "ok":
                print(
                    f"{result.input} -> {result.output} ({result.bytes_in:,} -> {result.bytes_out:,} bytes)"
                )
    for result in failed:
        print(f"mrczio: error: {result.input}: {result.error}", file=sys.stderr)
    return 1 if failed else 0
