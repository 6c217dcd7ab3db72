"""Convert many files on any :class:`concurrent.futures.Executor`, one report per file.

:func:`run_batch` submits one task per :class:`BatchJob` to an executor — a dask
``Client.get_executor()``, a ``ProcessPoolExecutor`` or a ``ThreadPoolExecutor`` — and
collects results as they complete. A failed file never stops the batch: it is retried
when the failure may be transient (an ``OSError``, a lost worker, anything that is not a
deterministic mrczio error such as a damaged input) up to ``retries`` more times, and is
then reported with its error. Each finished file gives one :class:`FileReport`, written
as a JSON line to ``report`` the moment it is known.

Example (threads; dask and process pools are used the same way)::

    from concurrent.futures import ThreadPoolExecutor
    from mrczio.batch import BatchJob, run_batch

    jobs = [BatchJob("in.mrc", "out.mrcz")]
    with ThreadPoolExecutor(2) as pool:
        reports = run_batch(jobs, pool, retries=1)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import mrczio
from mrczio.errors import MrczioError, OptionError
from mrczio.file_digest import file_digest
from mrczio.verification import verify_output

log = logging.getLogger(__name__)


class VerificationError(MrczioError, ValueError):
    """An output does not decode to exactly its source."""


@dataclass(frozen=True)
class BatchJob:
    """One conversion: ``source`` into ``output`` (format from the extension unless
    ``format``), with write ``options``; ``verify`` decodes the output against the source."""

    source: str
    output: str
    format: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    overwrite: bool = False
    verify: bool = False


@dataclass
class FileReport:
    """What happened to one file. ``error`` is None on success."""

    input: str
    output: str
    status: str = "ok"
    error: str | None = None
    retryable: bool = False
    attempts: int = 1
    bytes_in: int = 0
    bytes_out: int = 0
    ratio: float | None = None
    seconds: float = 0.0
    host: str = ""
    pid: int = 0
    worker: str | None = None
    checksum: dict[str, str] | None = None
    verified: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Task = Callable[[BatchJob, int], FileReport]


def worker_name() -> str | None:
    """The dask worker address when running inside one, else None."""
    if "distributed" not in sys.modules:
        return None
    from distributed import get_worker

    try:
        return str(get_worker().address)
    except ValueError:  # not inside a dask worker
        return None


def is_retryable(exc: BaseException) -> bool:
    """Deterministic mrczio errors (bad input, bad options) are not retried; I/O errors,
    lost workers and anything unexpected are."""
    return not isinstance(exc, MrczioError) or isinstance(exc, OSError)


def convert_job(job: BatchJob, attempt: int) -> FileReport:
    """Run one job (on a worker); never raises for a failed conversion."""
    report = FileReport(job.source, job.output, attempts=attempt + 1, host=socket.gethostname(),
                        pid=os.getpid(), worker=worker_name())  # fmt: skip
    started = time.perf_counter()
    published = False
    try:
        report.bytes_in = os.path.getsize(job.source)
        mrczio.convert(
            job.source, job.output, format=job.format, overwrite=job.overwrite, **dict(job.options)
        )
        published = True
        _describe_output(job, report)
    except Exception as exc:
        if published:
            _remove_quietly(job.output)
        report.status, report.error, report.retryable = (
            "failed",
            f"{type(exc).__name__}: {exc}",
            is_retryable(exc),
        )
        report.bytes_out, report.ratio, report.checksum = 0, None, None
    report.seconds = time.perf_counter() - started
    return report


def _describe_output(job: BatchJob, report: FileReport) -> None:
    if job.verify:
        result = verify_output(job.source, job.output)
        if not result.ok:
            raise VerificationError(result.summary())
        report.verified = True
    report.bytes_out = os.path.getsize(job.output)
    report.ratio = report.bytes_in / report.bytes_out if report.bytes_out else None
    report.checksum = file_digest(job.output).as_dict()


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _lost(job: BatchJob, attempt: int, exc: BaseException) -> FileReport:
    """A report for a task that raised instead of returning (lost worker, injected fault)."""
    return FileReport(job.source, job.output, status="failed", error=f"{type(exc).__name__}: {exc}",
                      retryable=is_retryable(exc), attempts=attempt + 1)  # fmt: skip


def check_jobs(jobs: Sequence[BatchJob]) -> None:
    """Refuse a batch in which two jobs would write one output, before anything runs."""
    seen: dict[str, str] = {}
    for job in jobs:
        key = os.path.abspath(job.output)
        if key in seen:
            raise OptionError(f"{job.source} and {seen[key]} would both be written to {job.output}")
        seen[key] = job.source


class ReportWriter:
    """Appends one JSON line per finished file to a path or an open text stream."""

    def __init__(self, target: str | os.PathLike[str] | IO[str] | None) -> None:
        self._owned = isinstance(target, str | os.PathLike)
        self._stream: IO[str] | None = (
            open(target, "a", encoding="utf-8") if isinstance(target, str | os.PathLike) else target  # noqa: SIM115
        )

    def write(self, report: FileReport) -> None:
        if self._stream is not None:
            self._stream.write(json.dumps(report.as_dict(), sort_keys=True) + "\n")
            self._stream.flush()

    def close(self) -> None:
        if self._owned and self._stream is not None:
            self._stream.close()


def run_batch(
    jobs: Sequence[BatchJob],
    executor: Executor,
    *,
    retries: int = 2,
    report: str | os.PathLike[str] | IO[str] | None = None,
    on_result: Callable[[FileReport], None] | None = None,
    task: Task = convert_job,
) -> list[FileReport]:
    """Run every job on ``executor``; returns one report per job, in job order.

    ``task(job, attempt)`` runs on the workers (default :func:`convert_job`; it must be
    picklable for process pools and dask). ``on_result`` is called in this process as
    each file finishes, for progress displays.
    """
    check_jobs(jobs)
    writer = ReportWriter(report)
    results: list[FileReport | None] = [None] * len(jobs)
    pending: dict[Future[FileReport], tuple[int, int]] = {
        executor.submit(task, job, 0): (index, 0) for index, job in enumerate(jobs)
    }
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index, attempt = pending.pop(future)
                outcome = _outcome(future, jobs[index], attempt)
                if outcome.status != "ok" and outcome.retryable and attempt < retries:
                    log.warning(
                        "%s: attempt %d failed (%s); retrying",
                        jobs[index].source,
                        attempt + 1,
                        outcome.error,
                    )
                    pending[executor.submit(task, jobs[index], attempt + 1)] = (index, attempt + 1)
                    continue
                results[index] = outcome
                _log_outcome(outcome)
                writer.write(outcome)
                if on_result is not None:
                    on_result(outcome)
    finally:
        for future in pending:
            future.cancel()
        writer.close()
    return [r for r in results if r is not None]


def _outcome(future: Future[FileReport], job: BatchJob, attempt: int) -> FileReport:
    try:
        return future.result()
    except Exception as exc:
        return _lost(job, attempt, exc)


def _log_outcome(report: FileReport) -> None:
    if report.status == "ok":
        log.info("%s -> %s (%d -> %d bytes, %.2f s)", report.input, report.output, report.bytes_in,
                 report.bytes_out, report.seconds)  # fmt: skip
    else:
        log.error("%s: failed after %d attempt(s): %s", report.input, report.attempts, report.error)


def output_paths(sources: Sequence[str], output_dir: str | None, extension: str) -> list[str]:
    """Outputs for ``sources``: same stem with ``extension``, in ``output_dir`` or beside
    each source when ``output_dir`` is None."""
    outputs = []
    for source in sources:
        stem = os.path.splitext(os.path.basename(source))[0] + extension
        outputs.append(os.path.join(output_dir if output_dir is not None else os.path.dirname(source), stem))
    return outputs
