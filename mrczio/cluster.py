"""Executors for batch jobs: an existing dask scheduler, a local dask cluster, SLURM, or
a plain process/thread pool.

``--scheduler ADDRESS`` connects to a running ``dask.distributed`` scheduler.
``--cluster`` names what to start for the run:

- ``local:N`` (or ``local``): a dask ``LocalCluster`` of N single-threaded worker processes;
- ``slurm``: a dask-jobqueue ``SLURMCluster`` built from :func:`slurm_cluster_kwargs`
  and scaled to ``jobs`` batch jobs;
- ``processes:N`` / ``threads:N``: a ``concurrent.futures`` pool, no dask needed.

dask and dask-jobqueue are the optional extra ``mrczio[cluster]``; they are imported only
when a dask executor is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

from mrczio.errors import OptionError

#: Keys of a ``[slurm]`` table (and ``--slurm-*`` flags), passed to ``SLURMCluster``.
SLURM_KEYS = (
    "queue", "account", "cores", "memory", "processes", "walltime", "job_extra_directives",
    "job_script_prologue", "python", "local_directory", "log_directory", "job_name", "interface",
)  # fmt: skip
SLURM_DEFAULTS: dict[str, Any] = {
    "cores": 1,
    "memory": "4GB",
    "processes": 1,
    "walltime": "01:00:00",
}
POOL_KINDS = ("local", "processes", "threads")
#: The scheduler's HTTP server on a free port: never a clash (or a warning) on 8787.
SCHEDULER_OPTIONS: dict[str, Any] = {"dashboard_address": ":0"}


def parse_cluster(text: str) -> tuple[str, int]:
    """``"local:4"`` -> ("local", 4); ``"slurm"`` -> ("slurm", 0); ``"local"`` -> all CPUs."""
    kind, _, count = text.strip().partition(":")
    kind = kind.lower()
    if kind == "slurm" and not count:
        return kind, 0
    if kind not in POOL_KINDS:
        raise OptionError(f"unknown cluster {text!r}: use local:N, processes:N, threads:N or slurm")
    try:
        workers = int(count) if count else (os.cpu_count() or 1)
    except ValueError:
        raise OptionError(f"cluster {text!r}: the worker count must be an integer") from None
    if workers < 1:
        raise OptionError(f"cluster {text!r}: needs at least one worker")
    return kind, workers


def slurm_cluster_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``SLURMCluster`` from a ``[slurm]`` table or ``--slurm-*`` flags.

    Unknown keys are refused; ``jobs`` (how many batch jobs to start) is not a
    ``SLURMCluster`` argument and is left out (see :func:`slurm_jobs`).
    """
    unknown = sorted(set(options) - set(SLURM_KEYS) - {"jobs"})
    if unknown:
        raise OptionError(
            f"unknown SLURM option(s) {', '.join(unknown)}; known: {', '.join(SLURM_KEYS)}, jobs"
        )
    kwargs = {
        **SLURM_DEFAULTS,
        **{k: v for k, v in options.items() if k != "jobs" and v is not None},
    }
    for key in ("job_extra_directives", "job_script_prologue"):
        if key in kwargs:
            kwargs[key] = [str(item) for item in kwargs[key]]
    return kwargs


def slurm_jobs(options: Mapping[str, Any]) -> int:
    jobs = int(options.get("jobs") or 1)
    if jobs < 1:
        raise OptionError(f"SLURM jobs must be at least 1, got {jobs}")
    return jobs


def slurm_job_script(options: Mapping[str, Any]) -> str:
    """The batch script ``SLURMCluster`` would submit for ``options`` (no SLURM needed)."""
    from dask_jobqueue.slurm import SLURMCluster

    with SLURMCluster(scheduler_options=SCHEDULER_OPTIONS, **slurm_cluster_kwargs(options)) as cluster:
        return str(cluster.job_script())


@contextmanager
def open_executor(
    *,
    scheduler: str | None = None,
    cluster: str | None = None,
    slurm: Mapping[str, Any] | None = None,
) -> Iterator[Executor]:
    """An executor for the run, shut down (and any cluster closed) on exit.

    With neither ``scheduler`` nor ``cluster``: a single-worker process pool.
    """
    with ExitStack() as stack:
        if scheduler is not None:
            yield _dask_executor(stack, scheduler)
            return
        kind, workers = parse_cluster(cluster or "processes:1")
        if kind == "processes":
            yield stack.enter_context(ProcessPoolExecutor(workers))
        elif kind == "threads":
            yield stack.enter_context(ThreadPoolExecutor(workers))
        elif kind == "local":
            yield _dask_executor(stack, _local_cluster(stack, workers))
        else:
            yield _dask_executor(stack, _slurm_cluster(stack, slurm or {}))


def _local_cluster(stack: ExitStack, workers: int) -> Any:
    from distributed import LocalCluster

    return stack.enter_context(
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    )


def _slurm_cluster(stack: ExitStack, options: Mapping[str, Any]) -> Any:
    from dask_jobqueue.slurm import SLURMCluster

    cluster = stack.enter_context(
        SLURMCluster(scheduler_options=SCHEDULER_OPTIONS, **slurm_cluster_kwargs(options))
    )
    cluster.scale(jobs=slurm_jobs(options))
    return cluster


def _dask_executor(stack: ExitStack, address_or_cluster: Any) -> Executor:
    from distributed import Client

    client = stack.enter_context(Client(address_or_cluster))  # type: ignore[no-untyped-call]
    executor: Executor = client.get_executor()
    return executor
