"""Polling scan of the watched tree: which movies and sidecars are there, how big, how new."""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass
from typing import Literal

Kind = Literal["movie", "sidecar"]


@dataclass(frozen=True)
class Entry:
    """One file under the watched folder; ``rel`` uses ``/`` separators."""

    rel: str
    path: str
    kind: Kind
    size: int
    mtime_ns: int

    @property
    def signature(self) -> tuple[int, int]:
        return (self.size, self.mtime_ns)


def classify(name: str, movie_patterns: tuple[str, ...], sidecar_patterns: tuple[str, ...]) -> Kind | None:
    """``"sidecar"``, ``"movie"`` or None (ignored); patterns are case-insensitive."""
    lowered = name.lower()
    if any(fnmatch.fnmatchcase(lowered, p.lower()) for p in sidecar_patterns):
        return "sidecar"
    if any(fnmatch.fnmatchcase(lowered, p.lower()) for p in movie_patterns):
        return "movie"
    return None


def scan(
    root: str, *, exclude: str, movie_patterns: tuple[str, ...], sidecar_patterns: tuple[str, ...]
) -> dict[str, Entry]:
    """Every regular, non-hidden file under ``root`` that a pattern claims, skipping the
    folder ``exclude`` (the destination, when it lies inside the watched tree)."""
    excluded = os.path.realpath(exclude)
    entries: dict[str, Entry] = {}
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(
            d for d in subdirs
            if not d.startswith(".") and os.path.realpath(os.path.join(directory, d)) != excluded
        )  # fmt: skip
        for name in sorted(files):
            kind = classify(name, movie_patterns, sidecar_patterns)
            if name.startswith(".") or kind is None:
                continue
            path = os.path.join(directory, name)
            entry = _entry(root, path, kind)
            if entry is not None:
                entries[entry.rel] = entry
    return entries


def _entry(root: str, path: str, kind: Kind) -> Entry | None:
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None  # vanished between listing and stat
    if not stat.S_ISREG(info.st_mode):
        return None
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    return Entry(rel, path, kind, info.st_size, info.st_mtime_ns)


def signature(path: str) -> tuple[int, int] | None:
    """(size, mtime_ns) of ``path`` now, or None when it is gone."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return (info.st_size, info.st_mtime_ns)
