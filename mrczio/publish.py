"""Safe publishing: write under a private temporary name, then appear under the final name.

Every mrczio writer goes through :class:`AtomicFile` (or, for a file built elsewhere,
:func:`create_temp` + :func:`publish`):

* The temporary file sits in the destination folder (so publishing is a rename, not a
  copy) under a hidden, unpredictable name ``.NAME.<8 random hex>.part``, created with
  ``O_CREAT | O_EXCL | O_NOFOLLOW``: a planted file or symlink is never followed or
  reused. While it is being written the writer holds an exclusive ``flock`` on it, which
  is how :func:`mrczio.debris.cleanup_stale_temps` tells debris of a killed writer from
  a write in progress.
* Publishing without ``overwrite`` never replaces a file that appeared meanwhile: the
  temporary file is hard-linked to the final name (``link`` fails if the name exists)
  and then unlinked. On file systems without hard links it falls back to
  ``renameat2(RENAME_NOREPLACE)``; where neither exists it refuses with a clear error
  instead of risking an overwrite.
* Publishing with ``overwrite=True`` first gives the new file the replaced file's
  permission bits, its owner and group where permitted (any owner when running as root,
  the group when the user belongs to it), and its extended attributes, then renames it
  over the old one in one step.
* Every failure removes the temporary file (even when closing it fails) and raises an
  mrczio error that is also an ``OSError`` with the original ``errno``
  (:class:`~mrczio.errors.DiskFullError` for ``ENOSPC``), naming the user's final file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import re
import stat
import sys
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import BinaryIO, Self, cast

from mrczio.errors import FileAccessError, OutputExistsError
from mrczio.oserrors import as_mrczio_error, reraise_os_errors

#: ``.NAME.0123abcd.part``: the temporary names :func:`create_temp` makes.
TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<token>[0-9a-f]{8})\.part$")
_CREATE_ATTEMPTS = 16
_CREATE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS})
_NO_NOREPLACE = frozenset({errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP})
_XATTR_UNSUPPORTED = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP})
RENAME_NOREPLACE = 1
AT_FDCWD = -100


def _random_token() -> str:
    """8 hex digits from the OS's random source (as ``secrets.token_hex(4)``, cheaper to import)."""
    return os.urandom(4).hex()


def temp_path_for(final_path: str) -> str:
    """A fresh unpredictable temporary name beside ``final_path`` (not created)."""
    directory, name = os.path.split(os.path.abspath(final_path))
    return os.path.join(directory, f".{name}.{_random_token()}.part")


def create_temp(final_path: str) -> tuple[int, str]:
    """Create and lock a new temporary file beside ``final_path``: ``(fd, temp_path)``.

    The descriptor is open read-write and holds an exclusive ``flock`` (released when
    it is closed), marking the file as in use.
    """
    with reraise_os_errors(final_path, "creating a temporary file in its folder"):
        for _ in range(_CREATE_ATTEMPTS):
            temp = temp_path_for(final_path)
            try:
                fd = os.open(temp, _CREATE_FLAGS, 0o666)
            except FileExistsError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new inode: never contended
            except BaseException:
                os.close(fd)
                remove_temp(temp)
                raise
            return fd, temp
    raise FileAccessError(final_path, "could not find a free temporary name", errno.EEXIST)


def remove_temp(temp_path: str) -> None:
    """Remove a temporary file; a missing file or a failure to remove is not an error."""
    with contextlib.suppress(OSError):
        os.unlink(temp_path)


def check_output_path(path: str, overwrite: bool) -> None:
    """Refuse early when ``path`` exists and ``overwrite`` is false.

    :func:`publish` checks again atomically, so a file that appears later is safe too.
    """
    if os.path.lexists(path) and not overwrite:
        raise OutputExistsError(f"{path}: output file exists; pass overwrite=True to replace it")


# -- publishing ------------------------------------------------------------------------


