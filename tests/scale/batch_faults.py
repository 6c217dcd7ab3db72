"""Fault injection for batch tests, importable by dask worker processes (by PYTHONPATH)."""

from __future__ import annotations

import os

from mrczio.batch import BatchJob, FileReport, convert_job


def flaky_convert(job: BatchJob, attempt: int) -> FileReport:
    """Like :func:`convert_job`, but the first attempt at a file named ``*transient*``
    fails as an I/O error would."""
    if "transient" in os.path.basename(job.source) and attempt == 0:
        raise OSError(f"{job.source}: injected transient failure (attempt {attempt})")
    return convert_job(job, attempt)
