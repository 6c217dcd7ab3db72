"""Timing helpers: fsync, page-cache eviction, medians of repeated runs."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any


def fsync_path(path: str) -> None:
    """Flush a file written by another library to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def evict(path: str) -> bool:
    """Drop one (already fsynced) file from the page cache; False where unsupported.

    ``posix_fadvise(DONTNEED)`` touches only this file, unlike ``drop_caches``.
    """
    if not hasattr(os, "posix_fadvise"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return True


def seconds(action: Callable[[], Any]) -> float:
    """Wall-clock seconds one call takes."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