def publish(temp_path: str, final_path: str, *, overwrite: bool, fd: int | None = None) -> None:
    """Move the finished ``temp_path`` to ``final_path``.

    Without ``overwrite`` an existing ``final_path`` (even one created a moment ago) is
    never replaced: :class:`OutputExistsError`. With it, the replaced file's mode, owner
    and extended attributes carry over (through ``fd`` when given, else by path). The
    temporary file is left in place on failure; the caller removes it.
    """
    if overwrite:
        _replace_keeping_attributes(temp_path, final_path, fd)
    else:
        _publish_no_replace(temp_path, final_path)


def _publish_no_replace(temp_path: str, final_path: str) -> None:
    try:
        os.link(temp_path, final_path, follow_symlinks=False)
    except FileExistsError:
        raise _exists(final_path) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise as_mrczio_error(final_path, exc, "publishing the finished file") from exc
        _rename_no_replace(temp_path, final_path)
        return
    remove_temp(temp_path)  # the data is published; a leftover link is harmless debris


def _exists(final_path: str) -> OutputExistsError:
    return OutputExistsError(
        f"{final_path}: a file of that name appeared while it was being written; "
        "it was left untouched (pass overwrite=True to replace it)"
    )


def _rename_no_replace(temp_path: str, final_path: str) -> None:
    """``renameat2(RENAME_NOREPLACE)`` for file systems without hard links."""
    import ctypes  # only here: most file systems have hard links

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    code = errno.ENOSYS
    if renameat2 is not None:
        result = renameat2(
            AT_FDCWD, os.fsencode(temp_path), AT_FDCWD, os.fsencode(final_path), RENAME_NOREPLACE
        )
        if result == 0:
            return
        code = ctypes.get_errno()
    if code == errno.EEXIST:
        raise _exists(final_path)
    if code in _NO_NOREPLACE:
        raise FileAccessError(
            final_path,
            "this file system supports neither hard links nor rename-without-replace, so the "
            "file cannot be published without risking to overwrite one created meanwhile; "
            "write it elsewhere, or pass overwrite=True if replacing is acceptable",
            code,
        )
    raise as_mrczio_error(final_path, OSError(code, os.strerror(code)), "publishing the finished file")


def _replace_keeping_attributes(temp_path: str, final_path: str, fd: int | None) -> None:
    with reraise_os_errors(final_path, "replacing the file"):
        try:
            old = os.stat(final_path)
        except FileNotFoundError:
            old = None
        if old is not None and stat.S_ISREG(old.st_mode):
            copy_attributes(final_path, old, temp_path if fd is None else fd)
        os.replace(temp_path, final_path)


def copy_attributes(source: str, source_stat: os.stat_result, target: str | int) -> None:
    """Give ``target`` (a path or descriptor) the owner, mode and xattrs of ``source``."""
    _copy_owner(source_stat, target)
    os.chmod(target, stat.S_IMODE(source_stat.st_mode))  # after chown, which clears setuid
    _copy_xattrs(source, target)


def _copy_owner(source_stat: os.stat_result, target: str | int) -> None:
    uid = source_stat.st_uid if os.geteuid() == 0 else -1
    with contextlib.suppress(PermissionError):  # not root, not in that group: keep ours
        os.chown(target, uid, source_stat.st_gid)


def _copy_xattrs(source: str, target: str | int) -> None:
    try:
        names = os.listxattr(source)
    except OSError as exc:
        if exc.errno in _XATTR_UNSUPPORTED:
            return
        raise
    for name in names:
        try:
            os.setxattr(target, name, os.getxattr(source, name))
        except OSError as exc:
            privileged = not name.startswith("user.")  # security.*, trusted.*, system.*
            if exc.errno in _XATTR_UNSUPPORTED or (privileged and exc.errno in (errno.EPERM, errno.EACCES)):
                continue
            raise


