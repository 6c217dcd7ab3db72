"""Batch options of compress, decompress and convert: run the files on a cluster.

``--scheduler ADDRESS``, ``--cluster local:N|slurm|processes:N|threads:N``,
``--retries``, ``--report FILE`` and ``--verify`` (and the ``--slurm-*`` options) send
the planned jobs to :func:`mrczio.batch.run_batch` on the chosen executor instead of
converting them one after the other in this process.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Sequence
from typing import Any, Protocol

from mrczio.cli.messages import UsageError

BATCH_FLAGS = ("scheduler", "cluster", "retries", "report", "verify", "print_job_script")
SLURM_FLAGS: dict[str, type] = {
    "queue": str, "account": str, "cores": int, "memory": str, "processes": int, "walltime": str,
    "jobs": int, "python": str, "local_directory": str, "log_directory": str,
}  # fmt: skip
WRITE_OPTIONS = ("codec", "level", "filter", "blocksize", "threads", "chunk_format",
                 "metadata_format", "compression", "packed4bit", "dtype")  # fmt: skip


class PlannedJob(Protocol):
    """What the conversion commands plan: one input and its output."""

    @property
    def source(self) -> str: ...

    @property
    def output(self) -> str: ...


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the batch group (any of its options turns the command into a batch)."""
    group = parser.add_argument_group("batch on a cluster (any of these runs the files as a batch)")
    group.add_argument("--scheduler", metavar="ADDRESS", help="address of a running dask scheduler")
    group.add_argument("--cluster", metavar="KIND",
                       help="local:N (dask workers), slurm (dask-jobqueue), processes:N or threads:N")  # fmt: skip
    group.add_argument("--retries", type=int,
                       help="extra attempts after a transient failure (default 2)")  # fmt: skip
    group.add_argument("--report", metavar="FILE", help="append one JSON line per file to FILE")
    group.add_argument("--verify", action="store_true",
                       help="decode every output and compare it with its input")  # fmt: skip
    group.add_argument("--cluster-config", metavar="FILE", help="TOML file with a [slurm] table")
    group.add_argument("--print-job-script", action="store_true",
                       help="print the SLURM job script the options give, and exit")  # fmt: skip
    for name, kind in SLURM_FLAGS.items():
        group.add_argument(f"--slurm-{name.replace('_', '-')}", type=kind, dest=f"slurm_{name}",
                           metavar=name.upper(), help=f"SLURM job {name} (see docs/facility.md)")  # fmt: skip
    group.add_argument("--slurm-directive", action="append", dest="slurm_job_extra_directives",
                       metavar="LINE", help="extra #SBATCH option, e.g. --gres=gpu:1 (repeatable)")  # fmt: skip
    group.add_argument("--slurm-prologue", action="append", dest="slurm_job_script_prologue",
                       metavar="LINE", help="shell line before the worker starts (repeatable)")  # fmt: skip


def requested(args: argparse.Namespace) -> bool:
    """Whether any batch option was given."""
    return any(getattr(args, flag, None) not in (None, False) for flag in BATCH_FLAGS)


def slurm_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``[slurm]`` table of ``--cluster-config``, overridden by ``--slurm-*`` flags."""
    options: dict[str, Any] = {}
    if args.cluster_config:
        try:
            with open(args.cluster_config, "rb") as handle:
                options.update(tomllib.load(handle).get("slurm", {}))
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"--cluster-config {args.cluster_config}: not valid TOML: {exc}") from None
    prefix = "slurm_"
    given = {k[len(prefix) :]: v for k, v in vars(args).items() if k.startswith(prefix)}
    options.update({k: v for k, v in given.items() if v is not None})
    return options


def run(args: argparse.Namespace, command: str, target: str | None, jobs: Sequence[PlannedJob]) -> int:
    """Run the planned jobs as a batch; exit 0 if every file succeeded, else 1."""
    from mrczio.batch import BatchJob, run_batch
    from mrczio.cli.options import progress_wanted
    from mrczio.cli.output import emit_json, log
    from mrczio.cluster import open_executor, slurm_job_script
    from mrczio.progress import Progress

    slurm = slurm_options(args)
    if args.print_job_script:
        print(slurm_job_script(slurm))
        return 0
    if getattr(args, "remove", False):
        raise UsageError("--rm is not available in batch mode; use --verify, or mrczio watch --delete-source")
    options = {k: getattr(args, k) for k in WRITE_OPTIONS if getattr(args, k, None) is not None}
    options.update({"clip": True} if getattr(args, "clip", False) else {})
    batch = [BatchJob(job.source, job.output, format=target, options=options,
                      overwrite=args.overwrite, verify=args.verify) for job in jobs]  # fmt: skip
    for folder in sorted({os.path.dirname(job.output) for job in batch} - {""}):
        os.makedirs(folder, exist_ok=True)
    retries = 2 if args.retries is None else args.retries
    with (
        open_executor(scheduler=args.scheduler, cluster=args.cluster, slurm=slurm) as executor,
        Progress(len(batch), f"{command} {len(batch)} files", enabled=progress_wanted(args)) as bar,
    ):

        def show(report: Any) -> None:
            bar(1)
            if args.json:
                emit_json(report.as_dict())

        results = run_batch(batch, executor, retries=retries, report=args.report, on_result=show)
    failed = [r for r in results if r.status != "ok"]
    log.info(
        "%s: %d of %d files done, %d failed",
        command,
        len(results) - len(failed),
        len(results),
        len(failed),
    )
    sys.stdout.flush()
    return 1 if failed else 0
