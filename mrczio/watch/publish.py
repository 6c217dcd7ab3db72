"""Durable file moves for the watcher: a private staging folder, fsync, no-replace publish.

Outputs are written into ``DEST/.mrczio-watch/staging`` first (same file system as the
final place), checked there, fsynced, then linked under their final name, which must not
exist yet. Everything in staging is unfinished by definition and is removed at start.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil

from mrczio.errors import OutputExistsError


def fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str) -> None:
    """Make a folder's entries (new, renamed, removed names) durable."""
    fd = os.open(path or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: str) -> None:
    """``os.makedirs`` that fsyncs the parent of every folder it creates."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        make_dirs(parent)
    try:
        os.mkdir(path)
    except FileExistsError:
        return
    fsync_dir(parent)


class Staging:
    """The private folder where outputs are built before they are published."""

    def __init__(self, path: str) -> None:
        self.path = path

    def reset(self) -> int:
        """Remove every leftover of an interrupted run; returns how many entries went."""
        make_dirs(self.path)
        names = os.listdir(self.path)
        for name in names:
            target = os.path.join(self.path, name)
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target)
            else:
                os.unlink(target)
        if names:
            fsync_dir(self.path)
        return len(names)

    def new_path(self, suffix: str) -> str:
        return os.path.join(self.path, secrets.token_hex(8) + suffix)

    def discard(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def publish(staged: str, final: str, *, replace: bool = False) -> None:
    """Move the fsynced ``staged`` file to ``final`` durably; never replaces an existing
    ``final`` unless ``replace``."""
    fsync_file(staged)
    make_dirs(os.path.dirname(final))
    if replace:
        os.replace(staged, final)
    else:
        if _link_no_replace(staged, final):
            os.unlink(staged)
    fsync_dir(os.path.dirname(final))
    fsync_dir(os.path.dirname(staged))


def _link_no_replace(staged: str, final: str) -> bool:
    """Hard-link ``staged`` as ``final`` (True), or rename it where links are not
    supported (False); either way an existing ``final`` is refused."""
    try:
        os.link(staged, final)
    except FileExistsError:
        raise OutputExistsError(
            f"{final}: appeared while its source was being compressed; left alone"
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if os.path.lexists(final):  # no hard links here: check, then rename
            raise OutputExistsError(f"{final}: already exists; left alone") from None
        os.rename(staged, final)
        return False
    return True


def copy_into_staging(source: str, staged: str) -> None:
    """Copy ``source`` byte for byte to ``staged`` and fsync it."""
    shutil.copyfile(source, staged)
    fsync_file(staged)


def remove_source(path: str) -> None:
    """Delete a source file and make the removal durable."""
    os.unlink(path)
    fsync_dir(os.path.dirname(path))