def fsync_directory(path: str) -> None:
    """Make a rename in ``path``'s folder durable (best effort where unsupported)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(OSError):  # some file systems cannot fsync a folder
            os.fsync(fd)
    finally:
        os.close(fd)


# -- early write-back --------------------------------------------------------------------

#: ``SYNC_FILE_RANGE_WRITE``: start writing dirty pages back, do not wait.
_SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's ``sync_file_range`` (Linux only; Python does not wrap it), or None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except AttributeError:
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    return cast(Callable[[int, int, int, int], int], function)


def start_writeback(fd: int) -> None:
    """Start writing the file's dirty pages to disk without waiting (a hint: does nothing
    where the system lacks ``sync_file_range`` or the file system refuses it)."""
    function = _sync_file_range()
    if function is not None:
        function(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)  # 0, 0: the whole file; failures are harmless


# -- the writer-facing object ----------------------------------------------------------


class AtomicFile:
    """A new file written under a temporary name and published on :meth:`commit`.

    Until ``commit`` nothing exists under the final name, so a crash or an exception
    never leaves a half-written file there. ``abort`` (or leaving a ``with`` block by an
    exception) removes the temporary file; so does dropping the object unfinished (a
    ``KeyboardInterrupt`` between creating a writer and entering its ``with`` block) or
    leaving the interpreter normally. ``file`` is a buffered read-write binary file
    positioned at 0. With ``copy_of`` the temporary file starts as a copy of that file
    (for rewrites through a copy, e.g. appending to a file with a footer).
    """

    def __init__(
        self,
        path: str,
        *,
        overwrite: bool = False,
        fsync: bool = False,
        copy_of: str | None = None,
    ) -> None:
        self.path = os.path.abspath(path)
        self._overwrite = overwrite
        self._fsync = fsync
        self._done = False
        check_output_path(self.path, overwrite)
        fd, self.temp_path = create_temp(self.path)
        try:
            # the opener hands over our descriptor; the file object still carries the name
            self.file: BinaryIO = open(self.temp_path, "r+b", opener=lambda _path, _flags: fd)  # noqa: SIM115
        except BaseException:
            os.close(fd)
            remove_temp(self.temp_path)
            raise
        self._forget = weakref.finalize(self, remove_temp, self.temp_path)
        if copy_of is not None:
            self._copy_from(copy_of)

    def _copy_from(self, source: str) -> None:
        try:
            with reraise_os_errors(self.path, "copying the file for rewriting"):
                with open(source, "rb") as handle:
                    while block := handle.read(1 << 22):
                        self.file.write(block)
                self.file.seek(0)
        except BaseException:
            self.abort()
            raise

    def start_writeback(self) -> None:
        """With ``fsync=True``: ask the kernel to start writing what was written so far to
        disk now, so that the ``fsync`` in :meth:`commit` has less left to wait for (the
        writer calls this after every frame). Without ``fsync`` it does nothing."""
        if self._fsync and not self._done:
            with reraise_os_errors(self.path, "writing"):
                self.file.flush()
                start_writeback(self.file.fileno())

    def commit(self) -> None:
        """Flush, optionally fsync, publish under the final name and close."""
        if self._done:
            return
        try:
            with reraise_os_errors(self.path, "writing"):
                self.file.flush()
                if self._fsync:
                    os.fsync(self.file.fileno())
            publish(self.temp_path, self.path, overwrite=self._overwrite, fd=self.file.fileno())
        except BaseException:
            self.abort()
            raise
        self._done = True
        self._forget.detach()
        if self._fsync:
            with reraise_os_errors(self.path, "syncing its folder"):
                fsync_directory(self.path)
        with contextlib.suppress(OSError):  # data is flushed and published already
            self.file.close()

    def abort(self) -> None:
        """Close and remove the temporary file; never raises for a failing close."""
        if self._done:
            return
        self._done = True
        self._forget.detach()
        try:
            self.file.close()  # closes the descriptor even when the final flush fails
        except OSError:
            pass
        finally:
            remove_temp(self.temp_path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
